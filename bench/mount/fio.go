package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// fioJob is one fio workload.
type fioJob struct {
	name    string
	rw      string // write, read, randread
	bs      string
	jobs    int
	direct  bool
	size    string
	runtime time.Duration
}

func (j fioJob) unit() string {
	if j.rw == "randread" {
		return "IOPS"
	}
	return "MiB/s"
}

// fioJobs lists the fio workloads: sequential 1 MiB write then read (the
// read reads what the write left), 4 KiB random read, with 1 and 4 jobs,
// buffered and O_DIRECT.
func fioJobs(size string, runtime time.Duration) []fioJob {
	var out []fioJob
	for _, direct := range []bool{false, true} {
		for _, n := range []int{1, fioJobsWide} {
			mode := "buffered"
			if direct {
				mode = "direct"
			}
			for _, w := range []struct{ rw, bs string }{{"write", fioSeqBlockSize}, {"read", fioSeqBlockSize}, {"randread", fioRandBlockSize}} {
				out = append(out, fioJob{
					name: fmt.Sprintf("%s-%s-%dj-%s", w.rw, w.bs, n, mode),
					rw:   w.rw, bs: w.bs, jobs: n, direct: direct, size: size, runtime: runtime,
				})
			}
		}
	}
	return out
}

// fioOutput is the part of fio's JSON output the benchmark reads.
type fioOutput struct {
	Jobs []struct {
		Error int `json:"error"`
		Read  struct {
			BwBytes float64 `json:"bw_bytes"`
			IOPS    float64 `json:"iops"`
		} `json:"read"`
		Write struct {
			BwBytes float64 `json:"bw_bytes"`
			IOPS    float64 `json:"iops"`
		} `json:"write"`
	} `json:"jobs"`
}

// run runs the job in dir and returns MiB/s or IOPS. Files are named by
// job number so reads find what the write of the same width wrote; caches
// are dropped before each run so buffered reads start cold.
func (j fioJob) run(dir string) (float64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	dropCaches()
	direct := "0"
	if j.direct {
		direct = "1"
	}
	args := []string{
		"--output-format=json", "--group_reporting", "--name=" + j.name,
		"--directory=" + dir, "--filename_format=bench.$jobnum",
		"--rw=" + j.rw, "--bs=" + j.bs, "--size=" + j.size,
		fmt.Sprintf("--numjobs=%d", j.jobs), "--direct=" + direct,
		"--ioengine=psync", "--verify_state_save=0",
		fmt.Sprintf("--runtime=%d", int(j.runtime.Seconds())),
	}
	if j.rw == "randread" {
		args = append(args, "--time_based")
	}
	if j.rw == "write" {
		// Writes end with an fsync so buffered figures include getting
		// the data to the drives, as the direct ones do.
		args = append(args, "--end_fsync=1")
	}
	cmd := exec.Command("fio", args...)
	cmd.Dir = filepath.Dir(dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("fio: %w: %s", err, errb.String())
	}
	var o fioOutput
	// fio may print warnings before the JSON document.
	b := out.Bytes()
	if i := bytes.IndexByte(b, '{'); i > 0 {
		b = b[i:]
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return 0, fmt.Errorf("fio output: %w", err)
	}
	if len(o.Jobs) == 0 || o.Jobs[0].Error != 0 {
		return 0, fmt.Errorf("fio job failed: %s", errb.String())
	}
	r := o.Jobs[0]
	switch j.rw {
	case "write":
		return r.Write.BwBytes / (1 << 20), nil
	case "read":
		return r.Read.BwBytes / (1 << 20), nil
	}
	return r.Read.IOPS, nil
}

// dropCaches writes back and drops the page cache so every target starts
// a read cold.
func dropCaches() {
	exec.Command("sync").Run()
	os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0)
}
