// Command drive benchmarks weft's drive engine (package nvme) against fio's
// io_uring engine on the same target, alternating the two in one run:
//
//	go run ./bench/drive -target /path/to/file-or-device [-force] [-runtime 4s]
//
// The target is formatted as a weft drive; weft's IO touches the first half
// of the data region and fio's the second half, so fio's writes never land
// on blocks whose checksums weft verifies. Both halves are written once
// before measuring (reads of never-written space would measure nothing).
// weft runs through the poll-mode API (Submit/Poll) with a registered
// buffer arena, checksumming every 4 KiB block; fio runs with
// --ioengine=io_uring --fixedbufs --registerfiles --direct=1. For each job
// the program prints IOPS, GB/s, p50 and p99 latency (submission to
// completion) and the ratio weft/fio. Nothing here fails on timing.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/weft-fs/weft/nvme"
)

// Limits of the benchmark.
const (
	fileSizeDefault = 4 << 30  // bytes of a file target created by the bench
	regionBytesMax  = 1 << 30  // bytes each engine works on
	samplesMax      = 10 << 20 // latency samples kept per run
)

// job is one workload.
type job struct {
	name  string
	write bool
	seq   bool
	bs    int
	qd    int
}

var jobs = []job{
	{"randread-4k-qd1", false, false, 4096, 1},
	{"randread-4k-qd32", false, false, 4096, 32},
	{"randread-4k-qd128", false, false, 4096, 128},
	{"randwrite-4k-qd1", true, false, 4096, 1},
	{"randwrite-4k-qd32", true, false, 4096, 32},
	{"randwrite-4k-qd128", true, false, 4096, 128},
	{"seqread-1m-qd8", false, true, 1 << 20, 8},
	{"seqwrite-1m-qd8", true, true, 1 << 20, 8},
}

// result is one engine's figures for one job.
type result struct {
	iops     float64
	bytesSec float64
	p50, p99 time.Duration
}

func main() {
	target := flag.String("target", "", "file or block device to benchmark (a missing file is created)")
	force := flag.Bool("force", false, "format the target even if it holds data")
	runtime := flag.Duration("runtime", 4*time.Second, "measured time per engine per job")
	only := flag.String("jobs", "", "comma-separated job names to run (default all)")
	mode := flag.String("mode", "wait", "weft completion mode: wait, spin or adaptive (spin 50µs, then wait)")
	blocking := flag.Bool("blocking", false, "also run weft's blocking API (ReadBlocks/WriteBlocks from QD goroutines)")
	rounds := flag.Int("rounds", 3, "alternating weft/fio rounds per job; the median is printed")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	roundsN = max(1, *rounds)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "drive:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *target == "" {
		fmt.Fprintln(os.Stderr, "drive: -target is required")
		os.Exit(2)
	}
	if err := run(*target, *force, *runtime, *only, *mode, *blocking); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "drive:", err)
		os.Exit(1)
	}
}

func run(target string, force bool, runtime time.Duration, only, modeName string, blocking bool) error {
	if _, err := os.Stat(target); os.IsNotExist(err) {
		f, err := os.Create(target)
		if err != nil {
			return err
		}
		if err := f.Truncate(fileSizeDefault); err != nil {
			return err
		}
		f.Close()
	}
	var mode nvme.CompletionMode
	switch modeName {
	case "wait":
	case "spin":
		mode = nvme.CompleteSpin
	case "adaptive":
		mode = nvme.CompleteAdaptive
	default:
		return fmt.Errorf("-mode %q: want wait, spin or adaptive", modeName)
	}
	if err := nvme.Format(target, nvme.FormatOptions{Force: force}); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := nvme.Open(target, nvme.Options{Entries: 256, Mode: mode, Log: log})
	if err != nil {
		return err
	}
	info := d.Info()
	half := min(info.DataBlocks/2, regionBytesMax/nvme.BlockSize)
	half = half / 256 * 256 // whole MiB
	dataStartBytes := info.DataOffsetBytes
	region := region{weftBlocks: half, fioOffset: dataStartBytes + half*nvme.BlockSize, bytes: half * nvme.BlockSize}
	fmt.Printf("target %s: backend %s, %d data blocks; each engine uses %d MiB; %s per run, weft mode %s\n",
		target, info.Backend, info.DataBlocks, region.bytes>>20, runtime, mode)

	w := newWeft(d, region)
	fmt.Print("preconditioning (writing both regions once)... ")
	if err := w.fill(); err != nil {
		return err
	}
	d.Close() // fio needs the target: weft holds it exclusively
	if err := fioFill(target, region); err != nil {
		return err
	}
	fmt.Println("done")

	fmt.Printf("\n%-20s %-8s %10s %8s %11s %11s  %s\n", "job", "engine", "IOPS", "GB/s", "p50", "p99", "weft/fio median of rounds (min-max)")
	for _, j := range jobs {
		if only != "" && !contains(only, j.name) {
			continue
		}
		// Alternate the engines round by round (weft first, then fio
		// first) so drift in the shared host's load hits both alike, and
		// report each engine's median round by IOPS.
		var wrs, brs, frs []result
		for round := range roundsN {
			runWeft := func() error {
				d, err := nvme.Open(target, nvme.Options{Entries: 256, Mode: mode, Log: log})
				if err != nil {
					return err
				}
				defer d.Close()
				w := newWeft(d, region)
				r, err := w.run(j, runtime)
				if err != nil {
					return err
				}
				wrs = append(wrs, r)
				if blocking {
					r, err := w.runBlocking(j, runtime)
					if err != nil {
						return err
					}
					brs = append(brs, r)
				}
				return nil
			}
			runFio := func() error {
				r, err := fioRun(target, region, j, runtime)
				frs = append(frs, r)
				return err
			}
			first, second := runWeft, runFio
			if round%2 == 1 {
				first, second = runFio, runWeft
			}
			if err := first(); err != nil {
				return fmt.Errorf("%s: %w", j.name, err)
			}
			if err := second(); err != nil {
				return fmt.Errorf("%s: %w", j.name, err)
			}
		}
		wr, fr := median(wrs), median(frs)
		if len(frs) != len(wrs) {
			return fmt.Errorf("%s: %d weft and %d fio rounds", j.name, len(wrs), len(frs))
		}
		var br result
		if blocking {
			br = median(brs)
		}
		// The ratio is the median of per-round ratios: a weft run and the
		// fio run next to it see the same host load, which on a shared
		// machine moves far more than the engines differ.
		ratios := make([]float64, len(wrs))
		for i := range wrs {
			ratios[i] = wrs[i].iops / frs[i].iops
		}
		slices.Sort(ratios)
		span := fmt.Sprintf("%.2fx (%.2f-%.2f)", ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1])
		print := func(engine string, r result, ratio string) {
			fmt.Printf("%-20s %-8s %10.0f %8.3f %11s %11s  %s\n", j.name, engine, r.iops, r.bytesSec/1e9, r.p50.Round(time.Microsecond/10), r.p99.Round(time.Microsecond), ratio)
		}
		print("weft", wr, span)
		if blocking {
			bratios := make([]float64, len(brs))
			for i := range brs {
				bratios[i] = brs[i].iops / frs[i].iops
			}
			slices.Sort(bratios)
			print("weft-blk", br, fmt.Sprintf("%.2fx (%.2f-%.2f)", bratios[len(bratios)/2], bratios[0], bratios[len(bratios)-1]))
		}
		print("fio", fr, "")
	}
	return nil
}

func contains(list, name string) bool {
	for _, s := range strings.Split(list, ",") {
		if s == name {
			return true
		}
	}
	return false
}

// roundsN is the number of alternating rounds per job (-rounds).
var roundsN = 3

// median returns the result with the median IOPS.
func median(rs []result) result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b result) int {
		switch {
		case a.iops < b.iops:
			return -1
		case a.iops > b.iops:
			return 1
		}
		return 0
	})
	return s[len(s)/2]
}
