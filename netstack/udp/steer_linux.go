package udp

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// skfNetOff is SKF_NET_OFF: classic BPF offsets from it address the
// network header instead of the data (which starts at the UDP payload
// when a reuseport program runs).
const skfNetOff = -0x100000

// netOff is the classic BPF constant for offset off in the network header.
func netOff(off int32) uint32 { return uint32(int32(skfNetOff) + off) }

// steerMultiplier spreads (address ^ port) over the socket indexes; it
// must match between the kernel program and SteerIndex.
const steerMultiplier = 2654435761

// socketsPerGroupMax bounds the sockets one reuseport group steers over.
const socketsPerGroupMax = 64

// SteerIndex is the socket (of n in a steered group) that receives
// datagrams from peer. Pollers use it to own each peer's session on the
// poller whose socket the kernel hands that peer's datagrams to. IPv6
// peers (no steering program) map to 0.
func SteerIndex(peer netip.AddrPort, n int) int {
	a := peer.Addr().Unmap()
	if n <= 1 || !a.Is4() {
		return 0
	}
	ip := a.As4()
	h := binary.BigEndian.Uint32(ip[:]) ^ uint32(peer.Port())
	h *= steerMultiplier
	h >>= 16
	return int(h % uint32(n))
}

// Steer attaches a classic BPF program to the reuseport group of ts (all
// bound to the same IPv4 address, in this order) so that the kernel hands
// datagrams from a peer to ts[SteerIndex(peer, len(ts))]. The program
// assumes IPv4 headers without options (weft never sends options); a
// datagram that lands elsewhere is still delivered, and the caller must
// hand it over to the owning poller.
func Steer(ts []*Transport) error {
	n := len(ts)
	if n <= 1 {
		return nil
	}
	if n > socketsPerGroupMax {
		return fmt.Errorf("udp steer: %d sockets, at most %d", n, socketsPerGroupMax)
	}
	for _, t := range ts {
		if t.v6 {
			return fmt.Errorf("udp steer: %v is IPv6; steering is IPv4 only", t.local)
		}
		if t.local != ts[0].local {
			return fmt.Errorf("udp steer: sockets bound to %v and %v, want one address", ts[0].local, t.local)
		}
	}
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: netOff(12)}, // A = source IPv4
		{Code: unix.BPF_MISC | unix.BPF_TAX},                           // X = A
		{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: netOff(20)}, // A = source port
		{Code: unix.BPF_ALU | unix.BPF_XOR | unix.BPF_X},
		{Code: unix.BPF_ALU | unix.BPF_MUL | unix.BPF_K, K: steerMultiplier},
		{Code: unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K, K: 16},
		{Code: unix.BPF_ALU | unix.BPF_MOD | unix.BPF_K, K: uint32(n)},
		{Code: unix.BPF_RET | unix.BPF_A},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(ts[0].fd, unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF, &fprog); err != nil {
		return fmt.Errorf("udp steer %v: SO_ATTACH_REUSEPORT_CBPF: %w", ts[0].local, err)
	}
	return nil
}
