package messenger

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-fs/weft/dataplane/poller"
	"github.com/weft-fs/weft/proto"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func newLoopback(t testing.TB, cfg Config) *Messenger {
	t.Helper()
	if !cfg.Addr.IsValid() {
		cfg.Addr = netip.MustParseAddrPort("127.0.0.1:0")
	}
	m, err := New(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatalf("new messenger: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ seed
	}
	return b
}

func TestCallEchoSizesBothWays(t *testing.T) {
	a := newLoopback(t, Config{})
	b := newLoopback(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sizes := []int{0, 1, 100, 1400, 1472, 4096, 9000, 65536, 300 << 10, 1 << 20, proto.MessageBytesMax}
	resp := make([]byte, proto.MessageBytesMax)
	for _, dir := range []struct {
		name     string
		from, to *Messenger
	}{{"a->b", a, b}, {"b->a", b, a}} {
		for _, n := range sizes {
			req := pattern(n, byte(n))
			got, err := dir.from.Call(ctx, dir.to.LocalAddr(), proto.OpEcho, req, resp, IOHint{})
			if err != nil {
				t.Fatalf("%s echo %d bytes: %v", dir.name, n, err)
			}
			if got != n || !bytes.Equal(resp[:got], req) {
				t.Fatalf("%s echo %d bytes: got %d bytes, content equal %v", dir.name, n, got, bytes.Equal(resp[:got], req))
			}
		}
	}
}

func TestCallErrnoAndUnknownOp(t *testing.T) {
	a := newLoopback(t, Config{})
	b := newLoopback(t, Config{})
	const opFail = proto.Opcode(0x0300)
	b.Handle(opFail, func(ctx context.Context, req *Request, w *ReplyWriter) { w.Error(syscall.ENOENT) })
	ctx := context.Background()
	_, err := a.Call(ctx, b.LocalAddr(), opFail, []byte("x"), nil, IOHint{})
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("remote errno: got %v, want ENOENT", err)
	}
	_, err = a.Call(ctx, b.LocalAddr(), proto.Opcode(0x0301), nil, nil, IOHint{})
	if !errors.Is(err, syscall.ENOSYS) {
		t.Fatalf("unknown op: got %v, want ENOSYS", err)
	}
	_, err = a.Call(ctx, b.LocalAddr(), proto.OpEcho, []byte("too long"), make([]byte, 3), IOHint{})
	if !errors.Is(err, ErrShortBuffer) {
		t.Fatalf("short buffer: got %v", err)
	}
}

func TestConcurrentCalls(t *testing.T) {
	a := newLoopback(t, Config{Poller: poller.Config{Mode: poller.Adaptive}})
	b := newLoopback(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		go func(g int) {
			resp := make([]byte, 70000)
			for i := 0; i < 50; i++ {
				n := (g*7919 + i*104729) % 70000
				req := pattern(n, byte(g))
				got, err := a.Call(ctx, b.LocalAddr(), proto.OpEcho, req, resp, IOHint{})
				if err == nil && (got != n || !bytes.Equal(resp[:got], req)) {
					err = errors.New("echo mismatch")
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(g)
	}
	for g := 0; g < 16; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// TestPollersShareSessionsBySteering runs a server with one poller and
// one SO_REUSEPORT socket per allowed core, and several clients: every
// call succeeds, and the kernel's steering hands each client's datagrams
// straight to the poller owning its session.
func TestPollersShareSessionsBySteering(t *testing.T) {
	cores, err := poller.AllowedCPUs()
	if err != nil || len(cores) < 2 {
		t.Skipf("need two allowed cores, have %v (%v)", cores, err)
	}
	srv := newLoopback(t, Config{Poller: poller.Config{Cores: cores[:2]}})
	if len(srv.loops) != 2 {
		t.Fatalf("server runs %d loops, want 2", len(srv.loops))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errs := make(chan error, 8)
	for c := 0; c < 8; c++ {
		cl := newLoopback(t, Config{})
		go func(cl *Messenger, c int) {
			resp := make([]byte, 100000)
			for i := 0; i < 20; i++ {
				req := pattern((c*1000+i*3001)%100000, byte(c))
				n, err := cl.Call(ctx, srv.LocalAddr(), proto.OpEcho, req, resp, IOHint{})
				if err == nil && !bytes.Equal(resp[:n], req) {
					err = errors.New("echo mismatch")
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(cl, c)
	}
	for c := 0; c < 8; c++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	s := srv.Stats()
	if s.Handoffs != 0 {
		t.Fatalf("%d datagrams reached the wrong poller", s.Handoffs)
	}
	per := []int{int(srv.loops[0].sessions.Load()), int(srv.loops[1].sessions.Load())}
	if per[0]+per[1] != 8 {
		t.Fatalf("sessions per poller %v, want 8 in all", per)
	}
	t.Logf("sessions per poller: %v", per)
}

// TestHandoffWhenSteeringMisses detaches the steering program so the
// kernel spreads clients over the sockets by its own hash: datagrams that
// land on the wrong poller are handed to the owner and every call still
// succeeds.
func TestHandoffWhenSteeringMisses(t *testing.T) {
	cores, err := poller.AllowedCPUs()
	if err != nil || len(cores) < 2 {
		t.Skipf("need two allowed cores, have %v (%v)", cores, err)
	}
	srv := newLoopback(t, Config{Poller: poller.Config{Cores: cores[:2]}})
	fd := srv.loops[0].transports[0].PollFd()
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DETACH_REUSEPORT_BPF, 0); err != nil {
		t.Fatalf("detach steering: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for c := 0; c < 16; c++ {
		cl := newLoopback(t, Config{})
		req := pattern(5000, byte(c))
		resp := make([]byte, 5000)
		if n, err := cl.Call(ctx, srv.LocalAddr(), proto.OpEcho, req, resp, IOHint{}); err != nil || !bytes.Equal(resp[:n], req) {
			t.Fatalf("client %d: %v", c, err)
		}
	}
	if srv.Stats().Handoffs == 0 {
		t.Fatalf("16 clients without steering, none handed over (kernel hash put all on the owner?)")
	}
}
