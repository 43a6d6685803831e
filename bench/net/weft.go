package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weft-fs/weft/dataplane/messenger"
	"github.com/weft-fs/weft/dataplane/poller"
	"github.com/weft-fs/weft/internal/testkit"
	"github.com/weft-fs/weft/netstack"
	"github.com/weft-fs/weft/netstack/xdp"
	"github.com/weft-fs/weft/proto"
)

// Message sizes and run shape.
var messageSizes = []int{64, 4 << 10, 64 << 10, 1 << 20}

const (
	// sendersPerRun goroutines push one-way messages concurrently.
	sendersPerRun = 32
	// latencyCallsMax bounds the request/response samples.
	latencyCallsMax = 20000
	latencySize     = 4 << 10
	plainChunkBytes = 9000 - 28 // plain UDP splits large messages into MTU datagrams
)

// figure is one transport's results.
type figure struct {
	name     string
	msgsPerS []float64 // per messageSizes
	p50, p99 time.Duration
	note     string
}

// xdpOpened records the AF_XDP transports the hook opened, for their
// drop counters.
type xdpOpened struct {
	mu sync.Mutex
	ts []*xdp.Transport
}

func (o *xdpOpened) hook(ctx context.Context, r messenger.XDPRequest) (netstack.Transport, error) {
	t, err := xdp.Open(xdp.AutoConfig(r.Interface, r.Addr, r.Queue, r.Log))
	if err == nil {
		o.mu.Lock()
		o.ts = append(o.ts, t)
		o.mu.Unlock()
	}
	return t, err
}

// drops sums the kernel's AF_XDP drop counters of the opened transports.
func (o *xdpOpened) drops() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var full, empty, dropped uint64
	for _, t := range o.ts {
		s := t.Stats().Socket
		full += s.RxRingFull
		empty += s.RxFillRingEmpty
		dropped += s.RxDropped
	}
	return fmt.Sprintf("af_xdp rx ring full %d, fill ring empty %d, dropped %d", full, empty, dropped)
}

// startPair starts a client messenger in host 1 and a server in host 2.
func startPair(n *testkit.Net, netName string, mode poller.Mode, opened *xdpOpened) (c, s *messenger.Messenger, err error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	start := func(h *testkit.Host) (*messenger.Messenger, error) {
		var m *messenger.Messenger
		err := h.Do(func() (err error) {
			nn := netName
			if nn == "iface" {
				nn = h.Iface
			}
			m, err = messenger.New(context.Background(), messenger.Config{
				Addr:    netip.AddrPortFrom(h.Addr, benchPortWeft),
				Net:     nn,
				OpenXDP: opened.hook,
				Poller:  poller.Config{Mode: mode},
			}, log)
			return err
		})
		return m, err
	}
	if s, err = start(n.Hosts[1]); err != nil {
		return nil, nil, err
	}
	if c, err = start(n.Hosts[0]); err != nil {
		s.Close()
		return nil, nil, err
	}
	return c, s, nil
}

func kinds(m *messenger.Messenger) string {
	st := m.Stats()
	var k []string
	for _, t := range st.Transports {
		if t.PacketsOut > 0 || t.PacketsIn > 0 {
			k = append(k, fmt.Sprintf("%s(in %d out %d)", t.Kind, t.PacketsIn, t.PacketsOut))
		}
	}
	return fmt.Sprint(k)
}

// runWeft measures one messenger pair.
func runWeft(n *testkit.Net, name, netName string, mode poller.Mode, d time.Duration) (figure, error) {
	opened := &xdpOpened{}
	c, s, err := startPair(n, netName, mode, opened)
	if err != nil {
		return figure{}, err
	}
	defer c.Close()
	defer s.Close()
	var got atomic.Uint64
	s.Handle(proto.OpSink, func(ctx context.Context, req *messenger.Request, w *messenger.ReplyWriter) { got.Add(1) })
	ctx := context.Background()
	to := s.LocalAddr()
	// Warm up: neighbour resolution, sessions.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = c.Call(wctx, to, proto.OpPing, nil, nil, messenger.IOHint{})
	cancel()
	if err != nil {
		return figure{}, fmt.Errorf("%s: warm-up call: %w", name, err)
	}
	f := figure{name: name}
	for _, size := range messageSizes {
		payload := make([]byte, size)
		var stop atomic.Bool
		var wg sync.WaitGroup
		for g := 0; g < sendersPerRun; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					if err := c.Send(ctx, to, proto.OpSink, payload, messenger.IOHint{Dir: messenger.IOWrite, Bytes: size}); err != nil {
						return
					}
				}
			}()
		}
		time.Sleep(d / 4) // fill the pipeline
		before := got.Load()
		time.Sleep(d)
		delta := got.Load() - before
		stop.Store(true)
		wg.Wait()
		f.msgsPerS = append(f.msgsPerS, float64(delta)/d.Seconds())
		// Drain before the next size so runs do not overlap.
		drain(c, s, to)
	}
	f.p50, f.p99, err = latencyWeft(c, to, d)
	if err != nil {
		return f, fmt.Errorf("%s: %w", name, err)
	}
	cs, ss := c.Stats(), s.Stats()
	f.note = fmt.Sprintf("client %s, server %s, retransmits client %d server %d; %s",
		kinds(c), kinds(s), cs.Retransmits, ss.Retransmits, opened.drops())
	return f, nil
}

func drain(c, s *messenger.Messenger, to netip.AddrPort) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.Call(ctx, to, proto.OpPing, nil, nil, messenger.IOHint{})
}

func latencyWeft(c *messenger.Messenger, to netip.AddrPort, d time.Duration) (p50, p99 time.Duration, err error) {
	req := make([]byte, latencySize)
	resp := make([]byte, latencySize)
	lat := make([]time.Duration, 0, latencyCallsMax)
	end := time.Now().Add(d)
	ctx := context.Background()
	for len(lat) < latencyCallsMax && time.Now().Before(end) {
		t0 := time.Now()
		if _, err := c.Call(ctx, to, proto.OpEcho, req, resp, messenger.IOHint{}); err != nil {
			return 0, 0, fmt.Errorf("echo: %w", err)
		}
		lat = append(lat, time.Since(t0))
	}
	return percentiles(lat)
}

func percentiles(lat []time.Duration) (p50, p99 time.Duration, err error) {
	if len(lat) == 0 {
		return 0, 0, fmt.Errorf("no latency samples")
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100], nil
}

// runPlain measures plain kernel UDP sockets: a Go sender writing each
// message as MTU-sized datagrams and a Go receiver counting bytes, and a
// 4 KiB datagram ping-pong. No reliability: lost datagrams are lost.
func runPlain(n *testkit.Net, d time.Duration) (figure, error) {
	f := figure{name: "plain kernel UDP (Go UDPConn pair)"}
	var rc, sc *net.UDPConn
	if err := n.Hosts[1].Do(func() (err error) {
		rc, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(n.Hosts[1].Addr, benchPortPlain)))
		if err == nil {
			err = rc.SetReadBuffer(8 << 20)
		}
		return err
	}); err != nil {
		return f, err
	}
	defer rc.Close()
	if err := n.Hosts[0].Do(func() (err error) {
		sc, err = net.DialUDP("udp4", nil, rc.LocalAddr().(*net.UDPAddr))
		return err
	}); err != nil {
		return f, err
	}
	defer sc.Close()
	var rxBytes atomic.Uint64
	var echo atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 9216)
		for {
			m, from, err := rc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if echo.Load() {
				rc.WriteToUDPAddrPort(buf[:m], from)
				continue
			}
			rxBytes.Add(uint64(m))
		}
	}()
	for _, size := range messageSizes {
		msg := make([]byte, min(size, plainChunkBytes))
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				for left := size; left > 0; left -= len(msg) {
					sc.Write(msg[:min(left, len(msg))])
				}
			}
		}()
		time.Sleep(d / 4)
		before := rxBytes.Load()
		time.Sleep(d)
		delta := rxBytes.Load() - before
		stop.Store(true)
		wg.Wait()
		time.Sleep(50 * time.Millisecond)
		f.msgsPerS = append(f.msgsPerS, float64(delta)/float64(size)/d.Seconds())
	}
	echo.Store(true)
	req := make([]byte, latencySize)
	resp := make([]byte, 9216)
	lat := make([]time.Duration, 0, latencyCallsMax)
	end := time.Now().Add(d)
	for len(lat) < latencyCallsMax && time.Now().Before(end) {
		t0 := time.Now()
		sc.Write(req)
		sc.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := sc.Read(resp); err != nil {
			continue // lost: no retransmission in the reference
		}
		lat = append(lat, time.Since(t0))
	}
	var err error
	f.p50, f.p99, err = percentiles(lat)
	rc.Close()
	<-done
	return f, err
}

// benchWeft runs the messenger comparison rounds times, interleaving
// the transports so load from other processes hits them alike, and prints
// medians.
func benchWeft(n *testkit.Net, d time.Duration, mode poller.Mode, rounds int) error {
	fmt.Printf("\n== weft messenger vs plain kernel UDP: one-way messages (%d senders), 4 KiB echo latency; pollers %s; median of %d rounds ==\n",
		sendersPerRun, mode, rounds)
	var plains, fallbacks, afxdps []figure
	note := ""
	for r := 0; r < rounds; r++ {
		plain, err := runPlain(n, d)
		if err != nil {
			return fmt.Errorf("plain UDP: %w", err)
		}
		fallback, err := runWeft(n, "weft over kernel UDP fallback", "udp", mode, d)
		if err != nil {
			return err
		}
		afxdp, err := runWeft(n, "weft over AF_XDP", "iface", mode, d)
		if err != nil {
			return err
		}
		plains, fallbacks, afxdps = append(plains, plain), append(fallbacks, fallback), append(afxdps, afxdp)
		note = afxdp.note
	}
	plain, fallback, afxdp := median(plains), median(fallbacks), median(afxdps)
	figs := []figure{plain, fallback, afxdp}
	fmt.Printf("%-36s", "transport")
	for _, s := range messageSizes {
		fmt.Printf(" %22s", sizeName(s)+" msg/s  GB/s")
	}
	fmt.Printf(" %10s %10s\n", "4K p50", "4K p99")
	for _, f := range figs {
		fmt.Printf("%-36s", f.name)
		for i, s := range messageSizes {
			fmt.Printf(" %12.0f %9.3f", f.msgsPerS[i], f.msgsPerS[i]*float64(s)/1e9)
		}
		fmt.Printf(" %10v %10v\n", f.p50.Round(time.Microsecond), f.p99.Round(time.Microsecond))
	}
	fmt.Println("\nratios (throughput: higher is better; latency: lower is better)")
	for _, pair := range []struct {
		name string
		a, b figure
	}{
		{"weft/AF_XDP vs plain kernel UDP", afxdp, plain},
		{"weft/UDP fallback vs plain kernel UDP", fallback, plain},
		{"weft/AF_XDP vs weft/UDP fallback", afxdp, fallback},
	} {
		fmt.Printf("%-40s", pair.name)
		for i, s := range messageSizes {
			fmt.Printf(" %s %5.2fx", sizeName(s), pair.a.msgsPerS[i]/pair.b.msgsPerS[i])
		}
		fmt.Printf("  p50 %5.2fx  p99 %5.2fx\n", float64(pair.a.p50)/float64(pair.b.p50), float64(pair.a.p99)/float64(pair.b.p99))
	}
	fmt.Println("\nlast AF_XDP round, client transports: " + note)
	return nil
}

// median takes the per-metric median over rounds.
func median(fs []figure) figure {
	out := figure{name: fs[0].name, msgsPerS: make([]float64, len(fs[0].msgsPerS))}
	for i := range out.msgsPerS {
		v := make([]float64, len(fs))
		for j, f := range fs {
			v[j] = f.msgsPerS[i]
		}
		slices.Sort(v)
		out.msgsPerS[i] = v[len(v)/2]
	}
	p50 := make([]time.Duration, len(fs))
	p99 := make([]time.Duration, len(fs))
	for j, f := range fs {
		p50[j], p99[j] = f.p50, f.p99
	}
	slices.Sort(p50)
	slices.Sort(p99)
	out.p50, out.p99 = p50[len(p50)/2], p99[len(p99)/2]
	return out
}

func sizeName(s int) string {
	switch {
	case s >= 1<<20:
		return fmt.Sprintf("%dM", s>>20)
	case s >= 1<<10:
		return fmt.Sprintf("%dK", s>>10)
	}
	return fmt.Sprintf("%dB", s)
}
