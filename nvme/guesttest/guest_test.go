package guesttest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-fs/weft/internal/testkit"
	"github.com/weft-fs/weft/nvme"
	"github.com/weft-fs/weft/nvme/uring"
	"github.com/weft-fs/weft/nvme/vfio"
)

const (
	guestDiskBytes = 64 << 20
	guestDev       = "/dev/nvme0n1"
	guestBlockName = "nvme0n1"
	guestTimeout   = 3 * time.Minute
)

// bootGuest runs the named in-guest tests in one guest whose nvme driver
// is loaded with params, and requires each of them to pass.
func bootGuest(t *testing.T, params string, tests ...string) {
	t.Helper()
	bin := testkit.GuestTestBinary(t)
	res := testkit.GuestTest(t, testkit.GuestConfig{
		Binary:     bin,
		Args:       []string{"-test.run", "^(" + strings.Join(tests, "|") + ")$", "-test.v", "-test.timeout", "150s"},
		Disks:      []testkit.GuestDisk{{Serial: "wguguest0", SizeBytes: guestDiskBytes}},
		LoadNVMe:   true,
		NVMeParams: params,
		Timeout:    guestTimeout,
	})
	for _, name := range tests {
		if !bytes.Contains(res.Output, []byte("--- PASS: "+name+" ")) {
			t.Errorf("%s did not pass in the guest", name)
		}
	}
	t.Logf("guest ran in %v:\n%s", res.Elapsed, res.Output)
}

func needGuest(t *testing.T) {
	t.Helper()
	if !testkit.InGuest() {
		t.Skip("runs inside the QEMU guest booted by the matching TestGuest test")
	}
}

// TestGuestPollQueues boots one guest with NVMe poll queues for the IOPOLL
// and vfio-to-io_uring tests (one boot saves 5-20 s under TCG).
func TestGuestPollQueues(t *testing.T) {
	bootGuest(t, "poll_queues=2", "TestInGuestIOPOLL", "TestInGuestVFIOToURing")
}

// TestGuestNoPollQueues boots a guest whose NVMe has no poll queues.
func TestGuestNoPollQueues(t *testing.T) {
	bootGuest(t, "poll_queues=0", "TestInGuestNoPollQueues")
}

// nvmeInterrupts sums the interrupts of every NVMe I/O queue (nvme0q1...)
// over all CPUs, from /proc/interrupts. Poll queues have no interrupt
// line; the admin queue (q0) is left out.
func nvmeInterrupts(t *testing.T) (total uint64, queues int) {
	t.Helper()
	f, err := os.Open("/proc/interrupts")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		name := fields[len(fields)-1]
		if !strings.HasPrefix(name, "nvme0q") || name == "nvme0q0" {
			continue
		}
		queues++
		for _, f := range fields[1:] {
			n, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				break // past the per-CPU columns
			}
			total += n
		}
	}
	return total, queues
}

func pattern(b []byte, seed uint64) {
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], seed*0x9e3779b97f4a7c15+uint64(i))
	}
}

// burst pushes reqs through the poll-mode API until all completed,
// spinning on Poll (no Wait: that would sleep on interrupts).
func burst(t *testing.T, d *nvme.Drive, reqs []nvme.Request) {
	t.Helper()
	out := make([]nvme.Completion, 64)
	left := len(reqs)
	for len(reqs) > 0 || left > 0 {
		if len(reqs) > 0 {
			n, err := d.Submit(reqs)
			if err != nil {
				t.Fatal(err)
			}
			reqs = reqs[n:]
		}
		for _, c := range out[:d.Poll(out)] {
			if c.Err != nil {
				t.Fatalf("request %d: %v", c.Tag, c.Err)
			}
			left--
		}
	}
}

// TestInGuestIOPOLL drives the NVMe namespace through nvme's io_uring ring
// with IOPOLL (queue/io_poll is 1 with poll_queues=2): writes and reads of
// a pattern at queue depth 32 verified, and no NVMe I/O interrupt taken
// while they ran. A plain interrupt-driven read afterwards moves the
// counters, proving the check can see interrupts.
func TestInGuestIOPOLL(t *testing.T) {
	needGuest(t)
	if v, _ := os.ReadFile("/sys/block/" + guestBlockName + "/queue/io_poll"); strings.TrimSpace(string(v)) != "1" {
		t.Fatalf("queue/io_poll = %q, want 1 with nvme poll_queues=2", v)
	}
	if err := nvme.Format(guestDev, nvme.FormatOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	d, err := nvme.Open(guestDev, nvme.Options{Backend: nvme.BackendURing, Poll: nvme.PollIO, Mode: nvme.CompleteSpin, Entries: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if b := d.Info().Backend; b != "io_uring+iopoll" {
		t.Errorf("Info().Backend = %q with poll queues, want io_uring+iopoll", b)
	}
	const (
		blocks = 2048 // 8 MiB
		depth  = 32
	)
	mem := nvme.AlignedBuffer(blocks * nvme.BlockSize)
	for b := 0; b < blocks; b++ {
		pattern(mem[b*nvme.BlockSize:(b+1)*nvme.BlockSize], uint64(b))
	}
	reqs := func(op nvme.Op, size int) []nvme.Request {
		var r []nvme.Request
		per := size / nvme.BlockSize
		for b := 0; b < blocks; b += per {
			r = append(r, nvme.Request{Op: op, Block: uint64(b), Buf: mem[b*nvme.BlockSize : (b+per)*nvme.BlockSize], Tag: uint64(b)})
		}
		return r
	}
	before, queues := nvmeInterrupts(t)
	if queues == 0 {
		t.Fatal("no nvme0q I/O queue in /proc/interrupts")
	}
	start := time.Now()
	all := reqs(nvme.OpWrite, nvme.BlockSize)
	for i := 0; i < len(all); i += depth {
		burst(t, d, all[i:min(i+depth, len(all))])
	}
	clear(mem)
	all = reqs(nvme.OpRead, nvme.BlockSize)
	for i := 0; i < len(all); i += depth {
		burst(t, d, all[i:min(i+depth, len(all))])
	}
	burst(t, d, reqs(nvme.OpRead, 128<<10)) // larger requests, verified again below
	elapsed := time.Since(start)
	after, _ := nvmeInterrupts(t)
	want := make([]byte, nvme.BlockSize)
	for b := 0; b < blocks; b++ {
		pattern(want, uint64(b))
		if !bytes.Equal(mem[b*nvme.BlockSize:(b+1)*nvme.BlockSize], want) {
			t.Fatalf("block %d read back differs", b)
		}
	}
	t.Logf("%d polled requests in %v; NVMe I/O queue interrupts %d -> %d over %d interrupt queues",
		2*blocks+blocks/32, elapsed, before, after, queues)
	if after != before {
		t.Fatalf("NVMe I/O interrupts moved from %d to %d during IOPOLL IO: completions were not polled", before, after)
	}
	// Control: interrupt-driven IO must move the counters.
	fd, err := unix.Open(guestDev, unix.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	buf := nvme.AlignedBuffer(nvme.BlockSize)
	for i := 0; i < 16; i++ {
		if _, err := unix.Pread(fd, buf, int64(i)*nvme.BlockSize); err != nil {
			t.Fatal(err)
		}
	}
	if ctl, _ := nvmeInterrupts(t); ctl == after {
		t.Fatalf("16 interrupt-driven reads left the NVMe interrupt counters at %d: the check cannot see interrupts", ctl)
	}
}

// TestInGuestNoPollQueues: with poll_queues=0 the namespace has no poll
// queues (queue/io_poll 0). The kernel refuses IOPOLL IO on it rather than
// serving it by interrupts, and nvme.Open with PollIO refuses IOPOLL with a
// message naming queue/io_poll instead of pretending to poll.
func TestInGuestNoPollQueues(t *testing.T) {
	needGuest(t)
	if v, _ := os.ReadFile("/sys/block/" + guestBlockName + "/queue/io_poll"); strings.TrimSpace(string(v)) != "0" {
		t.Fatalf("queue/io_poll = %q, want 0 with nvme poll_queues=0", v)
	}
	fd, err := unix.Open(guestDev, unix.O_RDWR|unix.O_DIRECT, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := uring.New(8, uring.Config{IOPoll: true})
	if err != nil {
		t.Fatal(err)
	}
	buf := nvme.AlignedBuffer(nvme.BlockSize)
	r.NextSQE().PrepRW(uring.OpRead, int32(fd), buf, 0, 1)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	var cqes [1]uring.CQE
	deadline := time.Now().Add(10 * time.Second)
	for r.Reap(cqes[:]) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("IOPOLL read on a device without poll queues never completed")
		}
	}
	r.Close()
	unix.Close(fd)
	if cqes[0].Res != -int32(unix.EOPNOTSUPP) {
		t.Fatalf("IOPOLL read without poll queues: res %d, want -EOPNOTSUPP (%d)", cqes[0].Res, -int32(unix.EOPNOTSUPP))
	}
	t.Logf("kernel: IOPOLL read without poll queues -> %v", unix.Errno(-cqes[0].Res))

	if err := nvme.Format(guestDev, nvme.FormatOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	// nvme's contract (nvme/doc.go): PollIO on a device without poll
	// queues is refused at Open with an error wrapping ErrUnsupported that
	// names queue/io_poll, logged at Warn: never served by interrupts.
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := nvme.Open(guestDev, nvme.Options{Backend: nvme.BackendURing, Poll: nvme.PollIO, Log: log})
	if err == nil {
		d.Close()
		t.Fatalf("nvme.Open(%s, PollIO) without poll queues succeeded (backend %q), want refusal", guestDev, d.Info().Backend)
	}
	if !errors.Is(err, nvme.ErrUnsupported) || !strings.Contains(err.Error(), "io_poll") {
		t.Fatalf("nvme.Open(%s, PollIO): %v, want ErrUnsupported naming io_poll", guestDev, err)
	}
	if !strings.Contains(logs.String(), "IOPOLL refused") {
		t.Errorf("Open with PollIO on a device without poll queues did not log why IOPOLL was refused:\n%s", logs.String())
	}
	t.Logf("nvme.Open with PollIO refused: %v", err)
}

// TestInGuestVFIOToURing formats the drive through the userspace vfio
// driver, writes through it (blocking and poll-mode APIs), gives the
// controller back to the kernel nvme driver and reads every data block
// through io_uring: every checksum must hold and the data must match.
func TestInGuestVFIOToURing(t *testing.T) {
	needGuest(t)
	addr := testkit.GuestNVMeDevice(0)
	name := nvme.VFIOPrefix + addr
	if err := nvme.Format(name, nvme.FormatOptions{Force: true, AppRoot: []byte("formatted through vfio")}); err != nil {
		t.Fatal(err)
	}
	d, err := nvme.Open(name, nvme.Options{})
	if err != nil {
		t.Fatal(err)
	}
	info := d.Info()
	t.Logf("vfio drive: %+v", info)
	if info.Backend != string(nvme.BackendVFIO) {
		t.Errorf("backend %q, want %q", info.Backend, nvme.BackendVFIO)
	}
	if drv, _ := vfio.Driver("", addr); drv != "vfio-pci" {
		t.Errorf("while open, %s is on %q, want vfio-pci", addr, drv)
	}
	const (
		chunkBlocks = 64 // 256 KiB per blocking write
		pollBlocks  = 256
	)
	written := min(info.DataBlocks, 4096) // 16 MiB
	buf := nvme.AlignedBuffer(chunkBlocks * nvme.BlockSize)
	for b := uint64(0); b < written-pollBlocks; b += chunkBlocks {
		n := min(chunkBlocks, written-pollBlocks-b)
		for i := uint64(0); i < n; i++ {
			pattern(buf[i*nvme.BlockSize:(i+1)*nvme.BlockSize], b+i)
		}
		if err := d.WriteBlocks(b, buf[:n*nvme.BlockSize]); err != nil {
			t.Fatal(err)
		}
	}
	// The last blocks go through the poll-mode API, with a flush request.
	pmem := nvme.AlignedBuffer(pollBlocks * nvme.BlockSize)
	var reqs []nvme.Request
	for i := uint64(0); i < pollBlocks; i++ {
		b := written - pollBlocks + i
		pattern(pmem[i*nvme.BlockSize:(i+1)*nvme.BlockSize], b)
		reqs = append(reqs, nvme.Request{Op: nvme.OpWrite, Block: b, Buf: pmem[i*nvme.BlockSize : (i+1)*nvme.BlockSize], Tag: b})
	}
	burst(t, d, reqs)
	burst(t, d, []nvme.Request{{Op: nvme.OpFlush, Tag: 1 << 40}})
	if err := d.SetAppRoot([]byte("written through vfio")); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if drv, _ := vfio.Driver("", addr); drv != "nvme" {
		t.Fatalf("after Close, %s is on %q, want nvme (restored)", addr, drv)
	}
	var dev string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if devs := vfio.NVMeBlockDevices("", addr); len(devs) == 1 {
			if _, err := os.Stat(devs[0]); err == nil {
				dev = devs[0]
				break
			}
		}
	}
	if dev == "" {
		t.Fatalf("no block device for %s after giving it back to nvme", addr)
	}
	u, err := nvme.Open(dev, nvme.Options{Backend: nvme.BackendURing})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	uinfo := u.Info()
	if uinfo.DriveUUID != info.DriveUUID || uinfo.DataBlocks != info.DataBlocks || string(u.AppRoot()) != "written through vfio" {
		t.Fatalf("io_uring sees drive %x (%d blocks, app root %q); vfio wrote %x (%d blocks)",
			uinfo.DriveUUID, uinfo.DataBlocks, u.AppRoot(), info.DriveUUID, info.DataBlocks)
	}
	// Every data block: written ones match the pattern, the rest read as
	// never-written zeros; ReadBlocks checks each block's CRC32C.
	big := nvme.AlignedBuffer(nvme.RequestBytesMax)
	per := uint64(len(big) / nvme.BlockSize)
	want := make([]byte, nvme.BlockSize)
	for b := uint64(0); b < uinfo.DataBlocks; b += per {
		n := min(per, uinfo.DataBlocks-b)
		if err := u.ReadBlocks(b, big[:n*nvme.BlockSize]); err != nil {
			t.Fatalf("io_uring read of blocks [%d, %d): %v", b, b+n, err)
		}
		for i := uint64(0); i < n; i++ {
			blk := big[i*nvme.BlockSize : (i+1)*nvme.BlockSize]
			if b+i < written {
				pattern(want, b+i)
			} else {
				clear(want)
			}
			if !bytes.Equal(blk, want) {
				t.Fatalf("block %d read through io_uring differs from what vfio wrote", b+i)
			}
		}
	}
	t.Logf("%d data blocks read through io_uring with checksums intact (%d written through vfio)", uinfo.DataBlocks, written)
}
