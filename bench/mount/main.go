// Command mount benchmarks a weft mount against the directory its drive
// files live in and against a go-fuse loopback mount of that directory,
// all in one run:
//
//	go run ./bench/mount [-size 256M] [-runtime 5s] [-files 10000]
//
//	             fio / create-stat-unlink
//	   ┌────────────────┼──────────────────────────┐
//	   ▼                ▼                          ▼
//	weft mount      raw directory             loopback mount (go-fuse
//	(FUSE ─ UDP ─   (the ext4/xfs dir         fs.NewLoopbackRoot of the
//	 compute ─ 3+2   holding the drive files)  raw directory)
//	 pool ─ drive
//	 files in the raw dir)
//
// Workloads: fio sequential 1 MiB write and read and 4 KiB random read,
// each with 1 and 4 jobs, buffered and O_DIRECT; then creating, stat'ing
// and unlinking -files empty files. The program prints each figure per
// target and the ratios weft/raw and weft/loopback. weftd's roles run in
// this process (dataplane/agent, the same code as the binary); fio runs
// as its own process, as an application would. Nothing here fails on
// timing. Needs root (FUSE mounts), fio and /dev/fuse.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// Defaults of the benchmark.
const (
	sizeDefault      = "256M"          // per fio job
	runtimeDefault   = 5 * time.Second // per fio run
	filesDefault     = 10000           // metadata workload
	driveBytes       = 2 << 30         // each of the five drive files (sparse)
	fsCapacityBytes  = 4 << 30         // the weft file system (3+2)
	benchDirPrefix   = "wag-bench-"
	weftFSName       = "bench"
	setupTimeout     = 2 * time.Minute
	metaFilesMax     = 1000000
	fioJobsWide      = 4
	fioRandBlockSize = "4k"
	fioSeqBlockSize  = "1M"
)

// Settings of the weft side, from flags.
var (
	mountOptions string
	pollMode     string
)

// target is one place the workloads run.
type target struct {
	name string
	dir  string
}

// row is one workload's figures on every target.
type row struct {
	workload string
	unit     string
	values   map[string]float64
}

func main() {
	size := flag.String("size", sizeDefault, "fio file size per job")
	runtime := flag.Duration("runtime", runtimeDefault, "fio runtime per run")
	files := flag.Int("files", filesDefault, "files to create, stat and unlink")
	only := flag.String("only", "", "run only workloads whose name contains this")
	flag.StringVar(&mountOptions, "o", "num_cores=1", "weft mount options")
	flag.StringVar(&pollMode, "poll-mode", "adaptive", "compute pollers: adaptive or dedicated")
	flag.Parse()
	if err := run(*size, *runtime, *files, *only); err != nil {
		fmt.Fprintln(os.Stderr, "bench/mount:", err)
		os.Exit(1)
	}
}

func run(size string, runtime time.Duration, files int, only string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: weft and the loopback are FUSE mounts made with mount(2)")
	}
	if files < 1 || files > metaFilesMax {
		return fmt.Errorf("-files %d: accepted 1 to %d", files, metaFilesMax)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	work, err := os.MkdirTemp("", benchDirPrefix)
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	raw := filepath.Join(work, "raw")
	if err := os.MkdirAll(raw, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	w, err := startWeft(ctx, work, raw, log)
	if err != nil {
		return fmt.Errorf("weft: %w", err)
	}
	defer w.stop()
	lo, err := mountLoopback(raw, filepath.Join(work, "loopback"))
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer lo.Unmount()

	targets := []target{
		{"weft", w.mnt},
		{"raw", filepath.Join(raw, "data")},
		{"loopback", filepath.Join(work, "loopback", "data")},
	}
	if err := os.MkdirAll(targets[1].dir, 0o755); err != nil {
		return err
	}
	fmt.Printf("weft: 3+2 on 5 drive files in %s (%s), mount %s -o %s, compute pollers %s\n", raw, fsType(raw), w.mnt, mountOptions, pollMode)
	fmt.Printf("fio %s per job, %s per run; %d files for metadata\n\n", size, runtime, files)

	var rows []row
	for _, j := range fioJobs(size, runtime) {
		if only != "" && !strings.Contains(j.name, only) {
			continue
		}
		r := row{workload: j.name, unit: j.unit(), values: map[string]float64{}}
		for _, t := range targets {
			v, err := j.run(t.dir)
			if err != nil {
				return fmt.Errorf("%s on %s: %w", j.name, t.name, err)
			}
			r.values[t.name] = v
			fmt.Fprintf(os.Stderr, "  %-28s %-9s %10.1f %s\n", j.name, t.name, v, r.unit)
		}
		rows = append(rows, r)
	}
	if only == "" || strings.Contains("meta", only) {
		meta := map[string]map[string]float64{}
		for _, t := range targets {
			res, err := runMeta(filepath.Join(t.dir, "meta"), files)
			if err != nil {
				return fmt.Errorf("metadata on %s: %w", t.name, err)
			}
			meta[t.name] = res
			fmt.Fprintf(os.Stderr, "  %-28s %-9s create %.0f/s, stat %.0f/s, unlink %.0f/s\n",
				"create/stat/unlink", t.name, res["create"], res["stat"], res["unlink"])
		}
		for _, m := range metaOps {
			r := row{workload: m + " " + fmt.Sprint(files) + " files", unit: "ops/s", values: map[string]float64{}}
			for _, t := range targets {
				r.values[t.name] = meta[t.name][m]
			}
			rows = append(rows, r)
		}
	}
	printTable(rows)
	return nil
}

func printTable(rows []row) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tunit\tweft\traw\tloopback\tweft/raw\tweft/loopback\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.1f\t%s\t%s\t\n", r.workload, r.unit,
			r.values["weft"], r.values["raw"], r.values["loopback"],
			ratio(r.values["weft"], r.values["raw"]), ratio(r.values["weft"], r.values["loopback"]))
	}
	tw.Flush()
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// fsType names the file system dir lives on, for the report.
func fsType(dir string) string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "?"
	}
	best, typ := "", "?"
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && strings.HasPrefix(dir, f[1]) && len(f[1]) >= len(best) {
			best, typ = f[1], f[2]
		}
	}
	return typ
}
