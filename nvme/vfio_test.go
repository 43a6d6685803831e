package nvme

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVFIOCheck runs the probes against a fake /dev and /sys, from a host
// with nothing to one with a controller bound to vfio-pci.
func TestVFIOCheck(t *testing.T) {
	root := t.TempDir()
	p := vfioPaths{dev: filepath.Join(root, "dev"), sys: filepath.Join(root, "sys")}
	const addr = "0000:00:04.0"
	mkdir := func(path string) {
		if err := os.MkdirAll(path, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(want ...string) {
		t.Helper()
		err := p.check(addr)
		if len(want) == 0 {
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			return
		}
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("check: err %v, want ErrUnsupported", err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
	}
	expect("/dev/vfio/vfio", "vfio-pci driver", "IOMMU")
	mkdir(filepath.Join(p.dev, "vfio"))
	os.WriteFile(filepath.Join(p.dev, "vfio/vfio"), nil, 0o600)
	expect("vfio-pci driver", "IOMMU")
	mkdir(filepath.Join(p.sys, "bus/pci/drivers/vfio-pci"))
	mkdir(filepath.Join(p.sys, "kernel/iommu_groups/3"))
	expect("not found")
	dev := filepath.Join(p.sys, "bus/pci/devices", addr)
	mkdir(dev)
	expect("bound to no driver")
	mkdir(filepath.Join(p.sys, "bus/pci/drivers/nvme"))
	os.Symlink(filepath.Join(p.sys, "bus/pci/drivers/nvme"), filepath.Join(dev, "driver"))
	expect("bound to nvme, not vfio-pci")
	os.Remove(filepath.Join(dev, "driver"))
	os.Symlink(filepath.Join(p.sys, "bus/pci/drivers/vfio-pci"), filepath.Join(dev, "driver"))
	expect()
	if s := p.status(); s.Missing() != "" {
		t.Fatalf("status %+v missing %q", s, s.Missing())
	}
}

// TestVFIOHost only reports what this host has; it must not fail.
func TestVFIOHost(t *testing.T) {
	s := VFIOAvailable()
	t.Logf("vfio on this host: %+v, missing: %q", s, s.Missing())
}
