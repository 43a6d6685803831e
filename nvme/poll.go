package nvme

import (
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Op is a poll-mode request type.
type Op uint8

// Poll-mode operations.
const (
	// OpRead reads Buf from data block Block and verifies checksums.
	OpRead Op = iota
	// OpWrite writes Buf at data block Block and records checksums.
	OpWrite
	// OpFlush makes every write whose completion was polled before this
	// request was submitted durable, with its checksums (Block and Buf
	// are ignored). It writes the dirty checksum table blocks linked to an
	// fsync, so it occupies several ring entries.
	OpFlush
)

// Request is one poll-mode request. Buf must stay untouched and reachable
// until its Completion is polled.
type Request struct {
	Op    Op     // OpRead, OpWrite or OpFlush
	Block uint64 // first data block
	Buf   []byte // BlockSize-aligned, a multiple of BlockSize, at most RequestBytesMax
	Tag   uint64 // opaque, returned in the Completion
}

// Completion reports a finished Request.
type Completion struct {
	// Tag is the finished Request's Tag.
	Tag uint64
	// Err is nil on success; otherwise it wraps ErrCorrupt (checksum
	// mismatch, Buf cleared), ErrReadOnly or the OS error.
	Err error
}

// pollSlot tracks one in-flight poll-mode request.
type pollSlot struct {
	req     Request
	pending int32 // raw operations not yet completed
	res     int32 // first failure (-errno), or 0
	short   bool
	tbFirst int // OpFlush: the table blocks it writes, to re-mark on failure
	tbEnd   int
}

// pollState is the Drive's poll-mode bookkeeping, preallocated at Open.
type pollState struct {
	slots []pollSlot
	free  []uint32 // stack of free slot indices
	raw   []rawReq
	out   []rawCompletion
	sums  []uint32 // per slot, RequestBytesMax/BlockSize checksums of a write
	wrote []uint32 // slots of the writes in the current Submit burst
}

// sumsPerSlot is the most checksums one request needs.
const sumsPerSlot = RequestBytesMax / BlockSize

func (p *pollState) slotSums(s uint32, n int) []uint32 {
	return p.sums[int(s)*sumsPerSlot : int(s)*sumsPerSlot+n]
}

func (p *pollState) init(entries int) {
	p.slots = make([]pollSlot, entries)
	p.free = make([]uint32, entries)
	for i := range p.free {
		p.free[i] = uint32(entries - 1 - i)
	}
	p.raw = make([]rawReq, 0, entries)
	p.out = make([]rawCompletion, entries)
	p.sums = make([]uint32, entries*sumsPerSlot)
	p.wrote = make([]uint32, 0, entries)
}

// Submit starts reqs in order without blocking and returns how many were
// accepted; fewer than len(reqs) means the ring is full (Poll, then retry
// the rest). An invalid request stops the burst: Submit returns the count
// accepted before it and an error naming it. Submit never allocates on
// success.
func (d *Drive) Submit(reqs []Request) (int, error) {
	if d.state.Load() != 0 {
		return 0, fmt.Errorf("submit to drive %s: %w", d.t.path, ErrClosed)
	}
	p := &d.poll
	p.raw = p.raw[:0]
	p.wrote = p.wrote[:0]
	space := d.be.space()
	n := 0
	var err error
	for ; n < len(reqs); n++ {
		r := &reqs[n]
		if len(p.free) == 0 {
			break
		}
		if r.Op == OpFlush {
			if d.ro {
				err = fmt.Errorf("flush drive %s: opened read-only: %w", d.t.path, ErrReadOnly)
				break
			}
			if !d.addFlush(r, space-len(p.raw)) {
				break
			}
			continue
		}
		if r.Op != OpRead && r.Op != OpWrite {
			err = fmt.Errorf("submit to drive %s: request %d has op %d, want OpRead, OpWrite or OpFlush", d.t.path, n, r.Op)
			break
		}
		if err = d.check("submit to", r.Block, r.Buf, r.Op == OpWrite); err != nil {
			break
		}
		if len(p.raw) >= space {
			break
		}
		s := p.take(r)
		op := opRead
		if r.Op == OpWrite {
			op = opWrite
			p.wrote = append(p.wrote, s)
		}
		p.raw = append(p.raw, rawReq{op: op, off: d.dataOff(r.Block), buf: r.Buf, ud: uint64(s)})
	}
	if len(p.raw) > 0 {
		// Backends accept every request within space(); the ring entries
		// are reserved, so an enter error is transient and retried by the
		// next Submit or Poll.
		if k, serr := d.be.submit(p.raw); k != len(p.raw) {
			panic(fmt.Sprintf("nvme: backend accepted %d of %d requests within its space: %v", k, len(p.raw), serr))
		}
	}
	// Checksum the writes now, while the device moves their data; Poll
	// stores the sums in the table once a write succeeded.
	for _, s := range p.wrote {
		r := &p.slots[s].req
		sums(r.Block, r.Buf, p.slotSums(s, len(r.Buf)/BlockSize))
	}
	return n, err
}

// addFlush queues the table writes and the fsync of an OpFlush if they fit
// in room ring entries.
func (d *Drive) addFlush(r *Request, room int) bool {
	p := &d.poll
	// Find the dirty span without clearing it yet: one write covering the
	// first to the last dirty table block keeps the flush to two entries.
	first, last := -1, -1
	for i := range d.tab.dirty {
		if atomic.LoadUint32(&d.tab.dirty[i]) != 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	need := 1
	if first >= 0 {
		need += (last - first + RequestBytesMax/BlockSize) / (RequestBytesMax / BlockSize)
	}
	if need > room {
		return false
	}
	s := p.take(r)
	sl := &p.slots[s]
	sl.tbFirst, sl.tbEnd = first, last+1
	if first >= 0 {
		for i := first; i <= last; i++ {
			d.tab.takeDirty(i)
		}
		for tb := first; tb <= last; tb += RequestBytesMax / BlockSize {
			end := min(last+1, tb+RequestBytesMax/BlockSize)
			p.raw = append(p.raw, rawReq{op: opWrite, link: true, off: int64((d.tableStart + uint64(tb)) * BlockSize),
				buf: d.tab.raw[tb*BlockSize : end*BlockSize], ud: uint64(s), table: true})
			sl.pending++
		}
	}
	p.raw = append(p.raw, rawReq{op: opFsync, ud: uint64(s)})
	return true
}

func (p *pollState) take(r *Request) uint32 {
	s := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	p.slots[s] = pollSlot{req: *r, pending: 1, tbFirst: -1, tbEnd: -1}
	return s
}

// Poll moves up to len(out) finished requests into out without blocking and
// returns how many. It verifies read checksums and records write checksums
// on the caller's goroutine. Poll never allocates when requests succeed.
func (d *Drive) Poll(out []Completion) int {
	if d.state.Load() != 0 {
		return 0
	}
	p := &d.poll
	raw := p.out[:min(len(out), len(p.out))]
	k := d.be.poll(raw)
	n := 0
	for _, c := range raw[:k] {
		sl := &p.slots[uint32(c.ud)]
		if c.res < 0 && sl.res == 0 {
			sl.res = c.res
		} else if c.res >= 0 && sl.req.Op != OpFlush && int(c.res) != len(sl.req.Buf) {
			sl.short = true
		}
		sl.pending--
		if sl.pending > 0 {
			continue
		}
		out[n] = Completion{Tag: sl.req.Tag, Err: d.finish(sl, p.slotSums(uint32(c.ud), len(sl.req.Buf)/BlockSize))}
		n++
		s := uint32(c.ud)
		p.slots[s] = pollSlot{}
		p.free = append(p.free, s)
	}
	return n
}

// finish turns a slot's raw results into the request's outcome.
func (d *Drive) finish(sl *pollSlot, sums []uint32) error {
	r := &sl.req
	var err error
	switch {
	case sl.res < 0:
		err = ioErr(unix.Errno(-sl.res))
	case sl.short:
		err = errShortIO
	}
	switch r.Op {
	case OpRead:
		if err != nil {
			clear(r.Buf)
			return fmt.Errorf("read drive %s: data block %d: %w", d.t.path, r.Block, err)
		}
		return d.tab.verify(d.t.path, r.Block, r.Buf)
	case OpWrite:
		if err != nil {
			return fmt.Errorf("write drive %s: data block %d: %w", d.t.path, r.Block, err)
		}
		d.tab.store(r.Block, sums)
		return nil
	default:
		if err != nil {
			for tb := max(sl.tbFirst, 0); tb < sl.tbEnd; tb++ {
				d.tab.markDirty(tb)
			}
			return fmt.Errorf("flush drive %s: %w", d.t.path, err)
		}
		return nil
	}
}

// PollFd returns a file descriptor that becomes readable when completions
// are pending (an eventfd registered with the poll ring on first call), for
// pollers that sleep in epoll between bursts: read its 8-byte counter to
// re-arm it, then Poll. It is -1 when the backend has none (the sync
// backend completes requests inside Submit, so there is nothing to wait
// for).
func (d *Drive) PollFd() int { return d.be.pollFd() }

// Wait blocks until at least one submitted poll-mode request has finished,
// in the Drive's completion mode. It is for tools and tests that use the
// burst API without a poller runtime.
func (d *Drive) Wait() error { return d.be.wait() }

// RegisterBuffers registers bufs (each BlockSize-aligned, e.g. from
// AlignedBuffer) with the kernel once, so requests whose Buf lies inside
// one of them use READ_FIXED/WRITE_FIXED and skip per-request page
// pinning. Call it once, before IO, with no request in flight. The
// sync backend ignores it.
func (d *Drive) RegisterBuffers(bufs [][]byte) error {
	for i, b := range bufs {
		if !isAligned(b) {
			return fmt.Errorf("register buffers on drive %s: buffer %d (%d bytes) is not %d-aligned: %w", d.t.path, i, len(b), BlockSize, ErrMisaligned)
		}
	}
	if vb, ok := d.be.(*vfioBackend); ok { // maps them into the IOMMU once (backend_vfio.go)
		if err := vb.registerBuffers(bufs); err != nil {
			return fmt.Errorf("register buffers on drive %s: %w", d.t.path, err)
		}
		return nil
	}
	ub, ok := d.be.(*uringBackend)
	if !ok {
		return nil
	}
	if err := ub.registerBuffers(bufs); err != nil {
		return fmt.Errorf("register buffers on drive %s: %w", d.t.path, err)
	}
	return nil
}
