package nvme

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Drive is an open weft drive. The blocking methods (ReadBlocks,
// WriteBlocks, Flush, AppRoot, SetAppRoot) are safe for concurrent use by
// many goroutines. The poll-mode methods (Submit, Poll, PollFd) are not:
// one poller goroutine owns them at a time.
type Drive struct {
	t    *target
	be   backend
	log  *slog.Logger
	tab  *table
	sbMu sync.Mutex // serialises SetAppRoot
	sb   superblock // guarded by sbMu
	// The layout never changes after Open; copied out of sb so the IO
	// paths read it without sbMu.
	tableStart, dataStart, dataBlocks uint64
	flMu                              sync.Mutex // serialises Flush so a Flush never returns before an earlier one's table writes
	flushBuf                          []byte     // snapshot of the table blocks Flush writes; guarded by flMu
	info                              Info
	ro                                bool
	state                             atomic.Uint32 // 0 open, 1 closed
	poll                              pollState
}

// dataOff is the byte offset of data block b.
func (d *Drive) dataOff(b uint64) int64 { return int64((d.dataStart + b) * BlockSize) }

// Format writes a fresh weft layout on path: a zeroed checksum table and
// two superblock copies. It refuses a drive that holds foreign data
// (ErrForeign), an existing weft drive (ErrFormatted) or a newer format
// (ErrVersion) unless o.Force, a drive in use (ErrBusy), one below
// DriveBytesMin (ErrTooSmall) and a read-only one (ErrReadOnly), writing
// nothing in each case.
func Format(path string, o FormatOptions) error {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(o.AppRoot) > AppRootBytesMax {
		return fmt.Errorf("format drive %s: app root is %d bytes, max %d: %w", path, len(o.AppRoot), AppRootBytesMax, ErrTooLarge)
	}
	t, err := openTarget(path, false)
	if err != nil {
		return fmt.Errorf("format: %w", err)
	}
	defer t.close()
	tb, ds, db, err := layoutFor(t.capacity)
	if err != nil {
		return fmt.Errorf("format drive %s: %w", path, err)
	}
	be := t.rawBackend()
	head := AlignedBuffer(superblockCopies * BlockSize)
	if err := be.do(opRead, 0, head); err != nil {
		return fmt.Errorf("format drive %s: read superblocks: %w", path, err)
	}
	if !o.Force {
		if err := checkBlank(path, head); err != nil {
			return err
		}
	}
	sb := superblock{
		version: FormatVersion, generation: 1, driveUUID: o.DriveUUID, clusterUUID: o.ClusterUUID,
		blockSize: BlockSize, capacity: t.capacity,
		tableStart: tableStartBlock, tableBlocks: tb, dataStart: ds, dataBlocks: db,
		appRoot: append([]byte(nil), o.AppRoot...),
	}
	if sb.driveUUID == ([16]byte{}) {
		rand.Read(sb.driveUUID[:])
		sb.driveUUID[6] = sb.driveUUID[6]&0x0f | 0x40 // version 4
		sb.driveUUID[8] = sb.driveUUID[8]&0x3f | 0x80 // RFC 4122 variant
	}
	// Invalidate the old superblocks first, so a crash mid-format leaves a
	// drive Open refuses rather than an old layout over a half-zeroed table.
	zero := AlignedBuffer(RequestBytesMax)
	if err := be.do(opWrite, 0, zero[:superblockCopies*BlockSize]); err != nil {
		return fmt.Errorf("format drive %s: clear superblocks: %w", path, err)
	}
	for b := uint64(tableStartBlock); b < tableStartBlock+tb; {
		n := min(tableStartBlock+tb-b, RequestBytesMax/BlockSize)
		if err := be.do(opWrite, int64(b*BlockSize), zero[:n*BlockSize]); err != nil {
			return fmt.Errorf("format drive %s: zero checksum table: %w", path, err)
		}
		b += n
	}
	if err := be.do(opFsync, 0, nil); err != nil {
		return fmt.Errorf("format drive %s: sync: %w", path, err)
	}
	if err := writeSuperblocks(be, &sb); err != nil {
		return fmt.Errorf("format drive %s: %w", path, err)
	}
	log.Info("nvme: formatted drive", "path", path, "data_blocks", db, "table_blocks", tb, "drive_uuid", fmt.Sprintf("%x", sb.driveUUID))
	return nil
}

// checkBlank refuses anything but zeros in the superblock area.
func checkBlank(path string, head []byte) error {
	var errs [superblockCopies]error
	for c := range superblockCopies {
		blk := head[c*BlockSize : (c+1)*BlockSize]
		if allZero(blk) {
			continue
		}
		sb, err := decodeSuperblock(blk)
		if err == nil {
			return fmt.Errorf("format drive %s: already a weft drive (drive uuid %x, generation %d); use Force to reformat: %w", path, sb.driveUUID, sb.generation, ErrFormatted)
		}
		errs[c] = err
	}
	for c, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, ErrVersion):
			return fmt.Errorf("format drive %s: superblock copy %d: %w; use Force to reformat", path, c, err)
		default:
			return fmt.Errorf("format drive %s: block %d holds data that is not a weft superblock (%v); use Force to overwrite: %w", path, c, err, ErrForeign)
		}
	}
	return nil
}

// writeSuperblocks writes both copies of sb, each followed by a sync, so a
// torn write damages at most the copy being written.
func writeSuperblocks(be backend, sb *superblock) error {
	buf := AlignedBuffer(BlockSize)
	for c := range superblockCopies {
		sb.copy = uint32(c)
		sb.encode(buf)
		if err := be.do(opWrite, int64(c*BlockSize), buf); err != nil {
			return fmt.Errorf("write superblock copy %d: %w", c, err)
		}
		if err := be.do(opFsync, 0, nil); err != nil {
			return fmt.Errorf("sync superblock copy %d: %w", c, err)
		}
	}
	return nil
}

// Open opens a formatted drive exclusively, verifies its superblocks
// (repairing a damaged or stale copy from the good one), loads the checksum
// table and picks the IO backend.
func Open(path string, o Options) (*Drive, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !littleEndian() {
		return nil, fmt.Errorf("open drive %s: the checksum table is little endian and this host is not: %w", path, ErrUnsupported)
	}
	if o.Backend == BackendVFIO && !strings.HasPrefix(path, VFIOPrefix) {
		return nil, fmt.Errorf("open drive %s: the vfio backend serves drives named %s<pci address> (%s%s): %w", path, VFIOPrefix, VFIOPrefix, o.PCIAddress, ErrUnsupported)
	}
	if e := o.Entries; e < 0 || e > RingEntriesMax || e&(e-1) != 0 {
		return nil, fmt.Errorf("open drive %s: Options.Entries %d: want 0 (default %d) or a power of two up to %d", path, e, RingEntriesDefault, RingEntriesMax)
	}
	t, err := openTarget(path, o.ReadOnly)
	if err != nil {
		return nil, err
	}
	d := &Drive{t: t, log: log, ro: o.ReadOnly}
	if err := d.load(o); err != nil {
		t.close()
		return nil, err
	}
	be, err := newBackend(t, o, log)
	if err != nil {
		t.close()
		return nil, fmt.Errorf("open drive %s: %w", path, err)
	}
	d.be = be
	d.poll.init(entriesOf(o))
	d.info = Info{
		Path: path, BlockSize: BlockSize, DataBlocks: d.sb.dataBlocks,
		DriveUUID: d.sb.driveUUID, ClusterUUID: d.sb.clusterUUID,
		Backend: be.name(), Generation: d.sb.generation,
		LogicalBlockSize: t.logical, CapacityBytes: t.capacity, ReadOnly: o.ReadOnly,
		DataOffsetBytes: d.sb.dataStart * BlockSize,
	}
	log.Info("nvme: opened drive", "path", path, "backend", be.name(), "data_blocks", d.sb.dataBlocks,
		"generation", d.sb.generation, "direct", t.direct, "memory", t.memory)
	return d, nil
}

func entriesOf(o Options) int {
	if o.Entries <= 0 {
		return RingEntriesDefault
	}
	return min(o.Entries, RingEntriesMax)
}

// load reads and checks the superblocks and the checksum table.
func (d *Drive) load(o Options) error {
	path := d.t.path
	be := d.t.rawBackend()
	head := AlignedBuffer(superblockCopies * BlockSize)
	if err := be.do(opRead, 0, head); err != nil {
		return fmt.Errorf("open drive %s: read superblocks: %w", path, err)
	}
	var sbs [superblockCopies]superblock
	var errs [superblockCopies]error
	best := -1
	for c := range superblockCopies {
		sbs[c], errs[c] = decodeSuperblock(head[c*BlockSize : (c+1)*BlockSize])
		if errs[c] == nil && sbs[c].copy != uint32(c) {
			errs[c] = fmt.Errorf("%w: copy %d found at block %d", ErrCorrupt, sbs[c].copy, c)
		}
		if errs[c] == nil && (best < 0 || sbs[c].generation > sbs[best].generation) {
			best = c
		}
	}
	if best < 0 {
		for _, sentinel := range []error{ErrVersion, ErrForeign} {
			for c, err := range errs {
				if errors.Is(err, sentinel) {
					return fmt.Errorf("open drive %s: superblock copy %d: %w", path, c, err)
				}
			}
		}
		return fmt.Errorf("open drive %s: no valid superblock (copy 0: %v; copy 1: %v): %w", path, errs[0], errs[1], ErrCorrupt)
	}
	sb := sbs[best]
	if sb.capacity > d.t.capacity {
		return fmt.Errorf("open drive %s: formatted for %d bytes but the device has %d: %w", path, sb.capacity, d.t.capacity, ErrCorrupt)
	}
	d.sb = sb
	d.tableStart, d.dataStart, d.dataBlocks = sb.tableStart, sb.dataStart, sb.dataBlocks
	d.tab = newTable(sb.tableBlocks, sb.dataBlocks)
	for b := uint64(0); b < sb.tableBlocks; {
		n := min(sb.tableBlocks-b, RequestBytesMax/BlockSize)
		if err := be.do(opRead, int64((sb.tableStart+b)*BlockSize), d.tab.raw[b*BlockSize:(b+n)*BlockSize]); err != nil {
			return fmt.Errorf("open drive %s: read checksum table: %w", path, err)
		}
		b += n
	}
	for c := range superblockCopies {
		if c == best || (errs[c] == nil && sbs[c].generation == sb.generation) {
			continue
		}
		d.log.Warn("nvme: superblock copy damaged or stale; rewriting it from the good copy",
			"path", path, "copy", c, "good_copy", best, "generation", sb.generation, "err", errs[c])
		if d.ro {
			continue
		}
		buf := AlignedBuffer(BlockSize)
		rep := sb
		rep.copy = uint32(c)
		rep.encode(buf)
		if err := be.do(opWrite, int64(c*BlockSize), buf); err != nil {
			return fmt.Errorf("open drive %s: repair superblock copy %d: %w", path, c, err)
		}
		if err := be.do(opFsync, 0, nil); err != nil {
			return fmt.Errorf("open drive %s: repair superblock copy %d: %w", path, c, err)
		}
	}
	return nil
}

func littleEndian() bool {
	v := uint16(1)
	return *(*byte)(unsafe.Pointer(&v)) == 1
}

// Info describes the drive.
func (d *Drive) Info() Info {
	d.sbMu.Lock()
	defer d.sbMu.Unlock()
	i := d.info
	i.Generation = d.sb.generation
	return i
}

// check validates a data-region request.
func (d *Drive) check(what string, block uint64, buf []byte, write bool) error {
	if d.state.Load() != 0 {
		return fmt.Errorf("%s drive %s: %w", what, d.t.path, ErrClosed)
	}
	if !isAligned(buf) {
		return fmt.Errorf("%s drive %s: buffer at %p, %d bytes: want a non-empty multiple of %d bytes at a %d-aligned address (use nvme.AlignedBuffer): %w",
			what, d.t.path, unsafe.SliceData(buf), len(buf), BlockSize, BlockSize, ErrMisaligned)
	}
	if len(buf) > RequestBytesMax {
		return fmt.Errorf("%s drive %s: %d bytes in one request, max %d: %w", what, d.t.path, len(buf), RequestBytesMax, ErrTooLarge)
	}
	n := uint64(len(buf) / BlockSize)
	if block >= d.dataBlocks || n > d.dataBlocks-block {
		return fmt.Errorf("%s drive %s: blocks [%d, %d) outside the data region [0, %d): %w", what, d.t.path, block, block+n, d.dataBlocks, ErrOutOfRange)
	}
	if write && d.ro {
		return fmt.Errorf("%s drive %s: opened read-only: %w", what, d.t.path, ErrReadOnly)
	}
	return nil
}

// ReadBlocks reads len(buf)/BlockSize data blocks starting at data block
// block into buf and verifies each against its CRC32C. A mismatch returns
// an error wrapping ErrCorrupt naming the block, and buf is cleared. buf
// must be BlockSize-aligned (AlignedBuffer).
func (d *Drive) ReadBlocks(block uint64, buf []byte) error {
	if err := d.check("read", block, buf, false); err != nil {
		return err
	}
	if err := d.be.do(opRead, d.dataOff(block), buf); err != nil {
		clear(buf)
		return fmt.Errorf("read drive %s: data blocks [%d, %d): %w", d.t.path, block, block+uint64(len(buf)/BlockSize), ioErr(err))
	}
	return d.tab.verify(d.t.path, block, buf)
}

// WriteBlocks writes buf at data block block and records the CRC32C of
// every block in the checksum table (made durable by Flush). buf must be
// BlockSize-aligned.
func (d *Drive) WriteBlocks(block uint64, buf []byte) error {
	if err := d.check("write", block, buf, true); err != nil {
		return err
	}
	n := len(buf) / BlockSize
	if ov, ok := d.be.(overlapper); ok && len(buf) >= overlapBytesMin {
		// Checksum while the device moves the data.
		var sumBuf [sumsPerSlot]uint32
		t := ov.begin(opWrite, d.dataOff(block), buf)
		sums(block, buf, sumBuf[:n])
		if err := ov.end(t, opWrite, buf); err != nil {
			return fmt.Errorf("write drive %s: data blocks [%d, %d): %w", d.t.path, block, block+uint64(n), ioErr(err))
		}
		d.tab.store(block, sumBuf[:n])
		return nil
	}
	if err := d.be.do(opWrite, d.dataOff(block), buf); err != nil {
		return fmt.Errorf("write drive %s: data blocks [%d, %d): %w", d.t.path, block, block+uint64(n), ioErr(err))
	}
	d.tab.record(block, buf)
	return nil
}

// Flush makes every write that completed before the call, and its
// checksums, durable: it writes the dirty checksum table blocks and then
// syncs the device.
func (d *Drive) Flush() error {
	if d.state.Load() != 0 {
		return fmt.Errorf("flush drive %s: %w", d.t.path, ErrClosed)
	}
	if d.ro {
		return nil
	}
	d.flMu.Lock()
	defer d.flMu.Unlock()
	return d.flushLocked()
}

func (d *Drive) flushLocked() error {
	for tb := d.tab.takeDirty(0); tb >= 0; tb = d.tab.takeDirty(tb + 1) {
		// Coalesce a run of dirty table blocks into one write.
		end := tb + 1
		for end < len(d.tab.dirty) && end-tb < RequestBytesMax/BlockSize && atomic.SwapUint32(&d.tab.dirty[end], 0) != 0 {
			end++
		}
		off := int64((d.tableStart + uint64(tb)) * BlockSize)
		if d.flushBuf == nil {
			d.flushBuf = AlignedBuffer(RequestBytesMax)
		}
		if err := d.be.do(opWrite, off, d.tab.snapshot(d.flushBuf, tb, end)); err != nil {
			for i := tb; i < end; i++ {
				d.tab.markDirty(i)
			}
			return fmt.Errorf("flush drive %s: write checksum table blocks [%d, %d): %w", d.t.path, tb, end, ioErr(err))
		}
		tb = end - 1
	}
	if err := d.be.do(opFsync, 0, nil); err != nil {
		return fmt.Errorf("flush drive %s: sync: %w", d.t.path, ioErr(err))
	}
	return nil
}

// AppRoot returns a copy of the owner area stored in the superblock.
func (d *Drive) AppRoot() []byte {
	d.sbMu.Lock()
	defer d.sbMu.Unlock()
	return append([]byte(nil), d.sb.appRoot...)
}

// SetAppRoot flushes pending checksums, then durably rewrites both
// superblock copies with b as the owner area and the generation plus one.
// A crash in the middle leaves one copy with the old or the new root.
func (d *Drive) SetAppRoot(b []byte) error {
	if len(b) > AppRootBytesMax {
		return fmt.Errorf("set app root on drive %s: %d bytes, max %d: %w", d.t.path, len(b), AppRootBytesMax, ErrTooLarge)
	}
	if d.ro {
		return fmt.Errorf("set app root on drive %s: opened read-only: %w", d.t.path, ErrReadOnly)
	}
	if err := d.Flush(); err != nil {
		return err
	}
	d.sbMu.Lock()
	defer d.sbMu.Unlock()
	sb := d.sb
	sb.generation++
	sb.appRoot = append([]byte(nil), b...)
	if err := writeSuperblocks(d.be, &sb); err != nil {
		return fmt.Errorf("set app root on drive %s: %w", d.t.path, err)
	}
	d.sb = sb
	return nil
}

// Close flushes pending checksums and releases the drive. No call may be
// in flight on the Drive when Close is called.
func (d *Drive) Close() error {
	if !d.state.CompareAndSwap(0, 1) {
		return fmt.Errorf("close drive %s: %w", d.t.path, ErrClosed)
	}
	var err error
	if !d.ro {
		d.flMu.Lock()
		err = d.flushLocked()
		d.flMu.Unlock()
	}
	err = errors.Join(err, d.be.close(), d.t.close())
	if err != nil {
		return fmt.Errorf("close drive %s: %w", d.t.path, err)
	}
	return nil
}

// ioErr maps errnos that callers branch on to sentinels.
func ioErr(err error) error {
	switch {
	case errors.Is(err, unix.EROFS), errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w (%v)", ErrReadOnly, err)
	}
	return err
}
