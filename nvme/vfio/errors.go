package vfio

import "errors"

// Sentinel errors callers branch on with errors.Is; every error this
// package returns wraps one of them or an OS error with the PCI address and
// the value at fault.
var (
	// ErrNoVFIO: the host cannot hand the device to userspace (no vfio
	// modules, no IOMMU, device not bound to vfio-pci, group not viable).
	ErrNoVFIO = errors.New("vfio: device not available through vfio-pci")
	// ErrBusy: another process holds the device's IOMMU group.
	ErrBusy = errors.New("vfio: device in use")
	// ErrNotNVMe: the PCI device is not an NVMe controller, or one this
	// driver cannot configure (no NVM command set, no 4 KiB pages).
	ErrNotNVMe = errors.New("vfio: not a usable NVMe controller")
	// ErrTimeout: a command did not complete within its timeout. The
	// command's slot stays reserved until the controller completes it or
	// is reset.
	ErrTimeout = errors.New("vfio: command timed out")
	// ErrFatal: the controller reported fatal status (CSTS.CFS); every
	// in-flight command fails with it until Controller.Reset succeeds.
	ErrFatal = errors.New("vfio: controller fatal status")
	// ErrReset: the command was in flight when the controller was reset.
	ErrReset = errors.New("vfio: command aborted by controller reset")
	// ErrStatus: the controller completed the command with an error
	// status; the wrapping *StatusError names it.
	ErrStatus = errors.New("vfio: command failed")
	// ErrQueueFull: a queue pair has no free slot; poll and retry.
	ErrQueueFull = errors.New("vfio: queue full")
	// ErrInvalid: a request the driver refuses (misaligned buffer,
	// length not a multiple of the LBA size, LBA out of range).
	ErrInvalid = errors.New("vfio: invalid request")
	// ErrClosed: the controller or queue pair was closed.
	ErrClosed = errors.New("vfio: closed")
)

// StatusError is a command the controller completed with a non-zero status.
type StatusError struct {
	Opcode uint8
	Status Status
}

func (e *StatusError) Error() string {
	return "vfio: opcode " + hex8(e.Opcode) + " failed: status type " + itoa(e.Status.SCT()) + " code " + hex8(uint8(e.Status.SC())) + statusName(e.Status)
}

// Unwrap lets errors.Is(err, ErrStatus) match.
func (e *StatusError) Unwrap() error { return ErrStatus }

func statusName(s Status) string {
	switch s {
	case StatusInvalidOpcode:
		return " (invalid opcode)"
	case StatusInvalidField:
		return " (invalid field in command)"
	case StatusLBAOutOfRange:
		return " (LBA out of range)"
	}
	return ""
}

func hex8(v uint8) string {
	const digits = "0123456789abcdef"
	return "0x" + string([]byte{digits[v>>4], digits[v&15]})
}

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}
