package poller

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrCoreNotAllowed is returned when a configured core lies outside the
// process's cpuset.
var ErrCoreNotAllowed = errors.New("core outside the allowed cpuset")

// cpusMax bounds the CPU numbers we parse from cpuset lists.
const cpusMax = 1024

// AllowedCPUs returns the CPUs this process may run on: its affinity mask
// intersected with its cgroup's cpuset.cpus.effective when that file
// exists (cgroup v2).
func AllowedCPUs() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	cg, cgErr := cgroupCPUs()
	var out []int
	for c := 0; c < cpusMax && c < len(set)*64; c++ {
		if !set.IsSet(c) {
			continue
		}
		if cgErr == nil && cg != nil && !cg[c] {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// cgroupCPUs reads cpuset.cpus.effective of the process's cgroup v2; nil
// map with nil error when there is no such file.
func cgroupCPUs() (map[int]bool, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "0::") {
			continue
		}
		p := filepath.Join("/sys/fs/cgroup", strings.TrimPrefix(line, "0::"), "cpuset.cpus.effective")
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil
		}
		cpus, err := ParseCPUList(strings.TrimSpace(string(b)))
		if err != nil || len(cpus) == 0 {
			return nil, nil
		}
		m := make(map[int]bool, len(cpus))
		for _, c := range cpus {
			m[c] = true
		}
		return m, nil
	}
	return nil, nil
}

// ParseCPUList parses the kernel's list format ("0-3,8,10-11").
func ParseCPUList(s string) ([]int, error) {
	var out []int
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil || a < 0 || a >= cpusMax {
			return nil, fmt.Errorf("cpu list %q: bad cpu %q (want 0..%d)", s, lo, cpusMax-1)
		}
		b := a
		if isRange {
			b, err = strconv.Atoi(strings.TrimSpace(hi))
			if err != nil || b < a || b >= cpusMax {
				return nil, fmt.Errorf("cpu list %q: bad range %q", s, part)
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out, nil
}

// FormatCPUList writes cpus (sorted) in the kernel's list format.
func FormatCPUList(cpus []int) string {
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}

// CheckCores refuses any core outside the allowed set, and duplicates.
func CheckCores(cores []int) error {
	allowed, err := AllowedCPUs()
	if err != nil {
		return err
	}
	return checkCoresAgainst(cores, allowed)
}

func checkCoresAgainst(cores, allowed []int) error {
	ok := make(map[int]bool, len(allowed))
	for _, c := range allowed {
		ok[c] = true
	}
	seen := make(map[int]bool, len(cores))
	for _, c := range cores {
		if !ok[c] {
			return fmt.Errorf("core %d is outside this process's cpuset %s: %w", c, FormatCPUList(allowed), ErrCoreNotAllowed)
		}
		if seen[c] {
			return fmt.Errorf("core %d is given twice (cores %v): each poller needs its own core", c, cores)
		}
		seen[c] = true
	}
	return nil
}
