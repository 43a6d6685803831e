package messenger

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weft-fs/weft/netstack"
	"github.com/weft-fs/weft/netstack/reliable"
	"github.com/weft-fs/weft/proto"
)

// outItem is a message waiting to enter a session: a request (call set)
// or a reply (reply set).
type outItem struct {
	peer    netip.AddrPort
	hdr     proto.Header
	payload []byte
	call    *call
	reply   *workItem
	sendBuf *[]byte // a one-way message's pooled copy
}

type peer struct {
	addr      netip.AddrPort
	sess      *reliable.Session
	tx        int // transport index used to reach the peer
	backlog   []outItem
	dead      bool
	restarted bool
}

type transportCounters struct {
	packetsIn, packetsOut atomic.Uint64
	bytesIn, bytesOut     atomic.Uint64
	sendErrors, sendDrops atomic.Uint64
	malformed             atomic.Uint64
}

// netLoop is the messenger's Pollable: it owns the transports' bursts and
// every peer session, and runs on one poller goroutine.
type netLoop struct {
	m          *Messenger
	inlineReq  Request     // reused by serveInline
	inlineW    ReplyWriter // reused by serveInline
	idx        int         // poller index
	transports []netstack.Transport
	broken     []bool
	fallback   int // index of the kernel UDP transport
	tc         []transportCounters
	pool       *reliable.Pool
	reasm      *proto.Reassembler
	rx         [burstPackets]netstack.Packet
	txq        [][]netstack.Packet
	peers      map[netip.AddrPort]*peer
	peerList   []*peer
	nextKey    uint64
	nowNs      int64
	curTx      int

	qmu       sync.Mutex
	shut      bool // set by shutdown: submissions fail at once
	queue     []outItem
	spare     []outItem
	inbox     []netstack.Packet // datagrams handed over by other loops
	inboxFree [][]byte
	inboxWork []netstack.Packet
	handoffs  atomic.Uint64

	// published aggregates of session counters, refreshed every
	// statsPublishInterval (sessions are owned by the poller goroutine).
	retransmits, fastRetransmits, duplicates atomic.Uint64
	sessions                                 atomic.Int64
	gone                                     reliable.Counters // of removed sessions
	lastPublishNs                            int64
	lastExpireNs                             int64

	malformed, mChecksum, mShort, mMagic, mVersion, mOther atomic.Uint64
	stale, peersDead, peersRestarted                       atomic.Uint64
}

// statsPublishInterval is how stale Stats' reliability counters may be.
const statsPublishInterval = time.Millisecond

func newNetLoop(m *Messenger, idx int, ts []netstack.Transport) *netLoop {
	l := &netLoop{m: m, idx: idx, transports: ts, broken: make([]bool, len(ts)), fallback: len(ts) - 1,
		tc: make([]transportCounters, len(ts)), peers: map[netip.AddrPort]*peer{}}
	size := proto.PacketPayloadMax
	for _, t := range ts {
		size = min(size, t.PayloadMax())
	}
	size = max(size, proto.HeaderBytes+512)
	l.pool = reliable.NewPool(size, packetPoolBytesMax/size)
	l.reasm = proto.NewReassembler(reassemblySlots, reassemblyBufferBytes, int64(reassemblyTimeout))
	for i := range l.rx {
		l.rx[i].Buf = make([]byte, rxBufferBytes)
	}
	l.txq = make([][]netstack.Packet, len(ts))
	for i := range l.txq {
		l.txq[i] = make([]netstack.Packet, 0, burstPackets)
	}
	return l
}

// submit queues an item for the poller from any goroutine.
func (l *netLoop) submit(it outItem) {
	l.qmu.Lock()
	if l.shut {
		l.qmu.Unlock()
		l.finish(it, ErrClosed) // raced with Close: nobody polls any more
		return
	}
	l.queue = append(l.queue, it)
	l.qmu.Unlock()
	l.wake()
}

// wake makes the loop's poller run soon.
func (l *netLoop) wake() { l.m.group.Wake(l.idx) }

// handoff gives a datagram that reached this loop's socket to the loop
// owning the peer (the steering program assumes IPv4 without options;
// anything else may land on the wrong socket). The bytes are copied.
func (l *netLoop) handoff(pkt *netstack.Packet, ti int) {
	l.qmu.Lock()
	var b []byte
	if n := len(l.inboxFree); n > 0 {
		b = l.inboxFree[n-1]
		l.inboxFree = l.inboxFree[:n-1]
	}
	l.inbox = append(l.inbox, netstack.Packet{Buf: append(b[:0], pkt.Buf...), Peer: pkt.Peer})
	l.qmu.Unlock()
	l.wake()
}

// PollFd implements poller.Pollable: the kernel UDP socket.
func (l *netLoop) PollFd() int { return l.transports[l.fallback].PollFd() }

// PollFds implements poller.MultiPollable: every live transport's
// descriptor, so an Adaptive poller asleep in ppoll wakes for AF_XDP
// frames too, not only for kernel UDP datagrams.
func (l *netLoop) PollFds(dst []int) []int {
	for i, t := range l.transports {
		if !l.broken[i] {
			dst = append(dst, t.PollFd())
		}
	}
	return dst
}

// Poll implements poller.Pollable.
func (l *netLoop) Poll(nowNs int64) int {
	l.nowNs = nowNs
	work := l.takeQueue()
	work += l.takeInbox()
	for _, p := range l.peerList {
		if len(p.backlog) > 0 {
			work += l.drainBacklog(p)
		}
	}
	for ti := range l.transports {
		if !l.broken[ti] {
			work += l.receive(ti)
		}
	}
	for _, p := range l.peerList {
		l.curTx = p.tx
		p.sess.Flush(nowNs)
	}
	for ti := range l.transports {
		work += l.flushTx(ti)
	}
	l.reap()
	if nowNs-l.lastPublishNs >= int64(statsPublishInterval) {
		l.publish()
		l.lastPublishNs = nowNs
	}
	if nowNs-l.lastExpireNs >= int64(time.Second) {
		l.reasm.Expire(nowNs)
		l.lastExpireNs = nowNs
	}
	return work
}

func (l *netLoop) takeQueue() int {
	l.qmu.Lock()
	if len(l.queue) == 0 {
		l.qmu.Unlock()
		return 0
	}
	items := l.queue
	l.queue = l.spare[:0]
	l.qmu.Unlock()
	for i := range items {
		it := items[i]
		items[i] = outItem{}
		p := l.peerFor(it.peer)
		if p == nil {
			l.finish(it, errTooManyPeers)
			continue
		}
		if len(p.backlog) > 0 {
			p.backlog = append(p.backlog, it)
			continue
		}
		if !l.enqueue(p, it) {
			p.backlog = append(p.backlog, it)
		}
	}
	l.spare = items[:0]
	return len(items)
}

func (l *netLoop) takeInbox() int {
	l.qmu.Lock()
	if len(l.inbox) == 0 {
		l.qmu.Unlock()
		return 0
	}
	pkts := l.inbox
	l.inbox = l.inboxWork[:0]
	l.qmu.Unlock()
	for i := range pkts {
		l.input(&pkts[i], len(l.transports)-1)
	}
	l.qmu.Lock()
	for i := range pkts {
		l.inboxFree = append(l.inboxFree, pkts[i].Buf)
		pkts[i] = netstack.Packet{}
	}
	l.inboxWork = pkts[:0]
	l.qmu.Unlock()
	return len(pkts)
}

var errTooManyPeers = errors.New("messenger: too many peers")

// enqueue hands one item to the session; false means backpressure.
func (l *netLoop) enqueue(p *peer, it outItem) bool {
	if it.call != nil && it.call.cancelled.Load() {
		l.finish(it, context.Canceled)
		return true
	}
	h := it.hdr
	payload := it.payload
	if it.reply != nil {
		wi := it.reply
		h = proto.Header{Opcode: wi.req.Op, RequestID: wi.req.RequestID,
			Flags: proto.FlagResponse | wi.req.Flags&proto.FlagRDMA}
		payload = wi.w.buf
		if wi.w.errno != 0 {
			h.Flags |= proto.FlagError
			h.Status = uint16(wi.w.errno)
			payload = nil
		}
	}
	err := p.sess.Send(l.nowNs, &h, payload)
	if errors.Is(err, reliable.ErrBackpressure) {
		return false
	}
	l.finish(it, err)
	return true
}

// finish releases an item: the caller's buffer is free (consumed), and
// on error the call fails.
func (l *netLoop) finish(it outItem, err error) {
	if it.reply != nil {
		l.m.recycle(it.reply)
		return
	}
	if it.sendBuf != nil {
		if err != nil {
			l.m.c.sendsFailed.Add(1)
		}
		n := len(*it.sendBuf) + sendChargeBytes
		l.m.sendBufs.Put(it.sendBuf)
		l.m.budget.release(n)
		return
	}
	c := it.call
	if c == nil {
		return
	}
	if err != nil {
		if it.hdr.Flags&proto.FlagOneWay != 0 {
			c.err = err
		} else {
			l.m.complete(c.id, nil, nil, err)
		}
	}
	c.consumed <- struct{}{}
}

func (l *netLoop) drainBacklog(p *peer) int {
	n := 0
	for len(p.backlog) > 0 {
		if !l.enqueue(p, p.backlog[0]) {
			break
		}
		p.backlog[0] = outItem{}
		p.backlog = p.backlog[1:]
		n++
	}
	if len(p.backlog) == 0 {
		p.backlog = p.backlog[:0:0]
	}
	return n
}

func (l *netLoop) peerFor(addr netip.AddrPort) *peer {
	if p := l.peers[addr]; p != nil {
		return p
	}
	if len(l.peers) >= sessionsMax {
		return nil
	}
	p := &peer{addr: addr, tx: l.preferredTx()}
	l.nextKey++
	epoch := rand.Uint32()
	for epoch == 0 {
		epoch = rand.Uint32()
	}
	p.sess = reliable.NewSession(reliable.Config{
		Epoch:             epoch,
		Src:               l.m.endpoint,
		PeerKey:           l.nextKey,
		Pool:              l.pool,
		Reassembler:       l.reasm,
		BulkWindowPackets: l.m.cfg.BulkWindowPackets,
		PeerDeadAfter:     l.m.cfg.PeerDeadAfter,
		Deliver:           func(h *proto.Header, msg []byte) bool { return l.deliver(p, h, msg) },
		Transmit:          func(pkt []byte) { l.transmit(p, pkt) },
		OnEvent:           func(e reliable.Event) { l.event(p, e) },
	}, l.nowNs)
	l.peers[addr] = p
	l.peerList = append(l.peerList, p)
	l.sessions.Store(int64(len(l.peerList)))
	return p
}

func (l *netLoop) preferredTx() int {
	for i := range l.transports {
		if !l.broken[i] {
			return i
		}
	}
	return l.fallback
}

func (l *netLoop) deliver(p *peer, h *proto.Header, msg []byte) bool {
	if h.Flags&proto.FlagResponse != 0 {
		if !l.m.complete(h.RequestID, h, msg, nil) {
			l.stale.Add(1)
		}
		return true
	}
	if ih := l.m.inlineHandler(h.Opcode); ih != nil {
		l.serveInline(p, h, msg, ih)
		return true
	}
	return l.m.dispatch(p.addr, h, msg)
}

// serveInline runs an inline handler on the poller and puts the reply
// straight into the session.
func (l *netLoop) serveInline(p *peer, h *proto.Header, msg []byte, ih Handler) {
	req, w := &l.inlineReq, &l.inlineW
	*req = Request{Op: h.Opcode, From: p.addr, RequestID: h.RequestID, Flags: h.Flags, Payload: msg}
	w.Reset()
	ih(l.m.workCtx, req, w)
	*req = Request{}
	l.m.c.requestsHandled.Add(1)
	if h.Flags&proto.FlagOneWay != 0 {
		return
	}
	resp := proto.Header{Opcode: h.Opcode, RequestID: h.RequestID, Flags: proto.FlagResponse | h.Flags&proto.FlagRDMA}
	body := w.buf
	if w.errno != 0 {
		resp.Flags |= proto.FlagError
		resp.Status = uint16(w.errno)
		body = nil
	}
	if len(p.backlog) == 0 && p.sess.Send(l.nowNs, &resp, body) == nil {
		return
	}
	// Session full (or dead): queue the reply behind the backlog like a
	// worker's, with its own copy.
	wi := l.m.workPool.Get().(*workItem)
	wi.req = Request{Op: h.Opcode, From: p.addr, RequestID: h.RequestID, Flags: h.Flags}
	wi.w.Reset()
	wi.w.buf = append(wi.w.buf, w.buf...)
	wi.w.errno = w.errno
	p.backlog = append(p.backlog, outItem{peer: p.addr, reply: wi})
}

func (l *netLoop) event(p *peer, e reliable.Event) {
	switch e {
	case reliable.EventPeerDead:
		p.dead = true
	case reliable.EventPeerRestarted:
		p.restarted = true
		l.peersRestarted.Add(1)
		l.m.log.Info("peer restarted", "peer", p.addr)
		l.m.failPeer(p.addr, ErrPeerRestarted)
	}
}

// reap removes dead peers, failing what waited on them.
func (l *netLoop) reap() {
	for i := 0; i < len(l.peerList); i++ {
		p := l.peerList[i]
		if !p.dead {
			continue
		}
		l.peersDead.Add(1)
		l.m.log.Warn("peer dead", "peer", p.addr)
		for _, it := range p.backlog {
			l.finish(it, ErrPeerDead)
		}
		p.backlog = nil
		l.m.failPeer(p.addr, ErrPeerDead)
		l.retire(p)
		delete(l.peers, p.addr)
		l.peerList = append(l.peerList[:i], l.peerList[i+1:]...)
		i--
	}
	l.sessions.Store(int64(len(l.peerList)))
}

func (l *netLoop) retire(p *peer) {
	c := p.sess.Counters()
	l.gone.Retransmits += c.Retransmits
	l.gone.FastRetransmits += c.FastRetransmits
	l.gone.Duplicates += c.Duplicates
	p.sess.Close()
}

func (l *netLoop) receive(ti int) int {
	t := l.transports[ti]
	tc := &l.tc[ti]
	total := 0
	for burst := 0; burst < 4; burst++ {
		for i := range l.rx {
			l.rx[i].Buf = l.rx[i].Buf[:cap(l.rx[i].Buf)]
		}
		n, err := t.RecvBurst(l.rx[:])
		if err != nil {
			l.breakTransport(ti, err)
			return total
		}
		for i := 0; i < n; i++ {
			pkt := &l.rx[i]
			tc.packetsIn.Add(1)
			tc.bytesIn.Add(uint64(len(pkt.Buf)))
			if len(l.m.loops) > 1 {
				if o := l.m.loopFor(pkt.Peer); o != l {
					l.handoffs.Add(1)
					o.handoff(pkt, ti)
					continue
				}
			}
			l.input(pkt, ti)
		}
		total += n
		if n < len(l.rx) {
			break
		}
	}
	return total
}

// input decodes one datagram and feeds it to its peer's session.
func (l *netLoop) input(pkt *netstack.Packet, ti int) {
	var h proto.Header
	payload, err := proto.Decode(pkt.Buf, &h)
	if err == nil && h.Dst != 0 && h.Dst != l.m.endpoint {
		err = errWrongEndpoint
	}
	if err != nil {
		l.countMalformed(&l.tc[ti], err)
		return
	}
	p := l.peerFor(pkt.Peer)
	if p == nil {
		return
	}
	p.tx = ti
	if h.Src != 0 {
		p.sess.SetDst(h.Src)
	}
	p.sess.Receive(l.nowNs, &h, payload)
}

var errWrongEndpoint = errors.New("messenger: packet for another endpoint")

func (l *netLoop) countMalformed(tc *transportCounters, err error) {
	l.malformed.Add(1)
	tc.malformed.Add(1)
	switch {
	case errors.Is(err, proto.ErrChecksum):
		l.mChecksum.Add(1)
	case errors.Is(err, proto.ErrShort):
		l.mShort.Add(1)
	case errors.Is(err, proto.ErrMagic):
		l.mMagic.Add(1)
	case errors.Is(err, proto.ErrVersion):
		l.mVersion.Add(1)
	default:
		l.mOther.Add(1)
	}
}

// transmit is the sessions' Transmit callback: the packet buffer stays
// untouched until the next call into the session, which comes after
// flushTx, so the batch references it without copying.
func (l *netLoop) transmit(p *peer, pkt []byte) {
	ti := p.tx
	if l.broken[ti] {
		ti = l.fallback
		p.tx = ti
	}
	q := l.txq[ti]
	if len(q) == cap(q) {
		l.flushTx(ti)
		q = l.txq[ti]
	}
	l.txq[ti] = append(q, netstack.Packet{Buf: pkt, Peer: p.addr})
}

func (l *netLoop) flushTx(ti int) int {
	q := l.txq[ti]
	if len(q) == 0 {
		return 0
	}
	t := l.transports[ti]
	tc := &l.tc[ti]
	sent, retries := 0, 0
	for sent < len(q) {
		n, err := t.SendBurst(q[sent:])
		for _, p := range q[sent : sent+n] {
			tc.bytesOut.Add(uint64(len(p.Buf)))
		}
		tc.packetsOut.Add(uint64(n))
		sent += n
		if err != nil {
			tc.sendErrors.Add(1)
			if n == 0 {
				if ti != l.fallback {
					l.breakTransport(ti, err)
				}
				break
			}
			continue
		}
		if n == 0 {
			retries++
			if retries > sendRetries {
				break
			}
		}
	}
	if sent < len(q) {
		// Left to retransmission.
		tc.sendDrops.Add(uint64(len(q) - sent))
	}
	clear(q)
	l.txq[ti] = q[:0]
	return sent
}

// breakTransport stops using a failed transport; peers move to kernel
// UDP, and retransmission recovers what was lost in between.
func (l *netLoop) breakTransport(ti int, err error) {
	if ti == l.fallback || l.broken[ti] {
		return
	}
	l.broken[ti] = true
	l.m.log.Warn("transport failed, falling back to kernel UDP", "transport", l.transports[ti].Kind(), "reason", err.Error())
	for _, p := range l.peerList {
		if p.tx == ti {
			p.tx = l.fallback
		}
	}
}

func (l *netLoop) publish() {
	r, f, d := l.gone.Retransmits, l.gone.FastRetransmits, l.gone.Duplicates
	for _, p := range l.peerList {
		c := p.sess.Counters()
		r += c.Retransmits
		f += c.FastRetransmits
		d += c.Duplicates
	}
	l.retransmits.Store(r)
	l.fastRetransmits.Store(f)
	l.duplicates.Store(d)
}

// shutdown runs after the pollers stopped: it releases queued items so no
// caller waits forever.
func (l *netLoop) shutdown() {
	l.publish()
	l.qmu.Lock()
	items := l.queue
	l.queue = nil
	l.shut = true
	l.qmu.Unlock()
	for _, it := range items {
		l.finish(it, ErrClosed)
	}
	for _, p := range l.peerList {
		for _, it := range p.backlog {
			l.finish(it, ErrClosed)
		}
		p.backlog = nil
	}
}

// addStats adds the loop's counters into s (transports of the same kind
// are summed).
func (l *netLoop) addStats(s *Stats) {
	s.Retransmits += l.retransmits.Load()
	s.FastRetransmits += l.fastRetransmits.Load()
	s.Duplicates += l.duplicates.Load()
	s.Malformed += l.malformed.Load()
	s.MalformedChecksum += l.mChecksum.Load()
	s.MalformedShort += l.mShort.Load()
	s.MalformedMagic += l.mMagic.Load()
	s.MalformedVersion += l.mVersion.Load()
	s.MalformedOther += l.mOther.Load()
	s.StaleResponses += l.stale.Load()
	s.Sessions += int(l.sessions.Load())
	s.PeersDead += l.peersDead.Load()
	s.PeersRestarted += l.peersRestarted.Load()
	s.Handoffs += l.handoffs.Load()
	for i, t := range l.transports {
		tc := &l.tc[i]
		ts := TransportStats{Kind: t.Kind(), PacketsIn: tc.packetsIn.Load(), PacketsOut: tc.packetsOut.Load(),
			BytesIn: tc.bytesIn.Load(), BytesOut: tc.bytesOut.Load(), SendErrors: tc.sendErrors.Load(),
			SendDrops: tc.sendDrops.Load(), Malformed: tc.malformed.Load()}
		s.PacketsIn += ts.PacketsIn
		s.PacketsOut += ts.PacketsOut
		s.BytesIn += ts.BytesIn
		s.BytesOut += ts.BytesOut
		merged := false
		for j := range s.Transports {
			if o := &s.Transports[j]; o.Kind == ts.Kind {
				o.PacketsIn += ts.PacketsIn
				o.PacketsOut += ts.PacketsOut
				o.BytesIn += ts.BytesIn
				o.BytesOut += ts.BytesOut
				o.SendErrors += ts.SendErrors
				o.SendDrops += ts.SendDrops
				o.Malformed += ts.Malformed
				merged = true
			}
		}
		if !merged {
			s.Transports = append(s.Transports, ts)
		}
	}
}
