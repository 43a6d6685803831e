package xsk

import (
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"

	"github.com/weft-fs/weft/internal/testkit"
	"golang.org/x/sys/unix"
)

// withoutCaps runs fn on a thread whose effective capability set lacks
// caps, then restores it. Capabilities are per thread, so the rest of the
// process is unaffected.
func withoutCaps(t *testing.T, caps []uintptr, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var orig [2]unix.CapUserData
	if err := unix.Capget(&hdr, &orig[0]); err != nil {
		t.Fatalf("capget: %v", err)
	}
	dropped := orig
	for _, c := range caps {
		dropped[c/32].Effective &^= 1 << (c % 32)
	}
	if err := unix.Capset(&hdr, &dropped[0]); err != nil {
		t.Fatalf("capset: %v", err)
	}
	defer func() {
		if err := unix.Capset(&hdr, &orig[0]); err != nil {
			panic("restore capabilities: " + err.Error())
		}
	}()
	fn()
}

func vethIndex(t *testing.T, h *testkit.Host) int {
	var idx int
	if err := h.Do(func() error {
		ifc, err := net.InterfaceByName(h.Iface)
		if err == nil {
			idx = ifc.Index
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return idx
}

// TestErrorPermission: without CAP_NET_RAW the socket is refused with
// ErrPermission and a message naming the capabilities.
func TestErrorPermission(t *testing.T) {
	n := testkit.NewNet(t, testkit.NetConfig{Hosts: 1})
	idx := vethIndex(t, n.Hosts[0])
	var err error
	withoutCaps(t, []uintptr{unix.CAP_NET_RAW}, func() {
		var s *Socket
		s, err = New(idx, 0, Options{Frames: 64})
		if s != nil {
			s.Close()
		}
	})
	if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "CAP_NET_RAW") {
		t.Fatalf("got %v, want ErrPermission naming CAP_NET_RAW", err)
	}
}

// TestErrorMemlock: with RLIMIT_MEMLOCK below the UMEM and no right to
// raise it (no CAP_SYS_RESOURCE, no CAP_IPC_LOCK), New says so with the
// sizes.
func TestErrorMemlock(t *testing.T) {
	n := testkit.NewNet(t, testkit.NetConfig{Hosts: 1})
	idx := vethIndex(t, n.Hosts[0])
	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &orig); err != nil {
		t.Fatal(err)
	}
	// Only the soft limit is lowered: a hard limit lowered without
	// CAP_SYS_RESOURCE could never be raised again in this process.
	const umemBytes = 4096 * FrameSizeDefault
	if orig.Max == unix.RLIM_INFINITY || orig.Max >= umemBytes {
		t.Skipf("hard RLIMIT_MEMLOCK %d covers a %d-byte UMEM: nothing to provoke", orig.Max, umemBytes)
	}
	var err error
	withoutCaps(t, []uintptr{unix.CAP_SYS_RESOURCE, unix.CAP_IPC_LOCK}, func() {
		if e := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: 64 << 10, Max: orig.Max}); e != nil {
			t.Fatalf("lower memlock: %v", e)
		}
		var s *Socket
		s, err = New(idx, 0, Options{Frames: 4096})
		if s != nil {
			s.Close()
		}
	})
	if e := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &orig); e != nil {
		t.Fatalf("restore memlock: %v", e)
	}
	if !errors.Is(err, ErrMemlock) || !strings.Contains(err.Error(), "16777216") {
		t.Fatalf("got %v, want ErrMemlock naming the 16777216-byte UMEM", err)
	}
	t.Log(err)
}

// TestErrorUnsupported: zero-copy on veth is refused as ErrUnsupported.
func TestErrorUnsupported(t *testing.T) {
	n := testkit.NewNet(t, testkit.NetConfig{Hosts: 1})
	idx := vethIndex(t, n.Hosts[0])
	var err error
	n.Hosts[0].Do(func() error {
		var s *Socket
		s, err = New(idx, 0, Options{Frames: 64, Mode: BindZeroCopy})
		if s != nil {
			s.Close()
		}
		return nil
	})
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("zero-copy on veth: got %v, want ErrUnsupported", err)
	}
}
