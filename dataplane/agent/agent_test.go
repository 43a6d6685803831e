package agent

import (
	"errors"
	"strings"
	"testing"

	"github.com/weft-fs/weft/dataplane/mgmt"
	"github.com/weft-fs/weft/dataplane/mgmt/api"
	"github.com/weft-fs/weft/dataplane/poller"
)

func TestPlanCPUs(t *testing.T) {
	allowed, err := poller.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := planCPUs(nil, true); !errors.Is(err, ErrIsolateCpusets) {
		t.Errorf("isolate_cpusets=true: %v", err)
	}
	p, err := planCPUs(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.agent) != len(allowed) || len(p.compute) != 0 {
		t.Errorf("plan over the whole cpuset: %+v", p)
	}
	outside := allowed[len(allowed)-1] + 1
	_, err = planCPUs([]int{outside}, false)
	if !errors.Is(err, poller.ErrCoreNotAllowed) || !strings.Contains(err.Error(), "outside") {
		t.Errorf("core %d outside cpuset: %v", outside, err)
	}
	p, err = planCPUs(allowed[:1], false)
	if err != nil || len(p.agent) != 1 || p.compute[0] != allowed[0] {
		t.Errorf("one core: %+v %v", p, err)
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{`/mnt/a\040b`: "/mnt/a b", `/x\134y`: `/x\y`, "/plain": "/plain", `/bad\09`: `/bad\09`} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPoolPaths(t *testing.T) {
	st := mgmt.State{
		Drives: []api.Drive{{UUID: "a", Path: "/d/a"}, {UUID: "b", Path: "/d/b"}},
		Pool:   &api.Pool{Drives: []string{"b", "a"}},
	}
	got, err := poolPaths(st)
	if err != nil || strings.Join(got, ",") != "/d/b,/d/a" {
		t.Errorf("poolPaths = %v %v", got, err)
	}
	st.Pool.Drives = append(st.Pool.Drives, "c")
	if _, err := poolPaths(st); err == nil {
		t.Error("poolPaths with an unknown drive succeeded")
	}
}
