// Package xdp is weft's AF_XDP transport: a netstack.Transport that frames
// weft's datagrams in Ethernet/IPv4/UDP by hand and moves them through an
// AF_XDP socket (netstack/xsk) fed by weft's XDP program (netstack/xdpprog).
//
// Receive path, from the NIC ring to a datagram:
//
//	NIC/veth RX queue q
//	   │  XDP program: IPv4/UDP to weft's port? ── no ──► kernel stack
//	   ▼  yes: bpf_redirect_map(xsks, q, XDP_PASS)
//	AF_XDP RX ring (descriptors into the UMEM, several per jumbo frame)
//	   │  RecvBurst: decode Ethernet/IPv4/UDP, check IP header checksum
//	   │  and lengths, drop (and count) anything malformed or not ours,
//	   │  copy the UDP payload into the caller's Packet.Buf
//	   ▼
//	netstack.Packet{Buf, Peer} ──► proto decoder (CRC32C over the message)
//
// Transmit: SendBurst writes headers and payload into transmit chunks of the
// UMEM (several chained with XDP_PKT_CONTD for jumbo frames), queues them on
// the TX ring and kicks the kernel once per burst. The destination MAC comes
// from the kernel's neighbour table (vishvananda/netlink), cached per peer
// and learned from received frames; when the kernel has no entry, the
// transport makes the kernel resolve it (a one-byte datagram to the discard
// port through a kernel socket triggers ARP) and holds the framed datagram,
// as the kernel's ARP queue does, until the MAC is known (sent) or a second
// has passed (dropped, for the reliability layer to retransmit).
//
// Peers on this host (a local destination address) cannot be reached over
// the wire: their datagrams go through a raw IPv4 socket with weft's source
// port, so the kernel delivers them over loopback to the peer's UDP socket
// (counted in TxLocal).
package xdp
