// Command guest measures weft's NVMe IO paths side by side inside one QEMU
// guest (emulated NVMe, TCG): 4 KiB random reads at queue depth 1 and 32
// through the userspace vfio driver (nvme/vfio), through weft's io_uring
// ring with IOPOLL on NVMe poll queues, and through the same ring with
// interrupt completions (the reference). The figures are bound by QEMU's
// emulation, so only the ratios mean anything.
//
//	go run ./bench/guest [-seconds 2] [-span-mib 32]
//
// On the host it builds itself as a static binary and boots the guest
// (internal/testkit, ci/guest) with nvme.poll_queues=2; inside the guest
// (WEFT_GUEST=1) it runs the measurements and prints the table.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-fs/weft/internal/testkit"
	"github.com/weft-fs/weft/nvme"
	"github.com/weft-fs/weft/nvme/uring"
	"github.com/weft-fs/weft/nvme/vfio"
)

// Workload limits.
const (
	blockBytes   = 4096
	depthMax     = 32
	offsetsCount = 1 << 16 // precomputed random offsets, reused cyclically
	diskBytes    = 256 << 20
	guestDev     = "/dev/nvme0n1"
)

func main() {
	seconds := flag.Float64("seconds", 2, "duration of each measurement")
	spanMiB := flag.Int("span-mib", 64, "random reads land in the first span-mib MiB of the namespace")
	flag.Parse()
	if !testkit.InGuest() {
		if err := host(*seconds, *spanMiB); err != nil {
			fmt.Fprintln(os.Stderr, "bench/guest:", err)
			os.Exit(1)
		}
		return
	}
	if err := guest(time.Duration(*seconds*float64(time.Second)), uint64(*spanMiB)<<20); err != nil {
		fmt.Println("bench/guest:", err)
		os.Exit(1)
	}
}

func host(seconds float64, spanMiB int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "wgu-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := testkit.BuildGuestProgram(ctx, "github.com/weft-fs/weft/bench/guest", dir)
	if err != nil {
		return err
	}
	res, err := testkit.RunGuest(ctx, testkit.GuestConfig{
		Binary:     bin,
		Args:       []string{"-seconds", strconv.FormatFloat(seconds, 'f', -1, 64), "-span-mib", strconv.Itoa(spanMiB)},
		Disks:      []testkit.GuestDisk{{Serial: "wgubench0", SizeBytes: diskBytes}},
		LoadNVMe:   true,
		NVMeParams: "poll_queues=2",
		Timeout:    10 * time.Minute,
	})
	os.Stdout.Write(res.Output)
	if err != nil {
		os.Stderr.Write(res.Console)
		if errors.Is(err, testkit.ErrGuestUnavailable) {
			return fmt.Errorf("no QEMU guest here: %w", err)
		}
		return err
	}
	fmt.Printf("(guest booted and ran in %v)\n", res.Elapsed.Round(time.Millisecond))
	return nil
}

type result struct {
	name  string
	depth int
	iops  float64
}

func guest(d time.Duration, span uint64) error {
	offs := make([]uint64, offsetsCount)
	r := rand.New(rand.NewPCG(5, 7))
	for i := range offs {
		offs[i] = r.Uint64N(span/blockBytes) * blockBytes
	}
	var results []result
	for _, depth := range []int{1, depthMax} {
		for _, iopoll := range []bool{false, true} {
			iops, err := uringRun(d, depth, iopoll, offs)
			if err != nil {
				return err
			}
			name := "io_uring interrupts"
			if iopoll {
				name = "io_uring IOPOLL"
			}
			results = append(results, result{name, depth, iops})
		}
	}
	vres, err := vfioRuns(d, offs)
	if err != nil {
		return err
	}
	results = append(results, vres...)
	dres, err := driveRuns(d, offs)
	if err != nil {
		return err
	}
	results = append(results, dres...)
	fmt.Printf("4 KiB random reads, %v each, emulated NVMe under TCG (ratios only)\n", d)
	fmt.Printf("%-22s %5s %12s %10s\n", "path", "QD", "IOPS", "ratio")
	for _, depth := range []int{1, depthMax} {
		var ref, dref float64
		for _, r := range results {
			switch {
			case r.depth == depth && r.name == "io_uring interrupts":
				ref = r.iops
			case r.depth == depth && r.name == "Drive io_uring irq":
				dref = r.iops
			}
		}
		for _, r := range results {
			if r.depth == depth {
				base := ref
				if strings.HasPrefix(r.name, "Drive") {
					base = dref
				}
				fmt.Printf("%-22s %5d %12.0f %9.2fx\n", r.name, r.depth, r.iops, r.iops/base)
			}
		}
	}
	fmt.Println("ratio: IOPS / io_uring with interrupts at the same queue depth, measured in this run;")
	fmt.Println("Drive rows go through nvme.Drive's burst API (CRC32C verify per block) and compare to its io_uring irq row")
	return nil
}

// uringRun keeps depth 4 KiB O_DIRECT reads in flight on weft's ring.
func uringRun(d time.Duration, depth int, iopoll bool, offs []uint64) (float64, error) {
	fd, err := unix.Open(guestDev, unix.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	ring, err := uring.New(depthMax, uring.Config{IOPoll: iopoll})
	if err != nil {
		return 0, err
	}
	defer ring.Close()
	mem, err := unix.Mmap(-1, 0, depthMax*blockBytes, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return 0, err
	}
	defer unix.Munmap(mem)
	var cqes [depthMax]uring.CQE
	next, done, inflight := 0, 0, 0
	submit := func(slot int) {
		ring.NextSQE().PrepRW(uring.OpRead, int32(fd), mem[slot*blockBytes:(slot+1)*blockBytes], offs[next%len(offs)], uint64(slot))
		next++
		inflight++
	}
	for s := 0; s < depth; s++ {
		submit(s)
	}
	start := time.Now()
	for {
		if _, err := ring.Submit(); err != nil && !errors.Is(err, uring.ErrBusy) {
			return 0, err
		}
		var n int
		if iopoll {
			n = ring.Reap(cqes[:])
		} else {
			if n = ring.Reap(cqes[:]); n == 0 {
				if err := ring.Wait(1); err != nil && !errors.Is(err, unix.EINTR) {
					return 0, err
				}
				n = ring.Reap(cqes[:])
			}
		}
		for _, c := range cqes[:n] {
			if c.Res != blockBytes {
				return 0, fmt.Errorf("io_uring read: res %d", c.Res)
			}
			inflight--
			done++
			submit(int(c.UserData))
		}
		if done&1023 == 0 && time.Since(start) >= d {
			break
		}
	}
	el := time.Since(start)
	for inflight > 0 { // drain before closing the ring
		ring.Submit()
		if !iopoll {
			ring.Wait(1)
		}
		inflight -= ring.Reap(cqes[:])
	}
	return float64(done) / el.Seconds(), nil
}

// vfioRuns takes the controller from the nvme driver, measures both queue
// depths on one queue pair with DMA buffers, and gives it back.
func vfioRuns(d time.Duration, offs []uint64) ([]result, error) {
	addr := testkit.GuestNVMeDevice(0)
	b, err := vfio.Bind("", addr)
	if err != nil {
		return nil, err
	}
	defer b.Release()
	c, err := vfio.Open(addr, vfio.Options{Entries: 64})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	qp, err := c.NewQueuePair()
	if err != nil {
		return nil, err
	}
	mem, err := c.AllocDMA(depthMax * blockBytes)
	if err != nil {
		return nil, err
	}
	var out []result
	for _, depth := range []int{1, depthMax} {
		reqs := make([]vfio.Request, depth)
		cpl := make([]vfio.Completion, depthMax)
		next, done := 0, 0
		for s := range reqs {
			reqs[s] = vfio.Request{Op: vfio.OpRead, Offset: offs[next%len(offs)], Buf: mem[s*blockBytes : (s+1)*blockBytes], User: uint64(s)}
			next++
		}
		if _, err := qp.Submit(reqs); err != nil {
			return nil, err
		}
		start := time.Now()
		one := make([]vfio.Request, 1)
		for {
			n := qp.Poll(cpl)
			for _, cp := range cpl[:n] {
				if cp.Err != nil {
					return nil, fmt.Errorf("vfio read: %w (status %#x)", cp.Err, cp.Status)
				}
				done++
				s := int(cp.User)
				one[0] = vfio.Request{Op: vfio.OpRead, Offset: offs[next%len(offs)], Buf: mem[s*blockBytes : (s+1)*blockBytes], User: uint64(s)}
				next++
				if _, err := qp.Submit(one); err != nil {
					return nil, err
				}
			}
			if done&1023 == 0 && done > 0 && time.Since(start) >= d {
				break
			}
		}
		el := time.Since(start)
		for qp.Inflight() > 0 {
			qp.Poll(cpl)
		}
		out = append(out, result{"vfio (userspace)", depth, float64(done) / el.Seconds()})
	}
	return out, nil
}

// driveRuns repeats the measurement through nvme.Drive's poll-mode burst
// API, the one the drive role uses, on each backend: the same Submit/Poll
// loop whatever serves the drive.
func driveRuns(d time.Duration, offs []uint64) ([]result, error) {
	if err := nvme.Format(guestDev, nvme.FormatOptions{Force: true}); err != nil {
		return nil, err
	}
	type backend struct {
		name string
		path string
		o    nvme.Options
		spin bool
	}
	var out []result
	for _, b := range []backend{
		{"Drive io_uring irq", guestDev, nvme.Options{Backend: nvme.BackendURing, Entries: depthMax}, false},
		{"Drive io_uring IOPOLL", guestDev, nvme.Options{Backend: nvme.BackendURing, Poll: nvme.PollIO, Mode: nvme.CompleteSpin, Entries: depthMax}, true},
		{"Drive vfio", nvme.VFIOPrefix + testkit.GuestNVMeDevice(0), nvme.Options{Entries: depthMax}, true},
	} {
		dr, err := nvme.Open(b.path, b.o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.name, err)
		}
		blocks := dr.Info().DataBlocks
		mem := nvme.AlignedBuffer(depthMax * blockBytes)
		if err := dr.RegisterBuffers([][]byte{mem}); err != nil {
			dr.Close()
			return nil, err
		}
		for _, depth := range []int{1, depthMax} {
			iops, err := driveRun(dr, d, depth, b.spin, mem, blocks, offs)
			if err != nil {
				dr.Close()
				return nil, fmt.Errorf("%s: %w", b.name, err)
			}
			out = append(out, result{b.name, depth, iops})
		}
		if err := dr.Close(); err != nil {
			return nil, err
		}
		if b.path != guestDev {
			// Give the kernel driver time to bring the namespace back.
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if _, err := os.Stat(guestDev); err == nil {
					break
				}
			}
		}
	}
	return out, nil
}

func driveRun(dr *nvme.Drive, d time.Duration, depth int, spin bool, mem []byte, blocks uint64, offs []uint64) (float64, error) {
	reqs := make([]nvme.Request, depth)
	cpl := make([]nvme.Completion, depthMax)
	next, done := 0, 0
	block := func() uint64 { b := offs[next%len(offs)] / blockBytes % blocks; next++; return b }
	for s := range reqs {
		reqs[s] = nvme.Request{Op: nvme.OpRead, Block: block(), Buf: mem[s*blockBytes : (s+1)*blockBytes], Tag: uint64(s)}
	}
	if _, err := dr.Submit(reqs); err != nil {
		return 0, err
	}
	one := make([]nvme.Request, 1)
	inflight := depth
	start := time.Now()
	for {
		n := dr.Poll(cpl)
		if n == 0 && !spin {
			if err := dr.Wait(); err != nil {
				return 0, err
			}
			continue
		}
		stop := done >= 1024 && time.Since(start) >= d
		for _, c := range cpl[:n] {
			inflight--
			if c.Err != nil {
				return 0, c.Err
			}
			done++
			if stop {
				continue
			}
			s := int(c.Tag)
			one[0] = nvme.Request{Op: nvme.OpRead, Block: block(), Buf: mem[s*blockBytes : (s+1)*blockBytes], Tag: uint64(s)}
			if _, err := dr.Submit(one); err != nil {
				return 0, err
			}
			inflight++
		}
		if stop {
			el := time.Since(start)
			for inflight > 0 {
				if !spin {
					dr.Wait()
				}
				inflight -= dr.Poll(cpl)
			}
			return float64(done) / el.Seconds(), nil
		}
	}
}
