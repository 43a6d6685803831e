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
//     callers fill SQEs under a mutex, one of them enters for everyone
//     queued meanwhile (flat combining), and one of them at a time reaps
//     for all (see blockRing). nvme starts no goroutine.
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
			log.Warn("nvme: IOPOLL refused, using interrupt completions", "path", t.path, "reason", why)
		} else {
			cfg.IOPoll = true
			b.iopoll = true
		}
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
	b.br = newBlockRing(br, b)
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

// blockRing serves the blocking API with no goroutine of its own: the
// callers themselves submit and reap (leader/followers).
//
//   - Submission: a caller fills its SQE under mu; then whichever caller
//     wins the submitting flag enters the kernel for every SQE published
//     meanwhile (flat combining), so a crowd costs a few syscalls.
//   - Completion: the caller that holds reapMu is the reaper: it reaps the
//     CQ and hands each result to its caller's channel by user_data, and
//     waits (in the Drive's CompletionMode) while its own IO is in flight.
//     When its own IO is done it leaves and passes the role on through
//     wake to a caller still waiting. The others sleep on their channel.
//
// At queue depth 1 that is one io_uring_enter per IO (submit and wait in
// the same call) and no goroutine handoff.
type blockRing struct {
	r          *uring.Ring
	be         *uringBackend
	mu         sync.Mutex // guards r.NextSQE and r.Publish
	submitting atomic.Bool
	reapMu     sync.Mutex    // held by the current reaper
	wake       chan struct{} // passes the reaper role to a waiting caller
	free       chan uint32   // free waiter slots; its capacity bounds in-flight requests
	done       []chan int32  // per slot: the CQE result
	cqes       []uring.CQE   // the reaper's scratch, guarded by reapMu
	inflight   atomic.Int64
}

func newBlockRing(r *uring.Ring, be *uringBackend) *blockRing {
	n := int(r.SQEntries())
	br := &blockRing{r: r, be: be, wake: make(chan struct{}, 1), free: make(chan uint32, n),
		done: make([]chan int32, n), cqes: make([]uring.CQE, r.CQEntries())}
	for i := range n {
		br.free <- uint32(i)
		br.done[i] = make(chan int32, 1)
	}
	return br
}

func (b *uringBackend) begin(op ioOp, off int64, buf []byte) uint32 {
	s := b.br.publish(op, off, buf)
	b.br.kick()
	return s
}

func (b *uringBackend) end(s uint32, op ioOp, buf []byte) error {
	res := b.br.await(s, false)
	b.br.free <- s
	runtime.KeepAlive(buf)
	return resErr(res, len(buf), op)
}

// publish queues one operation and returns its slot.
func (br *blockRing) publish(op ioOp, off int64, buf []byte) uint32 {
	s := <-br.free
	br.mu.Lock()
	sqe := br.r.NextSQE() // never nil: unconsumed SQEs <= in-flight <= entries
	br.be.prep(sqe, op, off, buf, uint64(s))
	br.r.Publish()
	br.mu.Unlock()
	br.inflight.Add(1)
	return s
}

func (br *blockRing) do(op ioOp, off int64, buf []byte) error {
	s := br.publish(op, off, buf)
	res := br.await(s, true)
	br.free <- s
	runtime.KeepAlive(buf)
	return resErr(res, len(buf), op)
}

// await submits (if no one else is) and waits for slot s's result, taking
// the reaper role whenever it is free. fresh says s may not be submitted
// yet.
func (br *blockRing) await(s uint32, fresh bool) int32 {
	if br.reapMu.TryLock() {
		return br.lead(s, fresh)
	}
	br.kick()
	for {
		select {
		case res := <-br.done[s]:
			return res
		case <-br.wake:
			if br.reapMu.TryLock() {
				return br.lead(s, false)
			}
		}
	}
}

// lead is the reaper's loop; it returns slot s's result with reapMu
// released and the role passed on if IO is still in flight. fresh is set
// when s's SQE may not be submitted yet: the first enter then submits and
// waits in one syscall.
func (br *blockRing) lead(s uint32, fresh bool) int32 {
	var res int32
	for got := false; !got; {
		select {
		case res = <-br.done[s]:
			got = true
			continue
		default:
		}
		if n := br.r.Reap(br.cqes); n > 0 {
			br.dispatch(n)
			continue
		}
		if fresh && br.be.mode == CompleteWait && br.inflight.Load() == 1 {
			// Alone in flight (queue depth 1): submit and wait for the
			// completion in one io_uring_enter. This bypasses the submitting
			// flag: holding it while asleep in the kernel would hold back
			// callers arriving meanwhile, and concurrent enters are safe (the
			// kernel consumes each SQE once). With company, kick below keeps
			// to one submitting thread: concurrent submitters of writes to
			// one file contend on its inode lock and get punted to io-wq.
			if _, err := br.r.SubmitAndWaitPublished(1); err != nil && !errors.Is(err, uring.ErrBusy) {
				br.be.log.Error("nvme: submit and wait failed", "err", err)
			}
			fresh = false
			continue
		}
		br.kick()
		fresh = false
		if err := waitRing(br.r, br.be.mode, br.be.spin, func() bool { return br.inflight.Load() > 0 }); err != nil && !errors.Is(err, uring.ErrBusy) {
			br.be.log.Error("nvme: waiting for completions failed", "err", err)
			time.Sleep(time.Millisecond)
		}
	}
	br.reapMu.Unlock()
	if br.inflight.Load() > 0 {
		select {
		case br.wake <- struct{}{}:
		default:
		}
	}
	return res
}

func (br *blockRing) dispatch(n int) {
	for _, c := range br.cqes[:n] {
		br.inflight.Add(-1)
		br.done[c.UserData] <- c.Res
	}
}

// kick submits every published SQE. Only one goroutine enters at a time;
// the others return at once, their SQEs carried by the one in the kernel
// (it loops until nothing is left), so a crowd of callers costs a few
// syscalls, not one each.
func (br *blockRing) kick() {
	for br.r.Unsubmitted() > 0 && br.submitting.CompareAndSwap(false, true) {
		for br.r.Unsubmitted() > 0 {
			if _, err := br.r.SubmitPublished(); err != nil {
				// ErrBusy: the CQ is full; the reaper drains it.
				runtime.Gosched()
			}
		}
		br.submitting.Store(false)
	}
}

func (br *blockRing) close() error { return br.r.Close() }
