package uring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Limits of a ring.
const (
	// EntriesMax is the largest submission queue New accepts.
	EntriesMax = 32768
	// registeredBuffersMax is the kernel's limit on registered buffers.
	registeredBuffersMax = 16384
)

// ErrBusy is returned by Submit when the kernel refused new submissions
// until completions are reaped (EBUSY/EAGAIN); the SQEs stay queued.
var ErrBusy = errors.New("uring: completion queue full, reap first")

// Config configures New.
type Config struct {
	// CQEntries sizes the completion queue; 0 means twice the SQ size.
	CQEntries uint32
	// IOPoll sets IORING_SETUP_IOPOLL: completions are found by polling
	// the device's poll queues (Reap issues a non-blocking GETEVENTS).
	// Only O_DIRECT reads and writes are allowed on such a ring.
	IOPoll bool
	// SQPoll sets IORING_SETUP_SQPOLL: a kernel thread consumes the SQ.
	SQPoll bool
	// SQPollIdle is how long the SQPOLL thread spins before sleeping.
	SQPollIdle time.Duration
	// SQPollCPU pins the SQPOLL thread when >= 0 (and SQPoll is set).
	SQPollCPU int
	// SingleIssuer adds IORING_SETUP_SINGLE_ISSUER|COOP_TASKRUN: only the
	// thread that created the ring submits. Go goroutines migrate between
	// threads, so weft leaves it off.
	SingleIssuer bool
}

// Ring is one io_uring instance: a submission queue (SQ) of SQEs the
// application fills and a completion queue (CQ) of CQEs the kernel fills,
// both in memory shared with the kernel. Ring is not safe for concurrent
// use: its owner serialises NextSQE/Submit, and a single consumer calls
// Reap.
type Ring struct {
	fd       int
	flags    uint32
	features uint32

	ringMem []byte // SQ and CQ rings (one mapping with FEAT_SINGLE_MMAP)
	cqMem   []byte // separate CQ mapping on old kernels, else nil
	sqeMem  []byte

	sqHead, sqTail, sqFlags, sqDropped *uint32
	sqMask, sqEntries                  uint32
	sqes                               []SQE
	sqeTail                            uint32 // next SQE handed out; published to *sqTail by flush

	cqHead, cqTail, cqOverflow *uint32
	cqMask, cqEntries          uint32
	cqes                       []CQE

	buffers [][]byte // registered, kept reachable while the kernel pins them
}

// New sets up a ring with entries SQ entries (a power of two).
func New(entries uint32, c Config) (*Ring, error) {
	if entries == 0 || entries > EntriesMax || entries&(entries-1) != 0 {
		return nil, fmt.Errorf("uring: %d entries, want a power of two in 1..%d", entries, EntriesMax)
	}
	var p params
	p.flags = setupClamp | setupSubmitAll
	if c.CQEntries != 0 {
		p.flags |= setupCQSize
		p.cqEntries = c.CQEntries
	}
	if c.IOPoll {
		p.flags |= setupIOPoll
	}
	if c.SQPoll {
		p.flags |= setupSQPoll
		p.sqThreadIdle = uint32(c.SQPollIdle / time.Millisecond)
		if c.SQPollCPU >= 0 {
			p.flags |= setupSQAff
			p.sqThreadCPU = uint32(c.SQPollCPU)
		}
	}
	if c.SingleIssuer {
		p.flags |= setupSingleIss | setupCoopTask
	}
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("uring: io_uring_setup(%d entries, flags %#x): %w", entries, p.flags, errno)
	}
	r := &Ring{fd: int(fd), flags: p.flags, features: p.features}
	if err := r.mmap(&p); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Ring) mmap(p *params) error {
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	cqSize := int(p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(CQE{})))
	single := p.features&featSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	r.ringMem, err = unix.Mmap(r.fd, offSQRing, sqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("uring: mmap SQ ring (%d bytes): %w", sqSize, err)
	}
	cq := r.ringMem
	if !single {
		r.cqMem, err = unix.Mmap(r.fd, offCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			return fmt.Errorf("uring: mmap CQ ring (%d bytes): %w", cqSize, err)
		}
		cq = r.cqMem
	}
	sqeSize := int(p.sqEntries) * int(unsafe.Sizeof(SQE{}))
	r.sqeMem, err = unix.Mmap(r.fd, offSQEs, sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("uring: mmap SQEs (%d bytes): %w", sqeSize, err)
	}
	u32 := func(m []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&m[off])) }
	r.sqHead = u32(r.ringMem, p.sqOff.head)
	r.sqTail = u32(r.ringMem, p.sqOff.tail)
	r.sqFlags = u32(r.ringMem, p.sqOff.flags)
	r.sqDropped = u32(r.ringMem, p.sqOff.dropped)
	r.sqMask = *u32(r.ringMem, p.sqOff.ringMask)
	r.sqEntries = *u32(r.ringMem, p.sqOff.ringEntries)
	// SQE i always sits in array slot i: fill the indirection once.
	array := unsafe.Slice(u32(r.ringMem, p.sqOff.array), r.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&r.sqeMem[0])), r.sqEntries)
	r.sqeTail = atomic.LoadUint32(r.sqTail)

	r.cqHead = u32(cq, p.cqOff.head)
	r.cqTail = u32(cq, p.cqOff.tail)
	r.cqOverflow = u32(cq, p.cqOff.overflow)
	r.cqMask = *u32(cq, p.cqOff.ringMask)
	r.cqEntries = *u32(cq, p.cqOff.ringEntries)
	r.cqes = unsafe.Slice((*CQE)(unsafe.Pointer(&cq[p.cqOff.cqes])), r.cqEntries)
	return nil
}

// Close unmaps the rings and closes the ring fd; in-flight requests are
// cancelled by the kernel.
func (r *Ring) Close() error {
	// Drop registered files and buffers first: the kernel tears the ring
	// down asynchronously, and a file reference it still holds would keep
	// a flock or a block device's exclusive claim alive after Close.
	r.register(unregisterFiles, nil, 0)
	if r.buffers != nil {
		r.register(unregisterBuffers, nil, 0)
		r.buffers = nil
	}
	for _, m := range [][]byte{r.sqeMem, r.cqMem, r.ringMem} {
		if m != nil {
			unix.Munmap(m)
		}
	}
	r.sqeMem, r.cqMem, r.ringMem = nil, nil, nil
	return unix.Close(r.fd)
}

// Fd is the ring's file descriptor.
func (r *Ring) Fd() int { return r.fd }

// SQEntries and CQEntries are the queue sizes the kernel granted.
func (r *Ring) SQEntries() uint32 { return r.sqEntries }

// CQEntries is the completion queue size the kernel granted.
func (r *Ring) CQEntries() uint32 { return r.cqEntries }

// SingleMmap reports IORING_FEAT_SINGLE_MMAP.
func (r *Ring) SingleMmap() bool { return r.features&featSingleMmap != 0 }

// IOPoll reports whether the ring was set up with IORING_SETUP_IOPOLL.
func (r *Ring) IOPoll() bool { return r.flags&setupIOPoll != 0 }

// SQSpace is how many SQEs NextSQE can hand out now.
func (r *Ring) SQSpace() uint32 { return r.sqEntries - (r.sqeTail - atomic.LoadUint32(r.sqHead)) }

// NextSQE returns a zeroed SQE to fill, or nil when the SQ is full. The
// SQE is published to the kernel by the next Submit.
func (r *Ring) NextSQE() *SQE {
	if r.sqeTail-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
		return nil
	}
	sqe := &r.sqes[r.sqeTail&r.sqMask]
	*sqe = SQE{}
	r.sqeTail++
	return sqe
}

// flush publishes the filled SQEs and returns how many the kernel has not
// consumed yet.
func (r *Ring) flush() uint32 {
	atomic.StoreUint32(r.sqTail, r.sqeTail)
	return r.sqeTail - atomic.LoadUint32(r.sqHead)
}

// Publish makes the filled SQEs visible to the kernel without entering
// it. With Unsubmitted and SubmitPublished it lets a mutex-protected
// producer publish under its lock and enter outside it.
func (r *Ring) Publish() { atomic.StoreUint32(r.sqTail, r.sqeTail) }

// Pending reports SQEs handed out by NextSQE but not yet published.
func (r *Ring) Pending() bool { return r.sqeTail != atomic.LoadUint32(r.sqTail) }

// Unsubmitted is how many published SQEs the kernel has not consumed. It is
// safe to call concurrently with NextSQE.
func (r *Ring) Unsubmitted() uint32 {
	return atomic.LoadUint32(r.sqTail) - atomic.LoadUint32(r.sqHead)
}

// SubmitPublished enters the kernel for the published SQEs (see Publish);
// it may run concurrently with NextSQE and Publish under the owner's lock,
// but not with another Submit.
func (r *Ring) SubmitPublished() (int, error) {
	if r.flags&setupSQPoll != 0 {
		if atomic.LoadUint32(r.sqFlags)&sqNeedWakeup != 0 {
			return r.enter(0, 0, enterSQWakeup)
		}
		return 0, nil
	}
	n := r.Unsubmitted()
	if n == 0 {
		return 0, nil
	}
	return r.enter(n, 0, 0)
}

// SubmitAndWaitPublished is SubmitPublished that also waits for min
// completions in the same io_uring_enter.
func (r *Ring) SubmitAndWaitPublished(min uint32) (int, error) {
	var flags uintptr = enterGetEvents
	n := r.Unsubmitted()
	if r.flags&setupSQPoll != 0 {
		n = 0
		if atomic.LoadUint32(r.sqFlags)&sqNeedWakeup != 0 {
			flags |= enterSQWakeup
		}
	}
	if r.Ready() >= min {
		min = 0
	}
	return r.enter(n, min, flags)
}

// Submit hands the filled SQEs to the kernel and returns how many it
// consumed. With SQPOLL it only wakes the kernel thread when it sleeps.
// ErrBusy means the kernel wants completions reaped first; the SQEs stay
// queued for the next Submit.
func (r *Ring) Submit() (int, error) { return r.SubmitAndWait(0) }

// SubmitAndWait submits like Submit and then waits until at least min
// completions are available, in one io_uring_enter.
func (r *Ring) SubmitAndWait(min uint32) (int, error) {
	n := r.flush()
	var flags uintptr
	if min > 0 || r.needFlush() {
		flags |= enterGetEvents
	}
	if r.flags&setupSQPoll != 0 {
		if atomic.LoadUint32(r.sqFlags)&sqNeedWakeup != 0 {
			flags |= enterSQWakeup
		}
		if flags == 0 {
			return int(n), nil
		}
		n = 0 // the kernel thread consumes the SQ on its own
	}
	if n == 0 && flags == 0 {
		return 0, nil
	}
	return r.enter(n, min, flags)
}

// needFlush reports CQEs held back in the kernel (CQ overflow) or task
// work to run; either way an enter with GETEVENTS moves them into the CQ.
func (r *Ring) needFlush() bool {
	return atomic.LoadUint32(r.sqFlags)&(sqCQOverflow|sqTaskrun) != 0
}

func (r *Ring) enter(toSubmit, min uint32, flags uintptr) (int, error) {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(min), flags, 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		case unix.EBUSY, unix.EAGAIN:
			return 0, ErrBusy
		}
		return 0, fmt.Errorf("uring: io_uring_enter(submit %d, wait %d, flags %#x): %w", toSubmit, min, flags, errno)
	}
}

// Wait blocks in io_uring_enter(GETEVENTS) until at least min completions
// are in the CQ (or a signal interrupts the wait).
func (r *Ring) Wait(min uint32) error {
	if r.Ready() >= min {
		return nil
	}
	_, err := r.enter(0, min, enterGetEvents)
	return err
}

// Ready is the number of CQEs waiting in the CQ, read without a syscall.
func (r *Ring) Ready() uint32 { return atomic.LoadUint32(r.cqTail) - *r.cqHead }

// Overflow is the kernel's count of CQEs that overflowed the CQ (kept in
// the kernel with FEAT_NODROP and returned by later Reaps).
func (r *Ring) Overflow() uint32 { return atomic.LoadUint32(r.cqOverflow) }

// Reap copies up to len(out) CQEs into out, frees their CQ slots and
// returns how many. It never blocks. When the CQ is empty it issues a
// non-blocking GETEVENTS if the kernel holds overflowed CQEs or, on an
// IOPOLL ring, to poll the device.
func (r *Ring) Reap(out []CQE) int {
	n := r.reap(out)
	if n == 0 && len(out) > 0 && (r.IOPoll() || r.needFlush()) {
		r.enter(0, 0, enterGetEvents)
		n = r.reap(out)
	}
	return n
}

func (r *Ring) reap(out []CQE) int {
	head := *r.cqHead
	avail := atomic.LoadUint32(r.cqTail) - head
	n := min(uint32(len(out)), avail)
	for i := uint32(0); i < n; i++ {
		out[i] = r.cqes[(head+i)&r.cqMask]
	}
	if n > 0 {
		atomic.StoreUint32(r.cqHead, head+n)
	}
	return int(n)
}

// RegisterBuffers registers bufs for OpReadFixed/OpWriteFixed (the kernel
// pins their pages once instead of per request). SQE.BufIndex selects one;
// the IO range must lie inside it. The Ring keeps bufs reachable.
func (r *Ring) RegisterBuffers(bufs [][]byte) error {
	if len(bufs) == 0 || len(bufs) > registeredBuffersMax {
		return fmt.Errorf("uring: register %d buffers, want 1..%d", len(bufs), registeredBuffersMax)
	}
	iov := make([]unix.Iovec, len(bufs))
	for i, b := range bufs {
		iov[i].Base = unsafe.SliceData(b)
		iov[i].SetLen(len(b))
	}
	if err := r.register(registerBuffers, unsafe.Pointer(&iov[0]), len(iov)); err != nil {
		return fmt.Errorf("uring: register %d buffers: %w", len(bufs), err)
	}
	r.buffers = bufs
	return nil
}

// RegisterFiles registers fds; SQEs with SQEFixedFile name them by index,
// which saves a file table lookup and reference count per request.
func (r *Ring) RegisterFiles(fds []int32) error {
	if len(fds) == 0 {
		return fmt.Errorf("uring: register 0 files")
	}
	if err := r.register(registerFiles, unsafe.Pointer(&fds[0]), len(fds)); err != nil {
		return fmt.Errorf("uring: register %d files: %w", len(fds), err)
	}
	return nil
}

// RegisterEventfd makes the kernel signal efd on every completion, so a
// poller can sleep in epoll on it.
func (r *Ring) RegisterEventfd(efd int) error {
	fd := int32(efd)
	if err := r.register(registerEventfd, unsafe.Pointer(&fd), 1); err != nil {
		return fmt.Errorf("uring: register eventfd %d: %w", efd, err)
	}
	return nil
}

func (r *Ring) register(op uintptr, arg unsafe.Pointer, n int) error {
	for {
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), op, uintptr(arg), uintptr(n), 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return errno
		}
		return nil
	}
}

// PrepRW fills sqe for a read or write of buf at off on fd.
func (sqe *SQE) PrepRW(op Opcode, fd int32, buf []byte, off uint64, userData uint64) {
	sqe.Opcode = op
	sqe.Fd = fd
	sqe.Addr = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
	sqe.Len = uint32(len(buf))
	sqe.Off = off
	sqe.UserData = userData
}

// PrepFsync fills sqe for an fsync (fdatasync with FsyncDatasync) of fd.
func (sqe *SQE) PrepFsync(fd int32, flags uint32, userData uint64) {
	sqe.Opcode = OpFsync
	sqe.Fd = fd
	sqe.OpFlags = flags
	sqe.UserData = userData
}

// PrepNop fills sqe for a no-op that completes with Res 0.
func (sqe *SQE) PrepNop(userData uint64) {
	sqe.Opcode = OpNop
	sqe.UserData = userData
}
