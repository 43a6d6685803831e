package main

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/weft-fs/weft/internal/testkit"
	"github.com/weft-fs/weft/netstack"
	"github.com/weft-fs/weft/netstack/udp"
	"github.com/weft-fs/weft/netstack/xdp"
	"golang.org/x/sys/unix"
)

// rawRTTSamples is the number of 4 KiB round trips per raw latency run.
const rawRTTSamples = 3000

// rawRTT measures 4 KiB ping-pong between two transports without weft's
// protocol. Both sides sleep in poll(2) on PollFd when idle, as an
// Adaptive poller does, so wake-up costs are included.
func rawRTT(n *testkit.Net, kind string) (p50, p99 time.Duration, err error) {
	open := func(h *testkit.Host) (netstack.Transport, error) {
		var t netstack.Transport
		err := h.Do(func() (err error) {
			addr := netip.AddrPortFrom(h.Addr, benchPortRaw)
			if kind == "udp" {
				t, err = udp.Listen(udp.Config{Addr: addr})
				return err
			}
			t, err = xdp.Open(xdp.AutoConfig(h.Iface, addr, 0, nil))
			return err
		})
		return t, err
	}
	a, err := open(n.Hosts[0])
	if err != nil {
		return 0, 0, err
	}
	defer a.Close()
	b, err := open(n.Hosts[1])
	if err != nil {
		return 0, 0, err
	}
	defer b.Close()
	if x, ok := a.(*xdp.Transport); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := x.Resolve(ctx, n.Hosts[1].Addr); err != nil {
			return 0, 0, err
		}
		if err := b.(*xdp.Transport).Resolve(ctx, n.Hosts[0].Addr); err != nil {
			return 0, 0, err
		}
	}
	wait := func(t netstack.Transport, pk []netstack.Packet, deadline time.Time) bool {
		for time.Now().Before(deadline) {
			pk[0].Buf = pk[0].Buf[:cap(pk[0].Buf)]
			if k, _ := t.RecvBurst(pk); k > 0 {
				return true
			}
			fds := []unix.PollFd{{Fd: int32(t.PollFd()), Events: unix.POLLIN}}
			unix.Poll(fds, 10)
		}
		return false
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		pk := []netstack.Packet{{Buf: make([]byte, 9216)}}
		for {
			select {
			case <-stop:
				return
			default:
			}
			if wait(b, pk, time.Now().Add(50*time.Millisecond)) {
				b.SendBurst(pk)
			}
		}
	}()
	to := netip.AddrPortFrom(n.Hosts[1].Addr, benchPortRaw)
	pk := []netstack.Packet{{Buf: make([]byte, 9216)}}
	lat := make([]time.Duration, 0, rawRTTSamples)
	for i := 0; i < rawRTTSamples; i++ {
		t0 := time.Now()
		pk[0].Buf, pk[0].Peer = pk[0].Buf[:latencySize], to
		if _, err := a.SendBurst(pk); err != nil {
			return 0, 0, err
		}
		if !wait(a, pk, time.Now().Add(time.Second)) {
			continue // lost: the raw probe has no retransmission
		}
		lat = append(lat, time.Since(t0))
	}
	if len(lat) == 0 {
		return 0, 0, fmt.Errorf("%s: no round trip completed", kind)
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100], nil
}
