package testkit

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestImpairDropsAndDuplicates sends numbered datagrams through an
// impaired link and checks that some are lost, some duplicated and some
// arrive out of order.
func TestImpairDropsAndDuplicates(t *testing.T) {
	n := NewNet(t, NetConfig{Hosts: 2})
	if err := n.Hosts[0].Impair(t, Impairment{LossPct: 10, DupPct: 5, ReorderPct: 25, SlowRateMbit: 20}); err != nil {
		t.Skipf("BPF impairment unavailable: %v", err)
	}
	dst := netip.AddrPortFrom(n.Hosts[1].Addr, 7200)
	var rc *net.UDPConn
	if err := n.Hosts[1].Do(func() (err error) {
		rc, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(dst))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	rc.SetReadBuffer(8 << 20)
	var sc *net.UDPConn
	if err := n.Hosts[0].Do(func() (err error) {
		sc, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	const sent = 2000
	buf := make([]byte, 1000)
	// Resolve the neighbour first: the kernel queues only a few packets
	// while ARP is pending. Numbers ≥ sent are ignored below.
	for i := 0; i < 20; i++ {
		buf[0], buf[1] = 0xff, 0xff
		sc.Write(buf)
		time.Sleep(5 * time.Millisecond)
	}
	for i := 0; i < sent; i++ {
		buf[0], buf[1] = byte(i), byte(i>>8)
		sc.Write(buf)
		if i%50 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	got, reordered, last := 0, 0, -1
	seen := map[int]int{}
	rc.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		m, err := rc.Read(buf)
		if err != nil || m == 0 {
			break
		}
		i := int(buf[0]) | int(buf[1])<<8
		if i >= sent {
			continue
		}
		seen[i]++
		if i < last {
			reordered++
		}
		last = max(last, i)
		got++
	}
	dups := got - len(seen)
	lost := sent - len(seen)
	t.Logf("sent %d: received %d, lost %d, duplicated %d, arrived late %d", sent, got, lost, dups, reordered)
	if lost == 0 || dups == 0 || reordered == 0 {
		t.Fatalf("impairment had no effect: lost %d, dups %d, reordered %d", lost, dups, reordered)
	}
}
