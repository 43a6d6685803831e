package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"time"
)

// fioArgs are the flags every fio run shares: the io_uring engine with
// registered buffers and files, O_DIRECT, on fio's half of the target.
func fioArgs(target string, r region) []string {
	return []string{
		"--name=weftcmp", "--filename=" + target, "--ioengine=io_uring",
		"--fixedbufs", "--registerfiles", "--direct=1",
		"--offset=" + strconv.FormatUint(r.fioOffset, 10), "--size=" + strconv.FormatUint(r.bytes, 10),
		"--randrepeat=0", "--norandommap", "--thread", "--numjobs=1", "--group_reporting",
	}
}

// fioFill writes fio's region once.
func fioFill(target string, r region) error {
	args := append(fioArgs(target, r), "--rw=write", "--bs=1m", "--iodepth=8")
	if out, err := exec.Command("fio", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("fio fill: %v: %s", err, out)
	}
	return nil
}

type fioOutput struct {
	Jobs []struct {
		Read  fioStats `json:"read"`
		Write fioStats `json:"write"`
	} `json:"jobs"`
}

type fioStats struct {
	IOPS    float64 `json:"iops"`
	BWBytes float64 `json:"bw_bytes"`
	LatNs   struct {
		Percentile map[string]float64 `json:"percentile"`
	} `json:"lat_ns"`
}

func fioRun(target string, r region, j job, d time.Duration) (result, error) {
	rw := map[[2]bool]string{{false, false}: "randread", {true, false}: "randwrite", {false, true}: "read", {true, true}: "write"}[[2]bool{j.write, j.seq}]
	args := append(fioArgs(target, r),
		"--rw="+rw, "--bs="+strconv.Itoa(j.bs), "--iodepth="+strconv.Itoa(j.qd),
		"--time_based", "--runtime="+strconv.Itoa(int(d.Seconds()))+"s",
		"--ramp_time="+strconv.Itoa(max(1, int((d/8).Milliseconds())))+"ms",
		"--lat_percentiles=1", "--clat_percentiles=0", "--percentile_list=50:99",
		"--output-format=json")
	out, err := exec.Command("fio", args...).Output()
	if err != nil {
		return result{}, fmt.Errorf("fio: %v: %s", err, out)
	}
	var o fioOutput
	if err := json.Unmarshal(out, &o); err != nil || len(o.Jobs) == 0 {
		return result{}, fmt.Errorf("fio output: %v: %.400s", err, out)
	}
	s := o.Jobs[0].Read
	if j.write {
		s = o.Jobs[0].Write
	}
	return result{
		iops: s.IOPS, bytesSec: s.BWBytes,
		p50: time.Duration(s.LatNs.Percentile["50.000000"]),
		p99: time.Duration(s.LatNs.Percentile["99.000000"]),
	}, nil
}
