// Package netstack holds the transports under weft's protocol and the
// Transport contract they share (transport.go): non-blocking burst calls
// in the style of DPDK's rx_burst/tx_burst, driven by a poller that owns
// the core. Subpackages, one concept each:
//
//	xsk/       the AF_XDP socket: UMEM, fill/completion/RX/TX rings
//	xdpprog/   the XDP program (cilium/ebpf assembler) and its bpf_link
//	xdp/       Transport over xsk: Ethernet/IPv4/UDP framing, neighbours
//	udp/       Transport over a kernel UDP socket (recvmmsg/sendmmsg)
//	reliable/  per-peer sessions: sequence numbers, acks, retransmission
//
// The path of one datagram from the NIC ring to a decoded message:
//
//	NIC / veth receive queue q
//	  │
//	  ├─ XDP program (xdpprog): IPv4, no options, not a fragment, UDP to
//	  │  weft's port? and an AF_XDP socket registered for q?
//	  │     yes ─► bpf_redirect_map ─► AF_XDP RX ring (UMEM descriptors)
//	  │              │ xdp.Transport.RecvBurst: Ethernet/IPv4/UDP checks,
//	  │              │ IP header checksum, lengths; bad frames counted and
//	  │              │ dropped; payload copied to the poller's buffer
//	  │              ▼
//	  │     no ──► XDP_PASS ─► kernel IP/UDP ─► socket on weft's port
//	  │              │ udp.Transport.RecvBurst (recvmmsg)
//	  │              ▼
//	  └────────► netstack.Packet{Buf, Peer}
//	                 │ proto.Decode: header, CRC32C over header+payload
//	                 ▼ (a bad checksum is counted and dropped)
//	             reliable.Session.Receive: order, dedupe, ack, reassemble
//	                 ▼
//	             messenger: response to a pending Call, or request to a
//	             Handler on a worker goroutine
//
// Sending runs the other way: the session fragments a message into
// packets, SendBurst frames them (AF_XDP: headers written into UMEM
// chunks, next-hop MAC from the neighbour table; UDP: sendmmsg) and kicks
// the kernel once per burst.
package netstack
