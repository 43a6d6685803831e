package xdp

import (
	"net"
	"testing"
	"time"

	"github.com/weft-fs/weft/internal/testkit"
	"github.com/weft-fs/weft/netstack"
	"golang.org/x/sys/unix"
)

// TestMalformedFramesDropped injects broken frames aimed at weft's port
// with a packet socket and checks the receiver counts and drops each one
// and still delivers the good frame that follows.
func TestMalformedFramesDropped(t *testing.T) {
	n := testkit.NewNet(t, testkit.NetConfig{Hosts: 2})
	a, b := openPair(t, n, 0, false)
	dstMAC, ok, err := a.neigh.lookup(n.Hosts[1].Addr, time.Now().UnixNano())
	if err != nil || !ok {
		t.Fatalf("peer MAC: %v %v", ok, err)
	}
	h := Headers{DstMAC: dstMAC, SrcMAC: a.localMAC, Src: a.LocalAddr(), Dst: b.LocalAddr()}
	good := func(payload int) []byte {
		f := make([]byte, HeadersLen+payload)
		EncodeHeaders(f, &h, payload, 1)
		return f
	}
	fix := func(f []byte) []byte { fixIPSum(f); return f }
	bad := [][]byte{
		func() []byte { f := good(32); f[24] ^= 0x55; return f }(),                          // IP checksum
		func() []byte { f := good(32); f[16], f[17] = 0x05, 0xdc; return fix(f) }(),         // IP length beyond frame
		func() []byte { f := good(32); f[38], f[39] = 0, 200; return f }(),                  // UDP length wrong
		func() []byte { f := good(32); f[38], f[39] = 0, 3; return f }(),                    // UDP length below header
		func() []byte { f := good(32); f[16], f[17] = 0, 24; return fix(f)[:HeadersLen] }(), // IP length cuts the UDP header
		func() []byte { f := good(32); f[22] = 0; return f }(),                              // TTL changed, checksum not
	}
	for i, f := range bad {
		if _, _, err := DecodeFrame(f); err == nil {
			t.Fatalf("bad frame %d decodes", i)
		}
	}
	var fd int
	if err := n.Hosts[0].Do(func() (err error) {
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var ifindex int
	n.Hosts[0].Do(func() error {
		ifc, err := net.InterfaceByName(n.Hosts[0].Iface)
		if err == nil {
			ifindex = ifc.Index
		}
		return err
	})
	sa := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6}
	copy(sa.Addr[:], dstMAC[:])
	for i, f := range append(bad, good(16)) {
		if err := unix.Sendto(fd, f, 0, sa); err != nil {
			t.Fatalf("inject frame %d: %v", i, err)
		}
	}
	buf := make([]byte, 2048)
	p := recvOne(t, b, buf)
	if len(p.Buf) != 16 {
		t.Fatalf("good frame after bad ones: %d bytes", len(p.Buf))
	}
	if s := b.Stats(); s.RxMalformed != uint64(len(bad)) || s.RxPackets != 1 {
		t.Fatalf("malformed %d (want %d), delivered %d (want 1)", s.RxMalformed, len(bad), s.RxPackets)
	}
	if got, _ := b.RecvBurst([]netstack.Packet{{Buf: buf}}); got != 0 {
		t.Fatalf("%d extra packets", got)
	}
}
