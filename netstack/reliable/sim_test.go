package reliable

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/weft-fs/weft/proto"
)

// simNet is a deterministic lossy network between two sessions: every
// packet may be lost, duplicated, or delayed past later packets.
type simNet struct {
	rng                  *rand.Rand
	loss, dup, reorder   float64
	delayNs, reorderNs   int64
	inFlight             []simPacket
	blockAtoB, blockBtoA bool
	sent                 int
	refuse               float64 // share of deliveries the owner refuses
}

type simPacket struct {
	atNs int64
	toB  bool
	data []byte
	ord  int
}

func (n *simNet) send(nowNs int64, toB bool, pkt []byte) {
	if (toB && n.blockAtoB) || (!toB && n.blockBtoA) {
		return
	}
	if n.rng.Float64() < n.loss {
		return
	}
	copies := 1
	if n.rng.Float64() < n.dup {
		copies = 2
	}
	for c := 0; c < copies; c++ {
		at := nowNs + n.delayNs
		if n.rng.Float64() < n.reorder {
			at += n.rng.Int64N(n.reorderNs)
		}
		n.sent++
		heap.Push((*simHeap)(&n.inFlight), simPacket{atNs: at, toB: toB, data: append([]byte(nil), pkt...), ord: n.sent})
	}
}

// due removes and returns the packets that arrive by nowNs, in arrival
// order (ties in send order).
func (n *simNet) due(nowNs int64) []simPacket {
	var out []simPacket
	for len(n.inFlight) > 0 && n.inFlight[0].atNs <= nowNs {
		out = append(out, heap.Pop((*simHeap)(&n.inFlight)).(simPacket))
	}
	return out
}

// simHeap orders packets by arrival time, then send order.
type simHeap []simPacket

func (h simHeap) Len() int { return len(h) }
func (h simHeap) Less(i, j int) bool {
	return h[i].atNs < h[j].atNs || h[i].atNs == h[j].atNs && h[i].ord < h[j].ord
}
func (h simHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *simHeap) Push(x any)   { *h = append(*h, x.(simPacket)) }
func (h *simHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type simEnd struct {
	s         *Session
	delivered []uint64 // request ids in delivery order
	events    []Event
	corrupt   int
}

// expected is the payload of message id: its length and bytes derive
// from the id, so the receiver can check content without shared state.
func expected(id uint64) []byte {
	r := rand.New(rand.NewPCG(id, 7))
	n := r.IntN(20000)
	if id%17 == 0 {
		n = 200000 + r.IntN(100000) // some large, many-fragment messages
	}
	b := make([]byte, n)
	x := uint32(id)*2654435761 | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func newSimEnd(t *testing.T, net *simNet, toB bool, epoch uint32, pool *Pool, nowNs *int64) *simEnd {
	e := &simEnd{}
	e.s = NewSession(Config{
		Epoch: epoch, Pool: pool, PeerKey: uint64(epoch),
		Reassembler: proto.NewReassembler(4, 0, int64(10*time.Second)),
		Deliver: func(h *proto.Header, msg []byte) bool {
			if net.refuse > 0 && net.rng.Float64() < net.refuse {
				return false // a saturated owner
			}
			if !bytes.Equal(msg, expected(h.RequestID)) {
				e.corrupt++
			}
			e.delivered = append(e.delivered, h.RequestID)
			return true
		},
		Transmit: func(pkt []byte) { net.send(*nowNs, toB, pkt) },
		OnEvent:  func(ev Event) { e.events = append(e.events, ev) },
	}, *nowNs)
	return e
}

func feed(t *testing.T, dst *simEnd, nowNs int64, data []byte) {
	var h proto.Header
	p, err := proto.Decode(data, &h)
	if err != nil {
		t.Fatalf("simulated network corrupted nothing, yet decode failed: %v", err)
	}
	dst.s.Receive(nowNs, &h, p)
}

func runSim(t *testing.T, seed uint64, loss, dup, reorder float64, messages int) (a, b *simEnd, c Counters) {
	return runSimRefusing(t, seed, loss, dup, reorder, 0, messages)
}

func runSimRefusing(t *testing.T, seed uint64, loss, dup, reorder, refuse float64, messages int) (a, b *simEnd, c Counters) {
	net := &simNet{rng: rand.New(rand.NewPCG(seed, 1)), loss: loss, dup: dup, reorder: reorder, refuse: refuse,
		delayNs: int64(100 * time.Microsecond), reorderNs: int64(2 * time.Millisecond)}
	var now int64
	pool := NewPool(1500-28, 1<<16)
	a = newSimEnd(t, net, true, 11, pool, &now)
	b = newSimEnd(t, net, false, 22, pool, &now)
	nextA, nextB := 0, 0
	var pendA, pendB []byte
	step := int64(50 * time.Microsecond)
	deadline := int64(10 * time.Minute)
	for ; now < deadline; now += step {
		// Offer new messages while the send rings have room.
		for nextA < messages {
			id := uint64(2*nextA + 2)
			if pendA == nil {
				pendA = expected(id)
			}
			if err := a.s.Send(now, &proto.Header{Opcode: proto.OpEcho, RequestID: id}, pendA); err != nil {
				break
			}
			nextA++
			pendA = nil
		}
		for nextB < messages {
			id := uint64(2*nextB + 1)
			if pendB == nil {
				pendB = expected(id)
			}
			if err := b.s.Send(now, &proto.Header{Opcode: proto.OpEcho, RequestID: id, Flags: proto.FlagRDMA}, pendB); err != nil {
				break
			}
			nextB++
			pendB = nil
		}
		for _, p := range net.due(now) {
			if p.toB {
				feed(t, b, now, p.data)
			} else {
				feed(t, a, now, p.data)
			}
		}
		a.s.Flush(now)
		b.s.Flush(now)
		if len(a.delivered) == messages && len(b.delivered) == messages && a.s.Idle() && b.s.Idle() {
			break
		}
	}
	ca, cb := a.s.Counters(), b.s.Counters()
	c = Counters{Retransmits: ca.Retransmits + cb.Retransmits, FastRetransmits: ca.FastRetransmits + cb.FastRetransmits,
		Duplicates: ca.Duplicates + cb.Duplicates, PacketsSent: ca.PacketsSent + cb.PacketsSent}
	t.Logf("seed %d: simulated %v, %d packets, %d retransmits (%d fast), %d duplicates dropped",
		seed, time.Duration(now), c.PacketsSent, c.Retransmits, c.FastRetransmits, c.Duplicates)
	return a, b, c
}

func checkExactlyOnce(t *testing.T, name string, got []uint64, odd bool, messages int) {
	t.Helper()
	if len(got) != messages {
		t.Fatalf("%s delivered %d messages, want %d", name, len(got), messages)
	}
	for i, id := range got {
		want := uint64(2*i + 2)
		if odd {
			want = uint64(2*i + 1)
		}
		if id != want {
			t.Fatalf("%s delivery %d is message %d, want %d (order or duplicate)", name, i, id, want)
		}
	}
}

func TestExactlyOnceLossyNetwork(t *testing.T) {
	const messages = 300
	for _, seed := range []uint64{1, 2, 3, 42, 1234} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			a, b, c := runSim(t, seed, 0.10, 0.05, 0.25, messages)
			checkExactlyOnce(t, "b", b.delivered, false, messages)
			checkExactlyOnce(t, "a", a.delivered, true, messages)
			if a.corrupt+b.corrupt != 0 {
				t.Fatalf("%d messages delivered with wrong content", a.corrupt+b.corrupt)
			}
			if c.Retransmits == 0 || c.Duplicates == 0 {
				t.Fatalf("the faults did not exercise retransmission (%d) and duplicate suppression (%d)", c.Retransmits, c.Duplicates)
			}
			if len(a.events)+len(b.events) != 0 {
				t.Fatalf("unexpected events %v %v", a.events, b.events)
			}
		})
	}
}

// TestRefusedDeliveriesHeldNotLost has the owner refuse 30 % of
// deliveries (a saturated worker pool) on a lossy network: every message
// still arrives exactly once and in order.
func TestRefusedDeliveriesHeldNotLost(t *testing.T) {
	a, b, _ := runSimRefusing(t, 77, 0.10, 0.05, 0.25, 0.30, 150)
	checkExactlyOnce(t, "b", b.delivered, false, 150)
	checkExactlyOnce(t, "a", a.delivered, true, 150)
	if a.corrupt+b.corrupt != 0 {
		t.Fatalf("%d corrupt", a.corrupt+b.corrupt)
	}
	if a.s.Counters().Refusals == 0 {
		t.Fatal("no refusals exercised")
	}
}

func TestCleanNetworkNoRetransmits(t *testing.T) {
	a, b, c := runSim(t, 5, 0, 0, 0, 100)
	checkExactlyOnce(t, "b", b.delivered, false, 100)
	checkExactlyOnce(t, "a", a.delivered, true, 100)
	if c.Retransmits != 0 {
		t.Fatalf("%d retransmits on a perfect network", c.Retransmits)
	}
}

func TestPeerDeadAndRestart(t *testing.T) {
	net := &simNet{rng: rand.New(rand.NewPCG(9, 9)), delayNs: int64(100 * time.Microsecond)}
	var now int64
	pool := NewPool(1472, 4096)
	a := newSimEnd(t, net, true, 1, pool, &now)
	b := newSimEnd(t, net, false, 2, pool, &now)
	run := func(d time.Duration) {
		for end := now + int64(d); now < end; now += int64(time.Millisecond) {
			for _, p := range net.due(now) {
				if p.toB {
					feed(t, b, now, p.data)
				} else {
					feed(t, a, now, p.data)
				}
			}
			a.s.Flush(now)
			b.s.Flush(now)
		}
	}
	// Idle peers keep each other alive with keepalives.
	run(20 * time.Second)
	if len(a.events)+len(b.events) != 0 {
		t.Fatalf("idle but alive peers reported %v %v", a.events, b.events)
	}
	// B restarts: a new session with a new epoch answers A.
	b = newSimEnd(t, net, false, 3, pool, &now)
	if err := b.s.Send(now, &proto.Header{RequestID: 5}, expected(5)); err != nil {
		t.Fatal(err)
	}
	run(time.Second)
	if len(a.events) != 1 || a.events[0] != EventPeerRestarted {
		t.Fatalf("after B restarted, A saw %v", a.events)
	}
	if len(a.delivered) != 1 || a.delivered[0] != 5 {
		t.Fatalf("message from the new B: delivered %v", a.delivered)
	}
	// B goes silent: A declares it dead within PeerDeadAfter plus a probe.
	net.blockBtoA = true
	run(peerDeadAfterDefault + time.Second)
	if len(a.events) != 2 || a.events[1] != EventPeerDead || !a.s.Dead() {
		t.Fatalf("after B went silent, A saw %v", a.events)
	}
	if err := a.s.Send(now, &proto.Header{}, nil); err != ErrPeerDead {
		t.Fatalf("send to dead peer: %v", err)
	}
}

func TestRTOEstimate(t *testing.T) {
	s := NewSession(Config{Pool: NewPool(1500, 4), Transmit: func([]byte) {}}, 0)
	for i := 0; i < 50; i++ {
		s.sampleRTT(int64(10 * time.Millisecond))
	}
	if s.rtoNs < int64(10*time.Millisecond) || s.rtoNs > int64(12*time.Millisecond) {
		t.Fatalf("steady 10ms RTT gives RTO %v", time.Duration(s.rtoNs))
	}
	s.sampleRTT(1)
	for i := 0; i < 50; i++ {
		s.sampleRTT(1000)
	}
	if s.rtoNs != int64(retransmitTimeoutMin) {
		t.Fatalf("tiny RTT: RTO %v, want the floor %v", time.Duration(s.rtoNs), retransmitTimeoutMin)
	}
	for i := 0; i < 50; i++ {
		s.sampleRTT(int64(10 * time.Second))
	}
	if s.rtoNs != int64(retransmitTimeoutMax) {
		t.Fatalf("huge RTT: RTO %v, want the cap %v", time.Duration(s.rtoNs), retransmitTimeoutMax)
	}
	_ = binary.LittleEndian
}
