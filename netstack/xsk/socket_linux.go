package xsk

import (
	"errors"
	"fmt"
	"math/bits"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Limits and defaults.
const (
	// ringEntriesDefault is the size of each ring when Options leaves it 0.
	ringEntriesDefault = 2048
	// ringEntriesMax bounds ring sizes (the kernel accepts more; weft's
	// pollers never need deeper queues).
	ringEntriesMax = 1 << 16
	// framesDefault is the UMEM size in frames when Options leaves it 0.
	framesDefault = 8192
	// framesMax bounds the UMEM (1 GiB at 4 KiB frames).
	framesMax = 1 << 18
	// FrameSizeDefault is the UMEM chunk size: one page, as multi-buffer
	// jumbo frames need.
	FrameSizeDefault = 4096
	// kickRetriesMax bounds the sendto calls one Kick makes while the
	// kernel answers EAGAIN (copy mode sends at most 32 frames per call).
	kickRetriesMax = 64
)

// Headroom is the offset at which the kernel writes received frames in a
// chunk in copy mode (XDP_PACKET_HEADROOM); received data never spans the
// chunk end, so a chunk holds FrameSize-Headroom bytes of one frame.
const Headroom = unix.XDP_PACKET_HEADROOM

// Errors callers branch on; the wrapped error says which value was wrong.
var (
	// ErrPermission means the process lacks CAP_NET_RAW (socket) or
	// CAP_NET_ADMIN/CAP_BPF (program, map).
	ErrPermission = errors.New("xsk: AF_XDP needs CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF")
	// ErrMemlock means RLIMIT_MEMLOCK is below the UMEM size and could
	// not be raised.
	ErrMemlock = errors.New("xsk: memlock limit below UMEM size")
	// ErrUnsupported means the kernel, driver or bind mode refused the
	// socket (no AF_XDP, zero-copy or multi-buffer not supported).
	ErrUnsupported = errors.New("xsk: AF_XDP mode not supported by kernel or driver")
	// ErrBusy means another AF_XDP socket is bound to the same queue.
	ErrBusy = errors.New("xsk: queue already has an AF_XDP socket")
)

// BindMode selects how the kernel moves frames to the UMEM.
type BindMode int

const (
	// BindCopy copies frames between driver buffers and the UMEM (the
	// only mode veth and generic XDP support).
	BindCopy BindMode = iota
	// BindZeroCopy maps the UMEM into the driver's rings.
	BindZeroCopy
	// BindAuto lets the kernel pick zero-copy when the driver has it.
	BindAuto
)

// Options configures a Socket. Zero values take defaults.
type Options struct {
	// Frames is the number of UMEM chunks (default 8192).
	Frames int
	// FrameSize is the chunk size, 2048 or 4096 (default 4096).
	FrameSize int
	// FillRingEntries, CompletionRingEntries, RxRingEntries and
	// TxRingEntries are ring sizes, powers of two (default 2048).
	FillRingEntries       int
	CompletionRingEntries int
	RxRingEntries         int
	TxRingEntries         int
	// RxFrames is how many chunks serve receive; the rest serve transmit.
	// Default: half of Frames.
	RxFrames int
	// Mode is the bind mode (default BindCopy).
	Mode BindMode
	// MultiBuffer binds with XDP_USE_SG so frames may span chunks.
	MultiBuffer bool
	// NoNeedWakeup disables XDP_USE_NEED_WAKEUP (then every Transmit
	// kicks and receive never needs one).
	NoNeedWakeup bool
}

// Socket is one AF_XDP socket bound to one interface queue with its own
// UMEM. See the package comment for the frame life cycle.
type Socket struct {
	fd        int
	ifindex   int
	queueID   int
	umem      []byte
	frameSize uint64
	frameMask uint64
	rxFrames  uint64 // chunks [0, rxFrames) are for receive
	fill      addrRing
	comp      addrRing
	rx        descRing
	tx        descRing
	rxFree    []uint64 // stack of free receive chunk addresses
	txFree    []uint64 // stack of free transmit chunk addresses
	wakeup    bool
	sg        bool
	ringMems  [][]byte
	kicks     uint64
}

// Desc is one ring descriptor: a UMEM address, a length and options
// (unix.XDP_PKT_CONTD when more descriptors of the same frame follow).
type Desc = unix.XDPDesc

func (o *Options) setDefaults() error {
	if o.Frames == 0 {
		o.Frames = framesDefault
	}
	if o.FrameSize == 0 {
		o.FrameSize = FrameSizeDefault
	}
	for _, p := range []*int{&o.FillRingEntries, &o.CompletionRingEntries, &o.RxRingEntries, &o.TxRingEntries} {
		if *p == 0 {
			*p = ringEntriesDefault
		}
	}
	if o.RxFrames == 0 {
		o.RxFrames = o.Frames / 2
	}
	if o.FrameSize != 2048 && o.FrameSize != 4096 {
		return fmt.Errorf("xsk: frame size %d, accepted 2048 or 4096", o.FrameSize)
	}
	if o.Frames < 2 || o.Frames > framesMax {
		return fmt.Errorf("xsk: %d frames, accepted 2 to %d", o.Frames, framesMax)
	}
	if o.RxFrames < 1 || o.RxFrames >= o.Frames {
		return fmt.Errorf("xsk: %d receive frames of %d, accepted 1 to %d", o.RxFrames, o.Frames, o.Frames-1)
	}
	for name, n := range map[string]int{"fill": o.FillRingEntries, "completion": o.CompletionRingEntries, "rx": o.RxRingEntries, "tx": o.TxRingEntries} {
		if n < 1 || n > ringEntriesMax || bits.OnesCount(uint(n)) != 1 {
			return fmt.Errorf("xsk: %s ring of %d entries, accepted a power of two from 1 to %d", name, n, ringEntriesMax)
		}
	}
	return nil
}

// New creates an AF_XDP socket, registers its UMEM, maps its rings, fills
// the fill ring and binds to (ifindex, queueID). The XDP program must be
// told about the socket (xdpprog.Program.Register) before frames arrive.
func New(ifindex, queueID int, opts Options) (*Socket, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	umemBytes := opts.Frames * opts.FrameSize
	if err := raiseMemlock(uint64(umemBytes)); err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("xsk: socket(AF_XDP): %w: %v", ErrPermission, err)
		}
		if errors.Is(err, unix.EAFNOSUPPORT) {
			return nil, fmt.Errorf("xsk: socket(AF_XDP): kernel without CONFIG_XDP_SOCKETS: %w: %v", ErrUnsupported, err)
		}
		return nil, fmt.Errorf("xsk: socket(AF_XDP): %w", err)
	}
	s := &Socket{
		fd:        fd,
		ifindex:   ifindex,
		queueID:   queueID,
		frameSize: uint64(opts.FrameSize),
		frameMask: ^uint64(opts.FrameSize - 1),
		rxFrames:  uint64(opts.RxFrames),
		wakeup:    !opts.NoNeedWakeup,
		sg:        opts.MultiBuffer,
	}
	if err := s.setup(opts, umemBytes); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Socket) setup(opts Options, umemBytes int) error {
	var err error
	s.umem, err = unix.Mmap(-1, 0, umemBytes, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("xsk: map UMEM of %d bytes: %w", umemBytes, err)
	}
	reg := unix.XDPUmemReg{
		Addr: uint64(uintptr(unsafe.Pointer(&s.umem[0]))),
		Len:  uint64(umemBytes),
		Size: uint32(opts.FrameSize),
	}
	if err := setsockopt(s.fd, unix.XDP_UMEM_REG, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
		if errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.ENOMEM) {
			return fmt.Errorf("xsk: register UMEM of %d bytes: %w: %v", umemBytes, ErrMemlock, err)
		}
		return fmt.Errorf("xsk: register UMEM of %d bytes: %w", umemBytes, err)
	}
	for _, r := range []struct {
		opt  int
		n    int
		name string
	}{
		{unix.XDP_UMEM_FILL_RING, opts.FillRingEntries, "fill"},
		{unix.XDP_UMEM_COMPLETION_RING, opts.CompletionRingEntries, "completion"},
		{unix.XDP_RX_RING, opts.RxRingEntries, "rx"},
		{unix.XDP_TX_RING, opts.TxRingEntries, "tx"},
	} {
		if err := unix.SetsockoptInt(s.fd, unix.SOL_XDP, r.opt, r.n); err != nil {
			return fmt.Errorf("xsk: size %s ring to %d entries: %w", r.name, r.n, err)
		}
	}
	var off unix.XDPMmapOffsets
	if err := getsockopt(s.fd, unix.XDP_MMAP_OFFSETS, unsafe.Pointer(&off), unsafe.Sizeof(off)); err != nil {
		return fmt.Errorf("xsk: read ring offsets: %w", err)
	}
	mapRing := func(pgoff int64, o unix.XDPRingOffset, n int, entry uintptr, name string) ([]byte, error) {
		size := int(o.Desc) + n*int(entry)
		mem, err := unix.Mmap(s.fd, pgoff, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			return nil, fmt.Errorf("xsk: map %s ring: %w", name, err)
		}
		s.ringMems = append(s.ringMems, mem)
		return mem, nil
	}
	mem, err := mapRing(unix.XDP_UMEM_PGOFF_FILL_RING, off.Fr, opts.FillRingEntries, 8, "fill")
	if err != nil {
		return err
	}
	s.fill = newAddrRing(mem, off.Fr, uint32(opts.FillRingEntries))
	if mem, err = mapRing(unix.XDP_UMEM_PGOFF_COMPLETION_RING, off.Cr, opts.CompletionRingEntries, 8, "completion"); err != nil {
		return err
	}
	s.comp = newAddrRing(mem, off.Cr, uint32(opts.CompletionRingEntries))
	if mem, err = mapRing(unix.XDP_PGOFF_RX_RING, off.Rx, opts.RxRingEntries, unsafe.Sizeof(Desc{}), "rx"); err != nil {
		return err
	}
	s.rx = newDescRing(mem, off.Rx, uint32(opts.RxRingEntries))
	if mem, err = mapRing(unix.XDP_PGOFF_TX_RING, off.Tx, opts.TxRingEntries, unsafe.Sizeof(Desc{}), "tx"); err != nil {
		return err
	}
	s.tx = newDescRing(mem, off.Tx, uint32(opts.TxRingEntries))

	s.rxFree = make([]uint64, 0, opts.RxFrames)
	for i := opts.RxFrames - 1; i >= 0; i-- {
		s.rxFree = append(s.rxFree, uint64(i)*s.frameSize)
	}
	s.txFree = make([]uint64, 0, opts.Frames-opts.RxFrames)
	for i := opts.Frames - 1; i >= opts.RxFrames; i-- {
		s.txFree = append(s.txFree, uint64(i)*s.frameSize)
	}
	s.Fill()

	var flags uint16
	switch opts.Mode {
	case BindCopy:
		flags |= unix.XDP_COPY
	case BindZeroCopy:
		flags |= unix.XDP_ZEROCOPY
	}
	if s.wakeup {
		flags |= unix.XDP_USE_NEED_WAKEUP
	}
	if opts.MultiBuffer {
		flags |= unix.XDP_USE_SG
	}
	sa := &unix.SockaddrXDP{Flags: flags, Ifindex: uint32(s.ifindex), QueueID: uint32(s.queueID)}
	if err := unix.Bind(s.fd, sa); err != nil {
		what := fmt.Sprintf("xsk: bind to ifindex %d queue %d (copy=%v zerocopy=%v sg=%v)",
			s.ifindex, s.queueID, opts.Mode == BindCopy, opts.Mode == BindZeroCopy, opts.MultiBuffer)
		switch {
		case errors.Is(err, unix.EBUSY):
			return fmt.Errorf("%s: %w: %v", what, ErrBusy, err)
		case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EINVAL):
			return fmt.Errorf("%s: %w: %v", what, ErrUnsupported, err)
		case errors.Is(err, unix.EPERM):
			return fmt.Errorf("%s: %w: %v", what, ErrPermission, err)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// raiseMemlock makes sure RLIMIT_MEMLOCK covers need bytes (the kernel
// charges the UMEM to it unless the process has CAP_IPC_LOCK).
func raiseMemlock(need uint64) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		return fmt.Errorf("xsk: read RLIMIT_MEMLOCK: %w", err)
	}
	if lim.Cur == unix.RLIM_INFINITY || lim.Cur >= need {
		return nil
	}
	want := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &want) == nil {
		return nil
	}
	if lim.Max == unix.RLIM_INFINITY || lim.Max >= need {
		want = unix.Rlimit{Cur: lim.Max, Max: lim.Max}
		if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &want) == nil {
			return nil
		}
	}
	if hasCapIPCLock() {
		return nil // the kernel does not charge the UMEM then
	}
	return fmt.Errorf("%w: UMEM needs %d bytes, RLIMIT_MEMLOCK is %d (hard %d) and could not be raised; "+
		"raise it (ulimit -l, LimitMEMLOCK= in the unit) or grant CAP_IPC_LOCK", ErrMemlock, need, lim.Cur, lim.Max)
}

func hasCapIPCLock() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[0].Effective&(1<<unix.CAP_IPC_LOCK) != 0
}

func setsockopt(fd, opt int, p unsafe.Pointer, n uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_XDP, uintptr(opt), uintptr(p), n, 0)
	if e != 0 {
		return e
	}
	return nil
}

func getsockopt(fd, opt int, p unsafe.Pointer, n uintptr) error {
	l := uint32(n)
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_XDP, uintptr(opt), uintptr(p), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return e
	}
	return nil
}

// FD is the socket descriptor: register it in the XSKMAP, and poll it for
// POLLIN to sleep until frames arrive.
func (s *Socket) FD() int { return s.fd }

// FrameSize is the UMEM chunk size.
func (s *Socket) FrameSize() int { return int(s.frameSize) }

// MultiBuffer reports whether the socket was bound with XDP_USE_SG.
func (s *Socket) MultiBuffer() bool { return s.sg }

// Frame returns the bytes a descriptor points at, inside the UMEM.
func (s *Socket) Frame(d Desc) []byte { return s.umem[d.Addr : d.Addr+uint64(d.Len)] }

// Chunk returns the whole chunk starting at addr (a transmit frame from
// AllocTx) for the caller to write a frame into.
func (s *Socket) Chunk(addr uint64) []byte { return s.umem[addr : addr+s.frameSize] }

// Fill moves free receive frames into the fill ring and returns how many
// it moved. It kicks the kernel when need_wakeup asks for it.
func (s *Socket) Fill() int {
	n := uint32(len(s.rxFree))
	if n == 0 {
		return 0
	}
	if f := s.fill.free(n); f < n {
		n = f
	}
	for i := uint32(0); i < n; i++ {
		s.fill.addrs[(s.fill.cachedProd+i)&s.fill.mask] = s.rxFree[len(s.rxFree)-1-int(i)]
	}
	s.rxFree = s.rxFree[:len(s.rxFree)-int(n)]
	s.fill.cachedProd += n
	s.fill.publish()
	return int(n)
}

// NeedRxWakeup reports whether the kernel wants a poll/recvfrom before it
// fills the RX ring again (need_wakeup on the fill ring).
func (s *Socket) NeedRxWakeup() bool { return s.wakeup && s.fill.needWakeup() }

// WakeRx makes the syscall the kernel asks for in NeedRxWakeup.
func (s *Socket) WakeRx() error {
	_, _, err := unix.Recvfrom(s.fd, nil, unix.MSG_DONTWAIT)
	if err != nil && !errors.Is(err, unix.EAGAIN) {
		return fmt.Errorf("xsk: wake rx: %w", err)
	}
	return nil
}

// Receive copies up to len(descs) descriptors off the RX ring and returns
// how many. Each descriptor's chunk stays owned by the caller until it is
// given back with Release. Frames spanning chunks come as consecutive
// descriptors with XDP_PKT_CONTD on all but the last; Receive never splits
// a frame across calls unless descs is shorter than the frame.
func (s *Socket) Receive(descs []Desc) int {
	n := s.rx.avail()
	if uint32(len(descs)) < n {
		n = uint32(len(descs))
	}
	if n == 0 {
		return 0
	}
	for i := uint32(0); i < n; i++ {
		descs[i] = s.rx.descs[(s.rx.cachedCons+i)&s.rx.mask]
	}
	// Keep whole frames together: back off a trailing partial frame so
	// the next call starts at its first descriptor.
	if s.sg && descs[n-1].Options&unix.XDP_PKT_CONTD != 0 {
		k := n
		for k > 0 && descs[k-1].Options&unix.XDP_PKT_CONTD != 0 {
			k--
		}
		if k > 0 {
			n = k
		}
	}
	s.rx.cachedCons += n
	s.rx.release()
	return int(n)
}

// Release gives a received chunk back to the receive free list (any
// address inside the chunk will do). Call Fill to hand it to the kernel.
func (s *Socket) Release(addr uint64) {
	base := addr & s.frameMask
	if base/s.frameSize >= s.rxFrames {
		s.txFree = append(s.txFree, base)
		return
	}
	s.rxFree = append(s.rxFree, base)
}

// AllocTx takes a free transmit chunk; ok is false when all are in flight
// (call Complete).
func (s *Socket) AllocTx() (addr uint64, ok bool) {
	if len(s.txFree) == 0 {
		s.Complete()
		if len(s.txFree) == 0 {
			return 0, false
		}
	}
	addr = s.txFree[len(s.txFree)-1]
	s.txFree = s.txFree[:len(s.txFree)-1]
	return addr, true
}

// FreeTx returns how many transmit chunks are free without reaping
// completions.
func (s *Socket) FreeTx() int { return len(s.txFree) }

// TxRoom returns how many descriptors the TX ring can take now.
func (s *Socket) TxRoom() int { return int(s.tx.free(s.tx.size)) }

// Transmit puts descs on the TX ring and returns how many it took. It
// takes whole frames only (a run ending with a descriptor without
// XDP_PKT_CONTD). Call Kick afterwards (or use TransmitKick).
func (s *Socket) Transmit(descs []Desc) int {
	n := uint32(len(descs))
	if n == 0 {
		return 0
	}
	if f := s.tx.free(n); f < n {
		n = f
		for n > 0 && descs[n-1].Options&unix.XDP_PKT_CONTD != 0 {
			n--
		}
	}
	for i := uint32(0); i < n; i++ {
		s.tx.descs[(s.tx.cachedProd+i)&s.tx.mask] = descs[i]
	}
	s.tx.cachedProd += n
	s.tx.publish()
	return int(n)
}

// Kick asks the kernel to send what is on the TX ring when it needs a
// syscall for that (always in copy mode, on need_wakeup otherwise). It
// retries while the kernel reports more work, up to kickRetriesMax calls.
func (s *Socket) Kick() error {
	for i := 0; i < kickRetriesMax; i++ {
		if s.tx.pending() == 0 {
			return nil
		}
		if s.wakeup && !s.tx.needWakeup() {
			return nil
		}
		s.kicks++
		err := unix.Sendto(s.fd, nil, unix.MSG_DONTWAIT, nil)
		switch {
		case err == nil:
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EBUSY), errors.Is(err, unix.ENOBUFS):
			// EAGAIN: more than one batch queued, go again. EBUSY and
			// ENOBUFS: device or memory busy, the next call retries.
			if !errors.Is(err, unix.EAGAIN) {
				return nil
			}
		case errors.Is(err, unix.ENETDOWN), errors.Is(err, unix.ENXIO):
			return fmt.Errorf("xsk: kick tx on ifindex %d: %w", s.ifindex, err)
		default:
			return fmt.Errorf("xsk: kick tx: %w", err)
		}
	}
	return nil
}

// Complete moves transmitted chunks from the completion ring to the
// transmit free list and returns how many it moved.
func (s *Socket) Complete() int {
	n := s.comp.avail()
	for i := uint32(0); i < n; i++ {
		s.txFree = append(s.txFree, s.comp.addrs[(s.comp.cachedCons+i)&s.comp.mask]&s.frameMask)
	}
	s.comp.cachedCons += n
	if n > 0 {
		s.comp.release()
	}
	return int(n)
}

// TxPending is how many descriptors the kernel has not taken off the TX
// ring yet.
func (s *Socket) TxPending() int { return int(s.tx.pending()) }

// Stats are the kernel's counters for the socket plus weft's own.
type Stats struct {
	// RxDropped: frames dropped for reasons other than invalid descriptors.
	RxDropped uint64
	// RxInvalidDescs and TxInvalidDescs: descriptors the kernel rejected.
	RxInvalidDescs uint64
	TxInvalidDescs uint64
	// RxRingFull: frames dropped because the RX ring was full.
	RxRingFull uint64
	// RxFillRingEmpty: times the kernel found no chunk in the fill ring.
	RxFillRingEmpty uint64
	// TxRingEmpty: times a kick found the TX ring empty.
	TxRingEmpty uint64
	// Kicks: sendto calls Kick made.
	Kicks uint64
}

// Stats reads XDP_STATISTICS.
func (s *Socket) Stats() (Stats, error) {
	var st unix.XDPStatistics
	if err := getsockopt(s.fd, unix.XDP_STATISTICS, unsafe.Pointer(&st), unsafe.Sizeof(st)); err != nil {
		return Stats{}, fmt.Errorf("xsk: read statistics: %w", err)
	}
	return Stats{
		RxDropped:       st.Rx_dropped,
		RxInvalidDescs:  st.Rx_invalid_descs,
		TxInvalidDescs:  st.Tx_invalid_descs,
		RxRingFull:      st.Rx_ring_full,
		RxFillRingEmpty: st.Rx_fill_ring_empty_descs,
		TxRingEmpty:     st.Tx_ring_empty_descs,
		Kicks:           s.kicks,
	}, nil
}

// Close unmaps the rings and the UMEM and closes the socket; the kernel
// removes it from every XSKMAP, so its queue falls back to the kernel.
func (s *Socket) Close() error {
	var errs []error
	if s.fd >= 0 {
		errs = append(errs, unix.Close(s.fd))
		s.fd = -1
	}
	for _, m := range s.ringMems {
		errs = append(errs, unix.Munmap(m))
	}
	s.ringMems = nil
	if s.umem != nil {
		errs = append(errs, unix.Munmap(s.umem))
		s.umem = nil
	}
	return errors.Join(errs...)
}
