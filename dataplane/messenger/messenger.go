package messenger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/weft-fs/weft/dataplane/poller"
	"github.com/weft-fs/weft/netstack"
	"github.com/weft-fs/weft/netstack/udp"
	"github.com/weft-fs/weft/proto"
)

// Messenger carries requests and responses between weft roles over
// weft's protocol. See the package doc.
type Messenger struct {
	cfg      Config
	log      *slog.Logger
	endpoint uint32
	local    netip.AddrPort
	group    *poller.Group
	// loops[i] runs on poller i and owns the sessions of the peers that
	// udp.SteerIndex maps to i.
	loops []*netLoop

	handlersMu sync.RWMutex
	handlers   map[proto.Opcode]Handler
	inline     atomic.Pointer[map[proto.Opcode]Handler] // run on the poller

	pendingMu sync.Mutex
	pending   map[uint64]*call
	nextID    atomic.Uint64

	callPool sync.Pool
	workPool sync.Pool
	sendBufs sync.Pool // *[]byte copies of one-way payloads
	budget   *byteBudget

	work    chan *workItem
	workCtx context.Context
	stop    context.CancelFunc
	workers sync.WaitGroup
	closed  atomic.Bool
	// stopAfter unregisters the close-on-ctx-done hook.
	stopAfter func() bool

	c counters
}

type counters struct {
	sendsFailed                      atomic.Uint64
	callsStarted, callsFailed        atomic.Uint64
	requestsHandled, requestsRefused atomic.Uint64
	rdmaReads, rdmaWrites            atomic.Uint64
	rdmaReadBytes, rdmaWriteBytes    atomic.Uint64
}

// call is one outstanding Call or Send, recycled through callPool.
type call struct {
	id        uint64
	peer      netip.AddrPort
	resp      []byte
	n         int
	err       error
	cancelled atomic.Bool
	// consumed gets one value when the poller has copied the request
	// (or dropped it); done gets one when the call completed.
	consumed chan struct{}
	done     chan struct{}
}

// workItem is one request on its way to a worker and its reply on the way
// back, recycled through workPool.
type workItem struct {
	req   Request
	buf   []byte
	w     ReplyWriter
	flags proto.Flags
}

// New binds the transports, starts the pollers and the workers. ctx
// bounds the messenger's life: when it ends, the messenger closes itself
// (as Close does), so pending calls fail with ErrClosed instead of
// waiting for pollers that stopped.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Messenger, error) {
	if log == nil {
		log = slog.Default()
	}
	if cfg.RDMAReadBytes <= 0 {
		cfg.RDMAReadBytes = RDMAReadBytesDefault
	}
	if cfg.RDMAWriteBytes <= 0 {
		cfg.RDMAWriteBytes = RDMAWriteBytesDefault
	}
	if cfg.Workers <= 0 {
		cfg.Workers = workersDefault
	}
	if cfg.Net == "" {
		cfg.Net = "udp"
	}
	m := &Messenger{cfg: cfg, log: log, handlers: map[proto.Opcode]Handler{}, pending: map[uint64]*call{}}
	m.endpoint = cfg.Endpoint
	for m.endpoint == 0 {
		m.endpoint = rand.Uint32()
	}
	m.nextID.Store(rand.Uint64() >> 16)
	m.callPool.New = func() any {
		return &call{consumed: make(chan struct{}, 1), done: make(chan struct{}, 1)}
	}
	m.workPool.New = func() any { return &workItem{} }
	m.budget = newByteBudget(sendBudgetBytes)

	g, err := poller.New(cfg.Poller, log)
	if err != nil {
		return nil, fmt.Errorf("messenger: %w", err)
	}
	m.group = g
	u, err := udp.Listen(udp.Config{Addr: cfg.Addr, PayloadMax: cfg.PayloadMax})
	if err != nil {
		g.Close()
		return nil, fmt.Errorf("messenger: %w", err)
	}
	m.local = u.LocalAddr()
	extra := append([]netstack.Transport(nil), cfg.Extra...)
	if x := m.openXDP(ctx, cfg); x != nil {
		extra = append([]netstack.Transport{x}, extra...)
	}
	// One kernel UDP socket per poller, steered so each peer's datagrams
	// reach the poller that owns its session. AF_XDP (and test transports)
	// deliver every peer to one place, so with them one loop owns all.
	socks := []*udp.Transport{u}
	if g.Len() > 1 && len(extra) == 0 {
		for i := 1; i < g.Len(); i++ {
			ui, err := udp.Listen(udp.Config{Addr: m.local, PayloadMax: cfg.PayloadMax})
			if err != nil {
				log.Warn("one UDP socket for all pollers", "reason", err.Error())
				break
			}
			socks = append(socks, ui)
		}
		if err := udp.Steer(socks); err != nil {
			log.Warn("one UDP socket for all pollers", "reason", err.Error())
			for _, ui := range socks[1:] {
				ui.Close()
			}
			socks = socks[:1]
		}
	}
	for i, ui := range socks {
		ts := []netstack.Transport{}
		if i == 0 {
			ts = append(ts, extra...)
		}
		ts = append(ts, ui)
		m.loops = append(m.loops, newNetLoop(m, i, ts))
	}
	m.HandleInline(proto.OpPing, func(ctx context.Context, req *Request, w *ReplyWriter) {})
	m.HandleInline(proto.OpEcho, func(ctx context.Context, req *Request, w *ReplyWriter) { w.Write(req.Payload) })
	m.HandleInline(proto.OpSink, func(ctx context.Context, req *Request, w *ReplyWriter) {})

	if cfg.WorkQueue <= 0 {
		cfg.WorkQueue = workQueueDefault
	}
	m.work = make(chan *workItem, cfg.WorkQueue)
	m.workCtx, m.stop = context.WithCancel(context.Background())
	for i := 0; i < cfg.Workers; i++ {
		m.workers.Add(1)
		go m.worker()
	}
	var kinds []string
	for i, l := range m.loops {
		g.Register(i, l)
		// The loop polls every transport on each pass; an Adaptive poller
		// must also wake for each of their descriptors, not only the one
		// the loop itself lends.
		for _, t := range l.transports[:len(l.transports)-1] {
			if fd := t.PollFd(); fd >= 0 {
				g.Register(i, wakeFd(fd))
			}
		}
		for _, t := range l.transports {
			kinds = append(kinds, t.Kind())
		}
	}
	if err := g.Start(context.Background()); err != nil {
		m.stop()
		m.workers.Wait()
		for _, l := range m.loops {
			for _, t := range l.transports {
				t.Close()
			}
		}
		g.Close()
		return nil, fmt.Errorf("messenger: %w", err)
	}
	m.stopAfter = context.AfterFunc(ctx, func() { m.Close() })
	log.Info("messenger up", "addr", m.local, "endpoint", m.endpoint, "transports", kinds,
		"payload_max", m.loops[0].pool.SizeBytes(), "pollers", g.Len(), "mode", g.Mode().String())
	return m, nil
}

// loopFor is the loop owning peer's session.
func (m *Messenger) loopFor(peer netip.AddrPort) *netLoop {
	if len(m.loops) == 1 {
		return m.loops[0]
	}
	return m.loops[udp.SteerIndex(peer, len(m.loops))]
}

// wakeFd is a Pollable with no work of its own: it only lends its
// descriptor to the poller's sleep.
type wakeFd int

func (f wakeFd) Poll(int64) int { return 0 }
func (f wakeFd) PollFd() int    { return int(f) }

// openXDP asks the hook for an AF_XDP transport when Net names an
// interface, logging exactly why it falls back to UDP otherwise.
func (m *Messenger) openXDP(ctx context.Context, cfg Config) netstack.Transport {
	if cfg.Net == "udp" {
		return nil
	}
	if cfg.OpenXDP == nil {
		m.log.Warn("AF_XDP not available, using kernel UDP", "net", cfg.Net,
			"reason", "no AF_XDP transport is built into this messenger (Config.OpenXDP is nil)")
		return nil
	}
	t, err := cfg.OpenXDP(ctx, XDPRequest{Interface: cfg.Net, Addr: m.local, Log: m.log})
	if err != nil {
		m.log.Warn("AF_XDP not available, using kernel UDP", "net", cfg.Net, "reason", err.Error())
		return nil
	}
	return t
}

// LocalAddr is the UDP address the messenger is bound to.
func (m *Messenger) LocalAddr() netip.AddrPort { return m.local }

// Endpoint is this messenger's endpoint id.
func (m *Messenger) Endpoint() uint32 { return m.endpoint }

// Handle registers h for op (replacing any earlier one, inline or not).
func (m *Messenger) Handle(op proto.Opcode, h Handler) {
	m.handlersMu.Lock()
	m.handlers[op] = h
	m.setInline(op, nil)
	m.handlersMu.Unlock()
}

// HandleInline registers h for op to run on the poller goroutine itself,
// saving the two hand-offs to and from a worker. h must not block or do
// much work (it stalls every peer of that poller); req.Payload is valid
// only during the call. The built-in OpPing, OpEcho and OpSink are inline.
func (m *Messenger) HandleInline(op proto.Opcode, h Handler) {
	m.handlersMu.Lock()
	delete(m.handlers, op)
	m.setInline(op, h)
	m.handlersMu.Unlock()
}

// setInline updates the copy-on-write inline table (handlersMu held).
func (m *Messenger) setInline(op proto.Opcode, h Handler) {
	old := m.inline.Load()
	if h == nil && (old == nil || (*old)[op] == nil) {
		return
	}
	next := make(map[proto.Opcode]Handler, 4)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	if h == nil {
		delete(next, op)
	} else {
		next[op] = h
	}
	m.inline.Store(&next)
}

// inlineHandler returns op's inline handler, or nil.
func (m *Messenger) inlineHandler(op proto.Opcode) Handler {
	if t := m.inline.Load(); t != nil {
		return (*t)[op]
	}
	return nil
}

func (m *Messenger) rdmaFlag(io IOHint) proto.Flags {
	switch {
	case io.Dir == IORead && io.Bytes >= m.cfg.RDMAReadBytes:
		m.c.rdmaReads.Add(1)
		m.c.rdmaReadBytes.Add(uint64(io.Bytes))
		return proto.FlagRDMA
	case io.Dir == IOWrite && io.Bytes >= m.cfg.RDMAWriteBytes:
		m.c.rdmaWrites.Add(1)
		m.c.rdmaWriteBytes.Add(uint64(io.Bytes))
		return proto.FlagRDMA
	}
	return 0
}

// Call sends req to the messenger at to and waits for the response,
// which is copied into resp; it returns the response length. A remote
// error comes back as a syscall.Errno. If ctx ends first, Call returns
// ctx's error (the request may still be processed by the peer).
func (m *Messenger) Call(ctx context.Context, to netip.AddrPort, op proto.Opcode, req []byte, resp []byte, io IOHint) (int, error) {
	if m.closed.Load() {
		return 0, ErrClosed
	}
	if len(req) > proto.MessageBytesMax {
		return 0, fmt.Errorf("call %v to %v: request of %d bytes: %w (max %d)", op, to, len(req), ErrTooLarge, proto.MessageBytesMax)
	}
	c := m.callPool.Get().(*call)
	c.id = m.nextID.Add(1)
	c.peer = to
	c.resp = resp
	c.n, c.err = 0, nil
	c.cancelled.Store(false)
	flags := m.rdmaFlag(io)
	m.c.callsStarted.Add(1)

	m.pendingMu.Lock()
	m.pending[c.id] = c
	m.pendingMu.Unlock()
	m.loopFor(to).submit(outItem{peer: to, hdr: proto.Header{Opcode: op, Flags: flags, RequestID: c.id}, payload: req, call: c})

	var n int
	var err error
	select {
	case <-c.done:
		n, err = c.n, c.err
	case <-ctx.Done():
		c.cancelled.Store(true)
		m.pendingMu.Lock()
		_, mine := m.pending[c.id]
		delete(m.pending, c.id)
		m.pendingMu.Unlock()
		if mine {
			err = ctx.Err()
		} else {
			<-c.done // the poller is completing it right now
			n, err = c.n, c.err
		}
		m.loopFor(to).wake()
	}
	<-c.consumed
	c.resp = nil
	m.callPool.Put(c)
	if err != nil {
		m.c.callsFailed.Add(1)
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return n, err
		}
		return n, fmt.Errorf("call %v to %v: %w", op, to, err)
	}
	return n, nil
}

// Send delivers payload to the handler of op at to without waiting for
// a response (one-way; for streaming and throughput). The payload is
// copied into a pooled buffer, so Send returns at once unless
// sendBudgetBytes of earlier one-way messages are still waiting to enter
// the reliability layer; then it waits (or returns ctx's error). Delivery
// is exactly once unless the peer dies, which Stats.SendsFailed counts.
func (m *Messenger) Send(ctx context.Context, to netip.AddrPort, op proto.Opcode, payload []byte, io IOHint) error {
	if m.closed.Load() {
		return ErrClosed
	}
	if len(payload) > proto.MessageBytesMax {
		return fmt.Errorf("send %v to %v: %d bytes: %w", op, to, len(payload), ErrTooLarge)
	}
	if err := m.budget.acquire(ctx, len(payload)+sendChargeBytes); err != nil {
		return fmt.Errorf("send %v to %v: %w", op, to, err)
	}
	bp, _ := m.sendBufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	*bp = append((*bp)[:0], payload...)
	flags := m.rdmaFlag(io) | proto.FlagOneWay
	m.loopFor(to).submit(outItem{peer: to, hdr: proto.Header{Opcode: op, Flags: flags, RequestID: m.nextID.Add(1)},
		payload: *bp, sendBuf: bp})
	return nil
}

// byteBudget bounds the bytes of one-way messages copied but not yet in a
// session, so a fast sender cannot queue unbounded memory.
type byteBudget struct {
	mu       sync.Mutex
	freed    chan struct{} // closed and replaced on every release
	used     int
	waiters  int
	maxBytes int
}

func newByteBudget(maxBytes int) *byteBudget {
	return &byteBudget{maxBytes: maxBytes, freed: make(chan struct{})}
}

func (b *byteBudget) acquire(ctx context.Context, n int) error {
	for {
		b.mu.Lock()
		// One message larger than the whole budget still goes alone.
		if b.used == 0 || b.used+n <= b.maxBytes {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		ch := b.freed
		b.waiters++
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *byteBudget) release(n int) {
	b.mu.Lock()
	b.used -= n
	if b.waiters > 0 {
		close(b.freed)
		b.freed = make(chan struct{})
		b.waiters = 0
	}
	b.mu.Unlock()
}

// complete finishes a pending call with a response or an error; called on
// the poller goroutine.
func (m *Messenger) complete(id uint64, h *proto.Header, msg []byte, err error) bool {
	m.pendingMu.Lock()
	c, ok := m.pending[id]
	delete(m.pending, id)
	m.pendingMu.Unlock()
	if !ok {
		return false
	}
	if err == nil && h != nil {
		if h.Flags&proto.FlagError != 0 {
			err = syscall.Errno(h.Status)
		} else {
			c.n = copy(c.resp, msg)
			if len(msg) > len(c.resp) {
				c.n = len(msg)
				err = ErrShortBuffer
			}
		}
	}
	c.err = err
	c.done <- struct{}{}
	return true
}

// failPeer fails every pending call to peer.
func (m *Messenger) failPeer(peer netip.AddrPort, err error) {
	m.pendingMu.Lock()
	var victims []*call
	for id, c := range m.pending {
		if c.peer == peer {
			victims = append(victims, c)
			delete(m.pending, id)
		}
	}
	m.pendingMu.Unlock()
	for _, c := range victims {
		c.err = err
		c.done <- struct{}{}
	}
}

// dispatch hands a request to a worker; called on the poller goroutine
// with msg valid only during the call.
func (m *Messenger) dispatch(peer netip.AddrPort, h *proto.Header, msg []byte) bool {
	if len(m.work) == cap(m.work) {
		// Workers are saturated: refuse for now. The session holds the
		// message and offers it again, and the peer's window closes
		// meanwhile — backpressure instead of loss or EBUSY.
		m.c.requestsRefused.Add(1)
		return false
	}
	wi := m.workPool.Get().(*workItem)
	wi.buf = append(wi.buf[:0], msg...)
	wi.req = Request{Op: h.Opcode, From: peer, RequestID: h.RequestID, Flags: h.Flags, Payload: wi.buf}
	wi.w.Reset()
	// Only pollers send on m.work and each checked for room first; with
	// several pollers the channel may fill between check and send, so
	// never block here.
	select {
	case m.work <- wi:
		return true
	default:
		m.c.requestsRefused.Add(1)
		m.workPool.Put(wi)
		return false
	}
}

func (m *Messenger) worker() {
	defer m.workers.Done()
	for {
		select {
		case <-m.workCtx.Done():
			return
		case wi := <-m.work:
			m.serve(wi)
		}
	}
}

func (m *Messenger) serve(wi *workItem) {
	m.handlersMu.RLock()
	h := m.handlers[wi.req.Op]
	m.handlersMu.RUnlock()
	if h == nil {
		wi.w.Error(syscall.ENOSYS)
	} else {
		h(m.workCtx, &wi.req, &wi.w)
	}
	m.c.requestsHandled.Add(1)
	if wi.req.OneWay() {
		m.recycle(wi)
		return
	}
	m.loopFor(wi.req.From).submit(outItem{peer: wi.req.From, reply: wi})
}

func (m *Messenger) recycle(wi *workItem) {
	wi.req = Request{}
	m.workPool.Put(wi)
}

// Stats returns the counters.
func (m *Messenger) Stats() Stats {
	var s Stats
	for _, l := range m.loops {
		l.addStats(&s)
	}
	s.CallsStarted = m.c.callsStarted.Load()
	s.CallsFailed = m.c.callsFailed.Load()
	s.SendsFailed = m.c.sendsFailed.Load()
	s.RequestsHandled = m.c.requestsHandled.Load()
	s.RequestsRefused = m.c.requestsRefused.Load()
	s.RDMAEligibleReads = m.c.rdmaReads.Load()
	s.RDMAEligibleWrites = m.c.rdmaWrites.Load()
	s.RDMAEligibleReadBytes = m.c.rdmaReadBytes.Load()
	s.RDMAEligibleWriteBytes = m.c.rdmaWriteBytes.Load()
	return s
}

// Close stops the pollers and workers, fails what is pending and closes
// the transports.
func (m *Messenger) Close() error {
	if !m.closed.CompareAndSwap(false, true) {
		return nil
	}
	if m.stopAfter != nil {
		m.stopAfter()
	}
	m.group.Close()
	m.stop()
	m.workers.Wait()
	for _, l := range m.loops {
		l.shutdown()
	}
	m.pendingMu.Lock()
	ids := make([]uint64, 0, len(m.pending))
	for id := range m.pending {
		ids = append(ids, id)
	}
	m.pendingMu.Unlock()
	for _, id := range ids {
		m.complete(id, nil, nil, ErrClosed)
	}
	var errs []error
	for _, l := range m.loops {
		for _, t := range l.transports {
			if err := t.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
