package udp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/weft-fs/weft/netstack"
)

// Limits.
const (
	// batchPacketsMax is the largest burst one system call moves.
	batchPacketsMax = 64
	// socketBufferBytesDefault is the SO_RCVBUF/SO_SNDBUF asked for: deep
	// enough to absorb a burst of 1 MiB messages while a poller sleeps.
	socketBufferBytesDefault = 8 << 20
	// payloadBytesDefault fits a 1500-byte MTU under IPv4+UDP headers.
	payloadBytesDefault = 1500 - 28
	// payloadBytesMax is a 9000-byte jumbo MTU under IPv4+UDP headers;
	// larger datagrams (loopback) would only make IP fragment them.
	payloadBytesMax = 9000 - 28
)

// Config describes one socket.
type Config struct {
	// Addr is the local address to bind; port 0 picks one.
	Addr netip.AddrPort
	// PayloadMax is the largest UDP payload sent; 0 derives it from the
	// MTU of the interface holding Addr (1472 when unknown), capped at
	// 8972.
	PayloadMax int
	// SocketBufferBytes sizes SO_RCVBUF and SO_SNDBUF (0 = 8 MiB).
	SocketBufferBytes int
}

// mmsghdr mirrors struct mmsghdr on 64-bit Linux.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// Transport is a kernel UDP socket implementing netstack.Transport.
type Transport struct {
	fd         int
	v6         bool
	local      netip.AddrPort
	payloadMax int
	hdrs       [batchPacketsMax]mmsghdr
	iovs       [batchPacketsMax]unix.Iovec
	names      [batchPacketsMax]unix.RawSockaddrInet6
}

var _ netstack.Transport = (*Transport)(nil)

// Listen opens and binds one nonblocking SO_REUSEPORT socket.
func Listen(cfg Config) (*Transport, error) {
	if !cfg.Addr.IsValid() {
		return nil, fmt.Errorf("udp listen: address %v is not valid (want ip:port)", cfg.Addr)
	}
	addr := netip.AddrPortFrom(cfg.Addr.Addr().Unmap(), cfg.Addr.Port())
	v6 := addr.Addr().Is6()
	family := unix.AF_INET
	if v6 {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("udp listen %v: socket: %w", addr, err)
	}
	t := &Transport{fd: fd, v6: v6}
	fail := func(what string, err error) (*Transport, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("udp listen %v: %s: %w", addr, what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("SO_REUSEADDR", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		return fail("SO_REUSEPORT", err)
	}
	bufBytes := cfg.SocketBufferBytes
	if bufBytes <= 0 {
		bufBytes = socketBufferBytesDefault
	}
	// The FORCE variants pass net.core.rmem_max when we have
	// CAP_NET_ADMIN; otherwise the plain ones give what the limit allows.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, bufBytes) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, bufBytes)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, bufBytes) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, bufBytes)
	}
	if v6 {
		sa := &unix.SockaddrInet6{Port: int(addr.Port()), Addr: addr.Addr().As16()}
		err = unix.Bind(fd, sa)
	} else {
		sa := &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
		err = unix.Bind(fd, sa)
	}
	if err != nil {
		return fail("bind", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		t.local = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		t.local = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	t.payloadMax = cfg.PayloadMax
	if t.payloadMax <= 0 {
		t.payloadMax = payloadForAddr(addr.Addr())
	}
	t.payloadMax = min(t.payloadMax, payloadBytesMax)
	for i := range t.hdrs {
		t.hdrs[i].hdr.Iov = &t.iovs[i]
		t.hdrs[i].hdr.Iovlen = 1
		t.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&t.names[i]))
	}
	return t, nil
}

// payloadForAddr derives the UDP payload limit from the MTU of the
// interface that holds a, so datagrams never need IP fragmentation (one
// lost fragment would lose the whole datagram).
func payloadForAddr(a netip.Addr) int {
	overhead := 28
	if a.Is6() {
		overhead = 48
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return payloadBytesDefault
	}
	best := 0
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, ad := range addrs {
			pfx, err := netip.ParsePrefix(ad.String())
			if err != nil {
				continue
			}
			if pfx.Addr().Unmap() == a || (a.IsUnspecified() && ifc.Flags&net.FlagLoopback == 0) {
				if best == 0 || ifc.MTU-overhead < best {
					best = ifc.MTU - overhead
				}
			}
		}
	}
	if best <= 0 {
		return payloadBytesDefault
	}
	return best
}

// LocalAddr is the bound address (with the port picked when 0 was asked).
func (t *Transport) LocalAddr() netip.AddrPort { return t.local }

// PollFd implements netstack.Transport.
func (t *Transport) PollFd() int { return t.fd }

// PayloadMax implements netstack.Transport.
func (t *Transport) PayloadMax() int { return t.payloadMax }

// Kind implements netstack.Transport.
func (t *Transport) Kind() string { return "udp" }

// Close implements netstack.Transport.
func (t *Transport) Close() error {
	if t.fd < 0 {
		return nil
	}
	err := unix.Close(t.fd)
	t.fd = -1
	return err
}

// RecvBurst implements netstack.Transport with one recvmmsg(2).
func (t *Transport) RecvBurst(pkts []netstack.Packet) (int, error) {
	n := min(len(pkts), batchPacketsMax)
	if n == 0 {
		return 0, nil
	}
	for i := 0; i < n; i++ {
		b := pkts[i].Buf[:cap(pkts[i].Buf)]
		if len(b) == 0 {
			return 0, errors.New("udp recv: packet buffer has no capacity")
		}
		t.iovs[i].Base = &b[0]
		t.iovs[i].SetLen(len(b))
		t.hdrs[i].hdr.Namelen = uint32(unsafe.Sizeof(t.names[i]))
		t.hdrs[i].hdr.Flags = 0
		t.hdrs[i].len = 0
	}
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(t.fd), uintptr(unsafe.Pointer(&t.hdrs[0])), uintptr(n), unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		if e == unix.EAGAIN || e == unix.EINTR {
			return 0, nil
		}
		return 0, fmt.Errorf("udp recvmmsg: %w", e)
	}
	got := int(r)
	for i := 0; i < got; i++ {
		pkts[i].Buf = pkts[i].Buf[:int(t.hdrs[i].len)]
		pkts[i].Peer = t.decodeName(&t.names[i])
	}
	return got, nil
}

// SendBurst implements netstack.Transport with one sendmmsg(2). Packets
// the socket buffer cannot take now are reported as not taken.
func (t *Transport) SendBurst(pkts []netstack.Packet) (int, error) {
	n := min(len(pkts), batchPacketsMax)
	if n == 0 {
		return 0, nil
	}
	for i := 0; i < n; i++ {
		b := pkts[i].Buf
		if len(b) == 0 {
			t.iovs[i].Base = nil
		} else {
			t.iovs[i].Base = &b[0]
		}
		t.iovs[i].SetLen(len(b))
		t.hdrs[i].hdr.Namelen = t.encodeName(&t.names[i], pkts[i].Peer)
		t.hdrs[i].hdr.Flags = 0
	}
	r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(t.fd), uintptr(unsafe.Pointer(&t.hdrs[0])), uintptr(n), unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		if e == unix.EAGAIN || e == unix.EINTR || e == unix.ENOBUFS {
			return 0, nil
		}
		// A bad destination (unreachable, wrong family) must not wedge
		// the burst: report the first packet as taken (dropped) so the
		// caller moves on; reliability retransmits or fails it.
		if e == unix.EINVAL || e == unix.EAFNOSUPPORT || e == unix.ENETUNREACH || e == unix.EHOSTUNREACH ||
			e == unix.ECONNREFUSED || e == unix.EPERM || e == unix.EMSGSIZE || e == unix.EDESTADDRREQ {
			return 1, fmt.Errorf("udp sendmmsg to %v: %w", pkts[0].Peer, e)
		}
		return 0, fmt.Errorf("udp sendmmsg: %w", e)
	}
	return int(r), nil
}

func (t *Transport) decodeName(rsa *unix.RawSockaddrInet6) netip.AddrPort {
	switch rsa.Family {
	case unix.AF_INET:
		r4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&r4.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(r4.Addr), port)
	case unix.AF_INET6:
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&rsa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(rsa.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}

func (t *Transport) encodeName(rsa *unix.RawSockaddrInet6, ap netip.AddrPort) uint32 {
	var port [2]byte
	binary.BigEndian.PutUint16(port[:], ap.Port())
	if !t.v6 {
		a := ap.Addr().Unmap()
		if !a.Is4() {
			return 0 // sendmmsg fails with EDESTADDRREQ; reported per packet
		}
		r4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		*r4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
		*(*[2]byte)(unsafe.Pointer(&r4.Port)) = port
		return unix.SizeofSockaddrInet4
	}
	*rsa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ap.Addr().As16()}
	*(*[2]byte)(unsafe.Pointer(&rsa.Port)) = port
	return unix.SizeofSockaddrInet6
}
