package xdp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Neighbour cache limits.
const (
	// neighRefreshNs is how long a resolved MAC is used before the kernel
	// table is consulted again (the old MAC stays in use meanwhile).
	neighRefreshNs = int64(10 * time.Second)
	// neighRetryNs is how often an unresolved peer is looked up again and
	// a resolution is triggered.
	neighRetryNs = int64(time.Millisecond)
	// neighEntriesMax bounds the cache; past it, the oldest-checked half
	// is forgotten.
	neighEntriesMax = 4096
	// neighHoldMax frames wait for next-hop resolution at most (the
	// kernel's ARP queue holds a few per neighbour too).
	neighHoldMax = 64
	// neighHoldNs is how long a frame waits for resolution before it is
	// dropped for the reliability layer to retransmit.
	neighHoldNs = int64(time.Second)
	// discardPort receives the datagram that makes the kernel ARP for a
	// peer (RFC 863): the peer kernel drops it.
	discardPort = 9
)

// errLocal marks a destination that is this host (or reached through
// another interface): not reachable over the AF_XDP wire.
var errLocal = errors.New("xdp: destination is local or not on this interface")

type neighEntry struct {
	mac       MAC
	ok        bool  // mac is valid
	local     bool  // destination is not on the wire of this interface
	checkedNs int64 // last kernel lookup
}

// neighbours resolves next-hop MACs from the kernel's neighbour table. It
// belongs to one transport and is not safe for concurrent use.
type neighbours struct {
	nl      *netlink.Handle
	ifindex int
	probeFd int
	cache   map[netip.Addr]*neighEntry
}

func newNeighbours(ifindex int) (*neighbours, error) {
	// The handle binds its netlink socket to the namespace of the calling
	// thread, so later lookups from any thread see the right table.
	nl, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("xdp: open netlink: %w", err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		nl.Close()
		return nil, fmt.Errorf("xdp: open neighbour probe socket: %w", err)
	}
	return &neighbours{nl: nl, ifindex: ifindex, probeFd: fd, cache: make(map[netip.Addr]*neighEntry)}, nil
}

func (n *neighbours) close() error {
	n.nl.Close()
	return unix.Close(n.probeFd)
}

// learn records the MAC a frame from addr came from, unless the kernel
// table already gave one.
func (n *neighbours) learn(addr netip.Addr, mac MAC, nowNs int64) {
	e := n.cache[addr]
	if e != nil && e.ok {
		return
	}
	if e == nil {
		if len(n.cache) >= neighEntriesMax {
			n.evict()
		}
		e = &neighEntry{}
		n.cache[addr] = e
	}
	e.mac, e.ok, e.checkedNs = mac, true, nowNs
}

// lookup returns the next-hop MAC for dst. ok is false when it is not
// known yet (a resolution has been triggered) or dst is local (err set).
func (n *neighbours) lookup(dst netip.Addr, nowNs int64) (MAC, bool, error) {
	e := n.cache[dst]
	if e != nil {
		if e.local {
			return MAC{}, false, errLocal
		}
		if e.ok && nowNs-e.checkedNs < neighRefreshNs {
			return e.mac, true, nil
		}
		if !e.ok && nowNs-e.checkedNs < neighRetryNs {
			return MAC{}, false, nil
		}
	} else {
		if len(n.cache) >= neighEntriesMax {
			n.evict()
		}
		e = &neighEntry{}
		n.cache[dst] = e
	}
	e.checkedNs = nowNs
	mac, found, local, err := n.resolve(dst)
	if err != nil {
		return e.mac, e.ok, err
	}
	if local {
		e.local = true
		return MAC{}, false, errLocal
	}
	if found {
		e.mac, e.ok = mac, true
		return mac, true, nil
	}
	n.probe(dst)
	// Keep using a MAC learned earlier while the kernel re-resolves.
	return e.mac, e.ok, nil
}

// resolve asks the kernel for the route to dst and the neighbour entry of
// its next hop.
func (n *neighbours) resolve(dst netip.Addr) (mac MAC, found, local bool, err error) {
	routes, err := n.nl.RouteGet(dst.AsSlice())
	if err != nil {
		return mac, false, false, fmt.Errorf("xdp: route to %s: %w", dst, err)
	}
	if len(routes) == 0 {
		return mac, false, false, fmt.Errorf("xdp: no route to %s", dst)
	}
	r := routes[0]
	if r.Type == unix.RTN_LOCAL || r.LinkIndex != n.ifindex {
		return mac, false, true, nil
	}
	hop := dst
	if r.Gw != nil {
		if a, ok := netip.AddrFromSlice(r.Gw.To4()); ok {
			hop = a
		}
	}
	neighs, err := n.nl.NeighList(n.ifindex, unix.AF_INET)
	if err != nil {
		return mac, false, false, fmt.Errorf("xdp: neighbour table of ifindex %d: %w", n.ifindex, err)
	}
	const usable = netlink.NUD_REACHABLE | netlink.NUD_STALE | netlink.NUD_DELAY | netlink.NUD_PROBE | netlink.NUD_PERMANENT | netlink.NUD_NOARP
	for _, ne := range neighs {
		if ne.State&usable == 0 || len(ne.HardwareAddr) != 6 {
			continue
		}
		if a, ok := netip.AddrFromSlice(ne.IP.To4()); ok && a == hop {
			copy(mac[:], ne.HardwareAddr)
			if ne.State&(netlink.NUD_STALE) != 0 {
				// Our traffic bypasses the kernel, so it never confirms
				// the entry; nudge it so it stays fresh.
				n.probe(dst)
			}
			return mac, true, false, nil
		}
	}
	return mac, false, false, nil
}

// probe makes the kernel resolve the next hop to dst by sending one
// datagram to dst's discard port through a kernel socket.
func (n *neighbours) probe(dst netip.Addr) {
	sa := &unix.SockaddrInet4{Port: discardPort, Addr: dst.As4()}
	_ = unix.Sendto(n.probeFd, []byte{0}, unix.MSG_DONTWAIT, sa)
}

func (n *neighbours) evict() {
	i := 0
	for k := range n.cache {
		if i%2 == 0 {
			delete(n.cache, k)
		}
		i++
	}
}

// hardwareAddr converts a net.HardwareAddr of an Ethernet interface.
func hardwareAddr(h net.HardwareAddr) (MAC, error) {
	var m MAC
	if len(h) != 6 {
		return m, fmt.Errorf("xdp: hardware address %v is not Ethernet", h)
	}
	copy(m[:], h)
	return m, nil
}
