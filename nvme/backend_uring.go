package nvme

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/weft-fs/weft/nvme/uring"
	"golang.org/x/sys/unix"
)

// uringBackend drives the target through two io_uring instances on the
// same fd (registered as file 0 in both):
//
//   - the poll ring, owned by the poll-mode API's single caller: Submit
//     fills SQEs and enters once per burst, Poll reaps the CQ from user
//     memory, so a burst costs one syscall and a poll none;
//   - the blocking ring, shared by the goroutine-safe blocking API:
//     callers fill SQEs under a mutex and one submitter thread, owned by
//     the blocking API, enters for everyone queued meanwhile and hands
//     each completion back (see blockRing). The poll-mode API starts no
//     goroutine.
//
// Keeping the rings apart lets a poller and file-system goroutines use one
// Drive at the same time without stealing each other's completions.
type uringBackend struct {
	fd      int
	iopoll  bool
	sqpoll  bool
	mode    CompletionMode
	spin    time.Duration
	arenas  []arena
	log     *slog.Logger
	entries int

	pr       *uring.Ring
	pcqes    []uring.CQE
	inflight int             // poll ring: submitted, not yet reaped
	efd      int             // eventfd registered with the poll ring, lazily
	aside    []rawCompletion // IOPOLL: flushes completed synchronously

	br *blockRing
}

// arena is a registered buffer: requests inside it use READ/WRITE_FIXED.
type arena struct {
	start, end uintptr
	index      uint16
}

func newURingBackend(t *target, o Options, log *slog.Logger) (*uringBackend, error) {
	entries := entriesOf(o)
	if entries&(entries-1) != 0 {
		return nil, fmt.Errorf("ring entries %d: want a power of two up to %d", entries, RingEntriesMax)
	}
	b := &uringBackend{fd: t.fd, mode: o.Mode, spin: o.SpinTime, log: log, entries: entries, efd: -1}
	if b.spin <= 0 {
		b.spin = spinTimeDefault
	}
	cfg := uring.Config{CQEntries: uint32(2 * entries), SQPollCPU: -1}
	switch o.Poll {
	case PollIO:
		if why := iopollRefusal(t); why != "" {
			return nil, fmt.Errorf("IOPOLL on %s: %s: %w", t.path, why, ErrUnsupported)
		}
		cfg.IOPoll = true
		b.iopoll = true
	case PollSQ:
		cfg.SQPoll = true
		cfg.SQPollIdle = sqpollIdleDefault
		b.sqpoll = true
	}
	var err error
	if b.pr, err = newFileRing(uint32(entries), cfg, t.fd); err != nil {
		return nil, err
	}
	b.pcqes = make([]uring.CQE, entries)
	// The blocking ring never uses SQPOLL (its submitters enter anyway) nor
	// IOPOLL (it sleeps between completions and must also fsync).
	bcfg := cfg
	bcfg.SQPoll, bcfg.IOPoll = false, false
	br, err := newFileRing(uint32(entries), bcfg, t.fd)
	if err != nil {
		b.pr.Close()
		return nil, err
	}
	if b.br, err = newBlockRing(br, b); err != nil {
		br.Close()
		b.pr.Close()
		return nil, err
	}
	return b, nil
}

// iopollRefusal says why IOPOLL cannot be used on t, or "".
func iopollRefusal(t *target) string {
	switch {
	case !t.blockDevice:
		return "target is a regular file; IOPOLL needs a block device with poll queues"
	case !t.direct:
		return "target is not opened O_DIRECT"
	}
	p := "/sys/block/" + t.devName + "/queue/io_poll"
	v, err := sysfsInt(p)
	switch {
	case err != nil:
		return fmt.Sprintf("cannot read %s: %v", p, err)
	case v != 1:
		return fmt.Sprintf("%s is %d: the device has no poll queues (NVMe: load nvme with poll_queues=N)", p, v)
	}
	return ""
}

func newFileRing(entries uint32, cfg uring.Config, fd int) (*uring.Ring, error) {
	r, err := uring.New(entries, cfg)
	if err != nil {
		return nil, err
	}
	if err := r.RegisterFiles([]int32{int32(fd)}); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (b *uringBackend) name() string {
	switch {
	case b.iopoll:
		return string(BackendURing) + "+iopoll"
	case b.sqpoll:
		return string(BackendURing) + "+sqpoll"
	}
	return string(BackendURing)
}

// registerBuffers registers bufs with both rings.
func (b *uringBackend) registerBuffers(bufs [][]byte) error {
	if len(b.arenas) > 0 {
		return fmt.Errorf("buffers already registered")
	}
	if err := b.pr.RegisterBuffers(bufs); err != nil {
		return err
	}
	if err := b.br.r.RegisterBuffers(bufs); err != nil {
		return err
	}
	for i, buf := range bufs {
		s := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
		b.arenas = append(b.arenas, arena{start: s, end: s + uintptr(len(buf)), index: uint16(i)})
	}
	return nil
}

// prep fills sqe for one raw operation.
func (b *uringBackend) prep(sqe *uring.SQE, op ioOp, off int64, buf []byte, ud uint64) {
	if op == opFsync {
		sqe.PrepFsync(0, uring.FsyncDatasync, ud)
		sqe.Flags = uring.SQEFixedFile
		return
	}
	code := uring.OpRead
	if op == opWrite {
		code = uring.OpWrite
	}
	sqe.PrepRW(code, 0, buf, uint64(off), ud)
	sqe.Flags = uring.SQEFixedFile
	if len(b.arenas) > 0 {
		s := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
		for _, a := range b.arenas {
			if s >= a.start && s+uintptr(len(buf)) <= a.end {
				sqe.Opcode = uring.OpReadFixed
				if op == opWrite {
					sqe.Opcode = uring.OpWriteFixed
				}
				sqe.BufIndex = a.index
				break
			}
		}
	}
}

func (b *uringBackend) space() int {
	return min(int(b.pr.SQSpace()), b.entries-b.inflight)
}

func (b *uringBackend) submit(reqs []rawReq) (int, error) {
	if b.iopoll {
		reqs = b.flushAside(reqs)
	}
	for i := range reqs {
		r := &reqs[i]
		sqe := b.pr.NextSQE()
		if sqe == nil {
			return i, fmt.Errorf("submission queue full")
		}
		b.prep(sqe, r.op, r.off, r.buf, r.ud)
		if r.link {
			sqe.Flags |= uring.SQEIOLink
		}
	}
	b.inflight += len(reqs)
	if _, err := b.pr.Submit(); err != nil && !errors.Is(err, uring.ErrBusy) {
		return len(reqs), err
	}
	return len(reqs), nil
}

// flushAside runs the flush chains (table writes linked to an fsync) of
// reqs synchronously on the blocking ring, because an IOPOLL ring only
// takes O_DIRECT reads and writes, and queues their completions for the
// next poll. It returns the other requests, in order.
func (b *uringBackend) flushAside(reqs []rawReq) []rawReq {
	has := false
	for i := range reqs {
		if reqs[i].op == opFsync || reqs[i].link {
			has = true
		}
	}
	if !has {
		return reqs
	}
	rest := reqs[:0]
	failed := false
	for _, r := range reqs {
		if r.op != opFsync && !r.link {
			rest = append(rest, r)
			continue
		}
		res := int32(-int32(unix.ECANCELED))
		if !failed {
			res = errRes(b.br.do(r.op, r.off, r.buf), len(r.buf), r.op)
		}
		failed = r.link && (failed || res < 0)
		b.aside = append(b.aside, rawCompletion{ud: r.ud, res: res})
	}
	return rest
}

func errRes(err error, n int, op ioOp) int32 {
	var errno unix.Errno
	switch {
	case err == nil && op == opFsync:
		return 0
	case err == nil:
		return int32(n)
	case errors.As(err, &errno):
		return -int32(errno)
	}
	return -int32(unix.EIO)
}

func (b *uringBackend) poll(out []rawCompletion) int {
	if len(b.aside) > 0 {
		n := copy(out, b.aside)
		b.aside = b.aside[:copy(b.aside, b.aside[n:])]
		return n
	}
	if b.inflight == 0 {
		return 0
	}
	if b.pr.Unsubmitted() > 0 {
		b.pr.Submit() // an earlier enter was refused (EBUSY); retry now
	}
	n := b.pr.Reap(b.pcqes[:min(len(out), len(b.pcqes))])
	for i, c := range b.pcqes[:n] {
		out[i] = rawCompletion{ud: c.UserData, res: c.Res}
	}
	b.inflight -= n
	return n
}

func (b *uringBackend) wait() error {
	if b.inflight == 0 || len(b.aside) > 0 {
		return nil
	}
	return waitRing(b.pr, b.mode, b.spin, func() bool { return b.inflight > 0 })
}

// waitRing waits for a completion on r in mode.
func waitRing(r *uring.Ring, mode CompletionMode, spin time.Duration, busy func() bool) error {
	if r.Ready() > 0 {
		return nil
	}
	switch mode {
	case CompleteSpin:
		for r.Ready() == 0 && busy() {
			if r.IOPoll() {
				r.Wait(0)
			}
			runtime.Gosched()
		}
		if r.Ready() > 0 || !busy() {
			return nil
		}
	case CompleteAdaptive:
		deadline := time.Now().Add(spin)
		for i := 0; r.Ready() == 0; i++ {
			if i&63 == 63 {
				if time.Now().After(deadline) {
					break
				}
				runtime.Gosched()
			}
		}
		if r.Ready() > 0 {
			return nil
		}
	}
	return r.Wait(1)
}

func (b *uringBackend) pollFd() int {
	if b.efd >= 0 {
		return b.efd
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		b.log.Warn("nvme: eventfd for PollFd failed", "err", err)
		return -1
	}
	if err := b.pr.RegisterEventfd(efd); err != nil {
		unix.Close(efd)
		b.log.Warn("nvme: registering eventfd for PollFd failed", "err", err)
		return -1
	}
	b.efd = efd
	return efd
}

func (b *uringBackend) do(op ioOp, off int64, buf []byte) error {
	return b.br.do(op, off, buf)
}

func (b *uringBackend) close() error {
	err := b.br.close()
	b.pr.Close()
	if b.efd >= 0 {
		unix.Close(b.efd)
	}
	return err
}

// blockRing serves the blocking API through one submitter: a goroutine
// locked to its own OS thread that makes every io_uring_enter of this ring.
//
// Why one thread: the kernel completes an asynchronous O_DIRECT request by
// queueing task work on the thread that submitted it, and posts the CQE
// only when that thread runs it. A thread that is blocked in an
// uninterruptible wait never does; in a process that also serves a FUSE
// mount, a goroutine submitting on a thread that later blocks in a FUSE
// request of its own mount deadlocks the two (seen as a reaper asleep in
// GETEVENTS forever). The submitter thread only ever sleeps inside
// io_uring_enter, where it runs that task work itself.
//
//	callers ──publish SQE (mu)──► SQ ──enter──► kernel ──CQE──► submitter
//	   ▲                                                         │
//	   └────────────── done[slot] ◄──────────────────────────────┘
//
// Callers publish under mu and nudge the submitter: through a Go channel
// when it is idle, through an eventfd whose read is always in flight on
// the ring (the doorbell) when it sleeps in the kernel. Concurrent callers
// are submitted together in one enter. The poll-mode ring is unaffected:
// its single caller is a poller thread that never blocks elsewhere.
type blockRing struct {
	r    *uring.Ring
	be   *uringBackend
	mu   sync.Mutex    // guards r.NextSQE and r.Publish
	free chan uint32   // free waiter slots; its capacity bounds in-flight requests
	done []chan int32  // per slot: the CQE result
	cqes []uring.CQE   // the submitter's scratch
	idle chan struct{} // wakes a submitter asleep in Go
	efd  int           // the doorbell eventfd
	rung atomic.Bool   // the doorbell was written since the submitter last slept

	state       atomic.Int32 // submitterRunning, submitterIdle or submitterInKernel
	outstanding atomic.Int64 // published by callers, not yet dispatched
	stop        atomic.Bool
	exited      chan struct{}

	armed  bool    // submitter only: the doorbell read is in flight
	efdBuf [8]byte // the doorbell read's target
}

const (
	submitterRunning int32 = iota
	submitterIdle
	submitterInKernel
)

// doorbellUserData marks the doorbell read's CQE; slots are small integers.
const doorbellUserData = ^uint64(0)

func newBlockRing(r *uring.Ring, be *uringBackend) (*blockRing, error) {
	// One SQE (and CQE) stays reserved for the doorbell read.
	n := int(r.SQEntries()) - 1
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("eventfd for the blocking ring: %w", err)
	}
	br := &blockRing{r: r, be: be, free: make(chan uint32, n), done: make([]chan int32, n),
		cqes: make([]uring.CQE, r.CQEntries()), idle: make(chan struct{}, 1), efd: efd,
		exited: make(chan struct{})}
	for i := range n {
		br.free <- uint32(i)
		br.done[i] = make(chan int32, 1)
	}
	go br.submitter()
	return br, nil
}

func (b *uringBackend) begin(op ioOp, off int64, buf []byte) uint32 {
	return b.br.publish(op, off, buf)
}

func (b *uringBackend) end(s uint32, op ioOp, buf []byte) error {
	res := <-b.br.done[s]
	b.br.free <- s
	runtime.KeepAlive(buf)
	return resErr(res, len(buf), op)
}

// publish queues one operation, wakes the submitter and returns its slot.
func (br *blockRing) publish(op ioOp, off int64, buf []byte) uint32 {
	s := <-br.free
	// Counted before it is published, so the submitter can never see its
	// completion before its count and take the ring for idle.
	br.outstanding.Add(1)
	br.mu.Lock()
	sqe := br.r.NextSQE() // never nil: published SQEs <= slots + doorbell <= entries
	br.be.prep(sqe, op, off, buf, uint64(s))
	br.r.Publish()
	br.mu.Unlock()
	br.nudge()
	return s
}

// nudge makes sure the submitter sees what was just published. The
// submitter announces its state before its last look at the queue, and
// callers publish before reading the state, so one of the two always sees
// the other.
func (br *blockRing) nudge() {
	switch br.state.Load() {
	case submitterIdle:
		select {
		case br.idle <- struct{}{}:
		default:
		}
	case submitterInKernel:
		if br.rung.CompareAndSwap(false, true) {
			one := [8]byte{1}
			unix.Write(br.efd, one[:])
		}
	}
}

func (br *blockRing) do(op ioOp, off int64, buf []byte) error {
	s := br.publish(op, off, buf)
	res := <-br.done[s]
	br.free <- s
	runtime.KeepAlive(buf)
	return resErr(res, len(buf), op)
}

// submitter is the ring's only caller of io_uring_enter (see blockRing).
func (br *blockRing) submitter() {
	runtime.LockOSThread() // never unlocked: the thread dies with the ring
	defer close(br.exited)
	for !br.stop.Load() {
		if n := br.r.Reap(br.cqes); n > 0 {
			br.dispatch(n)
			continue
		}
		if br.outstanding.Load() == 0 {
			br.state.Store(submitterIdle)
			if br.outstanding.Load() == 0 && !br.stop.Load() {
				<-br.idle
			}
			br.state.Store(submitterRunning)
			continue
		}
		if br.be.mode != CompleteWait && br.spinFor(br.be.spin) {
			continue
		}
		if !br.armed {
			br.armDoorbell()
		}
		br.rung.Store(false)
		br.state.Store(submitterInKernel)
		_, err := br.r.SubmitAndWaitPublished(1)
		br.state.Store(submitterRunning)
		if err != nil && !errors.Is(err, uring.ErrBusy) {
			br.be.log.Error("nvme: blocking ring enter failed", "err", err)
			time.Sleep(time.Millisecond)
		}
	}
}

// spinFor submits what is queued and polls the CQ without sleeping, for at
// most d (CompleteSpin: as long as IO is outstanding). It reports whether
// a completion arrived.
func (br *blockRing) spinFor(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for i := 0; ; i++ {
		if br.r.Unsubmitted() > 0 {
			br.r.SubmitPublished()
		}
		if br.r.Ready() > 0 {
			return true
		}
		if br.stop.Load() || br.outstanding.Load() == 0 {
			return false
		}
		if i&63 == 63 {
			if br.be.mode != CompleteSpin && time.Now().After(deadline) {
				return false
			}
			runtime.Gosched()
		}
	}
}

// armDoorbell puts the eventfd read on the ring; it completes when a
// caller rings while the submitter sleeps in the kernel.
func (br *blockRing) armDoorbell() {
	br.mu.Lock()
	sqe := br.r.NextSQE()
	sqe.PrepRW(uring.OpRead, int32(br.efd), br.efdBuf[:], 0, doorbellUserData)
	br.r.Publish()
	br.mu.Unlock()
	br.armed = true
}

func (br *blockRing) dispatch(n int) {
	for _, c := range br.cqes[:n] {
		if c.UserData == doorbellUserData {
			br.armed = false
			continue
		}
		br.outstanding.Add(-1)
		br.done[c.UserData] <- c.Res
	}
}

func (br *blockRing) close() error {
	br.stop.Store(true)
	select {
	case br.idle <- struct{}{}:
	default:
	}
	one := [8]byte{1}
	unix.Write(br.efd, one[:])
	<-br.exited
	err := br.r.Close()
	unix.Close(br.efd)
	return err
}
