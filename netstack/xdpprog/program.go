package xdpprog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Mode is the XDP attach mode.
type Mode int

const (
	// ModeAuto tries native mode and falls back to generic mode.
	ModeAuto Mode = iota
	// ModeNative runs the program in the driver's receive path.
	ModeNative
	// ModeGeneric runs the program on socket buffers after the driver,
	// for drivers without native XDP.
	ModeGeneric
)

// String names the mode as Transport.Kind suffixes use it.
func (m Mode) String() string {
	switch m {
	case ModeNative:
		return "native"
	case ModeGeneric:
		return "generic"
	default:
		return "auto"
	}
}

// Limits.
const (
	// queuesMax is the number of XSKMAP entries: one per receive queue.
	queuesMax = 64
)

// Errors callers branch on.
var (
	// ErrPermission means the process lacks CAP_BPF / CAP_NET_ADMIN (or
	// CAP_SYS_ADMIN on older kernels) to load or attach the program.
	ErrPermission = errors.New("xdpprog: loading and attaching XDP needs CAP_BPF and CAP_NET_ADMIN")
	// ErrUnsupported means the interface or its driver refused the
	// program in every mode that was asked for.
	ErrUnsupported = errors.New("xdpprog: interface does not accept the XDP program")
)

// Config selects where and how the program is attached.
type Config struct {
	// Ifindex is the interface index to attach to.
	Ifindex int
	// Port is weft's UDP port; only datagrams to it are redirected.
	Port uint16
	// LocalIP, when set, narrows redirection to datagrams addressed to it:
	// on an interface with several addresses the others stay with the
	// kernel, whose socket answers from the address the peer used.
	LocalIP netip.Addr
	// Frags loads the program with BPF_F_XDP_HAS_FRAGS so frames larger
	// than one page (jumbo MTU) reach it as multi-buffer frames.
	Frags bool
	// Mode is the attach mode; ModeAuto tries native, then generic.
	Mode Mode
}

// Program is the loaded and attached XDP program with its XSKMAP.
type Program struct {
	xsks *ebpf.Map
	prog *ebpf.Program
	link link.Link
	mode Mode
}

// Attach loads the program and attaches it to cfg.Ifindex through a
// bpf_link. The log records which mode was chosen and why a mode failed.
func Attach(cfg Config, log *slog.Logger) (*Program, error) {
	if cfg.Ifindex < 1 {
		return nil, fmt.Errorf("xdpprog: interface index %d, accepted >= 1", cfg.Ifindex)
	}
	if cfg.Port == 0 {
		return nil, fmt.Errorf("xdpprog: UDP port 0, accepted 1 to 65535")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.LocalIP.IsValid() && !cfg.LocalIP.Is4() {
		return nil, fmt.Errorf("xdpprog: local address %s, accepted an IPv4 address", cfg.LocalIP)
	}
	xsks, prog, err := load(cfg.Port, cfg.LocalIP, cfg.Frags)
	if err != nil {
		return nil, err
	}
	p := &Program{xsks: xsks, prog: prog}
	modes := []Mode{cfg.Mode}
	if cfg.Mode == ModeAuto {
		modes = []Mode{ModeNative, ModeGeneric}
	}
	var errs []error
	for _, m := range modes {
		flags := link.XDPDriverMode
		if m == ModeGeneric {
			flags = link.XDPGenericMode
		}
		l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: cfg.Ifindex, Flags: flags})
		if err == nil {
			p.link, p.mode = l, m
			log.Info("xdp program attached", "ifindex", cfg.Ifindex, "mode", m.String(), "port", cfg.Port, "frags", cfg.Frags)
			return p, nil
		}
		log.Warn("xdp attach failed", "ifindex", cfg.Ifindex, "mode", m.String(), "err", err)
		errs = append(errs, fmt.Errorf("%s mode: %w", m, err))
	}
	p.Close()
	err = errors.Join(errs...)
	if errors.Is(classify(err), ErrPermission) {
		return nil, fmt.Errorf("xdpprog: attach to ifindex %d: %w (%v)", cfg.Ifindex, ErrPermission, err)
	}
	return nil, fmt.Errorf("xdpprog: attach to ifindex %d: %w (%v)", cfg.Ifindex, ErrUnsupported, err)
}

// load creates the XSKMAP and loads the program without attaching it.
func load(port uint16, localIP netip.Addr, frags bool) (*ebpf.Map, *ebpf.Program, error) {
	xsks, err := ebpf.NewMap(&ebpf.MapSpec{
		Name:       "weft_xsks",
		Type:       ebpf.XSKMap,
		KeySize:    4,
		ValueSize:  4,
		MaxEntries: queuesMax,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("xdpprog: create XSKMAP: %w", classify(err))
	}
	spec := &ebpf.ProgramSpec{
		Name:         "weft_xdp",
		Type:         ebpf.XDP,
		License:      "Dual BSD/GPL",
		Instructions: Instructions(port, localIP, xsks.FD()),
	}
	if frags {
		spec.Flags = unix.BPF_F_XDP_HAS_FRAGS
	}
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		xsks.Close()
		return nil, nil, fmt.Errorf("xdpprog: load program (frags=%v): %w", frags, classify(err))
	}
	return xsks, prog, nil
}

// Mode reports the mode the program is attached in.
func (p *Program) Mode() Mode { return p.mode }

// Register directs frames of receive queue queue to the AF_XDP socket fd.
func (p *Program) Register(queue int, fd int) error {
	if queue < 0 || queue >= queuesMax {
		return fmt.Errorf("xdpprog: queue %d, accepted 0 to %d", queue, queuesMax-1)
	}
	if err := p.xsks.Put(uint32(queue), uint32(fd)); err != nil {
		return fmt.Errorf("xdpprog: register socket for queue %d: %w", queue, err)
	}
	return nil
}

// Unregister sends frames of queue back to the kernel. Closing the socket
// has the same effect; this makes the switch explicit.
func (p *Program) Unregister(queue int) error {
	if queue < 0 || queue >= queuesMax {
		return fmt.Errorf("xdpprog: queue %d, accepted 0 to %d", queue, queuesMax-1)
	}
	if err := p.xsks.Delete(uint32(queue)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("xdpprog: unregister queue %d: %w", queue, err)
	}
	return nil
}

// Close detaches the program and frees it and its map.
func (p *Program) Close() error {
	var errs []error
	if p.link != nil {
		errs = append(errs, p.link.Close())
	}
	errs = append(errs, p.prog.Close(), p.xsks.Close())
	return errors.Join(errs...)
}

func classify(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, os.ErrPermission) {
		return errors.Join(ErrPermission, err)
	}
	return err
}

// Frame layout the program checks (offsets from the Ethernet header).
const (
	offEtherType = 12
	offIPVerIHL  = 14
	offIPFrag    = 20
	offIPProto   = 23
	offIPDst     = 30
	offUDPDst    = 36
	headersLen   = 42 // Ethernet 14 + IPv4 20 + UDP 8

	xdpMdData         = 0  // struct xdp_md.data
	xdpMdDataEnd      = 4  // struct xdp_md.data_end
	xdpMdRxQueueIndex = 16 // struct xdp_md.rx_queue_index

	xdpPass = 2 // XDP_PASS
)

// be16 returns the value a native-endian 16-bit load yields for the
// network-order bytes of v.
func be16(v uint16) int32 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return int32(binary.NativeEndian.Uint16(b[:]))
}

// Instructions returns the program for port (and localIP when valid) with
// the XSKMAP at mapFD.
func Instructions(port uint16, localIP netip.Addr, mapFD int) asm.Instructions {
	var dstIP asm.Instructions
	if localIP.IsValid() {
		a := localIP.As4()
		dstIP = asm.Instructions{
			asm.LoadMem(asm.R5, asm.R2, offIPDst, asm.Word),
			asm.JNE.Imm32(asm.R5, int32(binary.NativeEndian.Uint32(a[:])), "pass"),
		}
	}
	head := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1), // r6 = ctx
		asm.LoadMem(asm.R2, asm.R6, xdpMdData, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, xdpMdDataEnd, asm.Word),
		// Bounds: all three headers in the first buffer.
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, headersLen),
		asm.JGT.Reg(asm.R4, asm.R3, "pass"),
		// Ethernet type IPv4 (no VLAN tag).
		asm.LoadMem(asm.R5, asm.R2, offEtherType, asm.Half),
		asm.JNE.Imm(asm.R5, be16(unix.ETH_P_IP), "pass"),
		// Version 4, 20-byte header: anything with options goes to the kernel.
		asm.LoadMem(asm.R5, asm.R2, offIPVerIHL, asm.Byte),
		asm.JNE.Imm(asm.R5, 0x45, "pass"),
		asm.LoadMem(asm.R5, asm.R2, offIPProto, asm.Byte),
		asm.JNE.Imm(asm.R5, unix.IPPROTO_UDP, "pass"),
		// Fragments (MF set or offset != 0) are the kernel's to reassemble.
		asm.LoadMem(asm.R5, asm.R2, offIPFrag, asm.Half),
		asm.And.Imm(asm.R5, be16(0x3fff)),
		asm.JNE.Imm(asm.R5, 0, "pass"),
		asm.LoadMem(asm.R5, asm.R2, offUDPDst, asm.Half),
		asm.JNE.Imm(asm.R5, be16(port), "pass"),
	}
	tail := asm.Instructions{
		// bpf_redirect_map(&xsks, rx_queue_index, XDP_PASS)
		asm.LoadMapPtr(asm.R1, mapFD),
		asm.LoadMem(asm.R2, asm.R6, xdpMdRxQueueIndex, asm.Word),
		asm.Mov.Imm(asm.R3, xdpPass),
		asm.FnRedirectMap.Call(),
		asm.Return(),
		asm.Mov.Imm(asm.R0, xdpPass).WithSymbol("pass"),
		asm.Return(),
	}
	return append(append(head, dstIP...), tail...)
}
