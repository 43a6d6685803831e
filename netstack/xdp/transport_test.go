package xdp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/weft-fs/weft/internal/testkit"
	"github.com/weft-fs/weft/netstack"
	"github.com/weft-fs/weft/netstack/xdpprog"
)

const testPort = 7470

// openPair opens a transport in each of two hosts.
func openPair(t *testing.T, n *testkit.Net, mode xdpprog.Mode, jumbo bool) (a, b *Transport) {
	t.Helper()
	open := func(h *testkit.Host) *Transport {
		var tr *Transport
		err := h.Do(func() (err error) {
			tr, err = Open(Config{Iface: h.Iface, Port: testPort, Mode: mode, Jumbo: jumbo, Frames: 1024, RingEntries: 512})
			return err
		})
		if err != nil {
			t.Fatalf("open af_xdp in %s: %v", h.NS, err)
		}
		t.Cleanup(func() { tr.Close() })
		return tr
	}
	a, b = open(n.Hosts[0]), open(n.Hosts[1])
	resolve(t, a, n.Hosts[1].Addr)
	resolve(t, b, n.Hosts[0].Addr)
	return a, b
}

// recvOne polls tr until one datagram arrives or the deadline passes.
func recvOne(t *testing.T, tr netstack.Transport, buf []byte) netstack.Packet {
	t.Helper()
	pkts := []netstack.Packet{{Buf: buf}}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n, err := tr.RecvBurst(pkts)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			return pkts[0]
		}
		time.Sleep(50 * time.Microsecond)
	}
	t.Fatalf("%s: nothing received", tr.Kind())
	return netstack.Packet{}
}

func sendOne(t *testing.T, tr netstack.Transport, to netip.AddrPort, msg []byte) {
	t.Helper()
	n, err := tr.SendBurst([]netstack.Packet{{Buf: msg, Peer: to}})
	if err != nil || n != 1 {
		t.Fatalf("send: %d %v", n, err)
	}
}

func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed)
	}
	return b
}

func TestRequestResponse(t *testing.T) {
	for _, mode := range []xdpprog.Mode{xdpprog.ModeNative, xdpprog.ModeGeneric} {
		t.Run(mode.String(), func(t *testing.T) {
			n := testkit.NewNet(t, testkit.NetConfig{Hosts: 2})
			a, b := openPair(t, n, mode, false)
			if a.Kind() != "xdp-"+mode.String() {
				t.Fatalf("kind %s, want xdp-%s", a.Kind(), mode)
			}
			buf := make([]byte, 2048)
			for i := 0; i < 100; i++ {
				req := pattern(64+i*13, i)
				sendOne(t, a, b.LocalAddr(), req)
				p := recvOne(t, b, buf)
				if !bytes.Equal(p.Buf, req) || p.Peer != a.LocalAddr() {
					t.Fatalf("request %d: got %d bytes from %v", i, len(p.Buf), p.Peer)
				}
				resp := pattern(a.PayloadMax()-i, i+1)
				sendOne(t, b, p.Peer, resp)
				p = recvOne(t, a, buf)
				if !bytes.Equal(p.Buf, resp) {
					t.Fatalf("response %d: got %d bytes, want %d", i, len(p.Buf), len(resp))
				}
			}
			if s := b.Stats(); s.RxPackets != 100 || s.RxMalformed != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestJumbo(t *testing.T) {
	for _, mode := range []xdpprog.Mode{xdpprog.ModeNative, xdpprog.ModeGeneric} {
		t.Run(mode.String(), func(t *testing.T) {
			n := testkit.NewNet(t, testkit.NetConfig{Hosts: 2, MTU: 9000})
			a, b := openPair(t, n, mode, true)
			if a.PayloadMax() != 9000-28 {
				t.Fatalf("payload max %d", a.PayloadMax())
			}
			buf := make([]byte, 9000)
			for _, size := range []int{1, 3000, 3798, 3799, 4096, 7700, 8972} {
				msg := pattern(size, size)
				sendOne(t, a, b.LocalAddr(), msg)
				p := recvOne(t, b, buf)
				if !bytes.Equal(p.Buf, msg) {
					t.Fatalf("%d bytes: got %d bytes, first diff", size, len(p.Buf))
				}
				sendOne(t, b, a.LocalAddr(), msg)
				if p = recvOne(t, a, buf); !bytes.Equal(p.Buf, msg) {
					t.Fatalf("%d bytes back: got %d", size, len(p.Buf))
				}
			}
		})
	}
}

// TestKernelKeepsOtherTraffic: with the program attached and the socket
// registered, ARP (the neighbour resolution itself), UDP to other ports
// and TCP still reach the kernel.
func TestKernelKeepsOtherTraffic(t *testing.T) {
	n := testkit.NewNet(t, testkit.NetConfig{Hosts: 2})
	h1, h2 := n.Hosts[0], n.Hosts[1]
	// No neighbour entry exists yet: resolution below needs ARP to pass
	// through both programs.
	a, b := openPair(t, n, 0, false)
	_ = a
	var ln net.Listener
	var other *net.UDPConn
	if err := h2.Do(func() (err error) {
		if ln, err = net.Listen("tcp4", h2.Addr.String()+":7471"); err != nil {
			return err
		}
		other, err = net.ListenUDP("udp4", &net.UDPAddr{IP: h2.Addr.AsSlice(), Port: testPort + 1})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	defer other.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("tcp ok"))
			c.Close()
		}
	}()
	err := h1.Do(func() error {
		c, err := net.DialTimeout("tcp4", h2.Addr.String()+":7471", 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, 6)
		if _, err := c.Read(got); err != nil || string(got) != "tcp ok" {
			return fmt.Errorf("tcp read %q: %v", got, err)
		}
		u, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: h2.Addr.AsSlice(), Port: testPort + 1})
		if err != nil {
			return err
		}
		defer u.Close()
		_, err = u.Write([]byte("other port"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	other.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	m, err := other.Read(buf)
	if err != nil || string(buf[:m]) != "other port" {
		t.Fatalf("kernel UDP on another port: %q %v", buf[:m], err)
	}
	if s := b.Stats(); s.RxPackets != 0 {
		t.Fatalf("af_xdp took traffic that was not its own: %+v", s)
	}
}

// TestFallbackToKernel: a kernel UDP socket bound to weft's port receives
// weft's datagrams once the AF_XDP socket closes while the program stays
// attached, and none while the socket is registered.
func TestFallbackToKernel(t *testing.T) {
	n := testkit.NewNet(t, testkit.NetConfig{Hosts: 2})
	a, b := openPair(t, n, 0, false)
	var kern *net.UDPConn
	if err := n.Hosts[1].Do(func() (err error) {
		kern, err = net.ListenUDP("udp4", &net.UDPAddr{IP: n.Hosts[1].Addr.AsSlice(), Port: testPort})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer kern.Close()
	buf := make([]byte, 2048)
	sendOne(t, a, b.LocalAddr(), []byte("to xsk"))
	if p := recvOne(t, b, buf); string(p.Buf) != "to xsk" {
		t.Fatalf("xsk got %q", p.Buf)
	}
	b.CloseSocket()
	if _, err := b.RecvBurst([]netstack.Packet{{Buf: buf}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("RecvBurst after CloseSocket: %v, want ErrClosed", err)
	}
	sendOne(t, a, b.LocalAddr(), []byte("to kernel"))
	kern.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, from, err := kern.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:m]) != "to kernel" || from != a.LocalAddr() {
		t.Fatalf("kernel socket got %q from %v: %v", buf[:m], from, err)
	}
}

// TestLocalPeer: a peer on the same host is reached through the kernel
// (loopback), with weft's port as the source port.
func TestLocalPeer(t *testing.T) {
	n := testkit.NewNet(t, testkit.NetConfig{Hosts: 2})
	a, _ := openPair(t, n, 0, false)
	var kern *net.UDPConn
	if err := n.Hosts[0].Do(func() (err error) {
		kern, err = net.ListenUDP("udp4", &net.UDPAddr{IP: n.Hosts[0].Addr.AsSlice(), Port: testPort + 2})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer kern.Close()
	to := netip.AddrPortFrom(n.Hosts[0].Addr, testPort+2)
	sendOne(t, a, to, []byte("same host"))
	buf := make([]byte, 64)
	kern.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, from, err := kern.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:m]) != "same host" || from != a.LocalAddr() {
		t.Fatalf("got %q from %v: %v", buf[:m], from, err)
	}
	if s := a.Stats(); s.TxLocal != 1 {
		t.Fatalf("TxLocal %d", s.TxLocal)
	}
}

// BenchmarkSendRecv64 moves 64-byte datagrams in bursts of 32 from one
// namespace to the other and shows the hot path allocates nothing.
func BenchmarkSendRecv64(b *testing.B) {
	n := testkit.NewNet(b, testkit.NetConfig{Hosts: 2})
	open := func(h *testkit.Host) *Transport {
		var tr *Transport
		if err := h.Do(func() (err error) {
			tr, err = Open(Config{Iface: h.Iface, Port: testPort})
			return err
		}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { tr.Close() })
		return tr
	}
	a, c := open(n.Hosts[0]), open(n.Hosts[1])
	resolve(b, a, n.Hosts[1].Addr)
	const burst = 32
	tx := make([]netstack.Packet, burst)
	rx := make([]netstack.Packet, burst)
	for i := range tx {
		tx[i] = netstack.Packet{Buf: make([]byte, 64), Peer: c.LocalAddr()}
		rx[i].Buf = make([]byte, 2048)
	}
	b.ReportAllocs()
	b.SetBytes(64 * burst)
	for b.Loop() {
		if _, err := a.SendBurst(tx); err != nil {
			b.Fatal(err)
		}
		for i := range rx {
			rx[i].Buf = rx[i].Buf[:cap(rx[i].Buf)]
		}
		if _, err := c.RecvBurst(rx); err != nil {
			b.Fatal(err)
		}
	}
}

// resolve waits for the next hop of peer, failing the test after 5 s.
func resolve(t testing.TB, tr *Transport, peer netip.Addr) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Resolve(ctx, peer); err != nil {
		t.Fatal(err)
	}
}

// TestFirstContactHeld sends to a peer whose MAC the kernel has never
// resolved: the datagram waits in the hold queue while ARP runs and is
// then delivered, as the kernel's own ARP queue would do.
func TestFirstContactHeld(t *testing.T) {
	n := testkit.NewNet(t, testkit.NetConfig{Hosts: 2})
	open := func(h *testkit.Host) *Transport {
		var tr *Transport
		if err := h.Do(func() (err error) {
			tr, err = Open(Config{Iface: h.Iface, Port: testPort, Frames: 256, RingEntries: 64})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		return tr
	}
	a, b := open(n.Hosts[0]), open(n.Hosts[1])
	for i := 0; i < 3; i++ {
		sendOne(t, a, b.LocalAddr(), []byte{byte(i)})
	}
	// ARP may finish before the third send on a slow machine: at least
	// the first datagram must have waited.
	if len(a.held) == 0 {
		t.Fatal("no frame was held while the next hop resolved")
	}
	buf := make([]byte, 64)
	for i := 0; i < 3; i++ {
		// Polling the sender's transport releases held frames once ARP is done.
		deadline := time.Now().Add(5 * time.Second)
		for {
			a.RecvBurst([]netstack.Packet{{Buf: make([]byte, 64)}})
			got, _ := b.RecvBurst([]netstack.Packet{{Buf: buf}})
			if got == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("held datagram %d never arrived (stats %+v)", i, a.Stats())
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	if s := a.Stats(); s.TxNoNeighbour != 0 || s.TxPackets != 3 {
		t.Fatalf("stats %+v", s)
	}
}

// TestMultiQueue opens one transport per queue of a two-queue veth. A
// kernel sender on the other host spreads 16 flows over both queues: every
// datagram lands on one of the queues' sockets (none falls through to the
// kernel), and the shared program lives until the last transport closes.
func TestMultiQueue(t *testing.T) {
	n := testkit.NewNet(t, testkit.NetConfig{Hosts: 2, Queues: 2})
	var bs []*Transport
	if err := n.Hosts[1].Do(func() (err error) {
		bs, err = OpenQueues(Config{Iface: n.Hosts[1].Iface, Port: testPort, Frames: 1024, RingEntries: 256}, []int{0, 1})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, b := range bs {
			b.Close()
		}
	}()
	const flows, each = 16, 8
	err := n.Hosts[0].Do(func() error {
		for f := 0; f < flows; f++ {
			c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(bs[0].LocalAddr()))
			if err != nil {
				return err
			}
			for i := 0; i < each; i++ {
				if _, err := c.Write([]byte{byte(f), byte(i)}); err != nil {
					return err
				}
			}
			c.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]int, len(bs))
	buf := make([]byte, 64)
	deadline := time.Now().Add(5 * time.Second)
	for got[0]+got[1] < flows*each && time.Now().Before(deadline) {
		for i, b := range bs {
			k, err := b.RecvBurst([]netstack.Packet{{Buf: buf}})
			if err != nil {
				t.Fatal(err)
			}
			got[i] += k
		}
	}
	t.Logf("per receive queue: %v", got)
	if got[0]+got[1] != flows*each {
		t.Fatalf("received %v of %d", got, flows*each)
	}
	if got[0] == 0 || got[1] == 0 {
		t.Fatalf("one queue received nothing: %v", got)
	}
	if err := bs[0].Close(); err != nil {
		t.Fatal(err)
	}
	if bs[1].shared.refs.Load() != 1 {
		t.Fatalf("program references %d after closing one of two transports", bs[1].shared.refs.Load())
	}
}

// TestSecondAddressToKernel: on an interface with two addresses, the
// transport takes datagrams to its own address, and those to the other
// address stay with the kernel socket bound there.
func TestSecondAddressToKernel(t *testing.T) {
	n := testkit.NewNet(t, testkit.NetConfig{Hosts: 2})
	h2 := n.Hosts[1]
	second := h2.Addr.Next().Next().Next().Next().Next().Next().Next().Next().Next().Next() // .12, high bits clear
	if out, err := h2.Command(context.Background(), "ip", "addr", "add", second.String()+"/24", "dev", h2.Iface).CombinedOutput(); err != nil {
		t.Fatalf("add second address: %v: %s", err, out)
	}
	a, b := openPair(t, n, 0, false)
	var kern *net.UDPConn
	if err := h2.Do(func() (err error) {
		kern, err = net.ListenUDP("udp4", &net.UDPAddr{IP: second.AsSlice(), Port: testPort})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer kern.Close()
	resolve(t, a, second)
	sendOne(t, a, netip.AddrPortFrom(second, testPort), []byte("to the second address"))
	kern.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	m, err := kern.Read(buf)
	if err != nil || string(buf[:m]) != "to the second address" {
		t.Fatalf("kernel socket on %s: %q %v", second, buf[:m], err)
	}
	sendOne(t, a, b.LocalAddr(), []byte("to the first"))
	if p := recvOne(t, b, buf); string(p.Buf) != "to the first" {
		t.Fatalf("af_xdp got %q", p.Buf)
	}
	if s := b.Stats(); s.RxNotOurs != 0 {
		t.Fatalf("af_xdp saw %d datagrams for another address", s.RxNotOurs)
	}
}
