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
//     callers fill SQEs under a mutex and one of them enters for everyone
//     queued meanwhile (flat combining), and one reaper goroutine — the
//     only goroutine nvme starts, and only once the blocking API is first
//     used — waits for completions in the Drive's CompletionMode and hands
//     each result to its caller by user_data.
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

// blockRing serves the blocking API: many goroutines submit, one reaper
// goroutine completes.
type blockRing struct {
	r          *uring.Ring
	be         *uringBackend
	mu         sync.Mutex // guards r.NextSQE and r.Publish
	submitting atomic.Bool
	free       chan uint32  // free waiter slots; its capacity bounds in-flight requests
	done       []chan int32 // per slot: the CQE result
	inflight   atomic.Int64
	start      sync.Once
	running    bool // set inside start: the reaper goroutine was launched
	stopped    chan struct{}
}

// closeUD marks the NOP that stops the reaper.
const closeUD = ^uint64(0)

func newBlockRing(r *uring.Ring, be *uringBackend) *blockRing {
	n := int(r.SQEntries())
	br := &blockRing{r: r, be: be, free: make(chan uint32, n), done: make([]chan int32, n), stopped: make(chan struct{})}
	for i := range n {
		br.free <- uint32(i)
		br.done[i] = make(chan int32, 1)
	}
	return br
}

func (br *blockRing) do(op ioOp, off int64, buf []byte) error {
	br.start.Do(func() {
		br.running = true
		go br.reap()
	})
	s := <-br.free
	br.mu.Lock()
	sqe := br.r.NextSQE() // never nil: unconsumed SQEs <= in-flight <= entries
	br.be.prep(sqe, op, off, buf, uint64(s))
	br.r.Publish()
	br.mu.Unlock()
	br.inflight.Add(1)
	br.kick()
	res := <-br.done[s]
	br.free <- s
	runtime.KeepAlive(buf)
	return resErr(res, len(buf), op)
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

// reap is the reaper goroutine.
func (br *blockRing) reap() {
	defer close(br.stopped)
	cqes := make([]uring.CQE, br.r.CQEntries())
	busy := func() bool { return br.inflight.Load() > 0 }
	for {
		n := br.r.Reap(cqes)
		if n == 0 {
			if err := waitRing(br.r, br.be.mode, br.be.spin, busy); err != nil && !errors.Is(err, uring.ErrBusy) {
				br.be.log.Error("nvme: waiting for completions failed", "err", err)
				time.Sleep(time.Millisecond)
			}
			continue
		}
		for _, c := range cqes[:n] {
			if c.UserData == closeUD {
				return
			}
			br.inflight.Add(-1)
			br.done[c.UserData] <- c.Res
		}
	}
}

func (br *blockRing) close() error {
	br.start.Do(func() {}) // no reaper starts after this
	if br.running {
		br.mu.Lock()
		sqe := br.r.NextSQE() // no caller is in flight at Close
		sqe.PrepNop(closeUD)
		br.r.Publish()
		br.mu.Unlock()
		br.kick()
		<-br.stopped
	}
	return br.r.Close()
}
