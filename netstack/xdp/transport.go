package xdp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weft-fs/weft/netstack"
	"github.com/weft-fs/weft/netstack/xdpprog"
	"github.com/weft-fs/weft/netstack/xsk"
	"golang.org/x/sys/unix"
)

// Limits.
const (
	// burstMax is the most packets one RecvBurst/SendBurst handles; longer
	// bursts are cut (the caller sees a short count).
	burstMax = 256
	// fragsMax is the most UMEM chunks one frame may span (9000-byte MTU
	// takes 3 chunks of 4 KiB).
	fragsMax = 4
	// autoRingEntries and autoFrames size AutoConfig's rings and UMEM
	// (64 MiB: half for receive, half for transmit).
	autoRingEntries = 8192
	autoFrames      = 16384
	// ringEntriesDefault and framesDefault apply when Config leaves
	// RingEntries and Frames 0 (32 MiB UMEM).
	ringEntriesDefault = 2048
	framesDefault      = 8192
	// jumboMTUMax is the largest MTU the transport accepts.
	jumboMTUMax = 9000
)

// Errors callers branch on; Open wraps xsk's and xdpprog's sentinels
// (ErrPermission, ErrMemlock, ErrUnsupported) unchanged.
var (
	// ErrConfig means a Config field is out of range.
	ErrConfig = errors.New("xdp: bad config")
	// ErrClosed means the transport (or its socket) is closed.
	ErrClosed = errors.New("xdp: transport closed")
	// ErrMTU means the interface MTU needs multi-buffer (Config.Jumbo) or
	// exceeds what the transport supports.
	ErrMTU = errors.New("xdp: interface MTU not supported in this configuration")
)

// Config selects the interface, queue and port of a Transport.
type Config struct {
	// Iface is the interface name, in the caller's network namespace.
	Iface string
	// QueueID is the receive queue the socket serves (veth has one: 0).
	QueueID int
	// Port is weft's UDP port. The XDP program redirects datagrams to it;
	// the kernel UDP socket bound to it gets them when no socket is
	// registered.
	Port uint16
	// LocalAddr is the IPv4 address to send from and accept datagrams
	// for; unset means the interface's first IPv4 address.
	LocalAddr netip.Addr
	// Jumbo enables multi-buffer frames (XDP_USE_SG, frags program) for
	// MTUs above one 4 KiB chunk.
	Jumbo bool
	// Mode forces an XDP attach mode; zero tries native, then generic.
	Mode xdpprog.Mode
	// Frames is the UMEM size in 4 KiB chunks (default 8192, 32 MiB).
	Frames int
	// RingEntries sizes all four rings (power of two, default 2048);
	// receive gets RingEntries chunks (at most half), transmit the rest.
	RingEntries int
	// Log receives attach and fallback decisions; nil discards them.
	Log *slog.Logger
}

// Stats are the transport's counters. They are updated by the owning
// poller and may be read from any goroutine.
type Stats struct {
	RxPackets, RxBytes uint64
	RxMalformed        uint64 // failed Ethernet/IPv4/UDP checks
	RxNotOurs          uint64 // addressed to another IP or port
	RxTooBig           uint64 // payload larger than the caller's buffer
	TxPackets, TxBytes uint64
	TxNoNeighbour      uint64 // dropped while the next hop resolves
	TxLocal            uint64 // sent through the kernel: peer on this host
	TxTooBig           uint64 // payload above PayloadMax
	Socket             xsk.Stats
}

type counters struct {
	rxPackets, rxBytes, rxMalformed, rxNotOurs, rxTooBig atomic.Uint64
	txPackets, txBytes, txNoNeigh, txLocal, txTooBig     atomic.Uint64
}

// Transport is a netstack.Transport over one AF_XDP socket. Like every
// transport it owns no goroutine and is driven by one poller.
type Transport struct {
	log         *slog.Logger
	sock        *xsk.Socket
	shared      *sharedProg // the program, shared with the other queues of one OpenQueues
	neigh       *neighbours
	ifindex     int
	queueID     int
	local       netip.AddrPort
	localMAC    MAC
	mtu         int
	payloadMax  int
	kind        string
	chunk       int // bytes of a frame one received chunk holds
	ipID        uint16
	rxDescs     []xsk.Desc // received, not yet handed to the caller
	rxHead      int
	txDescs     []xsk.Desc
	hdr         Headers
	stats       counters
	localBuf    []byte
	localFd     int         // raw IPv4 socket for peers on this host, or -1
	closeReq    atomic.Bool // CloseSocket asked; the owner closes on its next call
	sockMu      sync.Mutex  // orders closing the socket against Stats; not taken on the hot path
	held        []heldFrame // frames waiting for a next-hop MAC
	heldCheckNs int64
}

var _ netstack.Transport = (*Transport)(nil)

// Open attaches weft's XDP program to cfg.Iface, creates the AF_XDP
// socket for cfg.QueueID and registers it. It must run on a thread in the
// interface's network namespace. The errors say exactly why AF_XDP is not
// possible (capability, memlock, driver, mode), so the caller can log it
// and fall back to kernel UDP.
func Open(cfg Config) (*Transport, error) {
	ts, err := OpenQueues(cfg, []int{cfg.QueueID})
	if err != nil {
		return nil, err
	}
	return ts[0], nil
}

// sharedProg is the XDP program the transports of one OpenQueues call
// share; the last one closed detaches it.
type sharedProg struct {
	prog *xdpprog.Program
	refs atomic.Int32
}

func (p *sharedProg) release() error {
	if p.refs.Add(-1) == 0 {
		return p.prog.Close()
	}
	return nil
}

// OpenQueues attaches the program once and opens one transport per
// receive queue in queues (cfg.QueueID is ignored), one for each poller:
// on a multi-queue NIC, RSS spreads weft's flows over the queues, and a
// queue without a socket hands its frames to the kernel UDP socket.
func OpenQueues(cfg Config, queues []int) ([]*Transport, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Port == 0 {
		return nil, fmt.Errorf("%w: port 0, accepted 1 to 65535", ErrConfig)
	}
	if len(queues) == 0 {
		return nil, fmt.Errorf("%w: no queue given, accepted one or more queue indexes", ErrConfig)
	}
	for _, q := range queues {
		if q < 0 {
			return nil, fmt.Errorf("%w: queue %d, accepted >= 0", ErrConfig, q)
		}
	}
	ifc, err := net.InterfaceByName(cfg.Iface)
	if err != nil {
		return nil, fmt.Errorf("%w: interface %q: %v", ErrConfig, cfg.Iface, err)
	}
	mac, err := hardwareAddr(ifc.HardwareAddr)
	if err != nil {
		return nil, fmt.Errorf("%w: interface %q: %v", ErrUnsupportedLink, cfg.Iface, err)
	}
	local := cfg.LocalAddr
	if !local.IsValid() {
		if local, err = firstIPv4(ifc); err != nil {
			return nil, err
		}
	}
	if !local.Is4() {
		return nil, fmt.Errorf("%w: local address %s, accepted an IPv4 address", ErrConfig, local)
	}
	if ifc.MTU > jumboMTUMax {
		return nil, fmt.Errorf("%w: %s has MTU %d, accepted up to %d", ErrMTU, cfg.Iface, ifc.MTU, jumboMTUMax)
	}
	chunk := xsk.FrameSizeDefault - xsk.Headroom
	if !cfg.Jumbo && ethHeaderLen+ifc.MTU > chunk {
		return nil, fmt.Errorf("%w: %s has MTU %d, a frame must fit one %d-byte chunk without Jumbo (multi-buffer); set Jumbo or an MTU <= %d",
			ErrMTU, cfg.Iface, ifc.MTU, chunk, chunk-ethHeaderLen)
	}
	prog, err := xdpprog.Attach(xdpprog.Config{Ifindex: ifc.Index, Port: cfg.Port, LocalIP: local, Frags: cfg.Jumbo, Mode: cfg.Mode}, log)
	if err != nil {
		return nil, fmt.Errorf("xdp: %s: %w", cfg.Iface, err)
	}
	shared := &sharedProg{prog: prog}
	shared.refs.Store(1) // OpenQueues' own reference, dropped on return
	defer shared.release()
	ts := make([]*Transport, 0, len(queues))
	for _, q := range queues {
		t := &Transport{
			log:        log,
			ifindex:    ifc.Index,
			queueID:    q,
			local:      netip.AddrPortFrom(local, cfg.Port),
			localMAC:   mac,
			mtu:        ifc.MTU,
			payloadMax: ifc.MTU - ipv4HeaderMin - udpHeaderLen,
			chunk:      chunk,
			rxDescs:    make([]xsk.Desc, 0, burstMax*fragsMax),
			txDescs:    make([]xsk.Desc, 0, burstMax*fragsMax),
			localFd:    -1,
			held:       make([]heldFrame, 0, neighHoldMax),
			kind:       "xdp-" + prog.Mode().String(),
			shared:     shared,
		}
		shared.refs.Add(1)
		t.hdr.SrcMAC = mac
		t.hdr.Src = t.local
		if err := t.open(cfg); err != nil {
			t.Close()
			for _, o := range ts {
				o.Close()
			}
			return nil, err
		}
		ts = append(ts, t)
	}
	log.Info("af_xdp transport open", "iface", cfg.Iface, "queues", queues, "local", netip.AddrPortFrom(local, cfg.Port),
		"mode", prog.Mode().String(), "mtu", ifc.MTU, "jumbo", cfg.Jumbo)
	return ts, nil
}

// ErrUnsupportedLink means the interface is not Ethernet.
var ErrUnsupportedLink = errors.New("xdp: interface is not an Ethernet link")

func (t *Transport) open(cfg Config) error {
	var err error
	t.neigh, err = newNeighbours(t.ifindex)
	if err != nil {
		return err
	}
	// Opened now, not on first use: sockets belong to the namespace of the
	// thread that creates them, and only Open runs in the right one.
	t.localFd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		t.localFd = -1
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("xdp: raw socket for peers on this host: %w: %v", xsk.ErrPermission, err)
		}
		return fmt.Errorf("xdp: raw socket for peers on this host: %w", err)
	}
	t.localBuf = make([]byte, ipv4HeaderMin+udpHeaderLen+t.payloadMax)
	ring, frames := cfg.RingEntries, cfg.Frames
	if ring == 0 {
		ring = ringEntriesDefault
	}
	if frames == 0 {
		frames = framesDefault
	}
	// Receive gets as many chunks as the fill ring holds, so none idles
	// outside the kernel's reach; the rest serve transmit.
	rxFrames := min(ring, frames/2)
	t.sock, err = xsk.New(t.ifindex, t.queueID, xsk.Options{
		Frames:                frames,
		RxFrames:              rxFrames,
		FillRingEntries:       ring,
		CompletionRingEntries: ring,
		RxRingEntries:         ring,
		TxRingEntries:         ring,
		Mode:                  xsk.BindCopy,
		MultiBuffer:           cfg.Jumbo,
	})
	if err != nil {
		return fmt.Errorf("xdp: %s queue %d: %w", cfg.Iface, t.queueID, err)
	}
	if err := t.shared.prog.Register(t.queueID, t.sock.FD()); err != nil {
		return fmt.Errorf("xdp: %s: %w", cfg.Iface, err)
	}
	return nil
}

func firstIPv4(ifc *net.Interface) (netip.Addr, error) {
	addrs, err := ifc.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("xdp: addresses of %s: %w", ifc.Name, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP.To4()); ok && n.IP.To4() != nil {
				return ip, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: %s has no IPv4 address; set LocalAddr", ErrConfig, ifc.Name)
}

// LocalAddr is the address and port datagrams are sent from.
func (t *Transport) LocalAddr() netip.AddrPort { return t.local }

// Kind is "xdp-native" or "xdp-generic".
func (t *Transport) Kind() string { return t.kind }

// PayloadMax is the interface MTU minus the IPv4 and UDP headers.
func (t *Transport) PayloadMax() int { return t.payloadMax }

// PollFd is the AF_XDP socket: it polls readable when frames are waiting.
func (t *Transport) PollFd() int {
	if t.sock == nil || t.closeReq.Load() {
		return -1
	}
	return t.sock.FD()
}

// RecvBurst implements netstack.Transport.
func (t *Transport) RecvBurst(pkts []netstack.Packet) (int, error) {
	if t.sock == nil || t.closeReq.Load() {
		return 0, t.closed()
	}
	if len(pkts) > burstMax {
		pkts = pkts[:burstMax]
	}
	t.sock.Fill()
	got := 0
	nowNs := int64(0)
	for got < len(pkts) {
		if t.rxHead == len(t.rxDescs) {
			t.rxDescs = t.rxDescs[:cap(t.rxDescs)]
			n := t.sock.Receive(t.rxDescs)
			t.rxDescs, t.rxHead = t.rxDescs[:n], 0
			if n == 0 {
				break
			}
		}
		// One frame: descriptors up to the first without XDP_PKT_CONTD.
		start := t.rxHead
		end := start
		frameLen := 0
		for end < len(t.rxDescs) {
			d := t.rxDescs[end]
			frameLen += int(d.Len)
			end++
			if d.Options&unix.XDP_PKT_CONTD == 0 {
				break
			}
		}
		t.rxHead = end
		frame := t.rxDescs[start:end]
		if t.deliver(frame, frameLen, &pkts[got], &nowNs) {
			got++
		}
		for _, d := range frame {
			t.sock.Release(d.Addr)
		}
	}
	if t.sock.Fill() == 0 && got == 0 && t.sock.NeedRxWakeup() {
		if err := t.sock.WakeRx(); err != nil {
			return got, err
		}
	}
	if len(t.held) > 0 {
		t.releaseHeld(time.Now().UnixNano())
	}
	// A kick that met a busy device left frames on the TX ring; the
	// poller may not send again soon, so every receive pass retries.
	if t.sock.TxPending() > 0 {
		if err := t.sock.Kick(); err != nil {
			return got, err
		}
	}
	return got, nil
}

// deliver decodes one received frame into p; false means it was dropped.
func (t *Transport) deliver(frame []xsk.Desc, frameLen int, p *netstack.Packet, nowNs *int64) bool {
	first := t.sock.Frame(frame[0])
	if frame[len(frame)-1].Options&unix.XDP_PKT_CONTD != 0 {
		t.stats.rxMalformed.Add(1) // frame cut short: ring or burst overflow
		return false
	}
	h, off, n, err := decodeHeaders(first, frameLen)
	if err != nil {
		t.stats.rxMalformed.Add(1)
		return false
	}
	if h.Dst != t.local {
		t.stats.rxNotOurs.Add(1)
		return false
	}
	if n > cap(p.Buf) {
		t.stats.rxTooBig.Add(1)
		return false
	}
	buf := p.Buf[:n]
	copied := 0
	for _, d := range frame {
		b := t.sock.Frame(d)
		if off >= len(b) {
			off -= len(b)
			continue
		}
		copied += copy(buf[copied:], b[off:])
		off = 0
		if copied == n {
			break
		}
	}
	p.Buf = buf
	p.Peer = h.Src
	if *nowNs == 0 {
		*nowNs = time.Now().UnixNano()
	}
	t.neigh.learn(h.Src.Addr(), h.SrcMAC, *nowNs)
	t.stats.rxPackets.Add(1)
	t.stats.rxBytes.Add(uint64(n))
	return true
}

// SendBurst implements netstack.Transport. Datagrams whose next hop is
// not resolved yet, or whose destination is this host, are taken and
// dropped (counted): the reliability layer retransmits. It returns fewer
// than len(pkts) when the TX ring or the transmit chunks are exhausted.
func (t *Transport) SendBurst(pkts []netstack.Packet) (int, error) {
	if t.sock == nil || t.closeReq.Load() {
		return 0, t.closed()
	}
	if len(pkts) > burstMax {
		pkts = pkts[:burstMax]
	}
	t.sock.Complete()
	nowNs := time.Now().UnixNano()
	t.releaseHeld(nowNs)
	frameSize := t.sock.FrameSize()
	txd := t.txDescs[:0]
	room := t.sock.TxRoom()
	taken := 0
	for i := range pkts {
		p := &pkts[i]
		n := len(p.Buf)
		if n > t.payloadMax {
			t.stats.txTooBig.Add(1)
			taken++
			continue
		}
		mac, ok, err := t.neigh.lookup(p.Peer.Addr(), nowNs)
		if errors.Is(err, errLocal) {
			if err := t.sendLocal(p); err != nil {
				return taken, err
			}
			taken++
			continue
		}
		chunks := (HeadersLen + n + frameSize - 1) / frameSize
		if !ok {
			t.hold(p, chunks, nowNs)
			taken++
			continue
		}
		if chunks > room || chunks > t.sock.FreeTx() {
			t.sock.Complete()
			room = t.sock.TxRoom() - len(txd)
			if chunks > room || chunks > t.sock.FreeTx() {
				break // ring or chunks exhausted: the caller retries the rest
			}
		}
		txd = t.frame(p, mac, chunks, txd)
		room -= chunks
		taken++
		t.stats.txPackets.Add(1)
		t.stats.txBytes.Add(uint64(n))
	}
	if len(txd) > 0 {
		if q := t.sock.Transmit(txd); q != len(txd) {
			// Cannot happen: room was checked. Return the chunks.
			for _, d := range txd[q:] {
				t.sock.Release(d.Addr)
			}
		}
	}
	if t.sock.TxPending() > 0 {
		if err := t.sock.Kick(); err != nil {
			return taken, err
		}
	}
	return taken, nil
}

// frame writes p into chunks transmit chunks addressed to mac and appends
// their descriptors to txd. The caller has checked chunks are free.
func (t *Transport) frame(p *netstack.Packet, mac MAC, chunks int, txd []xsk.Desc) []xsk.Desc {
	n := len(p.Buf)
	t.hdr.DstMAC = mac
	t.hdr.Dst = p.Peer
	t.ipID++
	remaining := p.Buf
	for c := 0; c < chunks; c++ {
		addr, _ := t.sock.AllocTx()
		b := t.sock.Chunk(addr)
		w := 0
		if c == 0 {
			EncodeHeaders(b, &t.hdr, n, t.ipID)
			w = HeadersLen
		}
		w += copy(b[w:], remaining)
		remaining = remaining[w-headerBytes(c):]
		d := xsk.Desc{Addr: addr, Len: uint32(w)}
		if c < chunks-1 {
			d.Options = unix.XDP_PKT_CONTD
		}
		txd = append(txd, d)
	}
	return txd
}

// heldFrame is a framed datagram waiting for its next hop's MAC, like the
// kernel's ARP queue: its chunks stay out of the free list until it is
// sent or expires.
type heldFrame struct {
	dst     netip.Addr
	sinceNs int64
	descs   [fragsMax]xsk.Desc
	n       int
}

// hold frames p without a destination MAC and keeps it until the kernel
// resolves the next hop; when the hold queue or the chunks are full it is
// dropped (counted) for the reliability layer to retransmit.
func (t *Transport) hold(p *netstack.Packet, chunks int, nowNs int64) {
	if len(t.held) == cap(t.held) || chunks > t.sock.FreeTx() {
		t.stats.txNoNeigh.Add(1)
		return
	}
	t.held = t.held[:len(t.held)+1]
	h := &t.held[len(t.held)-1]
	h.dst, h.sinceNs = p.Peer.Addr(), nowNs
	h.n = len(t.frame(p, MAC{}, chunks, h.descs[:0]))
}

// releaseHeld sends held frames whose next hop is now known and drops
// those held longer than neighHoldNs. It runs at most every neighRetryNs.
func (t *Transport) releaseHeld(nowNs int64) {
	if len(t.held) == 0 || nowNs-t.heldCheckNs < neighRetryNs {
		return
	}
	t.heldCheckNs = nowNs
	keep := t.held[:0]
	for i := range t.held {
		h := t.held[i]
		mac, ok, err := t.neigh.lookup(h.dst, nowNs)
		switch {
		case ok && err == nil && t.sock.TxRoom() >= h.n:
			copy(t.sock.Chunk(h.descs[0].Addr)[0:6], mac[:])
			t.sock.Transmit(h.descs[:h.n])
			t.stats.txPackets.Add(1)
		case err != nil || nowNs-h.sinceNs > neighHoldNs:
			for _, d := range h.descs[:h.n] {
				t.sock.Release(d.Addr)
			}
			t.stats.txNoNeigh.Add(1)
		default:
			keep = append(keep, h)
		}
	}
	t.held = keep
}

func headerBytes(chunk int) int {
	if chunk == 0 {
		return HeadersLen
	}
	return 0
}

// Resolve waits until the next-hop MAC of peer is known or ctx ends.
// Pollers never call it; set-up code may, so the first datagrams to a new
// peer are not dropped while the kernel resolves it.
func (t *Transport) Resolve(ctx context.Context, peer netip.Addr) error {
	for {
		_, ok, err := t.neigh.lookup(peer, time.Now().UnixNano())
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("xdp: next hop of %s not resolved: %w", peer, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// Stats returns the transport's and the socket's counters.
func (t *Transport) Stats() Stats {
	s := Stats{
		RxPackets: t.stats.rxPackets.Load(), RxBytes: t.stats.rxBytes.Load(),
		RxMalformed: t.stats.rxMalformed.Load(), RxNotOurs: t.stats.rxNotOurs.Load(), RxTooBig: t.stats.rxTooBig.Load(),
		TxPackets: t.stats.txPackets.Load(), TxBytes: t.stats.txBytes.Load(),
		TxNoNeighbour: t.stats.txNoNeigh.Load(), TxLocal: t.stats.txLocal.Load(), TxTooBig: t.stats.txTooBig.Load(),
	}
	t.sockMu.Lock()
	if t.sock != nil {
		s.Socket, _ = t.sock.Stats()
	}
	t.sockMu.Unlock()
	return s
}

// Close closes the socket (its queue falls back to the kernel at once),
// detaches the program and releases the netlink handle.
func (t *Transport) Close() error {
	var errs []error
	t.sockMu.Lock()
	if t.sock != nil {
		errs = append(errs, t.sock.Close())
		t.sock = nil
	}
	t.sockMu.Unlock()
	if t.shared != nil {
		errs = append(errs, t.shared.release())
		t.shared = nil
	}
	if t.neigh != nil {
		errs = append(errs, t.neigh.close())
		t.neigh = nil
	}
	if t.localFd >= 0 {
		errs = append(errs, unix.Close(t.localFd))
		t.localFd = -1
	}
	return errors.Join(errs...)
}

// CloseSocket asks for the AF_XDP socket to be closed while the program
// stays attached, as a crash of the socket's owner would: weft's datagrams
// then go to the kernel UDP socket on the same port. The poller that owns
// the transport closes the socket on its next RecvBurst or SendBurst, which
// return ErrClosed from then on. Safe to call from any goroutine; for
// tests and drills.
func (t *Transport) CloseSocket() { t.closeReq.Store(true) }

// closed runs on the owning poller: it carries out a CloseSocket request.
func (t *Transport) closed() error {
	if t.sock != nil {
		t.sockMu.Lock()
		t.sock.Close()
		t.sock = nil
		t.sockMu.Unlock()
		t.log.Warn("af_xdp socket closed; the kernel UDP socket receives from now on", "local", t.local)
	}
	return ErrClosed
}

// sendLocal sends a datagram to a peer on this host through a raw IPv4
// socket: the frame would never come back from the wire, and the kernel
// delivers it to the peer's UDP socket over loopback. The source port is
// weft's, so replies come back to this messenger.
func (t *Transport) sendLocal(p *netstack.Packet) error {
	n := len(p.Buf)
	var eth [HeadersLen]byte
	h := Headers{Src: t.local, Dst: p.Peer}
	EncodeHeaders(eth[:], &h, n, t.ipID)
	t.ipID++
	b := t.localBuf[:ipv4HeaderMin+udpHeaderLen+n]
	copy(b, eth[ethHeaderLen:])
	copy(b[ipv4HeaderMin+udpHeaderLen:], p.Buf)
	sa := unix.SockaddrInet4{Addr: p.Peer.Addr().As4()}
	if err := unix.Sendto(t.localFd, b, unix.MSG_DONTWAIT, &sa); err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.ENOBUFS) {
		return fmt.Errorf("xdp: send to %s on this host: %w", p.Peer, err)
	}
	t.stats.txLocal.Add(1)
	return nil
}

// AutoConfig returns a Config for weft's address addr on iface, with Jumbo
// on when the interface MTU needs multi-buffer frames. It suits the
// messenger's OpenXDP hook:
//
//	cfg.OpenXDP = func(ctx context.Context, r messenger.XDPRequest) (netstack.Transport, error) {
//		return xdp.Open(xdp.AutoConfig(r.Interface, r.Addr, r.Queue, r.Log))
//	}
func AutoConfig(iface string, addr netip.AddrPort, queue int, log *slog.Logger) Config {
	// Rings as deep as a kernel UDP socket's 8 MiB buffer is in small
	// datagrams, so a poller that loses its core for a while drops no
	// more than the kernel path would.
	cfg := Config{Iface: iface, QueueID: queue, Port: addr.Port(), Log: log,
		RingEntries: autoRingEntries, Frames: autoFrames}
	if a := addr.Addr().Unmap(); a.Is4() && !a.IsUnspecified() {
		cfg.LocalAddr = a
	}
	if ifc, err := net.InterfaceByName(iface); err == nil {
		cfg.Jumbo = ethHeaderLen+ifc.MTU > xsk.FrameSizeDefault-xsk.Headroom
	}
	return cfg
}
