package messenger

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/weft-fs/weft/proto"
)

// TestMalformedFramesCountedAndDropped throws garbage and near-miss
// packets at a messenger's port and checks each is counted, none crashes
// the poller, and calls keep working.
func TestMalformedFramesCountedAndDropped(t *testing.T) {
	m := newLoopback(t, Config{})
	peer := newLoopback(t, Config{})
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(m.LocalAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	good := func(mut func(b []byte)) []byte {
		h := proto.Header{Opcode: proto.OpEcho, Flags: proto.FlagReliable, Seq: 1, Epoch: 77, RequestID: 1}
		b := make([]byte, proto.HeaderBytes+10)
		h.MsgLen = 10
		proto.Encode(b, &h, []byte("0123456789"))
		mut(b)
		return b
	}
	cases := []struct {
		name string
		pkt  []byte
		stat func(s Stats) uint64
	}{
		{"empty", []byte{}, func(s Stats) uint64 { return s.MalformedShort }},
		{"short", []byte("WEFT"), func(s Stats) uint64 { return s.MalformedShort }},
		{"magic", good(func(b []byte) { b[0] = 'X' }), func(s Stats) uint64 { return s.MalformedMagic }},
		{"version", good(func(b []byte) { b[4] = 99 }), func(s Stats) uint64 { return s.MalformedVersion }},
		{"payload bit flip", good(func(b []byte) { b[proto.HeaderBytes+3] ^= 4 }), func(s Stats) uint64 { return s.MalformedChecksum }},
		{"header bit flip", good(func(b []byte) { b[17] ^= 1 }), func(s Stats) uint64 { return s.MalformedChecksum }},
		{"wrong endpoint", good(func(b []byte) { b[28] = 1; b[29] = 2; proto.Seal(b) }), func(s Stats) uint64 { return s.MalformedOther }},
		{"bad fragment", good(func(b []byte) { b[8] |= byte(proto.FlagFragment); proto.Seal(b) }), func(s Stats) uint64 { return s.MalformedOther }},
	}
	sent := uint64(0)
	for _, c := range cases {
		before := c.stat(m.Stats())
		conn.Write(c.pkt)
		sent++
		waitStat(t, c.name, func() bool { return c.stat(m.Stats()) == before+1 })
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		b := make([]byte, rng.IntN(1600))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if i%2 == 0 && len(b) >= 4 {
			copy(b, "WEFT") // get past the magic check, fail later
		}
		conn.Write(b)
		sent++
	}
	waitStat(t, "random garbage", func() bool { return m.Stats().Malformed == sent })
	resp := make([]byte, 16)
	if n, err := peer.Call(context.Background(), m.LocalAddr(), proto.OpEcho, []byte("still here"), resp, IOHint{}); err != nil || string(resp[:n]) != "still here" {
		t.Fatalf("call after garbage: %q %v", resp[:n], err)
	}
	s := m.Stats()
	if s.Transports[len(s.Transports)-1].Malformed != sent {
		t.Fatalf("per-transport malformed %d, want %d", s.Transports[len(s.Transports)-1].Malformed, sent)
	}
}

func waitStat(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: counter never reached the expected value", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRDMATaggingAndCounters(t *testing.T) {
	a := newLoopback(t, Config{})
	b := newLoopback(t, Config{})
	var tagged, untagged atomic.Int64
	const opIO = proto.Opcode(0x0200)
	b.Handle(opIO, func(ctx context.Context, req *Request, w *ReplyWriter) {
		if req.RDMA() {
			tagged.Add(1)
		} else {
			untagged.Add(1)
		}
		w.Grow(int(req.Payload[0]) << 10) // reply with N KiB
	})
	ctx := context.Background()
	resp := make([]byte, 1<<20)
	call := func(replyKiB int, req []byte, io IOHint) {
		t.Helper()
		req[0] = byte(replyKiB)
		if _, err := a.Call(ctx, b.LocalAddr(), opIO, req, resp, io); err != nil {
			t.Fatal(err)
		}
	}
	small := make([]byte, 64)
	call(32, small, IOHint{Dir: IORead, Bytes: 32 << 10})                  // read at threshold: tagged
	call(31, small, IOHint{Dir: IORead, Bytes: 32<<10 - 1})                // just below: not
	call(0, make([]byte, 256<<10), IOHint{Dir: IOWrite, Bytes: 256 << 10}) // write at threshold
	call(0, make([]byte, 200<<10), IOHint{Dir: IOWrite, Bytes: 200 << 10}) // below write threshold
	call(0, make([]byte, 64<<10), IOHint{Dir: IONone, Bytes: 64 << 10})    // metadata never tagged
	s := a.Stats()
	if s.RDMAEligibleReads != 1 || s.RDMAEligibleReadBytes != 32<<10 ||
		s.RDMAEligibleWrites != 1 || s.RDMAEligibleWriteBytes != 256<<10 {
		t.Fatalf("RDMA counters: reads %d (%d B), writes %d (%d B)", s.RDMAEligibleReads, s.RDMAEligibleReadBytes,
			s.RDMAEligibleWrites, s.RDMAEligibleWriteBytes)
	}
	if tagged.Load() != 2 || untagged.Load() != 3 {
		t.Fatalf("handler saw %d tagged, %d untagged; want 2 and 3", tagged.Load(), untagged.Load())
	}

	// Thresholds are configurable.
	c := newLoopback(t, Config{RDMAReadBytes: 4096, RDMAWriteBytes: 8192})
	req := make([]byte, 8192)
	req[0] = 4
	if _, err := c.Call(ctx, b.LocalAddr(), opIO, req, resp, IOHint{Dir: IORead, Bytes: 4096}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, b.LocalAddr(), opIO, req, resp, IOHint{Dir: IOWrite, Bytes: 8192}); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.RDMAEligibleReads != 1 || s.RDMAEligibleWrites != 1 {
		t.Fatalf("custom thresholds: reads %d writes %d", s.RDMAEligibleReads, s.RDMAEligibleWrites)
	}
}

func TestCallContextCancel(t *testing.T) {
	a := newLoopback(t, Config{})
	b := newLoopback(t, Config{})
	const opSlow = proto.Opcode(0x0201)
	release := make(chan struct{})
	b.Handle(opSlow, func(ctx context.Context, req *Request, w *ReplyWriter) { <-release })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := a.Call(ctx, b.LocalAddr(), opSlow, []byte("x"), nil, IOHint{})
	if err == nil || ctx.Err() == nil {
		t.Fatalf("call outlived its context: %v", err)
	}
	close(release)
	// The late response is dropped as stale, the messenger goes on.
	waitStat(t, "stale response", func() bool { return a.Stats().StaleResponses == 1 })
	if _, err := a.Call(context.Background(), b.LocalAddr(), proto.OpPing, nil, nil, IOHint{}); err != nil {
		t.Fatal(err)
	}
}

func TestPeerDeadFailsCall(t *testing.T) {
	a := newLoopback(t, Config{PeerDeadAfter: 300 * time.Millisecond})
	// Nobody listens on this port: the call must fail with ErrPeerDead
	// once the peer is declared dead, not hang.
	dead := newLoopback(t, Config{})
	addr := dead.LocalAddr()
	dead.Close()
	_, err := a.Call(context.Background(), addr, proto.OpPing, nil, nil, IOHint{})
	if err == nil || !errorsIs(err, ErrPeerDead) {
		t.Fatalf("call to a dead peer: %v", err)
	}
	if a.Stats().PeersDead != 1 {
		t.Fatalf("peers dead %d", a.Stats().PeersDead)
	}
}

// TestSaturatedWorkersBackpressure floods a messenger whose single worker
// is slow and whose work queue holds 4 requests: deliveries are deferred,
// never dropped, and every one-way message is handled exactly once.
func TestSaturatedWorkersBackpressure(t *testing.T) {
	a := newLoopback(t, Config{})
	b := newLoopback(t, Config{Workers: 1, WorkQueue: 4})
	const opSlowSink = proto.Opcode(0x0202)
	seen := make([]atomic.Int32, 300)
	b.Handle(opSlowSink, func(ctx context.Context, req *Request, w *ReplyWriter) {
		time.Sleep(100 * time.Microsecond)
		seen[int(req.Payload[0])|int(req.Payload[1])<<8].Add(1)
	})
	ctx := context.Background()
	for i := 0; i < len(seen); i++ {
		msg := make([]byte, 100+i*37)
		msg[0], msg[1] = byte(i), byte(i>>8)
		if err := a.Send(ctx, b.LocalAddr(), opSlowSink, msg, IOHint{}); err != nil {
			t.Fatal(err)
		}
	}
	waitStat(t, "all handled", func() bool { return b.Stats().RequestsHandled >= uint64(len(seen)) })
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Fatalf("message %d handled %d times", i, n)
		}
	}
	if b.Stats().RequestsRefused == 0 {
		t.Fatal("the flood never saturated the worker (no deferred delivery)")
	}
}

func TestContextEndsMessenger(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	m, err := New(ctx, Config{Addr: netip.MustParseAddrPort("127.0.0.1:0")}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cancel()
	waitStat(t, "close on ctx end", func() bool { return m.closed.Load() })
	if _, err := m.Call(context.Background(), m.LocalAddr(), proto.OpPing, nil, nil, IOHint{}); !errorsIs(err, ErrClosed) {
		t.Fatalf("call after ctx ended: %v", err)
	}
}

func TestInlineHandlers(t *testing.T) {
	a := newLoopback(t, Config{})
	b := newLoopback(t, Config{})
	ctx := context.Background()
	const opInl = proto.Opcode(0x0203)
	b.HandleInline(opInl, func(ctx context.Context, req *Request, w *ReplyWriter) {
		if len(req.Payload) == 0 {
			w.Error(syscall.EINVAL)
			return
		}
		copy(w.Grow(len(req.Payload)), req.Payload)
	})
	resp := make([]byte, 200000)
	req := pattern(150000, 3)
	if n, err := a.Call(ctx, b.LocalAddr(), opInl, req, resp, IOHint{}); err != nil || !bytes.Equal(resp[:n], req) {
		t.Fatalf("inline echo: %v", err)
	}
	if _, err := a.Call(ctx, b.LocalAddr(), opInl, nil, resp, IOHint{}); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("inline errno: %v", err)
	}
	// Handle replaces the built-in inline echo with a worker handler.
	b.Handle(proto.OpEcho, func(ctx context.Context, req *Request, w *ReplyWriter) { w.Write([]byte("worker")) })
	if n, err := a.Call(ctx, b.LocalAddr(), proto.OpEcho, []byte("x"), resp, IOHint{}); err != nil || string(resp[:n]) != "worker" {
		t.Fatalf("override: %q %v", resp[:n], err)
	}
}
