package testkit

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestNetUDP sends a jumbo UDP datagram from one host namespace to another
// through the bridge.
func TestNetUDP(t *testing.T) {
	n := NewNet(t, NetConfig{Hosts: 2, MTU: 9000})
	var srv *net.UDPConn
	err := n.Hosts[1].Do(func() (err error) {
		srv, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(n.Hosts[1].Addr, 0)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	msg := make([]byte, 8000)
	err = n.Hosts[0].Do(func() error {
		c, err := net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write(msg)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 9000)
	srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, from, err := srv.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if m != len(msg) || from.Addr() != n.Hosts[0].Addr {
		t.Fatalf("got %d bytes from %v, want %d from %v", m, from, len(msg), n.Hosts[0].Addr)
	}
	if err := n.Hosts[1].SetNetem("delay", "1ms"); errors.Is(err, ErrNoNetem) {
		t.Logf("netem check skipped: %v", err)
		return
	} else if err != nil {
		t.Fatal(err)
	}
	if err := n.Hosts[1].SetNetem(); err != nil {
		t.Fatal(err)
	}
}
