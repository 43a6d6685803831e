package reliable

// Pool is a bounded free list of packet buffers shared by the sessions of
// one poller. Buffers are allocated on first use up to the limit and then
// recycled, so steady state allocates nothing. Not safe for concurrent use.
type Pool struct {
	free       [][]byte
	sizeBytes  int
	allocated  int
	buffersMax int
}

// NewPool makes a pool of buffers of sizeBytes, at most buffersMax of them.
func NewPool(sizeBytes, buffersMax int) *Pool {
	return &Pool{sizeBytes: sizeBytes, buffersMax: buffersMax, free: make([][]byte, 0, buffersMax)}
}

// Get returns a buffer of full length, or nil when the limit is reached.
func (p *Pool) Get() []byte {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b[:p.sizeBytes]
	}
	if p.allocated >= p.buffersMax {
		return nil
	}
	p.allocated++
	return make([]byte, p.sizeBytes)
}

// Put returns a buffer obtained from Get.
func (p *Pool) Put(b []byte) {
	if cap(b) >= p.sizeBytes {
		p.free = append(p.free, b[:p.sizeBytes])
	}
}

// SizeBytes is the length of every buffer.
func (p *Pool) SizeBytes() int { return p.sizeBytes }

// Available is how many buffers Get can still return.
func (p *Pool) Available() int { return len(p.free) + p.buffersMax - p.allocated }
