package frontend_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weft-fs/weft/dataplane/frontend"
	"github.com/weft-fs/weft/dataplane/poller"
)

// TestUnmountBusy: a mount with a file still open unmounts anyway
// (detached, connection aborted), so cleanup never leaves a mount.
func TestUnmountBusy(t *testing.T) {
	c := newCluster(t)
	f, err := os.Create(filepath.Join(c.Dir, "held"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Chdir(c.Dir); err == nil {
		defer os.Chdir("/")
	}
	if err := c.Mount.Unmount(); err != nil {
		t.Fatal(err)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), " "+c.Dir+" ") {
		t.Fatalf("%s still mounted after Unmount", c.Dir)
	}
}

// TestMountInfo: the mount shows as fuse.weft with the weft source.
func TestMountInfo(t *testing.T) {
	c := newCluster(t)
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, " "+c.Dir+" ") {
			if !strings.Contains(line, " - fuse.weft weft:localhost/") {
				t.Errorf("mountinfo: %s", line)
			}
			return
		}
	}
	t.Fatalf("%s not in mountinfo", c.Dir)
}

// TestPollingModes: the frontend's messenger in each mode the mount
// options select (see Options.PollerConfig) serves the same file.
func TestPollingModes(t *testing.T) {
	c := newCluster(t)
	mustWrite(t, filepath.Join(c.Dir, "f"), []byte("same bytes"))
	cpus, err := poller.AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []frontend.Options{
		{Core: -1, NumCores: 1, Net: "udp"},   // CPU-optimized
		{Core: cpus[len(cpus)-1], Net: "udp"}, // dedicated core, busy polling
	} {
		m := c.AddMount(t, o)
		if got := mustRead(t, filepath.Join(m.Dir(), "f")); string(got) != "same bytes" {
			t.Errorf("core=%d num_cores=%d: read %q", o.Core, o.NumCores, got)
		}
		if err := m.Unmount(); err != nil {
			t.Error(err)
		}
	}
}
