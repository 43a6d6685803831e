package xsk

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/weft-fs/weft/internal/testkit"
)

func TestOptionsValidation(t *testing.T) {
	cases := []struct {
		o    Options
		want string
	}{
		{Options{FrameSize: 1000}, "frame size 1000"},
		{Options{Frames: 1}, "1 frames"},
		{Options{Frames: 16, RxFrames: 16}, "16 receive frames"},
		{Options{RxRingEntries: 1000}, "rx ring of 1000"},
		{Options{TxRingEntries: 1 << 20}, "tx ring of 1048576"},
	}
	for _, c := range cases {
		err := c.o.setDefaults()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error naming %q", c.o, err, c.want)
		}
	}
	o := Options{}
	if err := o.setDefaults(); err != nil || o.RxFrames != framesDefault/2 || o.FillRingEntries != ringEntriesDefault {
		t.Fatalf("defaults: %+v %v", o, err)
	}
}

// TestSocketLifecycle binds a socket to a veth queue, checks a second
// socket on the same queue is refused with ErrBusy, exercises the frame
// pools and reads the statistics.
func TestSocketLifecycle(t *testing.T) {
	n := testkit.NewNet(t, testkit.NetConfig{Hosts: 1})
	h := n.Hosts[0]
	var s, s2 *Socket
	var err2 error
	err := h.Do(func() error {
		ifc, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return err
		}
		s, err = New(ifc.Index, 0, Options{Frames: 64, RxRingEntries: 32, TxRingEntries: 32, FillRingEntries: 32, CompletionRingEntries: 32})
		if err != nil {
			return err
		}
		s2, err2 = New(ifc.Index, 0, Options{Frames: 64})
		return nil
	})
	if errors.Is(err, ErrPermission) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err2 == nil {
		s2.Close()
		t.Fatal("second socket on the same queue was accepted")
	}
	if !errors.Is(err2, ErrBusy) {
		t.Fatalf("second socket: %v, want ErrBusy", err2)
	}
	// 32 receive frames went to the 32-entry fill ring at once.
	if len(s.rxFree) != 0 {
		t.Fatalf("%d receive frames not in the fill ring", len(s.rxFree))
	}
	free := s.FreeTx()
	addr, ok := s.AllocTx()
	if !ok || s.FreeTx() != free-1 || addr%uint64(s.FrameSize()) != 0 || addr/uint64(s.FrameSize()) < s.rxFrames {
		t.Fatalf("AllocTx: %d %v", addr, ok)
	}
	s.Release(addr + 100)
	if s.FreeTx() != free {
		t.Fatalf("Release did not return the transmit chunk")
	}
	if _, err := s.Stats(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
