package nvme

import (
	"log/slog"
	"time"
)

// Backend names the IO path a Drive uses.
type Backend string

// Backends.
const (
	// BackendAuto picks io_uring for block devices and files on real
	// storage, and BackendSync for memory-backed targets (tmpfs, zram,
	// brd), where io_uring punts every request to kernel workers.
	BackendAuto Backend = ""
	// BackendURing is weft's own io_uring ring.
	BackendURing Backend = "io_uring"
	// BackendSync is pread/pwrite on the calling goroutine.
	BackendSync Backend = "sync"
	// BackendVFIO is the userspace NVMe driver over vfio-pci (nvme/vfio).
	BackendVFIO Backend = "vfio"
)

// CompletionMode says how a waiter learns that IO finished.
type CompletionMode uint8

// Completion modes.
const (
	// CompleteWait sleeps in io_uring_enter(GETEVENTS) until a completion
	// arrives: no CPU burnt, one syscall and a wakeup per batch.
	CompleteWait CompletionMode = iota
	// CompleteSpin busy-polls the completion queue in user memory with no
	// syscalls: lowest latency, one core burnt while IO is in flight.
	CompleteSpin
	// CompleteAdaptive spins for Options.SpinTime, then waits.
	CompleteAdaptive
)

// String names the mode as the CLI and logs spell it.
func (m CompletionMode) String() string {
	switch m {
	case CompleteWait:
		return "wait"
	case CompleteSpin:
		return "spin"
	case CompleteAdaptive:
		return "adaptive"
	}
	return "unknown"
}

// PollMode selects kernel-side polling in io_uring.
type PollMode uint8

// Kernel polling modes.
const (
	// PollNone: interrupt-driven completions (the default).
	PollNone PollMode = iota
	// PollIO sets IORING_SETUP_IOPOLL: the kernel polls the device's poll
	// queues instead of taking interrupts. Only accepted when
	// /sys/block/<dev>/queue/io_poll reads 1; otherwise Open fails with
	// an error wrapping ErrUnsupported that says why.
	PollIO
	// PollSQ sets IORING_SETUP_SQPOLL: a kernel thread consumes the
	// submission queue so Submit needs no syscall while it is awake.
	PollSQ
)

// Limits of the drive engine.
const (
	// RingEntriesDefault is the submission queue size when Options.Entries is 0.
	RingEntriesDefault = 256
	// RingEntriesMax is the largest submission queue Options.Entries accepts.
	RingEntriesMax = 4096
	// RequestBytesMax is the largest single request in bytes.
	RequestBytesMax = 4 << 20
	// spinTimeDefault bounds spinning in CompleteAdaptive.
	spinTimeDefault = 50 * time.Microsecond
	// sqpollIdleDefault is how long the SQPOLL thread spins before sleeping.
	sqpollIdleDefault = 2 * time.Millisecond
)

// Options configure Open.
type Options struct {
	// Backend forces an IO path; BackendAuto picks one from the target.
	Backend Backend
	// Entries is the ring size (submission queue entries, a power of two,
	// at most RingEntriesMax); 0 means RingEntriesDefault.
	Entries int
	// Mode is how the blocking API and Wait wait for completions.
	Mode CompletionMode
	// SpinTime bounds spinning in CompleteAdaptive; 0 means 50µs.
	SpinTime time.Duration
	// Poll selects kernel-side polling (IOPOLL or SQPOLL); off by default.
	Poll PollMode
	// ReadOnly opens the drive without write access; writes fail with
	// ErrReadOnly. A read-only device must be opened this way.
	ReadOnly bool
	// PCIAddress is the NVMe controller to drive through vfio-pci when
	// Backend is BackendVFIO ("0000:00:04.0").
	PCIAddress string
	// Log receives decisions (backend choice, refused options); nil
	// discards them.
	Log *slog.Logger
}

// FormatOptions configure Format.
type FormatOptions struct {
	// DriveUUID identifies the drive; zero means a random one.
	DriveUUID [16]byte
	// ClusterUUID names the cluster the drive belongs to.
	ClusterUUID [16]byte
	// AppRoot is the initial owner area (at most AppRootBytesMax bytes).
	AppRoot []byte
	// Force formats over foreign data, an existing weft drive or a newer
	// format version.
	Force bool
	// Log receives decisions; nil discards them.
	Log *slog.Logger
}

// Info describes an open drive.
type Info struct {
	// Path is the file or device the drive was opened from.
	Path string
	// BlockSize is the size of a data block in bytes (always BlockSize).
	BlockSize int
	// DataBlocks is the number of blocks in the data region.
	DataBlocks uint64
	// DriveUUID and ClusterUUID come from the superblock.
	DriveUUID, ClusterUUID [16]byte
	// Backend is the IO path in use: "io_uring", "sync" or "vfio".
	Backend string
	// Generation is the superblock generation, bumped by SetAppRoot.
	Generation uint64
	// LogicalBlockSize is the device's logical sector size in bytes.
	LogicalBlockSize int
	// CapacityBytes is the size of the device.
	CapacityBytes uint64
	// ReadOnly is set when the drive was opened ReadOnly.
	ReadOnly bool
	// DataOffsetBytes is where data block 0 starts on the target, for
	// tools that compare against raw IO on the same device.
	DataOffsetBytes uint64
}
