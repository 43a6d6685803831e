package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weft-fs/weft/internal/testkit"
	"github.com/weft-fs/weft/netstack"
	"github.com/weft-fs/weft/netstack/udp"
	"github.com/weft-fs/weft/netstack/xdp"
	"github.com/weft-fs/weft/netstack/xdpprog"
)

// probeBurst is the packets per burst call of the raw probes.
const probeBurst = 64

// rawResult is one raw small-packet run: datagrams received per second.
type rawResult struct {
	name    string
	rxPerS  float64
	txPerS  float64
	dropped string
}

// pump runs a busy sender and a busy receiver over two transports for d
// and returns packets received and sent per second.
func pump(tx, rx netstack.Transport, to netip.AddrPort, size int, d time.Duration) (rxPerS, txPerS float64) {
	var stop atomic.Bool
	var sent, got uint64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		pkts := make([]netstack.Packet, probeBurst)
		for i := range pkts {
			pkts[i] = netstack.Packet{Buf: make([]byte, size), Peer: to}
		}
		for !stop.Load() {
			n, err := tx.SendBurst(pkts)
			if err != nil {
				panic(fmt.Sprintf("%s send: %v", tx.Kind(), err))
			}
			sent += uint64(n)
		}
	}()
	go func() {
		defer wg.Done()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		pkts := make([]netstack.Packet, probeBurst)
		for i := range pkts {
			pkts[i].Buf = make([]byte, 9216)
		}
		for !stop.Load() {
			for i := range pkts {
				pkts[i].Buf = pkts[i].Buf[:cap(pkts[i].Buf)]
			}
			n, err := rx.RecvBurst(pkts)
			if err != nil {
				panic(fmt.Sprintf("%s recv: %v", rx.Kind(), err))
			}
			got += uint64(n)
		}
	}()
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	return float64(got) / d.Seconds(), float64(sent) / d.Seconds()
}

// probeXDP measures raw AF_XDP to AF_XDP (no weft protocol).
func probeXDP(n *testkit.Net, mode xdpprog.Mode, size int, d time.Duration) (rawResult, error) {
	var a, b *xdp.Transport
	open := func(h *testkit.Host) (*xdp.Transport, error) {
		var t *xdp.Transport
		err := h.Do(func() (err error) {
			cfg := xdp.AutoConfig(h.Iface, netip.AddrPortFrom(h.Addr, benchPortRaw), 0, nil)
			cfg.Mode = mode
			t, err = xdp.Open(cfg)
			return err
		})
		return t, err
	}
	var err error
	if a, err = open(n.Hosts[0]); err != nil {
		return rawResult{}, err
	}
	defer a.Close()
	if b, err = open(n.Hosts[1]); err != nil {
		return rawResult{}, err
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Resolve(ctx, n.Hosts[1].Addr); err != nil {
		return rawResult{}, err
	}
	rx, tx := pump(a, b, b.LocalAddr(), size, d)
	st := b.Stats().Socket
	return rawResult{name: "raw AF_XDP (" + a.Kind() + ")", rxPerS: rx, txPerS: tx,
		dropped: fmt.Sprintf("rx ring full %d, fill ring empty %d", st.RxRingFull, st.RxFillRingEmpty)}, nil
}

// probeUDPBatch measures weft's kernel UDP transport (recvmmsg/sendmmsg)
// without the weft protocol.
func probeUDPBatch(n *testkit.Net, size int, d time.Duration) (rawResult, error) {
	open := func(h *testkit.Host) (*udp.Transport, error) {
		var t *udp.Transport
		err := h.Do(func() (err error) {
			t, err = udp.Listen(udp.Config{Addr: netip.AddrPortFrom(h.Addr, benchPortRaw)})
			return err
		})
		return t, err
	}
	a, err := open(n.Hosts[0])
	if err != nil {
		return rawResult{}, err
	}
	defer a.Close()
	b, err := open(n.Hosts[1])
	if err != nil {
		return rawResult{}, err
	}
	defer b.Close()
	rx, tx := pump(a, b, b.LocalAddr(), size, d)
	return rawResult{name: "kernel UDP, recvmmsg/sendmmsg batches of 64", rxPerS: rx, txPerS: tx}, nil
}

// probePlainUDP measures the simple Go sender/receiver pair: one datagram
// per system call, the receiver blocking in the Go netpoller.
func probePlainUDP(n *testkit.Net, size int, d time.Duration) (rawResult, error) {
	var rc, sc *net.UDPConn
	if err := n.Hosts[1].Do(func() (err error) {
		rc, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(n.Hosts[1].Addr, benchPortRaw)))
		if err == nil {
			err = rc.SetReadBuffer(8 << 20)
		}
		return err
	}); err != nil {
		return rawResult{}, err
	}
	defer rc.Close()
	if err := n.Hosts[0].Do(func() (err error) {
		sc, err = net.DialUDP("udp4", nil, rc.LocalAddr().(*net.UDPAddr))
		return err
	}); err != nil {
		return rawResult{}, err
	}
	defer sc.Close()
	var stop atomic.Bool
	var sent, got uint64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		msg := make([]byte, size)
		for !stop.Load() {
			if _, err := sc.Write(msg); err == nil {
				sent++
			}
		}
	}()
	go func() {
		defer wg.Done()
		buf := make([]byte, 9216)
		for {
			rc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, _, err := rc.ReadFromUDPAddrPort(buf); err != nil {
				if stop.Load() {
					return
				}
				continue
			}
			if !stop.Load() {
				got++
			}
		}
	}()
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	return rawResult{name: "kernel UDP, plain Go UDPConn pair", rxPerS: float64(got) / d.Seconds(), txPerS: float64(sent) / d.Seconds()}, nil
}
