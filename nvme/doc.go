// Package nvme drives weft's drives: the on-drive format (superblocks,
// per-block CRC32C, an extent allocator) and the IO engines under one
// non-blocking burst API — weft's own io_uring ring (nvme/uring), a
// pread/pwrite path for memory-backed targets, and (nvme/vfio) a userspace
// NVMe driver over vfio-pci.
//
// # On-drive layout
//
// A drive is a block device or a regular file, cut into 4 KiB blocks:
//
//	block 0        1        2 .. 2+T-1              D (1 MiB aligned) .. D+N-1
//	+--------+--------+-----------------------+----+--------------------------+
//	| super  | super  | checksum table        |pad | data region              |
//	| copy 0 | copy 1 | 4 bytes per data block|    | N blocks, indexed 0..N-1 |
//	+--------+--------+-----------------------+----+--------------------------+
//
// Each superblock copy holds magic "WEFTDRV", format version, copy index,
// generation, drive and cluster UUIDs, block size, capacity, the layout
// (table start and length, data start and length), the owner's AppRoot
// (at most 512 bytes) and a CRC32C of the whole block. Rewrites (SetAppRoot)
// write copy 0, sync, copy 1, sync, with the generation plus one: a torn
// write damages only the copy being written, and Open takes the valid copy
// with the highest generation and rewrites the other from it. A foreign
// magic is ErrForeign and a newer version ErrVersion; Format refuses both
// (and an existing weft drive, ErrFormatted) unless Force.
//
// # Checksums
//
// Every data block has a CRC32C (Castagnoli, seeded with the block index so
// misdirected writes are caught) in the checksum table. The table is loaded
// into memory at Open (0.1% of the data region), updated when a write
// completes and written back by Flush, so a 4 KiB random write costs one IO.
// A read verifies every block against the table; a mismatch returns an
// error wrapping ErrCorrupt that names the block, and the buffer is cleared
// so the caller never sees the bad bytes. Entry 0 means "never written": such
// a block must read as all zeros (a fresh file or discarded range) and is
// returned as zeros; any data there is ErrCorrupt.
//
// The crash contract: a write is durable with its checksum once a later
// Flush returns. weft's file system never overwrites a live block in place
// (copy-on-write) and publishes new blocks only after a Flush (then
// SetAppRoot, which flushes first), so a crash between a data write and its
// table write-back can only leave a stale checksum on a block nothing
// references; reading such a block reports ErrCorrupt, never wrong data.
//
// # Backends and the ring
//
// Open picks the backend (Info.Backend names it):
//
//   - "io_uring": weft's own ring (package nvme/uring) for block devices
//     and files opened with O_DIRECT. The target fd is a registered file
//     in every ring; buffers given to RegisterBuffers make requests inside
//     them READ_FIXED/WRITE_FIXED. A poll-mode OpFlush becomes the dirty
//     checksum-table writes linked (IOSQE_IO_LINK) to an fdatasync.
//   - "sync": pread/pwrite for memory-backed targets (tmpfs, ramfs, zram,
//     brd), where io_uring punts every request to kernel workers and
//     pread/pwrite measured 3× faster. Owning no goroutines, its Submit
//     executes each request synchronously and queues the completion for
//     Poll; its blocking calls run on the caller's goroutine.
//   - "vfio": the userspace NVMe driver (backend_vfio.go, nvme/vfio) for
//     drives named "vfio:<pci address>". VFIOAvailable and BoundToVFIO say
//     what the host offers.
//
// The io_uring backend keeps two rings on the same fd:
//
//	poll ring (one poller goroutine)      blocking ring (many goroutines)
//	  Submit: fill SQEs, 1 enter/burst       ReadBlocks/WriteBlocks/Flush:
//	  Poll:   read CQ, no syscall            SQE under a mutex; one submitter
//	  Wait:   per CompletionMode             thread enters for the crowd
//	             \                              /
//	              +------ kernel, device ------+
//
// so a poller and the file system can share a Drive without stealing each
// other's completions. The poll-mode API starts no goroutine. The blocking
// API has one submitter goroutine per Drive, locked to its own OS thread,
// that makes every io_uring_enter of the blocking ring: the kernel posts an
// O_DIRECT completion through task work on the submitting thread, so the
// submitter must be a thread that never blocks anywhere but in
// io_uring_enter — an arbitrary caller's thread may next block in a FUSE
// request to its own process's mount and never post it. Callers publish
// SQEs and wake the submitter (a channel when idle, an eventfd read kept
// in flight on the ring when it sleeps in the kernel).
//
// # Completion modes
//
// Options.Mode says how a waiter (Wait, and the blocking API's submitter)
// learns of completions:
//
//	CompleteWait      sleep in io_uring_enter(GETEVENTS) — no CPU while idle
//	CompleteSpin      busy-poll the CQ in user memory, no syscalls — one core
//	CompleteAdaptive  spin for Options.SpinTime (50µs), then wait
//
// Poll itself never blocks in any mode. Options.Poll adds kernel polling:
// PollIO (IORING_SETUP_IOPOLL, completions found by polling the device's
// poll queues) is used only when /sys/block/<dev>/queue/io_poll reads 1;
// otherwise Open fails with an error wrapping ErrUnsupported that names
// the reason (a regular file, io_poll 0: load nvme with poll_queues=N),
// and logs it at Warn: a drive asked to poll is never served by interrupts
// under that name. Info.Backend reads "io_uring+iopoll". IOPOLL applies to the poll
// ring; the blocking ring, which sleeps and fsyncs, always uses
// interrupts, and a poll-mode OpFlush on an IOPOLL drive runs on it
// synchronously inside Submit. PollSQ (IORING_SETUP_SQPOLL, a kernel thread
// consumes the SQ) is off by default: it was erratic on 2 cores.
//
// CQ overflow: the CQ is twice the SQ, and the Drive never has more
// poll-mode requests in flight than SQ entries; a kernel that still
// overflows (FEAT_NODROP) keeps the CQEs and Reap flushes them with a
// non-blocking GETEVENTS.
//
// # Two APIs
//
// The poll-mode burst API — Submit, Poll, PollFd — is a DPDK-style driver
// interface: it never blocks, never allocates on success and owns no
// goroutine; one poller goroutine calls it. The blocking API — ReadBlocks,
// WriteBlocks, Flush, SetAppRoot — is safe for many goroutines at once and
// is what the file system uses. The two may be used on the same Drive.
//
// Exclusivity: block devices are opened O_EXCL and files are flock'ed, so
// a second opener — in this process or another — gets ErrBusy naming the
// holder.
package nvme
