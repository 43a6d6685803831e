// Package netstack holds weft's transports and the reliability layer
// under the wire format (proto). Transports are drivers in the DPDK sense:
// non-blocking burst calls (Transport: RecvBurst/SendBurst/PollFd), no
// goroutines of their own; the poller that owns a core drives them.
//
//	netstack/xsk       AF_XDP socket: UMEM, fill/completion/RX/TX rings
//	netstack/xdpprog   the XDP program (cilium/ebpf asm): weft's UDP port →
//	                   XSKMAP, everything else XDP_PASS
//	netstack/xdp       AF_XDP Transport: Ethernet/IPv4/UDP framing by hand,
//	                   next-hop MAC from the neighbour table
//	netstack/udp       kernel-UDP Transport: recvmmsg/sendmmsg, SO_REUSEPORT,
//	                   always bound on weft's port (the fallback)
//	netstack/reliable  per-peer sessions: sequence numbers, acks, SACK,
//	                   RTO, windows, keepalives (pure state machine)
//
// The path of one packet from the NIC to a decoded message:
//
//	NIC / veth RX queue
//	  │
//	  ├─ XDP program (xdpprog): IPv4 UDP to weft's port and an AF_XDP
//	  │  socket registered for this queue?
//	  │     yes ─► bpf_redirect_map ─► AF_XDP RX ring (UMEM chunk)
//	  │     no  ─► XDP_PASS ─► kernel IP/UDP stack ─► weft's UDP socket
//	  │
//	  ▼ poller loop, one burst per transport (dataplane/poller)
//	RecvBurst ── xdp: strip Ethernet/IPv4/UDP, check IP checksum/lengths
//	          └─ udp: recvmmsg(2), up to 64 datagrams per call
//	  │  netstack.Packet{Buf: UDP payload, Peer: ip:port}
//	  ▼
//	proto.Decode ── magic, version, lengths, CRC32C over header+payload,
//	  │             fragment fields; any failure ─► Stats.Malformed, drop
//	  ▼
//	reliable.Session.Receive (the peer's session, keyed by ip:port)
//	  │  epoch check (peer restarted?) ─► ack/SACK frees our sent packets,
//	  │  RTT sample ─► seq: duplicate? drop : beyond window? drop :
//	  │  in order? deliver : park in the reorder ring
//	  ▼
//	in-order packets ─► proto.Reassembler (fragments of one message, pooled
//	  │                 buffers) ─► whole message
//	  ▼
//	Deliver(header, message) ─► messenger: response ─► waiting Call;
//	                            request ─► worker ─► Handler
//
// Sending runs the other way: the messenger hands a message to the
// session (fragmented into packets, numbered, kept until acked), the
// session's Flush transmits what the congestion and peer windows allow
// plus due retransmissions and one ack, and the poller passes the batch to
// SendBurst (sendmmsg, or the AF_XDP TX ring).
//
// Checksums: veth hands over partial UDP checksums, so integrity never
// relies on the UDP checksum: every packet carries CRC32C over weft's
// header and payload.
package netstack
