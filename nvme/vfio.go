package nvme

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// VFIOStatus says what the host offers for the userspace NVMe driver.
type VFIOStatus struct {
	// Container: /dev/vfio/vfio exists.
	Container bool
	// Module: the vfio-pci driver is loaded (/sys/bus/pci/drivers/vfio-pci).
	Module bool
	// IOMMU: at least one IOMMU group exists (/sys/kernel/iommu_groups).
	IOMMU bool
}

// Missing names what is absent, or "" when vfio is usable.
func (s VFIOStatus) Missing() string {
	var m []string
	if !s.Container {
		m = append(m, "/dev/vfio/vfio (load the vfio module)")
	}
	if !s.Module {
		m = append(m, "the vfio-pci driver (modprobe vfio-pci)")
	}
	if !s.IOMMU {
		m = append(m, "an IOMMU (boot with intel_iommu=on iommu=pt or amd_iommu=on)")
	}
	return strings.Join(m, ", ")
}

// vfioRoot lets tests point the probes at a fake sysfs; "" is the host.
type vfioPaths struct{ dev, sys string }

var hostVFIO = vfioPaths{dev: "/dev", sys: "/sys"}

// VFIOAvailable probes the host for vfio-pci support.
func VFIOAvailable() VFIOStatus { return hostVFIO.status() }

func (p vfioPaths) status() VFIOStatus {
	var s VFIOStatus
	_, err := os.Stat(filepath.Join(p.dev, "vfio/vfio"))
	s.Container = err == nil
	_, err = os.Stat(filepath.Join(p.sys, "bus/pci/drivers/vfio-pci"))
	s.Module = err == nil
	groups, _ := os.ReadDir(filepath.Join(p.sys, "kernel/iommu_groups"))
	s.IOMMU = len(groups) > 0
	return s
}

// PCIDriver returns the driver a PCI device ("0000:00:04.0") is bound to,
// or "" when it has none.
func PCIDriver(addr string) (string, error) { return hostVFIO.pciDriver(addr) }

func (p vfioPaths) pciDriver(addr string) (string, error) {
	dev := filepath.Join(p.sys, "bus/pci/devices", addr)
	if _, err := os.Stat(dev); err != nil {
		return "", fmt.Errorf("pci device %q: not found under %s (want a domain:bus:slot.function address like 0000:00:04.0): %w", addr, filepath.Dir(dev), ErrUnsupported)
	}
	link, err := os.Readlink(filepath.Join(dev, "driver"))
	if err != nil {
		return "", nil
	}
	return filepath.Base(link), nil
}

// BoundToVFIO reports whether the PCI device addr is bound to vfio-pci.
func BoundToVFIO(addr string) (bool, error) {
	drv, err := PCIDriver(addr)
	return drv == "vfio-pci", err
}

// checkVFIO returns an error wrapping ErrUnsupported naming everything
// missing for driving addr through vfio-pci.
func checkVFIO(addr string) error { return hostVFIO.check(addr) }

func (p vfioPaths) check(addr string) error {
	if m := p.status().Missing(); m != "" {
		return fmt.Errorf("vfio backend: this host lacks %s: %w", m, ErrUnsupported)
	}
	if addr == "" {
		return fmt.Errorf("vfio backend: Options.PCIAddress is empty; name the NVMe controller (0000:00:04.0): %w", ErrUnsupported)
	}
	drv, err := p.pciDriver(addr)
	if err != nil {
		return fmt.Errorf("vfio backend: %w", err)
	}
	if drv != "vfio-pci" {
		if drv == "" {
			drv = "no driver"
		}
		return fmt.Errorf("vfio backend: pci device %s is bound to %s, not vfio-pci (echo %s > /sys/bus/pci/devices/%s/driver/unbind; echo vfio-pci > .../driver_override): %w", addr, drv, addr, addr, ErrUnsupported)
	}
	return nil
}
