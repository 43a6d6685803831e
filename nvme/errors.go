package nvme

import "errors"

// Sentinel errors callers branch on with errors.Is. Every error returned by
// this package wraps one of them (or an OS error) with the drive path and the
// offending value.
var (
	// ErrCorrupt: a block's contents do not match its CRC32C, or a
	// superblock copy failed its checksum or consistency checks.
	ErrCorrupt = errors.New("nvme: corrupt block")
	// ErrNoSpace: the allocator has no free extent of the requested length.
	ErrNoSpace = errors.New("nvme: no space")
	// ErrBusy: the drive is opened exclusively by another process or Drive.
	ErrBusy = errors.New("nvme: drive in use")
	// ErrForeign: the drive holds data that is not a weft drive (another
	// file system, a partition table); Format refuses it unless Force.
	ErrForeign = errors.New("nvme: foreign data on drive")
	// ErrFormatted: Format found a valid weft superblock; reformatting
	// destroys it, so Format refuses unless Force.
	ErrFormatted = errors.New("nvme: drive already formatted")
	// ErrTooSmall: the drive is below DriveBytesMin.
	ErrTooSmall = errors.New("nvme: drive too small")
	// ErrMisaligned: a buffer address, a length or an offset is not a
	// multiple of the block size.
	ErrMisaligned = errors.New("nvme: misaligned buffer or offset")
	// ErrOutOfRange: a block or extent lies outside the data region.
	ErrOutOfRange = errors.New("nvme: block out of range")
	// ErrReadOnly: the device (or the Drive, opened ReadOnly) refuses writes.
	ErrReadOnly = errors.New("nvme: drive is read-only")
	// ErrVersion: the superblock was written by a newer weft format.
	ErrVersion = errors.New("nvme: unsupported format version")
	// ErrClosed: the Drive was closed.
	ErrClosed = errors.New("nvme: drive closed")
	// ErrUnsupported: the host lacks a kernel feature an option asks for
	// (IOPOLL without poll queues, vfio without vfio-pci).
	ErrUnsupported = errors.New("nvme: not supported on this host")
	// ErrTooLarge: an AppRoot over AppRootBytesMax, or a request larger than
	// RequestBytesMax.
	ErrTooLarge = errors.New("nvme: too large")
)
