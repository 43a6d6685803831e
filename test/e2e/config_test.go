package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weft-fs/weft/dataplane/poller"
)

// TestAgentBadConfig starts weftd with configurations it must refuse and
// checks that it exits non-zero naming the bad value.
func TestAgentBadConfig(t *testing.T) {
	requireRoot(t)
	allowed, err := poller.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	outside := allowed[len(allowed)-1] + 1
	dir, err := os.MkdirTemp("", prefix+"conf-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	for _, tt := range []struct {
		conf string
		args []string
		want string
	}{
		{conf: fmt.Sprintf("cores = %d", outside), want: fmt.Sprintf("core %d is outside", outside)},
		{args: []string{"--cores", fmt.Sprint(outside)}, want: fmt.Sprintf("core %d is outside", outside)},
		{conf: "isolate_cpusets = true", want: "isolate_cpusets=true is not supported"},
		{conf: "frobnicate = 1", want: `unknown key "frobnicate"`},
		{args: []string{"--data-port", "70000"}, want: "not a port"},
	} {
		conf := filepath.Join(dir, "service.conf")
		body := fmt.Sprintf("state_dir = %s\napi_addr = 127.0.0.1:1\n%s\n", filepath.Join(dir, "state"), tt.conf)
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		out, err := exec.CommandContext(ctx, filepath.Join(binDir, "weftd"), append([]string{"--config", conf}, tt.args...)...).CombinedOutput()
		cancel()
		if err == nil || exitCode(err) <= 0 {
			t.Errorf("%q %v: weftd did not fail (%v)", tt.conf, tt.args, err)
			continue
		}
		if !strings.Contains(string(out), tt.want) {
			t.Errorf("%q %v: output does not contain %q:\n%s", tt.conf, tt.args, tt.want, out)
		}
	}
}

// TestAgentCores gives weftd one core with cores= and checks that every
// thread of the process is confined to it and that a mount works.
func TestAgentCores(t *testing.T) {
	requireRoot(t)
	allowed, err := poller.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	core := allowed[len(allowed)-1]
	a := newAgent(t, fmt.Sprintf("cores = %d", core))
	a.setup("fs1", "256MiB", "3+2")
	mnt := a.mountDir("mnt")
	a.mount("localhost/fs1", mnt, "")
	if err := os.WriteFile(filepath.Join(mnt, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", a.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", a.cmd.Process.Pid, task.Name()))
		if err != nil {
			continue // the thread ended
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok && strings.TrimSpace(v) != fmt.Sprint(core) {
				t.Errorf("thread %s of weftd may run on %s, want only core %d", task.Name(), strings.TrimSpace(v), core)
			}
		}
	}
}
