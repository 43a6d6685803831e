package vfio

// queue.go is one submission/completion queue pair in DMA memory: the
// mechanics shared by the admin queue and the I/O queues.
//
//	sq: [ sqe | sqe | ... ]  host writes at tail, rings the SQ doorbell
//	cq: [ cqe | cqe | ... ]  controller writes; an entry is new when its
//	                         phase bit equals the expected phase, which
//	                         flips every time the head wraps.

import (
	"sync/atomic"
	"unsafe"
)

type queue struct {
	id      uint16
	entries uint16
	sqMem   []byte
	cqMem   []byte
	sq      []sqe
	cq      []cqe
	sqIOVA  uint64
	cqIOVA  uint64
	sqTail  uint16
	sqHead  uint16 // as last reported by the controller in a completion
	cqHead  uint16
	phase   uint16 // expected phase bit of the next new completion
	sqDB    *uint32
	cqDB    *uint32
}

// newQueue allocates DMA memory for a queue of entries and points it at
// the doorbells of id. It does not create the queue on the controller.
func (c *Controller) newQueue(id uint16, entries int) (*queue, error) {
	sqMem, err := c.AllocDMA(entries * sqeBytes)
	if err != nil {
		return nil, err
	}
	cqMem, err := c.AllocDMA(entries * cqeBytes)
	if err != nil {
		c.FreeDMA(sqMem)
		return nil, err
	}
	q := &queue{
		id: id, entries: uint16(entries), sqMem: sqMem, cqMem: cqMem,
		sq:   unsafe.Slice((*sqe)(unsafe.Pointer(unsafe.SliceData(sqMem))), entries),
		cq:   unsafe.Slice((*cqe)(unsafe.Pointer(unsafe.SliceData(cqMem))), entries),
		sqDB: c.doorbell(id, false), cqDB: c.doorbell(id, true),
	}
	q.sqIOVA, _ = c.regions.lookup(addrOf(sqMem), len(sqMem))
	q.cqIOVA, _ = c.regions.lookup(addrOf(cqMem), len(cqMem))
	q.clear()
	return q, nil
}

// clear returns the queue to its just-created state: indices 0, expected
// phase 1, no stale completions (the controller writes phase 1 first).
func (q *queue) clear() {
	clear(q.cqMem)
	q.sqTail, q.sqHead, q.cqHead, q.phase = 0, 0, 0, 1
}

// sqFree is the number of submission entries the host may still fill.
func (q *queue) sqFree() int {
	used := (int(q.sqTail) - int(q.sqHead) + int(q.entries)) % int(q.entries)
	return int(q.entries) - 1 - used
}

func (q *queue) push(cmd *sqe) {
	q.sq[q.sqTail] = *cmd
	q.sqTail++
	if q.sqTail == q.entries {
		q.sqTail = 0
	}
}

// ringSQ tells the controller about every entry pushed so far. The atomic
// store orders the entry writes before it (x86 stores are not reordered
// with each other, and the compiler keeps them before a sync/atomic store).
func (q *queue) ringSQ() { atomic.StoreUint32(q.sqDB, uint32(q.sqTail)) }

func (q *queue) ringCQ() { atomic.StoreUint32(q.cqDB, uint32(q.cqHead)) }

// peek returns the completion at the head if the controller has posted it.
func (q *queue) peek() (cqe, bool) {
	e := &q.cq[q.cqHead]
	// Dword 3 holds the command id and the status with the phase bit; read
	// it first and atomically, then the rest of the entry.
	dw3 := atomic.LoadUint32((*uint32)(unsafe.Pointer(&e.cid)))
	if uint16(dw3>>16)&1 != q.phase {
		return cqe{}, false
	}
	v := *e
	v.cid, v.status = uint16(dw3), uint16(dw3>>16)
	return v, true
}

// pop consumes the head completion.
func (q *queue) pop(e cqe) {
	q.sqHead = e.sqHead
	q.cqHead++
	if q.cqHead == q.entries {
		q.cqHead = 0
		q.phase ^= 1
	}
}
