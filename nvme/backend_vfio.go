package nvme

// backend_vfio.go serves a drive named "vfio:<pci address>" through the
// userspace NVMe driver in nvme/vfio: Open binds the controller to vfio-pci
// (driver_override), the drive's raw IO runs on one I/O queue pair per
// path (the poll-mode API's and a mutex-guarded one for the blocking API),
// and Close gives the controller back to the kernel nvme driver.
//
//	Drive.Submit/Poll ─► rawReq ─► vfioBackend.submit/poll ─► vfio.QueuePair (poller's own)
//	Drive.ReadBlocks…  ─► do()   ─► vfio.QueuePair (shared, mutex) ─► spin on Poll
//
// NVMe has no linked commands: a linked rawReq (a flush's table writes
// before its fsync) is issued alone and the requests behind it are held
// until it completes, then issued, or cancelled with ECANCELED if it failed.

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/weft-fs/weft/nvme/vfio"
)

// VFIOPrefix starts a drive name served by the vfio backend:
// "vfio:0000:00:04.0".
const VFIOPrefix = "vfio:"

// vfioTarget is an NVMe controller taken over through vfio-pci.
type vfioTarget struct {
	bind *vfio.Binding
	ctrl *vfio.Controller
	io   *vfioBackend // blocking path, shared by do()
}

// openVFIOTarget binds the controller named by path to vfio-pci and
// brings it up. The target has no file descriptor (fd -1); its raw IO runs
// on a queue pair of its own.
func openVFIOTarget(path string, readOnly bool) (*target, error) {
	addr := strings.TrimPrefix(path, VFIOPrefix)
	if err := checkVFIOHost(); err != nil {
		return nil, fmt.Errorf("open drive %s: %w", path, err)
	}
	bind, err := vfio.Bind("", addr)
	if err != nil {
		return nil, fmt.Errorf("open drive %s: %w", path, vfioErr(err))
	}
	ctrl, err := vfio.Open(addr, vfio.Options{})
	if err != nil {
		bind.Release()
		return nil, fmt.Errorf("open drive %s: %w", path, vfioErr(err))
	}
	v := &vfioTarget{bind: bind, ctrl: ctrl}
	id := ctrl.Identity()
	t := &target{path: path, fd: -1, logical: id.LBABytes, capacity: id.CapacityBytes, direct: true, readOnly: readOnly, vfio: v}
	if BlockSize%t.logical != 0 {
		v.close()
		return nil, fmt.Errorf("open drive %s: LBA size %d does not divide %d: %w", path, t.logical, BlockSize, ErrMisaligned)
	}
	if v.io, err = newVFIOBackend(ctrl, 1); err != nil {
		v.close()
		return nil, fmt.Errorf("open drive %s: %w", path, err)
	}
	return t, nil
}

// rawBackend is the synchronous IO path Format and Open use before (and
// beside) the drive's own backend.
func (t *target) rawBackend() backend {
	if t.vfio != nil {
		return t.vfio.io
	}
	return newSyncBackend(t.fd, 1)
}

// vfioBackend gives a vfio target's Drive its own queue pair.
func (t *target) vfioBackend(o Options) (backend, error) {
	if o.Backend != BackendAuto && o.Backend != BackendVFIO {
		return nil, fmt.Errorf("drive %s is a vfio controller; backend %q cannot serve it (want %q or auto): %w", t.path, o.Backend, BackendVFIO, ErrUnsupported)
	}
	if o.PCIAddress != "" && VFIOPrefix+o.PCIAddress != t.path {
		return nil, fmt.Errorf("drive %s: Options.PCIAddress %s names another controller: %w", t.path, o.PCIAddress, ErrUnsupported)
	}
	b, err := newVFIOBackend(t.vfio.ctrl, entriesOf(o))
	if err != nil {
		return nil, err
	}
	b.blocking = t.vfio.io // do() must not race the poller on b's queue pair
	return b, nil
}

// checkVFIOHost names what the host lacks for vfio, without the binding
// checks checkVFIO does (Bind does the binding).
func checkVFIOHost() error {
	if m := VFIOAvailable().Missing(); m != "" {
		return fmt.Errorf("vfio backend: this host lacks %s: %w", m, ErrUnsupported)
	}
	return nil
}

func vfioErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, vfio.ErrBusy):
		return fmt.Errorf("%v: %w", err, ErrBusy)
	case errors.Is(err, vfio.ErrNoVFIO), errors.Is(err, vfio.ErrNotNVMe):
		return fmt.Errorf("%v: %w", err, ErrUnsupported)
	}
	return err
}

// close stops the controller and gives it back to its kernel driver.
func (v *vfioTarget) close() error {
	var errs []error
	if v.io != nil {
		errs = append(errs, v.io.close())
	}
	errs = append(errs, v.ctrl.Close(), v.bind.Release())
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// vfioSlot is one raw request in flight on the controller.
type vfioSlot struct {
	ud   uint64
	n    int32
	link bool
}

// vfioBackend is the backend interface over one vfio queue pair.
type vfioBackend struct {
	ctrl  *vfio.Controller
	qp    *vfio.QueuePair
	mu    sync.Mutex // serialises do() callers on the shared queue pair
	slots []vfioSlot
	free  []uint32
	reqs  []vfio.Request
	outs  []vfio.Completion
	held  []rawReq        // behind a linked request in flight, in order
	chain bool            // a linked request is in flight: held ones wait
	done  []rawCompletion // cancelled chain members, delivered by poll
	owned bool            // close() closes the queue pair
	// blocking, when set, serves do(): the Drive's blocking API runs on the
	// target's shared queue pair while a poller owns this one.
	blocking *vfioBackend
	// registered buffers stay mapped until close.
	registered [][]byte
}

func newVFIOBackend(ctrl *vfio.Controller, entries int) (*vfioBackend, error) {
	qp, err := ctrl.NewQueuePair()
	if err != nil {
		return nil, err
	}
	depth := min(qp.Depth(), max(entries, 1))
	b := &vfioBackend{
		ctrl: ctrl, qp: qp, owned: true,
		slots: make([]vfioSlot, depth),
		free:  make([]uint32, 0, depth),
		reqs:  make([]vfio.Request, 0, depth),
		outs:  make([]vfio.Completion, depth),
		held:  make([]rawReq, 0, depth),
		done:  make([]rawCompletion, 0, depth),
	}
	for i := depth - 1; i >= 0; i-- {
		b.free = append(b.free, uint32(i))
	}
	return b, nil
}

func (b *vfioBackend) name() string { return string(BackendVFIO) }
func (b *vfioBackend) pollFd() int  { return -1 }

// space counts what submit accepts now: held requests occupy room too,
// so the caller never gets more in flight than the ring depth.
func (b *vfioBackend) space() int { return len(b.free) - len(b.held) - len(b.done) }

func (b *vfioBackend) close() error {
	for _, buf := range b.registered {
		b.ctrl.UnregisterBuffer(buf)
	}
	b.registered = nil
	if b.owned {
		return b.qp.Close()
	}
	return nil
}

func (b *vfioBackend) submit(reqs []rawReq) (int, error) {
	n := 0
	for ; n < len(reqs) && b.space() > 0; n++ {
		if b.chain {
			b.held = append(b.held, reqs[n])
			continue
		}
		b.reqs = append(b.reqs, b.prepare(&reqs[n]))
		if reqs[n].link {
			b.chain = true
		}
	}
	return n, b.flush()
}

// prepare takes a slot for r and returns the vfio request for it.
func (b *vfioBackend) prepare(r *rawReq) vfio.Request {
	i := b.free[len(b.free)-1]
	b.free = b.free[:len(b.free)-1]
	b.slots[i] = vfioSlot{ud: r.ud, n: int32(len(r.buf)), link: r.link}
	op := vfio.OpRead
	switch r.op {
	case opWrite:
		op = vfio.OpWrite
	case opFsync:
		op = vfio.OpFlush
	}
	return vfio.Request{Op: op, Offset: uint64(r.off), Buf: r.buf, User: uint64(i)}
}

// flush hands the prepared requests to the queue pair. There is always
// room: slots are never more than the queue pair's depth.
func (b *vfioBackend) flush() error {
	reqs := b.reqs
	for len(reqs) > 0 {
		n, err := b.qp.Submit(reqs)
		if err != nil {
			// Complete the refused request and the rest as failed.
			for _, r := range reqs[n:] {
				b.finish(uint32(r.User), -int32(unix.EIO))
			}
			b.reqs = b.reqs[:0]
			return err
		}
		reqs = reqs[n:]
		if n == 0 {
			runtime.Gosched()
		}
	}
	b.reqs = b.reqs[:0]
	return nil
}

// finish records slot i's result for poll.
func (b *vfioBackend) finish(i uint32, res int32) {
	b.done = append(b.done, rawCompletion{ud: b.slots[i].ud, res: res})
	b.free = append(b.free, i)
}

func (b *vfioBackend) poll(out []rawCompletion) int {
	k := 0
	for k < len(out) && len(b.done) > 0 {
		m := copy(out[k:], b.done)
		k += m
		b.done = b.done[:copy(b.done, b.done[m:])]
	}
	if k == len(out) {
		return k
	}
	got := b.qp.Poll(b.outs[:min(len(b.outs), len(out)-k)])
	for _, c := range b.outs[:got] {
		i := uint32(c.User)
		s := b.slots[i]
		res := s.n // bytes moved; 0 for a flush
		if c.Err != nil {
			res = -int32(vfioErrno(c.Err))
		}
		out[k] = rawCompletion{ud: s.ud, res: res}
		k++
		b.free = append(b.free, i)
		if s.link {
			b.release(res >= 0)
		}
	}
	return k
}

// release ends a chain's wait: the held requests are issued up to and
// including the next linked one, or cancelled when the link failed.
func (b *vfioBackend) release(ok bool) {
	b.chain = false
	held := b.held
	i := 0
	for ; i < len(held); i++ {
		r := &held[i]
		if !ok {
			// The rest of the failed chain is cancelled; what follows the
			// chain's last (unlinked) request runs normally.
			b.done = append(b.done, rawCompletion{ud: r.ud, res: -int32(unix.ECANCELED)})
			if !r.link {
				ok = true
			}
			continue
		}
		b.reqs = append(b.reqs, b.prepare(r))
		if r.link {
			b.chain = true
			i++
			break
		}
	}
	b.held = b.held[:copy(b.held, held[i:])]
	b.flush()
}

// vfioErrno maps a completion error to the errno the other backends report.
func vfioErrno(err error) unix.Errno {
	switch {
	case errors.Is(err, vfio.ErrTimeout):
		return unix.ETIMEDOUT
	case errors.Is(err, vfio.ErrReset), errors.Is(err, vfio.ErrClosed):
		return unix.ECANCELED
	}
	return unix.EIO
}

// wait blocks until a completion is ready or nothing is in flight.
func (b *vfioBackend) wait() error {
	for len(b.done) == 0 && b.qp.Inflight() > 0 && !b.qp.Ready() {
		runtime.Gosched()
	}
	return nil
}

// do runs one request on the shared queue pair and spins until it is done.
func (b *vfioBackend) do(op ioOp, off int64, buf []byte) error {
	if b.blocking != nil {
		return b.blocking.do(op, off, buf)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.submit([]rawReq{{op: op, off: off, buf: buf}}); err != nil {
		return err
	}
	var out [1]rawCompletion
	for {
		if b.poll(out[:]) == 1 {
			if out[0].res < 0 {
				return fmt.Errorf("vfio %s: %w", b.ctrl.Addr(), unix.Errno(-out[0].res))
			}
			return nil
		}
		b.wait()
	}
}

// registerBuffers maps bufs into the controller's IOMMU once, so poll-mode
// IO through them needs no map/unmap per request (the vfio twin of
// io_uring's registered buffers; Drive.RegisterBuffers calls it).
func (b *vfioBackend) registerBuffers(bufs [][]byte) error {
	for i, buf := range bufs {
		if err := b.ctrl.RegisterBuffer(buf); err != nil {
			for _, done := range bufs[:i] {
				b.ctrl.UnregisterBuffer(done)
			}
			return err
		}
		b.registered = append(b.registered, buf)
	}
	return nil
}
