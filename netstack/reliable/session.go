package reliable

import (
	"errors"
	"time"

	"github.com/weft-fs/weft/proto"
)

// Limits and timer constants.
const (
	// retransmitTimeoutMin is the floor of the RTO: loopback RTTs are tens
	// of microseconds, but scheduling jitter on shared cores is not; at
	// 2 ms, 1–3 % of packets on a loaded 2-core host were retransmitted
	// spuriously (halving the window each time).
	retransmitTimeoutMin = 5 * time.Millisecond
	// retransmitTimeoutMax caps the backed-off RTO.
	retransmitTimeoutMax = 1 * time.Second
	// retransmitTimeoutInitial is used before the first RTT sample.
	retransmitTimeoutInitial = 20 * time.Millisecond
	// rtoGranularity is RFC 6298's G: the smallest variance term.
	rtoGranularity = 1 * time.Millisecond
	// retransmitsMax retries of one packet declare the peer dead.
	retransmitsMax = 40
	// fastRetransmitSacks selectively acked packets above a hole trigger
	// its retransmission before the timer.
	fastRetransmitSacks = 3
	// keepaliveInterval of silence from the peer sends a probe.
	keepaliveInterval = 200 * time.Millisecond
	// peerDeadAfterDefault of silence declares the peer dead.
	peerDeadAfterDefault = 5 * time.Second
	// sendRingPackets bounds packets queued or in flight per session (a
	// power of two). 4096 holds several 1 MiB messages at MTU 1500.
	sendRingPackets = 4096
	// receiveWindowPackets is the reorder ring: packets accepted ahead of
	// the cumulative ack point. Advertised to the peer as Window.
	receiveWindowPackets = 1024
	// congestionWindowInitial, Min and Max bound the AIMD window (packets).
	congestionWindowInitial = 32
	congestionWindowMin     = 4
	congestionWindowMax     = 512
	// bulkWindowPacketsDefault is the window RDMA-eligible messages may use.
	bulkWindowPacketsDefault = 1024
	// sackBits is how many packets past the cumulative ack one header reports.
	sackBits = 32
)

// Errors returned by Send.
var (
	// ErrBackpressure: the send ring or the buffer pool is full; retry
	// after the peer acks.
	ErrBackpressure = errors.New("reliable: send queue full")
	// ErrPeerDead: the session declared its peer dead.
	ErrPeerDead = errors.New("reliable: peer dead")
	// ErrTooLarge: the message exceeds proto.MessageBytesMax.
	ErrTooLarge = proto.ErrTooLarge
)

// Event is something the owner must react to.
type Event int

const (
	// EventPeerDead: no sign of life for PeerDeadAfter, or a packet was
	// retried retransmitsMax times. The session stops; queued messages are
	// lost and callers waiting on the peer should fail.
	EventPeerDead Event = iota + 1
	// EventPeerRestarted: the peer's epoch changed. Both directions were
	// reset; messages in flight may or may not have been processed.
	EventPeerRestarted
)

func (e Event) String() string {
	switch e {
	case EventPeerDead:
		return "peer dead"
	case EventPeerRestarted:
		return "peer restarted"
	}
	return "unknown event"
}

// Config describes one session.
type Config struct {
	// Epoch is this side's incarnation, stamped on every packet. Pick it
	// at random per process (never 0).
	Epoch uint32
	// Src and Dst are the endpoint ids written into every packet.
	Src, Dst uint32
	// PeerKey identifies the session in the shared Reassembler.
	PeerKey uint64
	// Pool supplies packet buffers (capacity = the largest packet).
	Pool *Pool
	// Reassembler puts fragmented messages together; shared per poller.
	Reassembler *proto.Reassembler
	// Deliver receives each message once, in order. msg is valid only
	// during the call; h carries the message fields (Opcode, Flags,
	// RequestID, Src, Dst, Status, MsgLen). Returning false refuses the
	// message for now (the owner is saturated): the session holds it,
	// offers it again on every Flush and takes no later packet meanwhile,
	// so the peer's window closes — backpressure without loss.
	Deliver func(h *proto.Header, msg []byte) bool
	// Transmit sends one packet; pkt is valid only until the next call
	// into the session.
	Transmit func(pkt []byte)
	// OnEvent reports peer death and restarts.
	OnEvent func(Event)
	// BulkWindowPackets is the window for RDMA-eligible messages (0 =
	// bulkWindowPacketsDefault).
	BulkWindowPackets int
	// PeerDeadAfter of silence declares the peer dead (0 = 5 s).
	PeerDeadAfter time.Duration
}

// Counters are a session's packet statistics.
type Counters struct {
	PacketsSent, PacketsReceived    uint64
	Retransmits, FastRetransmits    uint64
	Duplicates, OutOfWindow         uint64
	AcksSent, KeepalivesSent        uint64
	MessagesSent, MessagesDelivered uint64
	// Refusals counts Deliver calls that returned false.
	Refusals uint64
	// Undos counts window cuts undone because the peer reported the
	// retransmission spurious (FlagDuplicate).
	Undos            uint64
	RTTSmoothed      time.Duration
	CongestionWindow int
}

type sendSlot struct {
	hdr         proto.Header
	buf         []byte // whole packet, payload in place
	sentAtNs    int64
	dueNs       int64
	retransmits int
	sent, acked bool
	bulk        bool
}

type recvSlot struct {
	hdr     proto.Header
	buf     []byte
	present bool
}

// Session is the reliability state for one peer. Not safe for concurrent
// use: the owning poller serialises every call.
type Session struct {
	cfg Config

	// send side
	ring       [sendRingPackets]sendSlot
	sndUna     uint32 // oldest unacked
	sndSent    uint32 // first never-sent
	sndNext    uint32 // next to assign
	inFlight   int
	peerWindow int
	cwnd       int
	cwndAcked  int // acks counted toward additive increase
	ssthresh   int
	lastCutNs  int64
	recoverSeq uint32 // sndSent at the last cut
	cutDone    bool
	// window before the last cut, restored if it proves spurious
	priorCwnd, priorSsthresh int
	srttNs                   int64
	rttvarNs                 int64
	rtoNs                    int64
	nextDueNs                int64

	// receive side
	recv        [receiveWindowPackets]recvSlot
	rcvNext     uint32
	peerEpoch   uint32
	ackOwed     bool
	dupSeen     bool // a duplicate arrived since our last ack
	ackBuf      [proto.HeaderBytes]byte
	lastHeardNs int64
	lastProbeNs int64
	dead        bool

	// msgHdr is the header handed to Deliver; a field, not a local, so
	// it does not escape to the heap once per message.
	msgHdr proto.Header

	// A message the owner refused (Deliver returned false), offered again
	// from Flush; it lives in a pool buffer or a reassembly slot.
	held     bool
	heldHdr  proto.Header
	heldBuf  []byte
	heldPool []byte
	heldSlot int

	counters Counters
}

// NewSession starts a session at time nowNs.
func NewSession(cfg Config, nowNs int64) *Session {
	if cfg.BulkWindowPackets <= 0 {
		cfg.BulkWindowPackets = bulkWindowPacketsDefault
	}
	if cfg.PeerDeadAfter <= 0 {
		cfg.PeerDeadAfter = peerDeadAfterDefault
	}
	s := &Session{cfg: cfg}
	s.reset(nowNs)
	return s
}

func (s *Session) reset(nowNs int64) {
	for i := range s.ring {
		if s.ring[i].buf != nil {
			s.cfg.Pool.Put(s.ring[i].buf)
		}
		s.ring[i] = sendSlot{}
	}
	for i := range s.recv {
		if s.recv[i].buf != nil {
			s.cfg.Pool.Put(s.recv[i].buf)
		}
		s.recv[i] = recvSlot{}
	}
	if s.held {
		if s.heldSlot >= 0 {
			s.cfg.Reassembler.Release(s.heldSlot)
		}
		if s.heldPool != nil {
			s.cfg.Pool.Put(s.heldPool)
		}
	}
	s.held, s.heldBuf, s.heldPool, s.heldSlot = false, nil, nil, -1
	if s.cfg.Reassembler != nil {
		s.cfg.Reassembler.Drop(s.cfg.PeerKey)
	}
	s.sndUna, s.sndSent, s.sndNext = 1, 1, 1
	s.rcvNext = 1
	s.inFlight = 0
	s.peerWindow = receiveWindowPackets
	s.cwnd, s.cwndAcked, s.ssthresh = congestionWindowInitial, 0, congestionWindowMax
	s.cutDone, s.recoverSeq = false, 0
	s.priorCwnd, s.priorSsthresh, s.dupSeen = 0, 0, false
	s.srttNs, s.rttvarNs, s.rtoNs = 0, 0, int64(retransmitTimeoutInitial)
	s.nextDueNs = 0
	s.ackOwed = false
	s.lastHeardNs, s.lastProbeNs = nowNs, nowNs
	s.dead = false
}

func seqLess(a, b uint32) bool { return int32(a-b) < 0 }

// Dead reports whether the session declared its peer dead.
func (s *Session) Dead() bool { return s.dead }

// Counters returns a copy of the session's statistics.
func (s *Session) Counters() Counters {
	c := s.counters
	c.RTTSmoothed = time.Duration(s.srttNs)
	c.CongestionWindow = s.cwnd
	return c
}

// Idle reports whether nothing is queued, in flight or owed.
func (s *Session) Idle() bool { return s.sndUna == s.sndNext && !s.ackOwed }

// QueuedPackets is how many packets are queued or in flight.
func (s *Session) QueuedPackets() int { return int(s.sndNext - s.sndUna) }

// Send queues one message. h supplies the message fields (Opcode, Flags
// such as FlagResponse, FlagError, FlagRDMA, FlagOneWay, RequestID,
// Status); the payload is copied, so the caller may reuse it at once.
func (s *Session) Send(nowNs int64, h *proto.Header, payload []byte) error {
	if s.dead {
		return ErrPeerDead
	}
	if len(payload) > proto.MessageBytesMax {
		return ErrTooLarge
	}
	fragBytes := s.cfg.Pool.SizeBytes() - proto.HeaderBytes
	n := proto.FragmentCount(len(payload), fragBytes)
	if int(s.sndNext-s.sndUna)+n > sendRingPackets || s.cfg.Pool.Available() < n {
		return ErrBackpressure
	}
	bulk := h.Flags&proto.FlagRDMA != 0
	for i := 0; i < n; i++ {
		hdr := *h
		hdr.Flags &^= proto.FlagAck | proto.FlagKeepalive
		hdr.Flags |= proto.FlagReliable
		from, to, err := proto.FragmentHeader(&hdr, len(payload), fragBytes, i)
		if err != nil {
			return err // unreachable after the checks above
		}
		hdr.Src, hdr.Dst, hdr.Epoch = s.cfg.Src, s.cfg.Dst, s.cfg.Epoch
		hdr.Seq = s.sndNext
		buf := s.cfg.Pool.Get()
		copy(buf[proto.HeaderBytes:], payload[from:to])
		sl := &s.ring[s.sndNext%sendRingPackets]
		*sl = sendSlot{hdr: hdr, buf: buf[:proto.HeaderBytes+to-from], bulk: bulk}
		s.sndNext++
	}
	s.counters.MessagesSent++
	return nil
}

// Receive feeds one decoded packet from the peer. payload is only read
// during the call.
func (s *Session) Receive(nowNs int64, h *proto.Header, payload []byte) {
	if h.Epoch != s.peerEpoch {
		if s.peerEpoch != 0 {
			s.reset(nowNs)
			s.peerEpoch = h.Epoch
			s.emit(EventPeerRestarted)
		}
		s.peerEpoch = h.Epoch
	}
	if s.dead {
		return
	}
	s.counters.PacketsReceived++
	s.lastHeardNs = nowNs
	if h.Flags&proto.FlagAck != 0 {
		s.onAck(nowNs, h.Ack, h.SackBits, int(h.Window))
		if h.Flags&proto.FlagDuplicate != 0 {
			s.undoCut()
		}
	}
	if h.Flags&proto.FlagKeepalive != 0 {
		s.ackOwed = true
		return
	}
	if h.Flags&proto.FlagReliable == 0 {
		return
	}
	s.ackOwed = true
	seq := h.Seq
	switch {
	case seqLess(seq, s.rcvNext):
		s.counters.Duplicates++
		s.dupSeen = true
	case !seqLess(seq, s.rcvNext+receiveWindowPackets):
		s.counters.OutOfWindow++
	case seq == s.rcvNext:
		if !s.deliver(nowNs, h, payload) {
			return
		}
		s.rcvNext++
		s.drainReorder(nowNs)
	default:
		sl := &s.recv[seq%receiveWindowPackets]
		if sl.present {
			s.counters.Duplicates++
			s.dupSeen = true
			return
		}
		buf := s.cfg.Pool.Get()
		if buf == nil {
			return // no room: the peer retransmits
		}
		n := copy(buf, payload)
		*sl = recvSlot{hdr: *h, buf: buf[:n], present: true}
	}
}

func (s *Session) drainReorder(nowNs int64) {
	for {
		sl := &s.recv[s.rcvNext%receiveWindowPackets]
		if !sl.present || sl.hdr.Seq != s.rcvNext {
			return
		}
		if !s.deliver(nowNs, &sl.hdr, sl.buf) {
			return
		}
		s.cfg.Pool.Put(sl.buf)
		*sl = recvSlot{}
		s.rcvNext++
	}
}

// deliver hands an in-order packet up, through reassembly when it is a
// fragment. It reports false when the packet could not be taken (no
// reassembly buffer, or an earlier message is still held because the
// owner refused it) and must be received again.
func (s *Session) deliver(nowNs int64, h *proto.Header, payload []byte) bool {
	if s.held && !s.retryHeld() {
		return false
	}
	if h.Flags&proto.FlagFragment == 0 {
		s.msgHdr = *h
		if s.offer(&s.msgHdr, payload) {
			return true
		}
		// Refused: keep a copy and offer it again from Flush; later
		// packets wait behind it so order holds.
		buf := s.cfg.Pool.Get()
		if buf == nil || len(payload) > len(buf) {
			if buf != nil {
				s.cfg.Pool.Put(buf)
			}
			return false // not consumed: the peer retransmits it
		}
		n := copy(buf, payload)
		s.held, s.heldHdr, s.heldBuf, s.heldSlot, s.heldPool = true, *h, buf[:n], -1, buf
		return true
	}
	key := proto.ReassemblyKey{Peer: s.cfg.PeerKey, RequestID: h.RequestID, Response: h.Flags&proto.FlagResponse != 0}
	msg, slot, err := s.cfg.Reassembler.Add(nowNs, key, h, payload)
	if errors.Is(err, proto.ErrReassemblyFull) {
		return false
	}
	if err != nil {
		// A fragment that contradicts its message: drop what we have of
		// it; the sequence point still moves so the session goes on.
		s.cfg.Reassembler.Drop(s.cfg.PeerKey)
		return true
	}
	if msg != nil {
		m := &s.msgHdr
		*m = *h
		m.Flags &^= proto.FlagFragment | proto.FlagLastFragment
		m.FragIndex, m.FragCount, m.FragOffset = 0, 0, 0
		m.PayloadLen = 0
		if s.offer(m, msg) {
			s.cfg.Reassembler.Release(slot)
		} else {
			s.held, s.heldHdr, s.heldBuf, s.heldSlot, s.heldPool = true, *m, msg, slot, nil
		}
	}
	return true
}

// offer gives one whole message to the owner.
func (s *Session) offer(h *proto.Header, msg []byte) bool {
	if s.cfg.Deliver != nil && !s.cfg.Deliver(h, msg) {
		s.counters.Refusals++
		return false
	}
	s.counters.MessagesDelivered++
	return true
}

// retryHeld offers the held message again and frees it when taken.
func (s *Session) retryHeld() bool {
	s.msgHdr = s.heldHdr
	if !s.offer(&s.msgHdr, s.heldBuf) {
		return false
	}
	if s.heldSlot >= 0 {
		s.cfg.Reassembler.Release(s.heldSlot)
	}
	if s.heldPool != nil {
		s.cfg.Pool.Put(s.heldPool)
	}
	s.held, s.heldBuf, s.heldPool, s.heldSlot = false, nil, nil, -1
	return true
}

func (s *Session) onAck(nowNs int64, ack, sack uint32, window int) {
	s.peerWindow = window
	if seqLess(s.sndSent, ack) {
		return // acks what we never sent: stale epoch or garbage
	}
	for seqLess(s.sndUna, ack) {
		s.ackSlot(nowNs, s.sndUna)
		s.sndUna++
	}
	if sack == 0 {
		return
	}
	highest := -1
	for i := 0; i < sackBits; i++ {
		if sack&(1<<i) == 0 {
			continue
		}
		seq := ack + 1 + uint32(i)
		if !seqLess(seq, s.sndSent) {
			break
		}
		s.ackSlot(nowNs, seq)
		highest = i
	}
	// Fast retransmit: every unacked packet below the highest sacked one
	// with at least fastRetransmitSacks sacked above it.
	above := 0
	for i := highest; i >= -1; i-- {
		seq := ack + 1 + uint32(i)
		if i >= 0 && sack&(1<<i) != 0 {
			above++
			continue
		}
		if above < fastRetransmitSacks || !seqLess(seq, s.sndSent) || seqLess(seq, s.sndUna) {
			continue
		}
		sl := &s.ring[seq%sendRingPackets]
		if sl.acked || !sl.sent || sl.hdr.Seq != seq {
			continue
		}
		// Once per RTT per packet, so a burst of sacks does not resend it
		// several times.
		if nowNs-sl.sentAtNs >= max(s.srttNs, int64(rtoGranularity)) && sl.dueNs > nowNs {
			sl.dueNs = nowNs
			s.nextDueNs = nowNs
			s.counters.FastRetransmits++
		}
	}
}

func (s *Session) ackSlot(nowNs int64, seq uint32) {
	sl := &s.ring[seq%sendRingPackets]
	if sl.acked || sl.buf == nil || sl.hdr.Seq != seq {
		return
	}
	if sl.sent {
		s.inFlight--
		if sl.retransmits == 0 {
			s.sampleRTT(nowNs - sl.sentAtNs)
		}
		s.grow()
	}
	sl.acked = true
	s.cfg.Pool.Put(sl.buf)
	sl.buf = nil
}

// sampleRTT applies RFC 6298 section 2.
func (s *Session) sampleRTT(r int64) {
	if r <= 0 {
		r = 1
	}
	if s.srttNs == 0 {
		s.srttNs, s.rttvarNs = r, r/2
	} else {
		d := s.srttNs - r
		if d < 0 {
			d = -d
		}
		s.rttvarNs = (3*s.rttvarNs + d) / 4
		s.srttNs = (7*s.srttNs + r) / 8
	}
	s.rtoNs = s.srttNs + max(int64(rtoGranularity), 4*s.rttvarNs)
	s.rtoNs = min(max(s.rtoNs, int64(retransmitTimeoutMin)), int64(retransmitTimeoutMax))
}

func (s *Session) grow() {
	// Bulk (RDMA-eligible) traffic may open the window further; other
	// packets are still capped at congestionWindowMax when sent.
	if s.cwnd >= max(congestionWindowMax, s.cfg.BulkWindowPackets) {
		return
	}
	if s.cwnd < s.ssthresh {
		s.cwnd++ // slow start
		return
	}
	s.cwndAcked++
	if s.cwndAcked >= s.cwnd {
		s.cwndAcked = 0
		s.cwnd++
	}
}

// cut halves the window at most once per smoothed RTT: a burst of losses
// is one congestion signal.
func (s *Session) cut(nowNs int64, seq uint32) {
	// One cut per window of data (NewReno's recovery point): losses of
	// packets sent before the last cut are the same congestion event.
	if s.cutDone && seqLess(seq, s.recoverSeq) {
		return
	}
	if nowNs-s.lastCutNs < max(s.srttNs, int64(retransmitTimeoutMin)) {
		return
	}
	s.cutDone, s.recoverSeq = true, s.sndSent
	s.priorCwnd, s.priorSsthresh = s.cwnd, s.ssthresh
	s.lastCutNs = nowNs
	s.ssthresh = max(s.cwnd/2, congestionWindowMin)
	s.cwnd = s.ssthresh
	s.cwndAcked = 0
}

// undoCut restores the window from before the last cut when the peer
// reports it received a duplicate: the retransmission that caused the
// cut was spurious (a late ack, not a loss). Network duplication can
// trigger it too; that only makes the window less conservative once.
func (s *Session) undoCut() {
	// Karn's rule keeps retransmitted packets out of the RTT estimate, so
	// the late acks that made them look lost never widen RTTVAR: widen it
	// here, or the same jitter fires the timer again.
	s.rttvarNs = max(2*s.rttvarNs, s.srttNs)
	s.rtoNs = min(max(s.srttNs+4*s.rttvarNs, int64(retransmitTimeoutMin)), int64(retransmitTimeoutMax))
	if s.priorCwnd == 0 || s.priorCwnd <= s.cwnd {
		return
	}
	s.cwnd, s.ssthresh = s.priorCwnd, s.priorSsthresh
	s.priorCwnd = 0
	s.counters.Undos++
}

func (s *Session) emit(e Event) {
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(e)
	}
}

// Flush runs the timers and transmits what is due: retransmissions, new
// packets the windows allow, then an ack or keepalive if one is owed.
func (s *Session) Flush(nowNs int64) {
	if s.dead {
		return
	}
	if nowNs-s.lastHeardNs > int64(s.cfg.PeerDeadAfter) {
		s.die()
		return
	}
	if s.held && s.retryHeld() {
		s.drainReorder(nowNs)
		s.ackOwed = true // tell the peer the window is open again
	}
	if s.nextDueNs != 0 && nowNs >= s.nextDueNs {
		s.retransmitDue(nowNs)
		if s.dead {
			return
		}
	}
	for seqLess(s.sndSent, s.sndNext) {
		sl := &s.ring[s.sndSent%sendRingPackets]
		window := min(s.cwnd, s.peerWindow)
		if !sl.bulk {
			window = min(window, congestionWindowMax)
		}
		if s.inFlight >= window || int(s.sndSent-s.sndUna) >= s.peerWindow {
			break
		}
		sl.sent = true
		s.inFlight++
		s.transmit(nowNs, sl)
		s.sndSent++
	}
	if s.ackOwed || nowNs-s.lastHeardNs > int64(keepaliveInterval) && nowNs-s.lastProbeNs > int64(keepaliveInterval) {
		h := proto.Header{Flags: proto.FlagAck, Src: s.cfg.Src, Dst: s.cfg.Dst, Epoch: s.cfg.Epoch}
		s.fillAck(&h)
		if nowNs-s.lastHeardNs > int64(keepaliveInterval) && nowNs-s.lastProbeNs > int64(keepaliveInterval) {
			h.Flags |= proto.FlagKeepalive
			s.lastProbeNs = nowNs
			s.counters.KeepalivesSent++
		} else {
			s.counters.AcksSent++
		}
		n, _ := proto.Encode(s.ackBuf[:], &h, nil)
		s.ackOwed = false
		s.counters.PacketsSent++
		s.cfg.Transmit(s.ackBuf[:n])
	}
}

func (s *Session) die() {
	s.dead = true
	s.emit(EventPeerDead)
}

func (s *Session) retransmitDue(nowNs int64) {
	next := int64(0)
	for seq := s.sndUna; seqLess(seq, s.sndSent); seq++ {
		sl := &s.ring[seq%sendRingPackets]
		if sl.acked || !sl.sent {
			continue
		}
		if nowNs >= sl.dueNs {
			// Retries alone prove death only if the peer is also silent:
			// a peer that acks but holds our data (its owner is
			// saturated) is alive, and silence is judged by Flush.
			if sl.retransmits >= retransmitsMax && nowNs-s.lastHeardNs > 2*int64(keepaliveInterval) {
				s.die()
				return
			}
			sl.retransmits++
			s.counters.Retransmits++
			s.cut(nowNs, seq)
			s.transmit(nowNs, sl)
		}
		if next == 0 || sl.dueNs < next {
			next = sl.dueNs
		}
	}
	s.nextDueNs = next
}

func (s *Session) fillAck(h *proto.Header) {
	h.Flags |= proto.FlagAck
	h.Flags &^= proto.FlagDuplicate
	if s.dupSeen {
		h.Flags |= proto.FlagDuplicate
		s.dupSeen = false
	}
	h.Ack = s.rcvNext
	h.SackBits = 0
	for i := 0; i < sackBits; i++ {
		seq := s.rcvNext + 1 + uint32(i)
		sl := &s.recv[seq%receiveWindowPackets]
		if sl.present && sl.hdr.Seq == seq {
			h.SackBits |= 1 << i
		}
	}
	h.Window = receiveWindowPackets
	if s.held {
		// Our owner refused a message: ask the peer to stop sending
		// until it is taken (keepalives carry the reopened window).
		h.Window = 0
	}
}

func (s *Session) transmit(nowNs int64, sl *sendSlot) {
	s.fillAck(&sl.hdr)
	_ = proto.EncodeHeader(sl.buf, &sl.hdr)
	sl.sentAtNs = nowNs
	backoff := s.rtoNs << min(sl.retransmits, 10)
	sl.dueNs = nowNs + min(backoff, int64(retransmitTimeoutMax))
	if s.nextDueNs == 0 || sl.dueNs < s.nextDueNs {
		s.nextDueNs = sl.dueNs
	}
	s.ackOwed = false
	s.counters.PacketsSent++
	s.cfg.Transmit(sl.buf)
}

// SetDst sets the destination endpoint id stamped on later packets (the
// owner learns it from the peer's first packet).
func (s *Session) SetDst(id uint32) { s.cfg.Dst = id }

// Close returns every buffer the session holds to the pool and drops its
// partial messages; the session must not be used afterwards.
func (s *Session) Close() {
	s.reset(s.lastHeardNs)
	s.dead = true
}
