package xdpprog

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

const testPort = 7460

// frame builds an Ethernet frame: IPv4/UDP to port unless changed by mut.
func frame(port uint16, mut func(b []byte)) []byte {
	b := make([]byte, 14+20+8+16)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	b[14] = 0x45
	binary.BigEndian.PutUint16(b[16:], uint16(len(b)-14))
	b[22] = 64
	b[23] = 17
	copy(b[30:34], []byte{10, 99, 0, 2})
	binary.BigEndian.PutUint16(b[34:], 40000)
	binary.BigEndian.PutUint16(b[36:], port)
	binary.BigEndian.PutUint16(b[38:], 8+16)
	if mut != nil {
		mut(b)
	}
	return b
}

// TestProgramVerdicts runs the program in the kernel (BPF_PROG_TEST_RUN)
// on frames that must go to the kernel. With no socket registered, weft's
// own datagrams must go to the kernel too (the XDP_PASS miss action).
func TestProgramVerdicts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading XDP programs needs root (CAP_BPF, CAP_NET_ADMIN)")
	}
	for _, frags := range []bool{false, true} {
		xsks, prog, err := load(testPort, netip.MustParseAddr("10.99.0.2"), frags)
		if errors.Is(err, ErrPermission) {
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer xsks.Close()
		defer prog.Close()
		cases := []struct {
			name  string
			frame []byte
		}{
			{"weft port, no socket registered", frame(testPort, nil)},
			{"other UDP port", frame(22, nil)},
			{"other destination address", frame(testPort, func(b []byte) { b[33] = 3 })},
			{"destination address with high bit", frame(testPort, func(b []byte) { b[30] = 200 })},
			{"arp", frame(testPort, func(b []byte) { b[12], b[13] = 0x08, 0x06 })},
			{"vlan tagged", frame(testPort, func(b []byte) { b[12], b[13] = 0x81, 0x00 })},
			{"tcp", frame(testPort, func(b []byte) { b[23] = 6 })},
			{"ip options", frame(testPort, func(b []byte) { b[14] = 0x46 })},
			{"fragment", frame(testPort, func(b []byte) { b[20] = 0x20 })},
			{"later fragment", frame(testPort, func(b []byte) { b[21] = 0x08 })},
			{"truncated udp", frame(testPort, nil)[:40]},
			{"ethernet only", frame(testPort, nil)[:14]},
		}
		for _, c := range cases {
			ret, _, err := prog.Test(c.frame)
			if err != nil {
				t.Fatalf("frags=%v %s: test run: %v", frags, c.name, err)
			}
			if ret != xdpPass {
				t.Errorf("frags=%v %s: verdict %d, want XDP_PASS (%d)", frags, c.name, ret, xdpPass)
			}
		}
	}
}

func TestAttachValidation(t *testing.T) {
	if _, err := Attach(Config{Ifindex: 0, Port: 1}, nil); err == nil {
		t.Fatal("ifindex 0 accepted")
	}
	if _, err := Attach(Config{Ifindex: 1, Port: 0}, nil); err == nil {
		t.Fatal("port 0 accepted")
	}
}

func TestBe16(t *testing.T) {
	b := []byte{0x1d, 0x24}
	if int32(binary.NativeEndian.Uint16(b)) != be16(0x1d24) {
		t.Fatalf("be16(0x1d24) = %#x", be16(0x1d24))
	}
}

// TestAttachPermission: without CAP_BPF, CAP_SYS_ADMIN and CAP_NET_ADMIN
// on the calling thread, Attach fails with ErrPermission.
func TestAttachPermission(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop capabilities from")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var orig [2]unix.CapUserData
	if err := unix.Capget(&hdr, &orig[0]); err != nil {
		t.Fatal(err)
	}
	dropped := orig
	for _, c := range []uint{unix.CAP_BPF, unix.CAP_SYS_ADMIN, unix.CAP_NET_ADMIN, unix.CAP_PERFMON} {
		dropped[c/32].Effective &^= 1 << (c % 32)
	}
	if err := unix.Capset(&hdr, &dropped[0]); err != nil {
		t.Fatal(err)
	}
	p, err := Attach(Config{Ifindex: 1, Port: testPort}, nil)
	if rerr := unix.Capset(&hdr, &orig[0]); rerr != nil {
		panic(rerr)
	}
	if p != nil {
		p.Close()
	}
	if !errors.Is(err, ErrPermission) {
		t.Fatalf("got %v, want ErrPermission", err)
	}
	t.Log(err)
}
