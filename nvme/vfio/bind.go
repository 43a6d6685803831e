package vfio

// bind.go moves a PCI device between its kernel driver and vfio-pci
// through sysfs driver_override, and back:
//
//	echo vfio-pci > devices/<addr>/driver_override
//	echo <addr>   > devices/<addr>/driver/unbind
//	echo <addr>   > drivers_probe          (vfio-pci claims it)
//	...
//	echo <addr>   > drivers/vfio-pci/unbind
//	echo ""       > devices/<addr>/driver_override
//	echo <addr>   > drivers_probe          (the kernel driver claims it again)

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Bind limits.
const (
	bindWaitMax  = 10 * time.Second      // for a driver to claim the device
	bindWaitStep = 20 * time.Millisecond // between sysfs checks
	vfioDriver   = "vfio-pci"
)

// Binding records how a device was bound, so Release can restore it.
type Binding struct {
	sysfs    string
	addr     string
	previous string // driver before Bind, "" when none
}

// Driver returns the name of the driver bound to the PCI device addr, or
// "" when none is.
func Driver(sysfs, addr string) (string, error) {
	if sysfs == "" {
		sysfs = "/sys"
	}
	dev := filepath.Join(sysfs, "bus/pci/devices", addr)
	if _, err := os.Stat(dev); err != nil {
		return "", fmt.Errorf("pci device %s: %w", addr, err)
	}
	link, err := os.Readlink(filepath.Join(dev, "driver"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return filepath.Base(link), nil
}

// Bind hands the PCI device addr to vfio-pci (unbinding its kernel driver,
// which must not be in use: an NVMe namespace that is mounted or open
// loses its IO) and waits for /dev/vfio/<group>. sysfs "" means /sys.
// Release undoes it.
func Bind(sysfs, addr string) (*Binding, error) {
	if sysfs == "" {
		sysfs = "/sys"
	}
	prev, err := Driver(sysfs, addr)
	if err != nil {
		return nil, fmt.Errorf("bind %s to %s: %w", addr, vfioDriver, err)
	}
	b := &Binding{sysfs: sysfs, addr: addr, previous: prev}
	if prev == vfioDriver {
		return b, nil
	}
	dev := filepath.Join(sysfs, "bus/pci/devices", addr)
	if err := checkUnused(sysfs, addr); err != nil {
		return nil, fmt.Errorf("bind %s to %s: %w", addr, vfioDriver, err)
	}
	if _, err := os.Stat(filepath.Join(sysfs, "bus/pci/drivers", vfioDriver)); err != nil {
		return nil, fmt.Errorf("bind %s: %w: driver %s not loaded (modprobe vfio-pci)", addr, ErrNoVFIO, vfioDriver)
	}
	if err := writeSysfs(filepath.Join(dev, "driver_override"), vfioDriver); err != nil {
		return nil, fmt.Errorf("bind %s: %w", addr, err)
	}
	if prev != "" {
		if err := writeSysfs(filepath.Join(dev, "driver/unbind"), addr); err != nil {
			writeSysfs(filepath.Join(dev, "driver_override"), "\n")
			return nil, fmt.Errorf("bind %s: unbind from %s: %w", addr, prev, err)
		}
	}
	if err := writeSysfs(filepath.Join(sysfs, "bus/pci/drivers_probe"), addr); err != nil {
		b.Release()
		return nil, fmt.Errorf("bind %s: probe: %w", addr, err)
	}
	grp, err := iommuGroup(sysfs, addr)
	if err != nil {
		b.Release()
		return nil, err
	}
	if err := waitFor(func() bool {
		d, _ := Driver(sysfs, addr)
		_, err := os.Stat(fmt.Sprintf("/dev/vfio/%d", grp))
		return d == vfioDriver && err == nil
	}); err != nil {
		b.Release()
		return nil, fmt.Errorf("bind %s: %s did not claim the device within %v: %w", addr, vfioDriver, bindWaitMax, ErrNoVFIO)
	}
	return b, nil
}

// Previous is the driver the device had before Bind ("" for none).
func (b *Binding) Previous() string { return b.previous }

// Release gives the device back to the driver it had before Bind and
// waits until that driver has claimed it. A device that was already on
// vfio-pci at Bind stays there.
func (b *Binding) Release() error {
	if b.previous == vfioDriver {
		return nil
	}
	dev := filepath.Join(b.sysfs, "bus/pci/devices", b.addr)
	if d, _ := Driver(b.sysfs, b.addr); d != "" {
		if err := writeSysfs(filepath.Join(dev, "driver/unbind"), b.addr); err != nil {
			return fmt.Errorf("release %s: unbind from %s: %w", b.addr, d, err)
		}
	}
	if err := writeSysfs(filepath.Join(dev, "driver_override"), "\n"); err != nil {
		return fmt.Errorf("release %s: clear driver_override: %w", b.addr, err)
	}
	if b.previous == "" {
		return nil
	}
	if err := writeSysfs(filepath.Join(b.sysfs, "bus/pci/drivers_probe"), b.addr); err != nil {
		return fmt.Errorf("release %s: probe: %w", b.addr, err)
	}
	if err := waitFor(func() bool { d, _ := Driver(b.sysfs, b.addr); return d == b.previous }); err != nil {
		return fmt.Errorf("release %s: driver %s did not claim the device again within %v", b.addr, b.previous, bindWaitMax)
	}
	return nil
}

// NVMeBlockDevices lists the block devices ("/dev/nvme0n1") the kernel
// nvme driver created for the controller at addr.
func NVMeBlockDevices(sysfs, addr string) []string {
	if sysfs == "" {
		sysfs = "/sys"
	}
	ctrls, _ := filepath.Glob(filepath.Join(sysfs, "bus/pci/devices", addr, "nvme", "nvme*"))
	var out []string
	for _, c := range ctrls {
		ns, _ := filepath.Glob(filepath.Join(c, filepath.Base(c)+"n*"))
		for _, n := range ns {
			if !strings.Contains(filepath.Base(n), "p") { // skip partitions
				out = append(out, "/dev/"+filepath.Base(n))
			}
		}
	}
	return out
}

// checkUnused refuses to take a controller whose namespaces are in use:
// unbinding the nvme driver would pull the disk from under a mount, a
// device-mapper or md holder, or another weft Drive. An O_EXCL open fails
// with EBUSY for exactly those exclusive users.
func checkUnused(sysfs, addr string) error {
	for _, dev := range NVMeBlockDevices(sysfs, addr) {
		fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_EXCL|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("namespace %s is in use (mounted, held by another device, or open exclusively): %w", dev, ErrBusy)
		}
		if err == nil {
			unix.Close(fd)
		}
	}
	return nil
}

func writeSysfs(path, value string) error {
	return os.WriteFile(path, []byte(value), 0o200)
}

func waitFor(cond func() bool) error {
	deadline := time.Now().Add(bindWaitMax)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		time.Sleep(bindWaitStep)
	}
	return nil
}
