package agent

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/weft-fs/weft/dataplane/poller"
)

// ErrIsolateCpusets is returned when isolate_cpusets=true is configured:
// this version only chooses cores inside the cpuset it is given.
var ErrIsolateCpusets = errors.New("isolate_cpusets=true is not supported by this version: set isolate_cpusets = false and give weftd its cores through the cgroup (systemd AllowedCPUs=, Slurm CpuSpecList)")

// cpuPlan is which cores each role runs on.
type cpuPlan struct {
	allowed []int // the process's cpuset at start
	agent   []int // every role of the agent (cores =, default: allowed)
	compute []int // the compute role's poller
}

// planCPUs checks the configured cores against the process's cpuset and
// assigns roles to them. It never writes a cpuset.
func planCPUs(cores []int, isolate bool) (cpuPlan, error) {
	if isolate {
		return cpuPlan{}, ErrIsolateCpusets
	}
	allowed, err := poller.AllowedCPUs()
	if err != nil {
		return cpuPlan{}, fmt.Errorf("read cpuset: %w", err)
	}
	p := cpuPlan{allowed: allowed, agent: cores}
	if len(p.agent) == 0 {
		// No cores given to weft: nothing is pinned, the scheduler
		// places the pollers among everything else on the host.
		p.agent = allowed
		return p, nil
	}
	if err := poller.CheckCores(cores); err != nil {
		return cpuPlan{}, fmt.Errorf("service.conf cores: %w", err)
	}
	// The compute pollers take the last core; frontends with num_cores=N
	// take the first N, so on a two-core host the two sides do not share
	// a core.
	p.compute = p.agent[len(p.agent)-1:]
	return p, nil
}

// confineThreads restricts every thread of the process to cores, so the
// management role, the Go runtime and anything unpinned stay on the
// agent's cores. Threads created later inherit the mask; pinned pollers
// narrow it further for their own thread.
func confineThreads(cores []int) error {
	var set unix.CPUSet
	for _, c := range cores {
		set.Set(c)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("pin thread %d to %s: %w", tid, poller.FormatCPUList(cores), err)
		}
	}
	return nil
}
