package vfio

// controller.go brings an NVMe controller up from userspace:
//
//	Bind (driver_override) ─► openDevice (container, group, device fd)
//	  ─► PCI command: memory space + bus master, INTx off
//	  ─► mmap BAR0 ─► CC.EN=0, wait CSTS.RDY=0
//	  ─► admin SQ/CQ in DMA memory, AQA/ASQ/ACQ, CC (4 KiB pages, 64/16 B entries), CC.EN=1, wait RDY=1
//	  ─► Identify Controller, active namespace list, Identify Namespace
//	  ─► Set Features (number of queues)
//	NewQueuePair: Create I/O CQ (interrupts off) + Create I/O SQ, one pair per poller.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Limits of the driver.
const (
	adminEntries         = 32                     // admin queue depth
	ioEntriesDefault     = 1024                   // I/O queue depth when Options.Entries is 0
	ioEntriesMax         = 4096                   // largest I/O queue depth accepted
	ioQueuePairsMax      = 64                     // I/O queue pairs requested from the controller
	adminTimeoutDefault  = 5 * time.Second        // admin command timeout
	ioTimeoutDefault     = 10 * time.Second       // I/O command timeout
	readyTimeoutFallback = 10 * time.Second       // when CAP.TO reads 0
	transferBytesMax     = 512 * pageBytes        // per command: one PRP list page covers it
	pciCommandOffset     = 0x04                   // PCI config: command register
	pciCommandMemory     = 1 << 1                 // memory space enable
	pciCommandMaster     = 1 << 2                 // bus master enable
	pciCommandINTxOff    = 1 << 10                // interrupt disable
	pciClassOffset       = 0x09                   // PCI config: prog-if, subclass, class
	pciClassNVMe         = 0x010802               // mass storage, NVM, NVMe
	statusPollInterval   = 100 * time.Microsecond // sleep between CSTS reads while waiting
)

// Options configure Open.
type Options struct {
	// Entries is the depth of every I/O queue pair (a power of two, at most
	// 4096, clamped to the controller's CAP.MQES); 0 means 1024.
	Entries int
	// IOTimeout bounds every I/O command; 0 means 10 s.
	IOTimeout time.Duration
	// AdminTimeout bounds every admin command; 0 means 5 s.
	AdminTimeout time.Duration
	// SysfsRoot is where sysfs is mounted; "" means /sys.
	SysfsRoot string
	// Log receives bring-up and reset decisions; nil discards them.
	Log *slog.Logger
}

// Identity is what Identify Controller and Identify Namespace reported.
type Identity struct {
	// VendorID is the PCI vendor of the controller.
	VendorID uint16
	// Serial, Model and Firmware are the controller's strings, trimmed.
	Serial, Model, Firmware string
	// MaxTransferBytes is the largest transfer of one command (MDTS, capped
	// at 2 MiB); larger requests are split.
	MaxTransferBytes int
	// Namespace is the NSID the driver serves (the first active one).
	Namespace uint32
	// Blocks is the namespace size in LBAs (NSZE); LBABytes the LBA size.
	Blocks   uint64
	LBABytes int
	// CapacityBytes is Blocks*LBABytes.
	CapacityBytes uint64
	// QueueEntriesMax is CAP.MQES+1.
	QueueEntriesMax int
	// Version is the NVMe version register (major<<16 | minor<<8).
	Version uint32
}

// Controller is one NVMe controller driven from userspace through vfio-pci.
// Admin operations are goroutine-safe; each QueuePair belongs to one poller.
type Controller struct {
	addr   string
	opts   Options
	log    *slog.Logger
	dev    *device
	bar    []byte
	cap    uint64
	dbStep uintptr // doorbell stride in bytes

	mu       sync.Mutex // admin queue, IOVA allocator, region list writers, queue ids
	iova     *iovaAllocator
	regions  dmaRegions
	admin    *queue
	adminCID uint16
	idPage   []byte // DMA page for Identify data
	id       Identity
	qids     [ioQueuePairsMax + 1]bool
	pairs    map[uint16]*QueuePair
	fatal    atomic.Bool
	closed   bool
	maxPairs int
}

// Open takes over the NVMe controller at PCI address addr
// ("0000:00:03.0"), which must already be bound to vfio-pci (Bind does
// that), resets it and brings it up with an admin queue.
func Open(addr string, o Options) (*Controller, error) {
	if o.Entries == 0 {
		o.Entries = ioEntriesDefault
	}
	if o.Entries < 2 || o.Entries > ioEntriesMax || o.Entries&(o.Entries-1) != 0 {
		return nil, fmt.Errorf("vfio %s: queue entries %d: want a power of two in 2..%d: %w", addr, o.Entries, ioEntriesMax, ErrInvalid)
	}
	if o.IOTimeout == 0 {
		o.IOTimeout = ioTimeoutDefault
	}
	if o.AdminTimeout == 0 {
		o.AdminTimeout = adminTimeoutDefault
	}
	if o.SysfsRoot == "" {
		o.SysfsRoot = "/sys"
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dev, err := openDevice(o.SysfsRoot, addr)
	if err != nil {
		return nil, err
	}
	c := &Controller{addr: addr, opts: o, log: log, dev: dev, iova: newIOVAAllocator(), pairs: map[uint16]*QueuePair{}}
	if err := c.bringUp(); err != nil {
		c.teardown()
		return nil, err
	}
	return c, nil
}

func (c *Controller) bringUp() error {
	if err := c.enablePCI(); err != nil {
		return err
	}
	bar, err := c.dev.regionInfo(vfioPCIBAR0Region)
	if err != nil {
		return err
	}
	if bar.flags&vfioRegionFlagMmap == 0 || bar.size < regDBBase+8 {
		return fmt.Errorf("vfio %s: BAR0 (%d bytes, flags %#x) cannot be mapped: %w", c.addr, bar.size, bar.flags, ErrNotNVMe)
	}
	c.bar, err = unix.Mmap(c.dev.fd, int64(bar.offset), int(bar.size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("vfio %s: mmap BAR0: %w", c.addr, err)
	}
	c.cap = uint64(c.reg32(regCAP)) | uint64(c.reg32(regCAP+4))<<32
	if !capCSSNVM(c.cap) || capMPSMin(c.cap) != 0 {
		return fmt.Errorf("vfio %s: CAP %#x: want the NVM command set and 4 KiB pages: %w", c.addr, c.cap, ErrNotNVMe)
	}
	c.dbStep = 4 << capDSTRD(c.cap)
	c.id.QueueEntriesMax = capMQES(c.cap)
	c.id.Version = c.reg32(regVS)
	if c.idPage, err = c.AllocDMA(pageBytes); err != nil {
		return err
	}
	if err := c.enableController(); err != nil {
		return err
	}
	return c.identify()
}

// enablePCI turns on memory decoding and bus mastering (the controller
// cannot DMA without it) and masks legacy interrupts: this driver polls.
func (c *Controller) enablePCI() error {
	cfg, err := c.dev.regionInfo(vfioPCIConfigRegion)
	if err != nil {
		return err
	}
	var b [4]byte
	if _, err := unix.Pread(c.dev.fd, b[:], int64(cfg.offset)+pciClassOffset-1); err != nil {
		return fmt.Errorf("vfio %s: read PCI class: %w", c.addr, err)
	}
	if class := binary.LittleEndian.Uint32(b[:]) >> 8; class != pciClassNVMe {
		return fmt.Errorf("vfio %s: PCI class %06x, want %06x (NVMe): %w", c.addr, class, pciClassNVMe, ErrNotNVMe)
	}
	if _, err := unix.Pread(c.dev.fd, b[:2], int64(cfg.offset)+pciCommandOffset); err != nil {
		return fmt.Errorf("vfio %s: read PCI command: %w", c.addr, err)
	}
	cmd := binary.LittleEndian.Uint16(b[:2]) | pciCommandMemory | pciCommandMaster | pciCommandINTxOff
	binary.LittleEndian.PutUint16(b[:2], cmd)
	if _, err := unix.Pwrite(c.dev.fd, b[:2], int64(cfg.offset)+pciCommandOffset); err != nil {
		return fmt.Errorf("vfio %s: write PCI command: %w", c.addr, err)
	}
	return nil
}

func (c *Controller) reg32(off uintptr) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&c.bar[off])))
}

func (c *Controller) setReg32(off uintptr, v uint32) {
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&c.bar[off])), v)
}

func (c *Controller) setReg64(off uintptr, v uint64) {
	c.setReg32(off, uint32(v))
	c.setReg32(off+4, uint32(v>>32))
}

// doorbell returns the submission (cq=false) or completion doorbell of qid.
func (c *Controller) doorbell(qid uint16, cq bool) *uint32 {
	off := regDBBase + uintptr(2*qid)*c.dbStep
	if cq {
		off += c.dbStep
	}
	return (*uint32)(unsafe.Pointer(&c.bar[off]))
}

func (c *Controller) readyTimeout() time.Duration {
	if ms := capTimeoutMs(c.cap); ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return readyTimeoutFallback
}

// waitReady waits for CSTS.RDY to read want, failing early on CSTS.CFS
// only when enabling (a disable is how a fatal controller is recovered).
func (c *Controller) waitReady(want bool) error {
	deadline := time.Now().Add(c.readyTimeout())
	for {
		csts := c.reg32(regCSTS)
		if csts == 0xffffffff {
			return fmt.Errorf("vfio %s: CSTS reads all ones: controller gone from the bus: %w", c.addr, ErrFatal)
		}
		if (csts&cstsRDY != 0) == want {
			return nil
		}
		if want && csts&cstsCFS != 0 {
			return fmt.Errorf("vfio %s: CSTS %#x: fatal status while enabling: %w", c.addr, csts, ErrFatal)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("vfio %s: CSTS.RDY did not become %v within %v (CSTS %#x): %w", c.addr, want, c.readyTimeout(), csts, ErrTimeout)
		}
		time.Sleep(statusPollInterval)
	}
}

// enableController resets the controller (CC.EN=0), programs the admin
// queue and enables it again. Called at Open and by Reset.
func (c *Controller) enableController() error {
	if c.reg32(regCC)&ccEN != 0 {
		c.setReg32(regCC, c.reg32(regCC)&^ccEN)
	}
	if err := c.waitReady(false); err != nil {
		return fmt.Errorf("disable: %w", err)
	}
	if c.admin == nil {
		q, err := c.newQueue(0, adminEntries)
		if err != nil {
			return err
		}
		c.admin = q
	} else {
		c.admin.clear()
	}
	c.setReg32(regAQA, uint32(adminEntries-1)<<16|uint32(adminEntries-1))
	c.setReg64(regASQ, c.admin.sqIOVA)
	c.setReg64(regACQ, c.admin.cqIOVA)
	c.setReg32(regCC, ccCSSNVM|ccMPS4K|ccAMSRR|ccIOSQES|ccIOCQES)
	c.setReg32(regCC, ccCSSNVM|ccMPS4K|ccAMSRR|ccIOSQES|ccIOCQES|ccEN)
	if err := c.waitReady(true); err != nil {
		return fmt.Errorf("enable: %w", err)
	}
	c.fatal.Store(false)
	return nil
}

// adminCmd runs one admin command synchronously and returns completion
// dword 0. The caller holds c.mu.
func (c *Controller) adminCmd(cmd sqe, timeout time.Duration) (uint32, error) {
	if c.fatal.Load() {
		return 0, fmt.Errorf("vfio %s: admin opcode %#02x: %w (call Reset)", c.addr, cmd.cdw0&0xff, ErrFatal)
	}
	q := c.admin
	if q.sqFree() == 0 {
		return 0, fmt.Errorf("vfio %s: admin queue full (timed-out commands still held by the controller): %w", c.addr, ErrQueueFull)
	}
	c.adminCID++
	cid := c.adminCID
	cmd.cdw0 = cmd.cdw0&0xffff | uint32(cid)<<16
	q.push(&cmd)
	q.ringSQ()
	deadline := time.Now().Add(timeout)
	for spins := 0; ; spins++ {
		if e, ok := q.peek(); ok {
			q.pop(e)
			q.ringCQ()
			if e.cid != cid {
				continue // a late completion of a command that timed out
			}
			if st := statusOf(e.status); st != StatusSuccess {
				return e.dw0, fmt.Errorf("vfio %s: %w", c.addr, &StatusError{Opcode: uint8(cmd.cdw0), Status: st})
			}
			return e.dw0, nil
		}
		if spins%64 == 63 {
			if csts := c.reg32(regCSTS); csts&cstsCFS != 0 || csts == 0xffffffff {
				c.fatal.Store(true)
				return 0, fmt.Errorf("vfio %s: admin opcode %#02x: CSTS %#x: %w (call Reset)", c.addr, uint8(cmd.cdw0), csts, ErrFatal)
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("vfio %s: admin opcode %#02x (command id %d) not completed within %v: %w",
					c.addr, uint8(cmd.cdw0), cid, timeout, ErrTimeout)
			}
			time.Sleep(statusPollInterval / 10)
		}
	}
}

// AdminCommand runs a raw admin command (opcode, namespace, cdw10..cdw15,
// no data) with the given timeout (0 means Options.AdminTimeout) and
// returns completion dword 0: the pass-through of nvme-cli's admin-passthru.
func (c *Controller) AdminCommand(opcode uint8, nsid uint32, cdw [6]uint32, timeout time.Duration) (uint32, error) {
	if timeout == 0 {
		timeout = c.opts.AdminTimeout
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, fmt.Errorf("vfio %s: %w", c.addr, ErrClosed)
	}
	return c.adminCmd(sqe{cdw0: uint32(opcode), nsid: nsid, cdw10: cdw[0], cdw11: cdw[1], cdw12: cdw[2], cdw13: cdw[3], cdw14: cdw[4], cdw15: cdw[5]}, timeout)
}

// identify reads the controller and namespace data and asks for queues.
func (c *Controller) identify() error {
	iova, _ := c.regions.lookup(addrOf(c.idPage), pageBytes)
	c.mu.Lock()
	defer c.mu.Unlock()
	run := func(cns, nsid uint32) error {
		clear(c.idPage)
		_, err := c.adminCmd(sqe{cdw0: adminIdentify, nsid: nsid, prp1: iova, cdw10: cns}, c.opts.AdminTimeout)
		if err != nil {
			return fmt.Errorf("identify cns %d: %w", cns, err)
		}
		return nil
	}
	if err := run(cnsController, 0); err != nil {
		return err
	}
	ctrl, err := parseIdentifyController(c.idPage)
	if err != nil {
		return fmt.Errorf("vfio %s: %w", c.addr, err)
	}
	c.id.VendorID, c.id.Serial, c.id.Model, c.id.Firmware = ctrl.vendor, ctrl.serial, ctrl.model, ctrl.firmware
	c.id.MaxTransferBytes = transferBytesMax
	if ctrl.mdts > 0 && pageBytes<<ctrl.mdts < transferBytesMax {
		c.id.MaxTransferBytes = pageBytes << ctrl.mdts
	}
	if err := run(cnsActiveNSList, 0); err != nil {
		return err
	}
	nsid := binary.LittleEndian.Uint32(c.idPage)
	if nsid == 0 {
		return fmt.Errorf("vfio %s: controller has no active namespace: %w", c.addr, ErrNotNVMe)
	}
	if err := run(cnsNamespace, nsid); err != nil {
		return err
	}
	ns, err := parseIdentifyNamespace(c.idPage)
	if err != nil {
		return fmt.Errorf("vfio %s namespace %d: %w", c.addr, nsid, err)
	}
	c.id.Namespace, c.id.Blocks, c.id.LBABytes = nsid, ns.blocks, ns.lbaBytes
	c.id.CapacityBytes = ns.blocks * uint64(ns.lbaBytes)
	// Number of Queues: ask for ioQueuePairsMax; the controller answers
	// with what it allocated (0-based, SQs in 15:0, CQs in 31:16).
	want := uint32(ioQueuePairsMax - 1)
	got, err := c.adminCmd(sqe{cdw0: adminSetFeatures, cdw10: featNumberOfQueues, cdw11: want<<16 | want}, c.opts.AdminTimeout)
	if err != nil {
		return fmt.Errorf("vfio %s: set number of queues: %w", c.addr, err)
	}
	c.maxPairs = min(int(got&0xffff), int(got>>16)) + 1
	c.maxPairs = min(c.maxPairs, ioQueuePairsMax)
	c.log.Info("vfio controller up", "addr", c.addr, "serial", c.id.Serial, "model", c.id.Model,
		"namespace", nsid, "blocks", ns.blocks, "lba_bytes", ns.lbaBytes, "queue_pairs", c.maxPairs,
		"max_transfer", c.id.MaxTransferBytes)
	return nil
}

// Identity returns what the controller and its namespace reported.
func (c *Controller) Identity() Identity { return c.id }

// Addr returns the controller's PCI address.
func (c *Controller) Addr() string { return c.addr }

// Fatal reports whether the controller has signalled fatal status
// (CSTS.CFS) or vanished; only Reset recovers it.
func (c *Controller) Fatal() bool { return c.fatal.Load() }

// Reset disables and re-enables the controller, failing every command in
// flight with ErrReset (delivered by the queue pairs' next Poll) and
// re-creating every I/O queue pair under the same id. The caller must stop
// its pollers from calling Submit or Poll while Reset runs.
func (c *Controller) Reset() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("vfio %s: reset: %w", c.addr, ErrClosed)
	}
	c.log.Warn("vfio controller reset", "addr", c.addr, "fatal", c.fatal.Load(), "csts", c.reg32(regCSTS))
	if err := c.enableController(); err != nil {
		return fmt.Errorf("vfio %s: reset: %w", c.addr, err)
	}
	want := uint32(ioQueuePairsMax - 1)
	if _, err := c.adminCmd(sqe{cdw0: adminSetFeatures, cdw10: featNumberOfQueues, cdw11: want<<16 | want}, c.opts.AdminTimeout); err != nil {
		return fmt.Errorf("vfio %s: reset: set number of queues: %w", c.addr, err)
	}
	for _, p := range c.pairs {
		p.abortAll(ErrReset)
		p.q.clear()
		if err := c.createIOQueuesLocked(p.q); err != nil {
			return fmt.Errorf("vfio %s: reset: %w", c.addr, err)
		}
	}
	return nil
}

// Close deletes the I/O queues, shuts the controller down (CC.SHN) and
// releases the device, its DMA memory and its vfio descriptors. Call
// Bind's release function afterwards to give the device back to its
// kernel driver.
func (c *Controller) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	for qid, p := range c.pairs {
		if !c.fatal.Load() {
			c.adminCmd(sqe{cdw0: adminDeleteSQ, cdw10: uint32(qid)}, c.opts.AdminTimeout)
			c.adminCmd(sqe{cdw0: adminDeleteCQ, cdw10: uint32(qid)}, c.opts.AdminTimeout)
		}
		p.abortAll(ErrClosed)
		p.closed = true
	}
	c.closed = true
	c.mu.Unlock()
	c.shutdown()
	c.teardown()
	return nil
}

// shutdown asks for a normal shutdown so a real drive flushes its cache,
// then disables the controller.
func (c *Controller) shutdown() {
	if c.bar == nil || c.reg32(regCC)&ccEN == 0 {
		return
	}
	c.setReg32(regCC, c.reg32(regCC)&^ccSHNMask|ccSHNNormal)
	deadline := time.Now().Add(c.readyTimeout())
	for c.reg32(regCSTS)&cstsSHSTMask != cstsSHSTDone && time.Now().Before(deadline) {
		time.Sleep(statusPollInterval)
	}
	c.setReg32(regCC, c.reg32(regCC)&^ccEN)
	c.waitReady(false)
}

func (c *Controller) teardown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.regions.list.Load(); l != nil {
		for _, g := range *l {
			c.unmapRegionLocked(g.start)
		}
	}
	if c.bar != nil {
		unix.Munmap(c.bar)
		c.bar = nil
	}
	c.dev.close()
}

var errIdentifyShort = errors.New("identify data shorter than 4096 bytes")
