package udp

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/weft-fs/weft/netstack"
)

func listen(t *testing.T, addr string) *Transport {
	t.Helper()
	tr, err := Listen(Config{Addr: netip.MustParseAddrPort(addr)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func recvAll(t *testing.T, tr *Transport, want int) []netstack.Packet {
	t.Helper()
	var out []netstack.Packet
	pkts := make([]netstack.Packet, 16)
	deadline := time.Now().Add(5 * time.Second)
	for len(out) < want && time.Now().Before(deadline) {
		for i := range pkts {
			pkts[i].Buf = make([]byte, 2048)
		}
		n, err := tr.RecvBurst(pkts)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pkts[:n]...)
	}
	return out
}

func TestBurstRoundTrip(t *testing.T) {
	for _, fam := range []string{"127.0.0.1:0", "[::1]:0"} {
		a, b := listen(t, fam), listen(t, fam)
		var pkts []netstack.Packet
		for i := 0; i < 100; i++ {
			pkts = append(pkts, netstack.Packet{Buf: bytes.Repeat([]byte{byte(i)}, i*10), Peer: b.LocalAddr()})
		}
		sent := 0
		for sent < len(pkts) {
			n, err := a.SendBurst(pkts[sent:])
			if err != nil {
				t.Fatal(err)
			}
			sent += n
		}
		got := recvAll(t, b, len(pkts))
		if len(got) != len(pkts) {
			t.Fatalf("%s: received %d of %d", fam, len(got), len(pkts))
		}
		for i, p := range got {
			if !bytes.Equal(p.Buf, pkts[i].Buf) || p.Peer != a.LocalAddr() {
				t.Fatalf("%s: packet %d: %d bytes from %v, want %d from %v", fam, i, len(p.Buf), p.Peer, len(pkts[i].Buf), a.LocalAddr())
			}
		}
	}
}

func TestReusePortAndEmptyRecv(t *testing.T) {
	a := listen(t, "127.0.0.1:0")
	b, err := Listen(Config{Addr: a.LocalAddr()})
	if err != nil {
		t.Fatalf("second SO_REUSEPORT socket on %v: %v", a.LocalAddr(), err)
	}
	defer b.Close()
	pkts := []netstack.Packet{{Buf: make([]byte, 100)}}
	if n, err := a.RecvBurst(pkts); n != 0 || err != nil {
		t.Fatalf("empty socket: n=%d err=%v", n, err)
	}
	if a.PayloadMax() < 1000 || a.Kind() != "udp" || a.PollFd() < 0 {
		t.Fatalf("payload max %d kind %q fd %d", a.PayloadMax(), a.Kind(), a.PollFd())
	}
}

func TestSendToWrongFamilyDoesNotWedge(t *testing.T) {
	a, b := listen(t, "127.0.0.1:0"), listen(t, "127.0.0.1:0")
	pkts := []netstack.Packet{
		{Buf: []byte("x"), Peer: netip.MustParseAddrPort("[::1]:9")},
		{Buf: []byte("y"), Peer: b.LocalAddr()},
	}
	sent := 0
	for i := 0; sent < len(pkts) && i < 10; i++ {
		n, _ := a.SendBurst(pkts[sent:])
		sent += n
	}
	if sent != 2 {
		t.Fatalf("burst with a bad address moved %d of 2", sent)
	}
	if got := recvAll(t, b, 1); len(got) != 1 || string(got[0].Buf) != "y" {
		t.Fatalf("good packet after bad one: %v", got)
	}
}

func BenchmarkSendRecv64(b *testing.B) {
	a, err := Listen(Config{Addr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	r, _ := Listen(Config{Addr: netip.MustParseAddrPort("127.0.0.1:0")})
	defer r.Close()
	out := make([]netstack.Packet, 32)
	in := make([]netstack.Packet, 32)
	for i := range out {
		out[i] = netstack.Packet{Buf: make([]byte, 64), Peer: r.LocalAddr()}
		in[i].Buf = make([]byte, 2048)
	}
	b.ReportAllocs()
	b.SetBytes(64 * 32)
	for b.Loop() {
		n, _ := a.SendBurst(out)
		for got := 0; got < n; {
			for i := range in {
				in[i].Buf = in[i].Buf[:cap(in[i].Buf)]
			}
			m, _ := r.RecvBurst(in)
			got += m
		}
	}
}

// TestSteering binds four sockets on one port with the steering program
// and checks each sender's datagrams land on the socket SteerIndex names.
func TestSteering(t *testing.T) {
	first := listen(t, "127.0.0.1:0")
	group := []*Transport{first}
	for i := 1; i < 4; i++ {
		tr, err := Listen(Config{Addr: first.LocalAddr()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		group = append(group, tr)
	}
	if err := Steer(group); err != nil {
		t.Fatal(err)
	}
	hits := map[int]int{}
	for s := 0; s < 16; s++ {
		snd := listen(t, "127.0.0.1:0")
		want := SteerIndex(snd.LocalAddr(), len(group))
		hits[want]++
		if n, err := snd.SendBurst([]netstack.Packet{{Buf: []byte("steer"), Peer: first.LocalAddr()}}); n != 1 || err != nil {
			t.Fatalf("send: %d %v", n, err)
		}
		got := recvAll(t, group[want], 1)
		if len(got) != 1 || got[0].Peer != snd.LocalAddr() {
			t.Fatalf("sender %v: socket %d got %v", snd.LocalAddr(), want, got)
		}
	}
	if len(hits) < 2 {
		t.Fatalf("16 senders all steered to one socket: %v", hits)
	}
}
