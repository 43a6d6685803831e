package xdp_test

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/weft-fs/weft/dataplane/messenger"
	"github.com/weft-fs/weft/internal/testkit"
	"github.com/weft-fs/weft/netstack"
	"github.com/weft-fs/weft/netstack/xdp"
	"github.com/weft-fs/weft/proto"
)

const messengerPort = 7490

// startMessenger starts a messenger with AF_XDP on the host's interface
// and returns it with its AF_XDP transport.
func startMessenger(t *testing.T, h *testkit.Host) (*messenger.Messenger, *xdp.Transport) {
	t.Helper()
	var m *messenger.Messenger
	var tr *xdp.Transport
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	err := h.Do(func() (err error) {
		m, err = messenger.New(context.Background(), messenger.Config{
			Addr: netip.AddrPortFrom(h.Addr, messengerPort),
			Net:  h.Iface,
			OpenXDP: func(ctx context.Context, r messenger.XDPRequest) (netstack.Transport, error) {
				x, err := xdp.Open(xdp.AutoConfig(r.Interface, r.Addr, r.Queue, r.Log))
				tr = x
				return x, err
			},
		}, log)
		return err
	})
	if err != nil {
		t.Fatalf("messenger in %s: %v", h.NS, err)
	}
	if tr == nil {
		t.Fatalf("messenger in %s did not open AF_XDP", h.NS)
	}
	t.Cleanup(func() { m.Close() })
	return m, tr
}

func transportPackets(m *messenger.Messenger, kind string) (in, out uint64) {
	for _, ts := range m.Stats().Transports {
		if ts.Kind == kind {
			return ts.PacketsIn, ts.PacketsOut
		}
	}
	return 0, 0
}

// TestMessengerFallbackMidStream streams numbered one-way messages from
// one messenger to another over AF_XDP, closes the receiver's AF_XDP
// socket halfway (as a crash of the socket would), and checks that every
// message arrives exactly once: the kernel UDP socket on the same port
// takes over through the XDP program's XDP_PASS miss action.
func TestMessengerFallbackMidStream(t *testing.T) {
	for _, jumbo := range []bool{false, true} {
		name := "mtu1500"
		mtu := 0
		if jumbo {
			name, mtu = "mtu9000", 9000
		}
		t.Run(name, func(t *testing.T) {
			n := testkit.NewNet(t, testkit.NetConfig{Hosts: 2, MTU: mtu})
			client, ctr := startMessenger(t, n.Hosts[0])
			server, str := startMessenger(t, n.Hosts[1])
			const total = 4000
			var mu sync.Mutex
			seen := make(map[uint32]int, total)
			server.Handle(proto.OpSink, func(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) {
				mu.Lock()
				seen[binary.LittleEndian.Uint32(req.Payload)]++
				mu.Unlock()
			})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			to := server.LocalAddr()
			if _, err := client.Call(ctx, to, proto.OpPing, nil, nil, messenger.IOHint{}); err != nil {
				t.Fatalf("first call: %v", err)
			}
			msg := make([]byte, 3000) // two frames at MTU 1500, one at 9000
			if jumbo {
				msg = make([]byte, 20000)
			}
			for i := uint32(0); i < total; i++ {
				if i == total/2 {
					in, _ := transportPackets(server, str.Kind())
					if in == 0 {
						t.Fatalf("server received nothing over %s before the close", str.Kind())
					}
					str.CloseSocket()
				}
				binary.LittleEndian.PutUint32(msg, i)
				if err := client.Send(ctx, to, proto.OpSink, msg, messenger.IOHint{}); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			// A call after the stream returns once everything before it
			// was delivered in order on the session.
			if _, err := client.Call(ctx, to, proto.OpPing, nil, nil, messenger.IOHint{}); err != nil {
				t.Fatalf("final call: %v", err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				mu.Lock()
				got := len(seen)
				mu.Unlock()
				if got == total || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			for i := uint32(0); i < total; i++ {
				if seen[i] != 1 {
					t.Fatalf("message %d delivered %d times (%d distinct of %d)", i, seen[i], len(seen), total)
				}
			}
			udpIn, _ := transportPackets(server, "udp")
			if udpIn == 0 {
				t.Fatalf("kernel UDP received nothing after the AF_XDP socket closed")
			}
			cin, cout := transportPackets(client, ctr.Kind())
			t.Logf("client %s in %d out %d; server udp in %d; server stats %+v", ctr.Kind(), cin, cout, udpIn, str.Stats())
		})
	}
}

// TestMessengerEchoOverXDP runs request/response of every size class
// between two messengers over AF_XDP with jumbo frames, and checks nothing
// went through kernel UDP.
func TestMessengerEchoOverXDP(t *testing.T) {
	n := testkit.NewNet(t, testkit.NetConfig{Hosts: 2, MTU: 9000})
	client, ctr := startMessenger(t, n.Hosts[0])
	server, _ := startMessenger(t, n.Hosts[1])
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp := make([]byte, 1<<20)
	for _, size := range []int{0, 1, 64, 1400, 4096, 8972, 9000, 65536, 1 << 20} {
		req := make([]byte, size)
		for i := range req {
			req[i] = byte(i*13 + size)
		}
		got, err := client.Call(ctx, server.LocalAddr(), proto.OpEcho, req, resp, messenger.IOHint{})
		if err != nil {
			t.Fatalf("echo %d bytes: %v", size, err)
		}
		if got != size || string(resp[:got]) != string(req) {
			t.Fatalf("echo %d bytes: got %d bytes back", size, got)
		}
	}
	if _, out := transportPackets(client, ctr.Kind()); out == 0 {
		t.Fatalf("client sent nothing over %s", ctr.Kind())
	}
	if _, out := transportPackets(client, "udp"); out != 0 {
		t.Fatalf("client sent %d packets over kernel UDP", out)
	}
	if in, _ := transportPackets(server, "udp"); in != 0 {
		t.Fatalf("server received %d packets over kernel UDP", in)
	}
}
