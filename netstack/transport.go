package netstack

import "net/netip"

// Packet is one UDP datagram payload and the peer it came from or goes to.
// Framing below UDP (Ethernet, IPv4) is the transport's business: callers
// only ever see weft's own protocol bytes.
type Packet struct {
	// Buf holds the UDP payload. On receive the transport reslices Buf
	// within its capacity to the payload length; on send len(Buf) bytes
	// are sent.
	Buf []byte
	// Peer is the remote UDP endpoint.
	Peer netip.AddrPort
}

// Transport is a datagram driver in the poll-mode style of DPDK's
// rx_burst/tx_burst: it owns no goroutines and never blocks. The poller
// that owns a core calls it in a loop.
type Transport interface {
	// RecvBurst fills up to len(pkts) packets into the caller's buffers and
	// returns how many it filled. It returns 0 when nothing is pending.
	RecvBurst(pkts []Packet) (int, error)
	// SendBurst queues pkts for transmission and returns how many were
	// taken; the caller keeps ownership of pkts and may reuse them at once.
	SendBurst(pkts []Packet) (int, error)
	// PollFd is a descriptor that polls readable when RecvBurst has work, so
	// a CPU-optimized poller can sleep in poll(2) instead of spinning.
	PollFd() int
	// PayloadMax is the largest UDP payload one packet may carry.
	PayloadMax() int
	// Kind names the transport for logs and stats ("udp", "xdp-native",
	// "xdp-generic").
	Kind() string
	// Close releases the transport's sockets, rings and programs.
	Close() error
}
