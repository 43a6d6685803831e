package vfio

// container.go opens a PCI device through the vfio ioctls: a container
// (the IOMMU context), the device's IOMMU group attached to it, the type1
// IOMMU model, and the device file descriptor whose regions (BAR0, PCI
// config space) are read, written and mapped through offsets.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// vfio ioctl numbers: _IO(';', 100 + n) from linux/vfio.h.
const (
	vfioGetAPIVersion       = 0x3b64
	vfioCheckExtension      = 0x3b65
	vfioSetIOMMU            = 0x3b66
	vfioGroupGetStatus      = 0x3b67
	vfioGroupSetContainer   = 0x3b68
	vfioGroupGetDeviceFD    = 0x3b6a
	vfioDeviceGetRegionInfo = 0x3b6c
	vfioIOMMUMapDMA         = 0x3b71
	vfioIOMMUUnmapDMA       = 0x3b72
)

// vfio constants from linux/vfio.h.
const (
	vfioAPIVersion       = 0
	vfioType1IOMMU       = 1
	vfioType1v2IOMMU     = 3
	vfioGroupFlagsViable = 1 << 0
	vfioRegionFlagRead   = 1 << 0
	vfioRegionFlagWrite  = 1 << 1
	vfioRegionFlagMmap   = 1 << 2
	vfioDMAMapFlagRead   = 1 << 0
	vfioDMAMapFlagWrite  = 1 << 1
	vfioPCIBAR0Region    = 0
	vfioPCIConfigRegion  = 7
)

type vfioGroupStatus struct {
	argsz uint32
	flags uint32
}

type vfioRegionInfo struct {
	argsz     uint32
	flags     uint32
	index     uint32
	capOffset uint32
	size      uint64
	offset    uint64
}

type vfioDMAMap struct {
	argsz uint32
	flags uint32
	vaddr uint64
	iova  uint64
	size  uint64
}

type vfioDMAUnmap struct {
	argsz uint32
	flags uint32
	iova  uint64
	size  uint64
}

// region is one device region: where it sits in the device fd's offset space.
type region struct {
	flags  uint32
	size   uint64
	offset uint64
}

// device is an opened vfio container, group and device.
type device struct {
	addr      string
	container int
	group     int
	fd        int
}

func ioctlPtr(fd int, req uintptr, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}

func ioctlInt(fd int, req uintptr, arg uintptr) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// iommuGroup returns the IOMMU group number of the PCI device addr.
func iommuGroup(sysfs, addr string) (int, error) {
	link, err := os.Readlink(filepath.Join(sysfs, "bus/pci/devices", addr, "iommu_group"))
	if err != nil {
		return 0, fmt.Errorf("%w: device %s has no IOMMU group (boot with intel_iommu=on or amd_iommu=on): %v", ErrNoVFIO, addr, err)
	}
	return strconv.Atoi(filepath.Base(link))
}

// openDevice opens the vfio container, attaches addr's group and returns
// the device fd. The device must already be bound to vfio-pci (see Bind).
func openDevice(sysfs, addr string) (*device, error) {
	grp, err := iommuGroup(sysfs, addr)
	if err != nil {
		return nil, err
	}
	d := &device{addr: addr, container: -1, group: -1, fd: -1}
	fail := func(err error) (*device, error) {
		d.close()
		return nil, err
	}
	d.container, err = unix.Open("/dev/vfio/vfio", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("%w: open /dev/vfio/vfio: %v (load the vfio module)", ErrNoVFIO, err))
	}
	if v, err := ioctlInt(d.container, vfioGetAPIVersion, 0); err != nil || v != vfioAPIVersion {
		return fail(fmt.Errorf("%w: VFIO_GET_API_VERSION = %d (%v), want %d", ErrNoVFIO, v, err, vfioAPIVersion))
	}
	iommuType := uintptr(vfioType1v2IOMMU)
	if ok, _ := ioctlInt(d.container, vfioCheckExtension, vfioType1v2IOMMU); ok != 1 {
		iommuType = vfioType1IOMMU
		if ok, _ := ioctlInt(d.container, vfioCheckExtension, vfioType1IOMMU); ok != 1 {
			return fail(fmt.Errorf("%w: container lacks the type1 IOMMU extension (load vfio_iommu_type1)", ErrNoVFIO))
		}
	}
	gpath := "/dev/vfio/" + strconv.Itoa(grp)
	d.group, err = unix.Open(gpath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EBUSY) {
			return fail(fmt.Errorf("open %s for %s: group in use by another process: %w", gpath, addr, ErrBusy))
		}
		return fail(fmt.Errorf("%w: open %s for %s: %v (is the device bound to vfio-pci?)", ErrNoVFIO, gpath, addr, err))
	}
	st := vfioGroupStatus{argsz: uint32(unsafe.Sizeof(vfioGroupStatus{}))}
	if err := ioctlPtr(d.group, vfioGroupGetStatus, unsafe.Pointer(&st)); err != nil {
		return fail(fmt.Errorf("VFIO_GROUP_GET_STATUS %s: %w", gpath, err))
	}
	if st.flags&vfioGroupFlagsViable == 0 {
		return fail(fmt.Errorf("%w: IOMMU group %d of %s is not viable: bind every device of %s to vfio-pci",
			ErrNoVFIO, grp, addr, filepath.Join(sysfs, "kernel/iommu_groups", strconv.Itoa(grp), "devices")))
	}
	c := int32(d.container)
	if err := ioctlPtr(d.group, vfioGroupSetContainer, unsafe.Pointer(&c)); err != nil {
		return fail(fmt.Errorf("VFIO_GROUP_SET_CONTAINER %s: %w", gpath, err))
	}
	if _, err := ioctlInt(d.container, vfioSetIOMMU, iommuType); err != nil {
		return fail(fmt.Errorf("VFIO_SET_IOMMU type %d: %w", iommuType, err))
	}
	name, _ := unix.BytePtrFromString(addr)
	fd, err := ioctlInt(d.group, vfioGroupGetDeviceFD, uintptr(unsafe.Pointer(name)))
	if err != nil {
		return fail(fmt.Errorf("VFIO_GROUP_GET_DEVICE_FD %s: %w", addr, err))
	}
	d.fd = fd
	return d, nil
}

func (d *device) regionInfo(index uint32) (region, error) {
	ri := vfioRegionInfo{argsz: uint32(unsafe.Sizeof(vfioRegionInfo{})), index: index}
	if err := ioctlPtr(d.fd, vfioDeviceGetRegionInfo, unsafe.Pointer(&ri)); err != nil {
		return region{}, fmt.Errorf("VFIO_DEVICE_GET_REGION_INFO %s region %d: %w", d.addr, index, err)
	}
	return region{flags: ri.flags, size: ri.size, offset: ri.offset}, nil
}

// mapDMA makes [vaddr, vaddr+size) visible to the device at iova. The
// kernel pins the pages for as long as the mapping exists.
func (d *device) mapDMA(vaddr uintptr, iova, size uint64) error {
	m := vfioDMAMap{
		argsz: uint32(unsafe.Sizeof(vfioDMAMap{})),
		flags: vfioDMAMapFlagRead | vfioDMAMapFlagWrite,
		vaddr: uint64(vaddr), iova: iova, size: size,
	}
	if err := ioctlPtr(d.container, vfioIOMMUMapDMA, unsafe.Pointer(&m)); err != nil {
		return fmt.Errorf("VFIO_IOMMU_MAP_DMA %s iova %#x size %d: %w", d.addr, iova, size, err)
	}
	return nil
}

func (d *device) unmapDMA(iova, size uint64) error {
	u := vfioDMAUnmap{argsz: uint32(unsafe.Sizeof(vfioDMAUnmap{})), iova: iova, size: size}
	if err := ioctlPtr(d.container, vfioIOMMUUnmapDMA, unsafe.Pointer(&u)); err != nil {
		return fmt.Errorf("VFIO_IOMMU_UNMAP_DMA %s iova %#x size %d: %w", d.addr, iova, size, err)
	}
	return nil
}

func (d *device) close() {
	for _, fd := range []*int{&d.fd, &d.group, &d.container} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}
