package messenger_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/weft-fs/weft/dataplane/messenger"
	"github.com/weft-fs/weft/internal/testkit"
	"github.com/weft-fs/weft/proto"
)

type (
	Messenger   = messenger.Messenger
	Config      = messenger.Config
	Request     = messenger.Request
	ReplyWriter = messenger.ReplyWriter
	IOHint      = messenger.IOHint
)

var New = messenger.New

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ seed
	}
	return b
}

const opCount = proto.Opcode(0x00F0) // test-only one-way opcode

// newInHost starts a messenger whose sockets live in host's namespace.
func newInHost(t *testing.T, h *testkit.Host, port uint16) *Messenger {
	t.Helper()
	var m *Messenger
	err := h.Do(func() error {
		var err error
		m, err = New(context.Background(), Config{Addr: netip.AddrPortFrom(h.Addr, port)}, testLogger(t))
		return err
	})
	if err != nil {
		t.Fatalf("messenger in %s: %v", h.NS, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestExactlyOnceUnderNetem runs calls and one-way messages between two
// namespaces whose links lose 10 %, duplicate 5 % and reorder 25 % of
// packets, and checks every message arrived exactly once and intact.
func TestExactlyOnceUnderNetem(t *testing.T) {
	if testing.Short() {
		t.Skip("netem run takes seconds")
	}
	n := testkit.NewNet(t, testkit.NetConfig{Hosts: 2})
	for _, h := range n.Hosts {
		err := h.SetNetem("loss", "10%", "duplicate", "5%", "delay", "1ms", "reorder", "25%")
		if errors.Is(err, testkit.ErrNoNetem) {
			// This kernel has no netem: the same faults from a tcx BPF
			// program plus an HTB slow class (testkit.Impair).
			t.Logf("%v; using testkit.Impair", err)
			if err = h.Impair(t, testkit.Impairment{LossPct: 10, DupPct: 5, ReorderPct: 25}); err != nil {
				t.Skipf("neither netem nor BPF impairment available: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	a := newInHost(t, n.Hosts[0], 7100)
	b := newInHost(t, n.Hosts[1], 7100)

	var mu sync.Mutex
	seen := map[uint64]int{}
	bad := 0
	b.Handle(opCount, func(ctx context.Context, req *Request, w *ReplyWriter) {
		id := binary.LittleEndian.Uint64(req.Payload)
		mu.Lock()
		seen[id]++
		if !bytes.Equal(req.Payload[8:], pattern(len(req.Payload)-8, byte(id))) {
			bad++
		}
		mu.Unlock()
	})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const oneWay = 400
	errc := make(chan error, 3)
	go func() {
		for id := uint64(0); id < oneWay; id++ {
			size := int(id*977) % 20000
			msg := append(binary.LittleEndian.AppendUint64(nil, id), pattern(size, byte(id))...)
			if err := a.Send(ctx, b.LocalAddr(), opCount, msg, IOHint{}); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for _, dir := range [][2]*Messenger{{a, b}, {b, a}} {
		go func(from, to *Messenger) {
			resp := make([]byte, proto.MessageBytesMax)
			sizes := []int{0, 64, 1472, 4096, 65536, 1 << 20, 300 << 10, 9000}
			for i := 0; i < 3*len(sizes); i++ {
				req := pattern(sizes[i%len(sizes)], byte(i))
				got, err := from.Call(ctx, to.LocalAddr(), proto.OpEcho, req, resp, IOHint{})
				if err == nil && (got != len(req) || !bytes.Equal(resp[:got], req)) {
					err = errors.New("echo mismatch")
				}
				if err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}(dir[0], dir[1])
	}
	for i := 0; i < 3; i++ {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	// One-way messages are acked before the handler necessarily ran: wait
	// for the last ones.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got == oneWay || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for id := uint64(0); id < oneWay; id++ {
		if seen[id] != 1 {
			t.Fatalf("one-way message %d delivered %d times", id, seen[id])
		}
	}
	if bad != 0 {
		t.Fatalf("%d messages arrived with wrong content", bad)
	}
	sa, sb := a.Stats(), b.Stats()
	t.Logf("a: %d pkts out, %d retransmits (%d fast), %d dups dropped; b: %d pkts out, %d retransmits, %d dups",
		sa.PacketsOut, sa.Retransmits, sa.FastRetransmits, sa.Duplicates, sb.PacketsOut, sb.Retransmits, sb.Duplicates)
	if sa.Retransmits+sb.Retransmits == 0 || sa.Duplicates+sb.Duplicates == 0 {
		t.Fatalf("netem did not exercise retransmission or duplicate suppression")
	}
}
