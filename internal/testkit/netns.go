package testkit

// netns.go builds a small network of hosts out of network namespaces:
//
//	  netns <tag>-h1           netns <tag>-sw            netns <tag>-h2
//	 +-------------+      +--------------------+      +-------------+
//	 | wx0         |------| wxp1  wxbr  wxp2   |------|         wx0 |
//	 | 10.99.N.1   | veth |      (bridge)      | veth |   10.99.N.2 |
//	 +-------------+      +--------------------+      +-------------+
//
// The bridge lives in its own namespace, so nothing but the namespaces
// themselves appears in the root namespace, and deleting the namespaces
// removes every veth and the bridge with them. Names carry the "wx" prefix
// plus a per-network tag so concurrent test binaries never collide.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"

	"github.com/vishvananda/netns"
)

// Limits of the rig.
const (
	netHostsMax   = 32   // hosts per network; keeps addresses in one /24
	netMTUMax     = 9000 // largest MTU the rig sets (jumbo frames)
	netMTUMin     = 576  // smallest MTU IPv4 guarantees
	netNamePrefix = "wx" // owner prefix of every namespace and interface
	netQueuesMax  = 16   // veth queues per interface
)

// HostIface is the name of the veth interface inside every host namespace.
const HostIface = "wx0"

// ErrNotRoot is returned by SetupNet when the process lacks the privileges
// to create network namespaces.
var ErrNotRoot = errors.New("testkit: network namespaces need root (CAP_SYS_ADMIN and CAP_NET_ADMIN)")

// ErrNoNetem is returned by SetNetem (and SetupNet with Netem set) when the
// running kernel has no netem qdisc (CONFIG_NET_SCH_NETEM unset); tests
// that need loss or reordering skip on it.
var ErrNoNetem = errors.New("testkit: kernel has no tc netem qdisc (CONFIG_NET_SCH_NETEM)")

// NetConfig describes the network NewNet builds.
type NetConfig struct {
	// Hosts is the number of host namespaces, 1 to 32.
	Hosts int
	// MTU of every veth and the bridge; 0 keeps the default 1500.
	// 9000 gives jumbo frames.
	MTU int
	// Queues is the number of receive and transmit queues of every veth
	// (0 = 1), for multi-queue AF_XDP.
	Queues int
	// Netem, when set, are tc netem arguments ("loss 10% duplicate 5%")
	// applied to every host's interface egress.
	Netem []string
}

// Net is a set of host namespaces joined by one bridge.
type Net struct {
	// Tag is the unique part of every name in this network ("wx3f1a").
	Tag string
	// Switch is the namespace holding the bridge.
	Switch string
	// Hosts are the host namespaces in order; Hosts[i] has address
	// 10.99.N.(i+1).
	Hosts []*Host
}

// Host is one network namespace with one interface on the bridge.
type Host struct {
	// NS is the namespace name (usable with `ip netns exec`).
	NS string
	// Iface is the interface name inside NS (always HostIface).
	Iface string
	// Addr is the host's IPv4 address.
	Addr netip.Addr
	// Prefix is the subnet shared by all hosts of the network.
	Prefix netip.Prefix
}

// NewNet builds a network for a test and removes it in t.Cleanup. It skips
// the test when the process is not root.
func NewNet(t testing.TB, cfg NetConfig) *Net {
	t.Helper()
	n, err := SetupNet(cfg)
	if errors.Is(err, ErrNotRoot) {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatalf("build netns network: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("remove netns network %s: %v", n.Tag, err)
		}
	})
	return n
}

// SetupNet builds a network outside a test (benchmarks, tools). The caller
// must Close it.
func SetupNet(cfg NetConfig) (*Net, error) {
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if cfg.Hosts < 1 || cfg.Hosts > netHostsMax {
		return nil, fmt.Errorf("testkit: %d hosts requested, accepted 1 to %d", cfg.Hosts, netHostsMax)
	}
	if cfg.Queues < 0 || cfg.Queues > netQueuesMax {
		return nil, fmt.Errorf("testkit: %d queues, accepted 0 to %d", cfg.Queues, netQueuesMax)
	}
	if cfg.MTU != 0 && (cfg.MTU < netMTUMin || cfg.MTU > netMTUMax) {
		return nil, fmt.Errorf("testkit: MTU %d, accepted %d to %d", cfg.MTU, netMTUMin, netMTUMax)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("testkit: iproute2 `ip` not found: %w", err)
	}
	var rnd [2]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("testkit: random tag: %w", err)
	}
	tag := netNamePrefix + hex.EncodeToString(rnd[:])
	// The third octet only makes addresses easier to tell apart in logs;
	// every network is isolated in its own namespaces.
	subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 99, rnd[0], 0}), 24)
	n := &Net{Tag: tag, Switch: tag + "-sw"}
	if err := n.build(cfg, subnet); err != nil {
		if cerr := n.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	return n, nil
}

func (n *Net) build(cfg NetConfig, subnet netip.Prefix) error {
	mtu := []string{}
	if cfg.MTU != 0 {
		mtu = []string{"mtu", strconv.Itoa(cfg.MTU)}
	}
	linkOpts := mtu
	if cfg.Queues > 1 {
		q := strconv.Itoa(cfg.Queues)
		linkOpts = append(append([]string{}, mtu...), "numtxqueues", q, "numrxqueues", q)
	}
	if err := ipCmd("netns", "add", n.Switch); err != nil {
		return err
	}
	if err := ipCmd(append([]string{"-n", n.Switch, "link", "add", "wxbr"}, append(mtu, "type", "bridge")...)...); err != nil {
		return err
	}
	// Forward at once: no STP learning delay before the first frame.
	if err := ipCmd("-n", n.Switch, "link", "set", "wxbr", "type", "bridge", "forward_delay", "0", "stp_state", "0"); err != nil {
		return err
	}
	if err := ipCmd("-n", n.Switch, "link", "set", "wxbr", "up"); err != nil {
		return err
	}
	// A switch does not look at IP headers: keep br_netfilter from
	// dropping malformed IPv4 before it reaches the hosts under test.
	out, err := exec.Command("ip", "netns", "exec", n.Switch, "sh", "-c",
		"for f in /proc/sys/net/bridge/bridge-nf-call-*; do [ -e $f ] && echo 0 > $f; done; true").CombinedOutput()
	if err != nil {
		return fmt.Errorf("disable bridge netfilter in %s: %v: %s", n.Switch, err, bytes.TrimSpace(out))
	}
	base := subnet.Addr().As4()
	for i := 1; i <= cfg.Hosts; i++ {
		a := base
		a[3] = byte(i)
		h := &Host{NS: fmt.Sprintf("%s-h%d", n.Tag, i), Iface: HostIface, Addr: netip.AddrFrom4(a), Prefix: subnet}
		n.Hosts = append(n.Hosts, h)
		port := fmt.Sprintf("wxp%d", i)
		steps := [][]string{
			{"netns", "add", h.NS},
			append(append([]string{"link", "add", "name", h.Iface, "netns", h.NS}, linkOpts...),
				append([]string{"type", "veth", "peer", "name", port, "netns", n.Switch}, linkOpts...)...),
			{"-n", n.Switch, "link", "set", port, "master", "wxbr", "up"},
			{"-n", h.NS, "addr", "add", netip.PrefixFrom(h.Addr, 24).String(), "dev", h.Iface},
			{"-n", h.NS, "link", "set", h.Iface, "up"},
			{"-n", h.NS, "link", "set", "lo", "up"},
		}
		for _, s := range steps {
			if err := ipCmd(s...); err != nil {
				return err
			}
		}
		if len(cfg.Netem) > 0 {
			if err := h.SetNetem(cfg.Netem...); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close deletes every namespace of the network, which removes the veths
// and the bridge inside them. It is safe to call more than once.
func (n *Net) Close() error {
	var errs []error
	for _, h := range n.Hosts {
		if nsExists(h.NS) {
			errs = append(errs, ipCmd("netns", "del", h.NS))
		}
	}
	if nsExists(n.Switch) {
		errs = append(errs, ipCmd("netns", "del", n.Switch))
	}
	return errors.Join(errs...)
}

// SetNetem replaces the egress qdisc of the host's interface with tc netem
// using args ("loss", "10%", ...); no args removes it. It returns an error
// wrapping ErrNoNetem when the kernel lacks netem.
func (h *Host) SetNetem(args ...string) error {
	if len(args) == 0 {
		out, err := exec.Command("ip", "netns", "exec", h.NS, "tc", "qdisc", "del", "dev", h.Iface, "root").CombinedOutput()
		if err != nil && !bytes.Contains(out, []byte("No such file")) && !bytes.Contains(out, []byte("Cannot delete qdisc with handle of zero")) {
			return fmt.Errorf("tc qdisc del in %s: %v: %s", h.NS, err, bytes.TrimSpace(out))
		}
		return nil
	}
	cmd := append([]string{"netns", "exec", h.NS, "tc", "qdisc", "replace", "dev", h.Iface, "root", "netem"}, args...)
	out, err := exec.Command("ip", cmd...).CombinedOutput()
	if err != nil && bytes.Contains(out, []byte("qdisc kind is unknown")) {
		return fmt.Errorf("tc netem %v in %s: %w", args, h.NS, ErrNoNetem)
	}
	if err != nil {
		return fmt.Errorf("tc netem %v in %s: %v: %s", args, h.NS, err, bytes.TrimSpace(out))
	}
	return nil
}

// Command returns a command that runs inside the host's namespace.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Do runs fn on an OS thread switched into the host's namespace. Sockets,
// netlink handles and BPF links created by fn stay in that namespace after
// Do returns; goroutines started by fn do not inherit it.
func (h *Host) Do(fn func() error) error {
	target, err := netns.GetFromName(h.NS)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", h.NS, err)
	}
	defer target.Close()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open current netns: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns %s: %w", h.NS, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// The thread is stuck in the wrong namespace: leave it locked so
		// the runtime retires it when this goroutine exits.
		return errors.Join(ferr, fmt.Errorf("return from netns %s: %w", h.NS, err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// Go starts fn on its own goroutine whose OS thread stays in the host's
// namespace for fn's whole life; the thread is retired afterwards. The
// returned channel yields fn's error.
func (h *Host) Go(fn func() error) <-chan error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the runtime discards the thread
		target, err := netns.GetFromName(h.NS)
		if err != nil {
			done <- fmt.Errorf("open netns %s: %w", h.NS, err)
			return
		}
		err = netns.Set(target)
		target.Close()
		if err != nil {
			done <- fmt.Errorf("enter netns %s: %w", h.NS, err)
			return
		}
		done <- fn()
	}()
	return done
}

func nsExists(name string) bool {
	_, err := os.Stat("/run/netns/" + name)
	return err == nil
}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %v: %v: %s", args, err, bytes.TrimSpace(out))
	}
	return nil
}
