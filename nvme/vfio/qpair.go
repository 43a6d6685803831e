package vfio

// qpair.go is the data path: an I/O queue pair owned by one poller, with a
// non-blocking burst API in the shape of the nvme package's io_uring
// backend (Submit a batch, Poll for completions, no goroutines, no
// interrupts, no allocation per request).
//
//	Submit ─► slot (command id) ─► PRPs ─► sqe ─► one doorbell per batch
//	Poll   ◄─ phase-bit scan of the CQ ◄─ one CQ doorbell per batch
//	          + a deadline scan for commands past their timeout

import (
	"fmt"
	"time"
	"unsafe"
)

// Op is a data-path operation.
type Op uint8

// Data-path operations.
const (
	// OpRead reads len(Buf) bytes at Offset into Buf.
	OpRead Op = iota + 1
	// OpWrite writes Buf at Offset.
	OpWrite
	// OpFlush makes earlier completed writes durable; Buf and Offset unused.
	OpFlush
)

// Request is one data-path request. Offset and len(Buf) are multiples of
// the namespace's LBA size; Buf's address is 4-byte aligned and stays
// untouched until the request's Completion is polled. Buffers from
// AllocDMA or RegisterBuffer need no per-request mapping.
type Request struct {
	Op     Op
	Offset uint64
	Buf    []byte
	// User comes back unchanged in the Completion.
	User uint64
}

// Completion reports a finished request.
type Completion struct {
	User uint64
	// Err is nil on success; ErrStatus (with Status set), ErrTimeout,
	// ErrFatal, ErrReset or ErrClosed otherwise.
	Err    error
	Status Status
}

// slot states.
const (
	slotFree      = iota
	slotBusy      // the controller owns the command; the request is live
	slotAbandoned // the request was completed early (timeout, fatal); the controller may still own the command
)

// slot is one command id. A request larger than the controller's transfer
// limit takes several slots; the first (the parent) carries the request.
type slot struct {
	state    uint8
	parent   uint16
	pending  int32  // parent: commands of the request the controller still owns
	status   Status // parent: first error status of the request
	user     uint64
	deadline int64  // parent: ns since QueuePair.epoch
	mapIOVA  uint64 // parent: transient mapping to undo at completion
	mapSize  uint64
	prp      []uint64 // this command's PRP list page
	prpIOVA  uint64
}

// QueuePair is one I/O submission/completion queue pair. It is not
// goroutine-safe: one poller owns it.
type QueuePair struct {
	c         *Controller
	q         *queue
	prpMem    []byte
	slots     []slot
	free      []uint16
	inflight  int
	deferred  []Completion // completions produced outside the CQ (timeouts, resets)
	epoch     time.Time
	timeoutNs int64
	nextScan  int64
	closed    bool
	nsid      uint32
	lbaMask   uint64
	capacity  uint64
	xferMax   int
	// holdDoorbell keeps Submit from ringing the SQ doorbell: tests use it
	// to make commands the controller never sees, then time out.
	holdDoorbell bool
}

// NewQueuePair creates an I/O completion queue (interrupts disabled) and
// an I/O submission queue bound to it, each of Options.Entries entries.
func (c *Controller) NewQueuePair() (*QueuePair, error) {
	entries := min(c.opts.Entries, c.id.QueueEntriesMax)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("vfio %s: new queue pair: %w", c.addr, ErrClosed)
	}
	qid := uint16(0)
	for i := 1; i <= c.maxPairs; i++ {
		if !c.qids[i] {
			qid = uint16(i)
			break
		}
	}
	if qid == 0 {
		return nil, fmt.Errorf("vfio %s: all %d I/O queue pairs the controller granted are in use: %w", c.addr, c.maxPairs, ErrQueueFull)
	}
	c.qids[qid] = true // reserved while c.mu is dropped to allocate
	c.mu.Unlock()
	q, err := c.newQueue(qid, entries)
	var prpMem []byte
	if err == nil {
		prpMem, err = c.AllocDMA((entries - 1) * pageBytes)
	}
	c.mu.Lock()
	if err == nil {
		err = c.createIOQueuesLocked(q)
	}
	if err != nil {
		c.qids[qid] = false
		if q != nil {
			c.unmapRegionLocked(addrOf(q.sqMem))
			c.unmapRegionLocked(addrOf(q.cqMem))
		}
		if prpMem != nil {
			c.unmapRegionLocked(addrOf(prpMem))
		}
		return nil, err
	}
	p := &QueuePair{
		c: c, q: q, prpMem: prpMem,
		slots:     make([]slot, entries-1),
		free:      make([]uint16, 0, entries-1),
		deferred:  make([]Completion, 0, entries),
		epoch:     time.Now(),
		timeoutNs: int64(c.opts.IOTimeout),
		nsid:      c.id.Namespace,
		lbaMask:   uint64(c.id.LBABytes - 1),
		capacity:  c.id.CapacityBytes,
		xferMax:   c.id.MaxTransferBytes,
	}
	prpBase, _ := c.regions.lookup(addrOf(prpMem), len(prpMem))
	for i := range p.slots {
		page := prpMem[i*pageBytes : (i+1)*pageBytes]
		p.slots[i].prp = unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(page))), pageBytes/8)
		p.slots[i].prpIOVA = prpBase + uint64(i*pageBytes)
	}
	p.resetSlots()
	c.pairs[qid] = p
	return p, nil
}

func (c *Controller) createIOQueuesLocked(q *queue) error {
	size := uint32(q.entries-1) << 16
	// Physically contiguous (PC=1), interrupts disabled (IEN=0).
	if _, err := c.adminCmd(sqe{cdw0: adminCreateCQ, prp1: q.cqIOVA, cdw10: size | uint32(q.id), cdw11: 1}, c.opts.AdminTimeout); err != nil {
		return fmt.Errorf("vfio %s: create I/O completion queue %d: %w", c.addr, q.id, err)
	}
	if _, err := c.adminCmd(sqe{cdw0: adminCreateSQ, prp1: q.sqIOVA, cdw10: size | uint32(q.id), cdw11: uint32(q.id)<<16 | 1}, c.opts.AdminTimeout); err != nil {
		c.adminCmd(sqe{cdw0: adminDeleteCQ, cdw10: uint32(q.id)}, c.opts.AdminTimeout)
		return fmt.Errorf("vfio %s: create I/O submission queue %d: %w", c.addr, q.id, err)
	}
	return nil
}

// Close deletes the queue pair on the controller and frees its memory.
// Requests still in flight complete with ErrClosed (not delivered).
func (p *QueuePair) Close() error {
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	if !c.closed && !c.fatal.Load() {
		c.adminCmd(sqe{cdw0: adminDeleteSQ, cdw10: uint32(p.q.id)}, c.opts.AdminTimeout)
		c.adminCmd(sqe{cdw0: adminDeleteCQ, cdw10: uint32(p.q.id)}, c.opts.AdminTimeout)
	}
	p.abortAll(ErrClosed)
	delete(c.pairs, p.q.id)
	c.qids[p.q.id] = false
	if !c.closed {
		for _, m := range [][]byte{p.q.sqMem, p.q.cqMem, p.prpMem} {
			c.unmapRegionLocked(addrOf(m))
		}
	}
	return nil
}

// ID returns the queue id on the controller (1..).
func (p *QueuePair) ID() uint16 { return p.q.id }

// Depth is the most commands the pair holds in flight at once.
func (p *QueuePair) Depth() int { return len(p.slots) }

// Inflight is the number of requests submitted and not yet polled.
func (p *QueuePair) Inflight() int { return p.inflight }

// Ready reports, without consuming anything, whether Poll would return a
// completion now (it also runs the timeout scan when one is due), so a
// caller can wait for work without taking it.
func (p *QueuePair) Ready() bool {
	if now := p.now(); now >= p.nextScan && p.inflight > 0 {
		p.scan(now)
	}
	if len(p.deferred) > 0 {
		return true
	}
	_, ok := p.q.peek()
	return ok
}

// PollFd returns -1: completions arrive without interrupts, so there is
// nothing to wait on; the owner polls.
func (p *QueuePair) PollFd() int { return -1 }

func (p *QueuePair) now() int64 { return int64(time.Since(p.epoch)) }

func (p *QueuePair) resetSlots() {
	p.free = p.free[:0]
	for i := len(p.slots) - 1; i >= 0; i-- {
		s := &p.slots[i]
		s.state, s.pending, s.status, s.mapSize = slotFree, 0, 0, 0
		p.free = append(p.free, uint16(i))
	}
	p.inflight = 0
}

// abortAll ends every request with err (delivered by the next Poll) and
// frees every slot. Only valid when the controller no longer owns the
// commands: queue deleted, controller disabled.
func (p *QueuePair) abortAll(err error) {
	for i := range p.slots {
		s := &p.slots[i]
		if s.state == slotFree || s.parent != uint16(i) {
			continue
		}
		if s.state == slotBusy {
			p.deferred = append(p.deferred, Completion{User: s.user, Err: err})
		}
		if s.mapSize > 0 {
			p.c.dev.unmapDMA(s.mapIOVA, s.mapSize)
			p.c.iova.release(s.mapIOVA, s.mapSize)
		}
	}
	p.resetSlots()
}

// commandsFor is the number of commands request r needs.
func (p *QueuePair) commandsFor(r *Request) int {
	if r.Op == OpFlush {
		return 1
	}
	return (len(r.Buf) + p.xferMax - 1) / p.xferMax
}

func (p *QueuePair) check(r *Request) error {
	switch r.Op {
	case OpFlush:
		return nil
	case OpRead, OpWrite:
	default:
		return fmt.Errorf("vfio %s: request op %d: want OpRead, OpWrite or OpFlush: %w", p.c.addr, r.Op, ErrInvalid)
	}
	n := uint64(len(r.Buf))
	switch {
	case n == 0 || n&p.lbaMask != 0 || r.Offset&p.lbaMask != 0:
		return fmt.Errorf("vfio %s: request offset %d length %d: want non-zero multiples of the %d-byte LBA: %w",
			p.c.addr, r.Offset, n, p.lbaMask+1, ErrInvalid)
	case r.Offset > p.capacity || n > p.capacity-r.Offset:
		return fmt.Errorf("vfio %s: request offset %d length %d beyond the namespace's %d bytes: %w",
			p.c.addr, r.Offset, n, p.capacity, ErrInvalid)
	case addrOf(r.Buf)&3 != 0:
		return fmt.Errorf("vfio %s: buffer at %#x is not 4-byte aligned: %w", p.c.addr, addrOf(r.Buf), ErrInvalid)
	}
	return nil
}

// Submit queues as many of reqs as there are free slots for and rings the
// doorbell once. It returns how many it took (the rest: poll and retry)
// and an error only for reqs[n] when that request itself is invalid.
func (p *QueuePair) Submit(reqs []Request) (int, error) {
	if p.closed {
		return 0, fmt.Errorf("vfio %s queue %d: %w", p.c.addr, p.q.id, ErrClosed)
	}
	if p.c.fatal.Load() {
		return 0, fmt.Errorf("vfio %s queue %d: %w (call Reset)", p.c.addr, p.q.id, ErrFatal)
	}
	var err error
	n := 0
	deadline := p.now() + p.timeoutNs
	for i := range reqs {
		r := &reqs[i]
		cmds := p.commandsFor(r)
		if cmds > len(p.free) || cmds > p.q.sqFree() {
			break
		}
		if err = p.check(r); err != nil {
			break
		}
		if err = p.push(r, cmds, deadline); err != nil {
			break
		}
		n++
	}
	if n > 0 && !p.holdDoorbell {
		p.q.ringSQ()
	}
	return n, err
}

func (p *QueuePair) take() uint16 {
	cid := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	return cid
}

func (p *QueuePair) release(cid uint16) {
	p.slots[cid].state = slotFree
	p.free = append(p.free, cid)
}

// push writes the commands of one request.
func (p *QueuePair) push(r *Request, cmds int, deadline int64) error {
	var iova, mapIOVA, mapSize uint64
	if r.Op != OpFlush {
		var ok bool
		iova, ok = p.c.regions.lookup(addrOf(r.Buf), len(r.Buf))
		if !ok {
			var err error
			iova, mapIOVA, mapSize, err = p.c.mapTransient(addrOf(r.Buf), len(r.Buf))
			if err != nil {
				return err
			}
		}
	}
	parent := p.take()
	ps := &p.slots[parent]
	ps.state, ps.parent, ps.pending, ps.status = slotBusy, parent, int32(cmds), StatusSuccess
	ps.user, ps.deadline, ps.mapIOVA, ps.mapSize = r.User, deadline, mapIOVA, mapSize
	p.inflight++
	if r.Op == OpFlush {
		p.q.push(&sqe{cdw0: nvmFlush | uint32(parent)<<16, nsid: p.nsid})
		return nil
	}
	opcode := uint32(nvmRead)
	if r.Op == OpWrite {
		opcode = nvmWrite
	}
	lbaShift := trailingOnes(p.lbaMask)
	for k := 0; k < cmds; k++ {
		cid := parent
		if k > 0 {
			cid = p.take()
			cs := &p.slots[cid]
			cs.state, cs.parent = slotBusy, parent
		}
		off := k * p.xferMax
		n := min(len(r.Buf)-off, p.xferMax)
		lba := (r.Offset + uint64(off)) >> lbaShift
		cmd := sqe{
			cdw0:  opcode | uint32(cid)<<16,
			nsid:  p.nsid,
			cdw10: uint32(lba),
			cdw11: uint32(lba >> 32),
			cdw12: uint32(n>>lbaShift) - 1,
		}
		p.setPRP(&cmd, &p.slots[cid], iova+uint64(off), n)
		p.q.push(&cmd)
	}
	return nil
}

// setPRP describes [iova, iova+n) with PRP1/PRP2, using the slot's PRP
// list page when the transfer touches more than two memory pages.
func (p *QueuePair) setPRP(cmd *sqe, s *slot, iova uint64, n int) {
	cmd.prp1 = iova
	first := int(pageBytes - iova%pageBytes)
	if n <= first {
		return
	}
	next := iova&^(pageBytes-1) + pageBytes
	rest := n - first
	if rest <= pageBytes {
		cmd.prp2 = next
		return
	}
	k := 0
	for off := 0; off < rest; off += pageBytes {
		s.prp[k] = next + uint64(off)
		k++
	}
	cmd.prp2 = s.prpIOVA
}

func trailingOnes(m uint64) uint {
	n := uint(0)
	for m&1 == 1 {
		n++
		m >>= 1
	}
	return n
}

// Poll fills out with finished requests and returns how many. It never
// blocks. Requests past their timeout complete with ErrTimeout; when the
// controller reports fatal status every request completes with ErrFatal.
func (p *QueuePair) Poll(out []Completion) int {
	if now := p.now(); now >= p.nextScan && p.inflight > 0 {
		p.scan(now)
	}
	n := 0
	if len(p.deferred) > 0 {
		k := copy(out, p.deferred)
		n += k
		p.deferred = p.deferred[:copy(p.deferred, p.deferred[k:])]
	}
	reaped := false
	for n < len(out) {
		e, ok := p.q.peek()
		if !ok {
			break
		}
		p.q.pop(e)
		reaped = true
		if int(e.cid) >= len(p.slots) || p.slots[e.cid].state == slotFree {
			continue // not ours: a controller bug; nothing to complete
		}
		s := &p.slots[e.cid]
		pid := s.parent
		ps := &p.slots[pid]
		if st := statusOf(e.status); st != StatusSuccess && ps.status == StatusSuccess {
			ps.status = st
		}
		ps.pending--
		if e.cid != pid {
			p.release(e.cid)
		}
		if ps.pending > 0 {
			continue
		}
		if ps.mapSize > 0 {
			p.c.unmapTransient(ps.mapIOVA, ps.mapSize)
			ps.mapSize = 0
		}
		if ps.state == slotBusy {
			out[n] = Completion{User: ps.user, Status: ps.status}
			if ps.status != StatusSuccess {
				out[n].Err = ErrStatus
			}
			n++
			p.inflight--
		}
		p.release(pid)
	}
	if reaped {
		p.q.ringCQ()
	}
	return n
}

// scanIntervalMax bounds how often Poll looks for expired commands.
const scanIntervalMax = 10 * time.Millisecond

// scan completes requests past their deadline with ErrTimeout, or every
// request with ErrFatal when the controller reports fatal status. Their
// slots stay abandoned until the controller completes the commands or a
// Reset frees them: a command id is never reused while the controller
// may still write its completion.
func (p *QueuePair) scan(now int64) {
	p.nextScan = now + min(p.timeoutNs/4, int64(scanIntervalMax))
	csts := p.c.reg32(regCSTS)
	fatal := csts&cstsCFS != 0 || csts == 0xffffffff
	if fatal {
		p.c.fatal.Store(true)
	}
	for i := range p.slots {
		s := &p.slots[i]
		if s.state != slotBusy || s.parent != uint16(i) {
			continue
		}
		if !fatal && s.deadline > now {
			continue
		}
		err := ErrTimeout
		if fatal {
			err = ErrFatal
		}
		s.state = slotAbandoned
		p.inflight--
		p.deferred = append(p.deferred, Completion{User: s.user, Err: err})
	}
}
