package vfio

// The tests in this file need a real NVMe controller behind an IOMMU: the
// host-side TestGuestVFIO (guest_boot_test.go) boots a QEMU guest that runs
// the TestInGuest* tests of this package against an emulated controller.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	guestSerial    = "wguvfio0" // must match guest_boot_test.go
	guestDiskBytes = 64 << 20
)

// inGuest mirrors testkit.InGuest: this internal test cannot import
// testkit (testkit → dataplane → nvme → nvme/vfio is a cycle).
func inGuest() bool { return os.Getenv("WEFT_GUEST") == "1" }

// guestAddr is where testkit puts the guest's first NVMe controller
// (guestAddr).
const guestAddr = "0000:00:03.0"

// guestController binds the guest's first NVMe to vfio-pci and opens it;
// cleanup closes it and gives the device back to the nvme driver.
func guestController(t *testing.T, o Options) *Controller {
	t.Helper()
	if !inGuest() {
		t.Skip("needs the QEMU guest (run by TestGuestVFIO)")
	}
	addr := guestAddr
	b, err := Bind("", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(addr, o)
	if err != nil {
		b.Release()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
		if err := b.Release(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// pattern fills b with bytes derived from seed, so every block differs.
func pattern(b []byte, seed uint64) {
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], seed*0x9e3779b97f4a7c15+uint64(i))
	}
}

// run submits reqs and polls until all complete, failing on any error.
func run(t *testing.T, p *QueuePair, reqs ...Request) {
	t.Helper()
	out := make([]Completion, 64)
	left := len(reqs)
	for len(reqs) > 0 || left > 0 {
		if len(reqs) > 0 {
			n, err := p.Submit(reqs)
			if err != nil {
				t.Fatal(err)
			}
			reqs = reqs[n:]
		}
		for _, c := range out[:p.Poll(out)] {
			if c.Err != nil {
				t.Fatalf("request %d: %v (status %#x)", c.User, c.Err, c.Status)
			}
			left--
		}
	}
}

func TestInGuestIdentify(t *testing.T) {
	addr := guestAddr
	if inGuest() {
		if d, _ := Driver("", addr); d != "nvme" {
			t.Fatalf("before Bind %s is on driver %q, want nvme", addr, d)
		}
	}
	c := guestController(t, Options{})
	id := c.Identity()
	t.Logf("identity: %+v", id)
	if id.Serial != guestSerial {
		t.Errorf("serial %q, want %q", id.Serial, guestSerial)
	}
	if id.Model != "QEMU NVMe Ctrl" {
		t.Errorf("model %q, want %q", id.Model, "QEMU NVMe Ctrl")
	}
	if id.CapacityBytes != guestDiskBytes || id.Blocks*uint64(id.LBABytes) != id.CapacityBytes {
		t.Errorf("capacity %d bytes (%d × %d), want %d", id.CapacityBytes, id.Blocks, id.LBABytes, guestDiskBytes)
	}
	if id.Namespace != 1 || id.MaxTransferBytes < pageBytes {
		t.Errorf("namespace %d, max transfer %d", id.Namespace, id.MaxTransferBytes)
	}
	if d, _ := Driver("", addr); d != vfioDriver {
		t.Errorf("while open %s is on driver %q, want %s", addr, d, vfioDriver)
	}
	// Bogus opcode: a clean status error, not a hang.
	_, err := c.AdminCommand(0x7f, 0, [6]uint32{}, time.Second)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != StatusInvalidOpcode {
		t.Errorf("admin opcode 0x7f: %v, want invalid opcode status", err)
	}
}

func TestInGuestRelease(t *testing.T) {
	if !inGuest() {
		t.Skip("needs the QEMU guest (run by TestGuestVFIO)")
	}
	addr := guestAddr
	// A namespace in exclusive use is not pulled from under its user.
	devs := NVMeBlockDevices("", addr)
	if len(devs) != 1 {
		t.Fatalf("block devices of %s: %v, want one", addr, devs)
	}
	fd, err := unix.Open(devs[0], unix.O_RDONLY|unix.O_EXCL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Bind("", addr); !errors.Is(err, ErrBusy) {
		t.Fatalf("Bind with %s open O_EXCL: %v, want ErrBusy", devs[0], err)
	}
	unix.Close(fd)
	if d, _ := Driver("", addr); d != "nvme" {
		t.Fatalf("after a refused Bind %s is on %q, want nvme", addr, d)
	}
	b, err := Bind("", addr)
	if err != nil {
		t.Fatal(err)
	}
	if b.Previous() != "nvme" {
		t.Errorf("previous driver %q, want nvme", b.Previous())
	}
	if devs := NVMeBlockDevices("", addr); len(devs) != 0 {
		t.Errorf("block devices %v still there on vfio-pci", devs)
	}
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	if d, _ := Driver("", addr); d != "nvme" {
		t.Fatalf("after Release %s is on driver %q, want nvme", addr, d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(NVMeBlockDevices("", addr)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if devs := NVMeBlockDevices("", addr); len(devs) != 1 {
		t.Fatalf("after Release block devices %v, want one namespace", devs)
	}
}

func TestInGuestReadWrite(t *testing.T) {
	c := guestController(t, Options{Entries: 64})
	p, err := c.NewQueuePair()
	if err != nil {
		t.Fatal(err)
	}
	dma, err := c.AllocDMA(2 << 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		size   int
		offset uint64
		heap   bool // a Go heap buffer, mapped per request
	}{
		{"4KiB", 4 << 10, 0, false},
		{"4KiB heap", 4 << 10, 12 << 20, true},
		{"8KiB two PRPs", 8 << 10, 20 << 20, false},
		{"1MiB", 1 << 20, 1 << 20, false},
		{"1MiB heap", 1 << 20, 30 << 20, true},
		{"last block", 4 << 10, guestDiskBytes - 4096, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wbuf, rbuf []byte
			if tc.heap {
				// Page-offset heap buffers exercise PRP1 with an offset.
				raw := make([]byte, 2*tc.size+8192)
				wbuf, rbuf = raw[512:512+tc.size], raw[tc.size+4096:2*tc.size+4096]
			} else {
				wbuf, rbuf = dma[:tc.size], dma[1<<20:1<<20+tc.size]
			}
			pattern(wbuf, tc.offset+1)
			clear(rbuf)
			run(t, p, Request{Op: OpWrite, Offset: tc.offset, Buf: wbuf, User: 1})
			run(t, p, Request{Op: OpFlush, User: 2})
			run(t, p, Request{Op: OpRead, Offset: tc.offset, Buf: rbuf, User: 3})
			if !bytes.Equal(wbuf, rbuf) {
				t.Fatalf("read back differs from what was written")
			}
		})
	}
	// The data path allocates nothing per request with DMA buffers.
	one := []Request{{Op: OpRead, Offset: 0, Buf: dma[:4096], User: 4}}
	out := make([]Completion, 4)
	allocs := testing.AllocsPerRun(200, func() {
		if n, err := p.Submit(one); n != 1 || err != nil {
			t.Fatalf("submit: %d, %v", n, err)
		}
		for p.Poll(out) == 0 {
		}
	})
	if allocs != 0 {
		t.Errorf("Submit+Poll of a 4 KiB read allocates %.1f times per request, want 0", allocs)
	}
	// Invalid requests are refused before they reach the controller.
	for _, r := range []Request{
		{Op: OpRead, Offset: 100, Buf: dma[:4096]},
		{Op: OpRead, Offset: guestDiskBytes, Buf: dma[:4096]},
		{Op: OpWrite, Offset: 0, Buf: dma[:100]},
		{Op: 9, Offset: 0, Buf: dma[:4096]},
	} {
		if n, err := p.Submit([]Request{r}); n != 0 || !errors.Is(err, ErrInvalid) {
			t.Errorf("Submit(op %d offset %d len %d) = %d, %v; want ErrInvalid", r.Op, r.Offset, len(r.Buf), n, err)
		}
	}
}

// TestInGuestWrap keeps thousands of commands in flight over two queue
// pairs until both rings have wrapped many times, then checks every block.
func TestInGuestWrap(t *testing.T) {
	const (
		blocks   = 4096 // 16 MiB of 4 KiB blocks
		commands = 3 * blocks
	)
	c := guestController(t, Options{Entries: 1024})
	var pairs [2]*QueuePair
	for i := range pairs {
		p, err := c.NewQueuePair()
		if err != nil {
			t.Fatal(err)
		}
		pairs[i] = p
	}
	mem, err := c.AllocDMA(blocks * pageBytes)
	if err != nil {
		t.Fatal(err)
	}
	// Pass 1 writes every block three times over (the last write wins, and
	// a block is never written by two commands in flight at once: command
	// k writes block k%blocks and at most 2×1023 are in flight).
	for k := 0; k < blocks; k++ {
		pattern(mem[k*pageBytes:(k+1)*pageBytes], uint64(k))
	}
	maxInflight := 0
	drive := func(op Op) {
		next, done := 0, 0
		out := make([]Completion, 256)
		for done < commands {
			// Submit in order, alternating pairs, as many as fit.
			for next < commands {
				p := pairs[next%2]
				b := next % blocks
				n, err := p.Submit([]Request{{Op: op, Offset: uint64(b) * pageBytes, Buf: mem[b*pageBytes : (b+1)*pageBytes], User: uint64(next)}})
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
				next++
			}
			maxInflight = max(maxInflight, pairs[0].Inflight()+pairs[1].Inflight())
			for _, p := range pairs {
				for _, cpl := range out[:p.Poll(out)] {
					if cpl.Err != nil {
						t.Fatalf("command %d: %v (status %#x)", cpl.User, cpl.Err, cpl.Status)
					}
					done++
				}
			}
		}
	}
	drive(OpWrite)
	t.Logf("writes: %d commands, up to %d in flight", commands, maxInflight)
	if maxInflight < 1000 {
		t.Errorf("at most %d commands in flight, want over 1000", maxInflight)
	}
	clear(mem)
	drive(OpRead)
	want := make([]byte, pageBytes)
	for k := 0; k < blocks; k++ {
		pattern(want, uint64(k))
		if !bytes.Equal(mem[k*pageBytes:(k+1)*pageBytes], want) {
			t.Fatalf("block %d differs after %d commands", k, 2*commands)
		}
	}
}

// TestInGuestTimeout makes a command the controller never sees (its
// doorbell is held back), checks that Poll times it out without hanging,
// that the late completion after the doorbell is finally rung is absorbed,
// and that an admin command that never completes (Asynchronous Event
// Request) times out too; then Reset brings the queues back.
func TestInGuestTimeout(t *testing.T) {
	c := guestController(t, Options{Entries: 64, IOTimeout: 300 * time.Millisecond})
	p, err := c.NewQueuePair()
	if err != nil {
		t.Fatal(err)
	}
	buf, err := c.AllocDMA(pageBytes)
	if err != nil {
		t.Fatal(err)
	}
	p.holdDoorbell = true
	if n, err := p.Submit([]Request{{Op: OpRead, Offset: 0, Buf: buf, User: 7}}); n != 1 || err != nil {
		t.Fatalf("submit: %d, %v", n, err)
	}
	p.holdDoorbell = false
	start := time.Now()
	out := make([]Completion, 4)
	var got []Completion
	for len(got) == 0 && time.Since(start) < 10*time.Second {
		got = append(got, out[:p.Poll(out)]...)
	}
	if len(got) != 1 || got[0].User != 7 || !errors.Is(got[0].Err, ErrTimeout) {
		t.Fatalf("completions %+v, want request 7 with ErrTimeout", got)
	}
	t.Logf("timed out after %v", time.Since(start))
	// This doorbell also carries the abandoned command: its completion
	// must be absorbed, not reported twice.
	run(t, p, Request{Op: OpRead, Offset: 4096, Buf: buf, User: 8})
	if p.Inflight() != 0 {
		t.Fatalf("inflight %d after all completions", p.Inflight())
	}

	_, err = c.AdminCommand(adminAsyncEvent, 0, [6]uint32{}, 200*time.Millisecond)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("asynchronous event request: %v, want ErrTimeout", err)
	}
	t.Logf("admin timeout: %v", err)

	// A command in flight at Reset completes with ErrReset; the queue
	// pair works afterwards.
	p.holdDoorbell = true
	p.Submit([]Request{{Op: OpRead, Offset: 0, Buf: buf, User: 9}})
	p.holdDoorbell = false
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if n := p.Poll(out); n != 1 || out[0].User != 9 || !errors.Is(out[0].Err, ErrReset) {
		t.Fatalf("after reset: %d completions %+v, want request 9 with ErrReset", n, out[:n])
	}
	pattern(buf, 99)
	run(t, p, Request{Op: OpWrite, Offset: 8192, Buf: buf, User: 10})
	clear(buf)
	run(t, p, Request{Op: OpRead, Offset: 8192, Buf: buf, User: 11})
	want := make([]byte, pageBytes)
	pattern(want, 99)
	if !bytes.Equal(buf, want) {
		t.Fatal("IO after reset read back wrong data")
	}
}
