package proto

// ReassemblyKey identifies one message being reassembled: the peer (any
// stable number the caller picks, e.g. a session index), the request id and
// whether it is a response.
type ReassemblyKey struct {
	Peer      uint64
	RequestID uint64
	Response  bool
}

// Reassembler puts fragmented messages back together in a fixed number of
// pooled buffers. A buffer grows to the largest message it has held and is
// then reused, so steady state allocates nothing. Partial messages older
// than the timeout are dropped by Expire. Not safe for concurrent use: one
// poller owns it.
type Reassembler struct {
	slots     []reassemblySlot
	timeoutNs int64
}

type reassemblySlot struct {
	inUse      bool
	complete   bool
	key        ReassemblyKey
	msgLen     uint32
	fragCount  uint16
	got        uint16
	deadlineNs int64
	buf        []byte
	seen       []uint64 // bitmap of fragment indices received
}

// NewReassembler preallocates slots buffers of bufBytes each. A message is
// dropped when it is still incomplete timeoutNs after its first fragment.
func NewReassembler(slots, bufBytes int, timeoutNs int64) *Reassembler {
	r := &Reassembler{slots: make([]reassemblySlot, slots), timeoutNs: timeoutNs}
	for i := range r.slots {
		r.slots[i].buf = make([]byte, 0, bufBytes)
		r.slots[i].seen = make([]uint64, 0, (bufBytes/1024)/64+1)
	}
	return r
}

// Add stores one fragment. When it completes the message, Add returns the
// whole message and the slot holding it; the message stays valid until
// Release(slot). Duplicate fragments are ignored. A fragment that
// contradicts earlier ones of the same key is ErrFragment; no free slot is
// ErrReassemblyFull.
func (r *Reassembler) Add(nowNs int64, key ReassemblyKey, h *Header, payload []byte) (msg []byte, slot int, err error) {
	if h.Flags&FlagFragment == 0 || h.FragCount == 0 || h.FragIndex >= h.FragCount ||
		int(h.PayloadLen) != len(payload) || uint64(h.FragOffset)+uint64(len(payload)) > uint64(h.MsgLen) ||
		h.MsgLen > MessageBytesMax {
		return nil, -1, ErrFragment
	}
	slot = -1
	free := -1
	for i := range r.slots {
		s := &r.slots[i]
		if s.inUse && !s.complete && s.key == key {
			slot = i
			break
		}
		if !s.inUse && free < 0 {
			free = i
		}
	}
	if slot < 0 {
		if free < 0 {
			return nil, -1, ErrReassemblyFull
		}
		slot = free
		s := &r.slots[slot]
		s.inUse, s.complete, s.key = true, false, key
		s.msgLen, s.fragCount, s.got = h.MsgLen, h.FragCount, 0
		s.deadlineNs = nowNs + r.timeoutNs
		if cap(s.buf) < int(h.MsgLen) {
			s.buf = make([]byte, h.MsgLen)
		}
		s.buf = s.buf[:h.MsgLen]
		words := (int(h.FragCount) + 63) / 64
		if cap(s.seen) < words {
			s.seen = make([]uint64, words)
		}
		s.seen = s.seen[:words]
		clear(s.seen)
	}
	s := &r.slots[slot]
	if s.msgLen != h.MsgLen || s.fragCount != h.FragCount {
		return nil, -1, ErrFragment
	}
	w, bit := h.FragIndex/64, uint64(1)<<(h.FragIndex%64)
	if s.seen[w]&bit != 0 {
		return nil, -1, nil
	}
	s.seen[w] |= bit
	copy(s.buf[h.FragOffset:], payload)
	s.got++
	if s.got < s.fragCount {
		return nil, -1, nil
	}
	s.complete = true
	return s.buf, slot, nil
}

// Release returns a completed message's slot to the pool.
func (r *Reassembler) Release(slot int) {
	if slot >= 0 && slot < len(r.slots) {
		r.slots[slot].inUse = false
		r.slots[slot].complete = false
	}
}

// Drop abandons every partial message of one peer (the session reset or
// the peer died) and returns how many were dropped.
func (r *Reassembler) Drop(peer uint64) int {
	n := 0
	for i := range r.slots {
		s := &r.slots[i]
		if s.inUse && !s.complete && s.key.Peer == peer {
			s.inUse = false
			n++
		}
	}
	return n
}

// Expire drops partial messages whose deadline passed and returns how
// many it dropped.
func (r *Reassembler) Expire(nowNs int64) int {
	n := 0
	for i := range r.slots {
		s := &r.slots[i]
		if s.inUse && !s.complete && nowNs >= s.deadlineNs {
			s.inUse = false
			n++
		}
	}
	return n
}

// InUse reports how many slots hold a partial or unreleased message.
func (r *Reassembler) InUse() int {
	n := 0
	for i := range r.slots {
		if r.slots[i].inUse {
			n++
		}
	}
	return n
}
