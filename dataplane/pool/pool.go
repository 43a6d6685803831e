package pool

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/weft-fs/weft/dataplane/bucket"
	"github.com/weft-fs/weft/dataplane/journal"
	"github.com/weft-fs/weft/dataplane/stripe"
	"github.com/weft-fs/weft/nvme"
)

// Limits and defaults.
const (
	cacheBytesDefault        = 256 << 20 // write-back and read cache per pool
	groupCommitDefault       = 2 * time.Millisecond
	checkpointJournalDefault = 64 << 20    // journal bytes between checkpoints
	segmentBlocks            = 1024        // 4 MiB journal segments
	entryBytesMax            = 1 << 20     // one journal entry
	writebackInterval        = time.Second // dirty stripes older than this are written back
	metaReserveBlocks        = 4096        // per drive, kept for journal and checkpoints
	stripesPerInodeMax       = 64          // cached stripes one file may hold
	fsNameBytesMax           = 64          // a file system's name
	drivesMin                = stripe.DataMin + 2
)

// Errors callers branch on.
var (
	// ErrExists: a file system of that name exists.
	ErrExists = errors.New("pool: file system exists")
	// ErrNotFound: no file system of that name.
	ErrNotFound = errors.New("pool: no such file system")
	// ErrNoSpace: the pool cannot hold what was asked.
	ErrNoSpace = errors.New("pool: not enough space")
	// ErrDrives: too few drives, or drives of different pools.
	ErrDrives = errors.New("pool: drives")
	// ErrClosed: the pool was closed.
	ErrClosed = errors.New("pool: closed")
	// ErrJournal: the metadata journal could not be written; the pool
	// stops accepting changes.
	ErrJournal = errors.New("pool: journal write failed")
)

// Options tune a pool.
type Options struct {
	Logger *slog.Logger
	// CacheBytes bounds the stripe cache (dirty and clean). 0: 256 MiB.
	CacheBytes int64
	// GroupCommit is how long metadata changes wait to share a journal
	// write when nobody is waiting for them. 0: 2 ms.
	GroupCommit time.Duration
	// CheckpointJournalBytes is the journal growth that triggers a
	// checkpoint. 0: 64 MiB.
	CheckpointJournalBytes int64
	// Force lets Create reformat drives that hold data.
	Force bool
}

func (o *Options) fill() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = cacheBytesDefault
	}
	if o.GroupCommit <= 0 {
		o.GroupCommit = groupCommitDefault
	}
	if o.CheckpointJournalBytes <= 0 {
		o.CheckpointJournalBytes = checkpointJournalDefault
	}
}

// slot is one drive position of the pool; dev is nil when the drive is
// missing. It implements journal.Device, counting errors.
type slot struct {
	index   uint16
	path    string
	dev     Drive
	uuid    [16]byte
	blocks  uint64
	alloc   *nvme.Allocator
	failed  atomic.Bool // write errors: no new allocations here
	dirty   atomic.Bool // written since the last flush
	errs    atomic.Uint64
	corrupt atomic.Uint64
}

func (s *slot) ReadBlocks(block uint64, buf []byte) error {
	err := s.dev.ReadBlocks(block, buf)
	if err != nil {
		s.errs.Add(1)
		if errors.Is(err, nvme.ErrCorrupt) {
			s.corrupt.Add(1)
		}
	}
	return err
}

func (s *slot) WriteBlocks(block uint64, buf []byte) error {
	s.dirty.Store(true)
	err := s.dev.WriteBlocks(block, buf)
	if err != nil {
		s.errs.Add(1)
		if driveFault(err) {
			s.failed.Store(true)
		}
	}
	return err
}

// driveFault tells errors of the drive from errors of the request (a
// bug here, not a reason to stop using the drive).
func driveFault(err error) bool {
	for _, e := range []error{nvme.ErrTooLarge, nvme.ErrMisaligned, nvme.ErrOutOfRange, nvme.ErrClosed} {
		if errors.Is(err, e) {
			return false
		}
	}
	return true
}

func (s *slot) Flush() error {
	s.dirty.Store(false)
	err := s.dev.Flush()
	if err != nil {
		s.errs.Add(1)
		if driveFault(err) {
			s.failed.Store(true)
		}
	}
	return err
}

// Pool is a set of drives holding named file systems. It is safe for
// concurrent use.
type Pool struct {
	opts  Options
	log   *slog.Logger
	id    [16]byte
	slots []*slot

	mu     sync.Mutex // guards fss, byID, nextFS; taken before bucket locks
	fss    map[string]*FS
	byID   map[uint32]*FS
	nextFS uint32

	c committer

	maxParity  atomic.Int32 // widest parity of any file system ever created here
	reserved   atomic.Int64 // blocks promised to dirty stripes
	cacheBytes atomic.Int64
	cacheCond  *sync.Cond // writers waiting for the cache to drain
	cacheMu    sync.Mutex

	reconstructed atomic.Uint64 // chunks rebuilt from parity on read
	degradedReads atomic.Uint64 // reads that needed reconstruction

	kickFlush chan struct{}
	stop      chan struct{}
	wg        sync.WaitGroup
	closed    atomic.Bool
}

// devs is the journal.Devices view of the slots.
func (p *Pool) devs(d uint16) journal.Device {
	if int(d) >= len(p.slots) || p.slots[d].dev == nil {
		return nil
	}
	return p.slots[d]
}

// Create formats the drives at paths as a new pool and opens it.
func Create(paths []string, o Options) (*Pool, error) {
	o.fill()
	if len(paths) < drivesMin {
		return nil, fmt.Errorf("%w: a pool needs at least %d drives, %d given", ErrDrives, drivesMin, len(paths))
	}
	if len(paths) > journal.DrivesMax {
		return nil, fmt.Errorf("%w: a pool holds at most %d drives, %d given", ErrDrives, journal.DrivesMax, len(paths))
	}
	var id [16]byte
	rand.Read(id[:])
	p := newPool(o, id)
	for i, path := range paths {
		if err := formatDrive(path, id, o.Force); err != nil {
			p.closeDrives()
			return nil, fmt.Errorf("create pool: %w", err)
		}
		dev, info, err := openDrive(path, false)
		if err != nil {
			p.closeDrives()
			return nil, fmt.Errorf("create pool: %w", err)
		}
		p.slots = append(p.slots, &slot{index: uint16(i), path: path, dev: dev, uuid: info.uuid,
			blocks: info.blocks, alloc: nvme.NewAllocator(info.blocks)})
	}
	seg, err := p.allocSegment()
	if err != nil {
		p.closeDrives()
		return nil, fmt.Errorf("create pool: %w", err)
	}
	p.c.init(p, seg, 0)
	if err := p.checkpoint(); err != nil {
		p.closeDrives()
		return nil, fmt.Errorf("create pool: %w", err)
	}
	p.start()
	return p, nil
}

func newPool(o Options, id [16]byte) *Pool {
	p := &Pool{opts: o, log: o.Logger, id: id, fss: make(map[string]*FS), byID: make(map[uint32]*FS),
		nextFS: 1, kickFlush: make(chan struct{}, 1), stop: make(chan struct{})}
	p.cacheCond = sync.NewCond(&p.cacheMu)
	return p
}

func (p *Pool) start() {
	p.wg.Add(2)
	go p.c.run()
	go p.flusher()
}

func (p *Pool) closeDrives() {
	for _, s := range p.slots {
		if s.dev != nil {
			s.dev.Close()
		}
	}
}

// allocChunks allocates blocks blocks on each of n distinct healthy drives,
// preferring the emptiest, starting the rotation at rot. On failure
// nothing stays allocated.
func (p *Pool) allocChunks(n int, blocks uint32, rot int, dst []journal.Chunk) ([]journal.Chunk, error) {
	return p.allocStripe(n, n, blocks, rot, dst)
}

// allocStripe is allocChunks that accepts as few as least healthy drives:
// the missing tail positions (parity first) are left absent (Blocks 0), a
// degraded stripe that reads like one with failed chunks. Writes go on
// with up to P drives missing instead of failing.
func (p *Pool) allocStripe(n, least int, blocks uint32, rot int, dst []journal.Chunk) ([]journal.Chunk, error) {
	var cand [journal.DrivesMax]*slot
	k := 0
	for _, s := range p.slots {
		if s.dev != nil && !s.failed.Load() {
			cand[k] = s
			k++
		}
	}
	if k < least {
		return dst, fmt.Errorf("%w: %d healthy drives, %d needed", ErrNoSpace, k, least)
	}
	cs := cand[:k]
	if k > n {
		sort.Slice(cs, func(i, j int) bool { return cs[i].alloc.FreeBlocks() > cs[j].alloc.FreeBlocks() })
		cs = cs[:n]
	}
	present := len(cs)
	start := len(dst)
	for i := 0; i < n; i++ {
		if i >= present {
			dst = append(dst, journal.Chunk{}) // absent
			continue
		}
		s := cs[(i+rot)%present]
		e, err := s.alloc.Alloc(uint64(blocks))
		if err != nil {
			p.freeChunks(dst[start:])
			return dst[:start], fmt.Errorf("%w: drive %d: %v", ErrNoSpace, s.index, err)
		}
		dst = append(dst, journal.Chunk{Drive: s.index, Block: e.Start, Blocks: blocks})
	}
	return dst, nil
}

// freeChunks returns chunks to their drives' allocators at once; callers
// make sure nothing durable references them.
func (p *Pool) freeChunks(cs []journal.Chunk) {
	for _, c := range cs {
		if int(c.Drive) < len(p.slots) && p.slots[c.Drive].alloc != nil {
			p.slots[c.Drive].alloc.Free(nvme.Extent{Start: c.Block, Len: uint64(c.Blocks)})
		}
	}
}

// mirrors is how many copies metadata gets: one more than the widest
// parity of any file system (at least 3), so metadata survives whatever
// the data survives.
func (p *Pool) mirrors() int {
	present := 0
	for _, s := range p.slots {
		if s.dev != nil && !s.failed.Load() {
			present++
		}
	}
	return min(present, max(int(p.maxParity.Load()), 2)+1, journal.MirrorsMax)
}

func (p *Pool) allocSegment() (journal.Segment, error) {
	cs, err := p.allocChunks(p.mirrors(), segmentBlocks, 0, nil)
	if err != nil {
		return journal.Segment{}, fmt.Errorf("journal segment: %w", err)
	}
	var b [8]byte
	rand.Read(b[:])
	return journal.Segment{Nonce: binary.LittleEndian.Uint64(b[:]) | 1, Chunks: cs}, nil
}

// freeBlocks is the pool's free data blocks less what is promised.
func (p *Pool) freeBlocks() int64 {
	var f int64
	for _, s := range p.slots {
		if s.dev != nil && !s.failed.Load() {
			f += int64(s.alloc.FreeBlocks()) - metaReserveBlocks
		}
	}
	return f - p.reserved.Load()
}

// reserve promises blocks to dirty data, or fails with ENOSPC.
func (p *Pool) reserve(blocks int64) error {
	if blocks <= 0 {
		p.reserved.Add(blocks)
		return nil
	}
	if p.freeBlocks() < blocks {
		return syscall.ENOSPC
	}
	p.reserved.Add(blocks)
	return nil
}

// FSInfo describes one file system.
type FSInfo struct {
	Name          string
	CapacityBytes uint64
	UsedBytes     uint64
	Data, Parity  int
	Files         uint64
}

// CreateFS creates a file system of capacityBytes usable bytes with N+P
// protection (data drives n, parity p).
func (p *Pool) CreateFS(name string, capacityBytes uint64, n, par int) error {
	if err := stripe.CheckProtection(n, par); err != nil {
		return err
	}
	present := 0
	for _, s := range p.slots {
		if s.dev != nil {
			present++
		}
	}
	if n+par > present {
		return fmt.Errorf("%w: protection %d+%d needs %d drives, pool has %d", stripe.ErrProtection, n, par, n+par, present)
	}
	if name == "" || len(name) > fsNameBytesMax || slices.Contains([]byte(name), '/') {
		return fmt.Errorf("file system name %q: must be 1..%d bytes without '/'", name, fsNameBytesMax)
	}
	if capacityBytes < uint64(n)*stripe.ChunkBytes {
		return fmt.Errorf("%w: capacity %d bytes is below one stripe (%d bytes)", ErrNoSpace, capacityBytes, n*stripe.ChunkBytes)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return ErrClosed
	}
	if _, ok := p.fss[name]; ok {
		return fmt.Errorf("%w: %q", ErrExists, name)
	}
	var raw, provisioned uint64
	for _, s := range p.slots {
		raw += s.blocks * journal.BlockBytes
	}
	raw -= uint64(len(p.slots)) * metaReserveBlocks * journal.BlockBytes
	for _, f := range p.fss {
		provisioned += rawFor(f.def.CapacityBytes, int(f.def.Data), int(f.def.Parity))
	}
	if need := rawFor(capacityBytes, n, par); provisioned+need > raw {
		return fmt.Errorf("%w: capacity %d bytes at %d+%d needs %d raw bytes, pool has %d of %d unprovisioned",
			ErrNoSpace, capacityBytes, n, par, need, raw-min(raw, provisioned), raw)
	}
	def := journal.FSDef{Name: name, CapacityBytes: capacityBytes, Data: uint8(n), Parity: uint8(par)}
	f, err := newFS(p, p.nextFS, def)
	if err != nil {
		return err
	}
	p.nextFS++
	if int32(par) > p.maxParity.Load() {
		p.maxParity.Store(int32(par))
	}
	root := f.newInode(journal.Inode{Ino: uint64(1), Mode: syscall.S_IFDIR | 0o755, Nlink: 2, Parent: 1,
		NextCookie: bucket.FirstCookie})
	now := time.Now().UnixNano()
	root.AtimeNs, root.MtimeNs, root.CtimeNs = now, now, now
	b0 := f.buckets[0]
	b0.Inodes[root.Ino] = root
	b0.NextIno = 2
	p.fss[name], p.byID[f.id] = f, f
	t := p.c.log(nil, &journal.Record{Kind: journal.KindFSPut, FS: f.id, FSDef: def}, f.inodeRec(root))
	p.mu.Unlock()
	err = p.c.sync(t)
	p.mu.Lock()
	return err
}

func rawFor(capacity uint64, n, par int) uint64 {
	return (capacity + uint64(n) - 1) / uint64(n) * uint64(n+par)
}

// DeleteFS removes a file system and frees its space.
func (p *Pool) DeleteFS(name string) error {
	p.mu.Lock()
	f, ok := p.fss[name]
	if !ok {
		p.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	delete(p.fss, name)
	delete(p.byID, f.id)
	f.deleted.Store(true)
	// The FSDel record makes every stripe of the file system unreachable;
	// its chunks are freed once it is durable. Data locks come after
	// bucket locks are released (flushes take them the other way round).
	var ins []*bucket.Inode
	for _, b := range f.buckets {
		b.Mu.Lock()
		for _, in := range b.Inodes {
			ins = append(ins, in)
		}
		b.Mu.Unlock()
	}
	var frees []journal.Chunk
	for _, in := range ins {
		in.Data.Lock()
		b := f.bkt(in.Ino)
		b.Mu.Lock()
		for _, loc := range in.Stripes {
			frees = append(frees, loc.Chunks...)
		}
		in.Stripes = nil
		b.Mu.Unlock()
		f.dropCache(in)
		in.Data.Unlock()
	}
	t := p.c.log(frees, &journal.Record{Kind: journal.KindFSDel, FS: f.id})
	p.mu.Unlock()
	return p.c.sync(t)
}

// ListFS describes every file system, by name.
func (p *Pool) ListFS() []FSInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]FSInfo, 0, len(p.fss))
	for _, f := range p.fss {
		out = append(out, f.Info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// FS returns the file system called name.
func (p *Pool) FS(name string) (*FS, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, ok := p.fss[name]
	if !ok {
		names := make([]string, 0, len(p.fss))
		for n := range p.fss {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("%w: %q (file systems: %v)", ErrNotFound, name, names)
	}
	return f, nil
}

// DriveHealth is one drive's state.
type DriveHealth struct {
	Index    int
	Path     string
	Present  bool
	Failed   bool // write or flush errors: no longer allocated from
	Errors   uint64
	Corrupt  uint64 // checksum failures seen on read
	Blocks   uint64
	FreeBlks uint64
}

// Health is the pool's state.
type Health struct {
	Drives             []DriveHealth
	Degraded           bool   // a drive is missing, failed or returned bad data
	ReconstructedReads uint64 // stripe reads that needed parity
	ReconstructedChunk uint64 // chunks rebuilt from parity
	JournalSeq         uint64
	CheckpointSeq      uint64
}

// Health reports drive states and degraded-read counters.
func (p *Pool) Health() Health {
	h := Health{ReconstructedReads: p.degradedReads.Load(), ReconstructedChunk: p.reconstructed.Load()}
	for _, s := range p.slots {
		d := DriveHealth{Index: int(s.index), Path: s.path, Present: s.dev != nil, Failed: s.failed.Load(),
			Errors: s.errs.Load(), Corrupt: s.corrupt.Load(), Blocks: s.blocks}
		if s.alloc != nil {
			d.FreeBlks = s.alloc.FreeBlocks()
		}
		if !d.Present || d.Failed || d.Errors > 0 {
			h.Degraded = true
		}
		h.Drives = append(h.Drives, d)
	}
	if h.ReconstructedReads > 0 {
		h.Degraded = true
	}
	h.JournalSeq, h.CheckpointSeq = p.c.seqs()
	return h
}

// Flush writes back every dirty stripe and commits the journal.
func (p *Pool) Flush() error {
	if p.closed.Load() {
		return ErrClosed
	}
	return p.flushAll(context.Background())
}

func (p *Pool) flushAll(ctx context.Context) error {
	var first error
	for _, f := range p.allFS() {
		if err := f.writeback(false); err != nil && first == nil {
			first = err
		}
	}
	if err := p.c.syncAll(); err != nil && first == nil {
		first = err
	}
	return first
}

func (p *Pool) allFS() []*FS {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*FS, 0, len(p.byID))
	for _, f := range p.byID {
		out = append(out, f)
	}
	return out
}

// Close writes back everything, takes a checkpoint and releases the
// drives.
func (p *Pool) Close() error {
	if p.closed.Swap(true) {
		return ErrClosed
	}
	err := p.flushAll(context.Background())
	close(p.stop)
	p.cacheCond.Broadcast()
	p.c.stopAndWait()
	p.wg.Wait()
	if e := p.c.finalErr(); e != nil && err == nil {
		err = e
	}
	if e := p.checkpoint(); e != nil && err == nil {
		err = e
	}
	for _, s := range p.slots {
		if s.dev != nil {
			if e := s.dev.Close(); e != nil && err == nil {
				err = e
			}
		}
	}
	return err
}

// abandon drops the pool without writing anything more, as a crash
// would; tests use it to simulate kill -9.
func (p *Pool) abandon() {
	p.closed.Store(true)
	close(p.stop)
	p.cacheCond.Broadcast()
	p.c.stopAndWait()
	p.wg.Wait()
	for _, s := range p.slots {
		if s.dev != nil {
			s.dev.Close()
		}
	}
}

// flushDrives makes every earlier write durable, flushing the drives
// concurrently.
func (p *Pool) flushDrives() {
	var wg sync.WaitGroup
	for _, s := range p.slots {
		if s.dev != nil && s.dirty.Load() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Flush(); err != nil {
					p.log.Error("flush drive", "drive", s.index, "path", s.path, "err", err)
				}
			}()
		}
	}
	wg.Wait()
}

// flusher writes back dirty stripes every writebackInterval and whenever
// the cache is over budget.
func (p *Pool) flusher() {
	defer p.wg.Done()
	t := time.NewTicker(writebackInterval)
	defer t.Stop()
	for {
		evict := false
		select {
		case <-p.stop:
			return
		case <-t.C:
		case <-p.kickFlush:
			evict = true
		}
		for _, f := range p.allFS() {
			if err := f.writeback(evict || p.cacheBytes.Load() > p.opts.CacheBytes); err != nil {
				p.log.Error("write back", "fs", f.def.Name, "err", err)
			}
		}
		p.cacheMu.Lock()
		p.cacheCond.Broadcast()
		p.cacheMu.Unlock()
	}
}

// waitCache blocks while the cache is far over budget; callers hold no
// locks.
func (p *Pool) waitCache() {
	limit := p.opts.CacheBytes + p.opts.CacheBytes/2
	if p.cacheBytes.Load() <= p.opts.CacheBytes {
		return
	}
	p.kick()
	if p.cacheBytes.Load() <= limit {
		return
	}
	p.cacheMu.Lock()
	for p.cacheBytes.Load() > limit && !p.closed.Load() {
		p.kick()
		p.cacheCond.Wait()
	}
	p.cacheMu.Unlock()
}

func (p *Pool) kick() {
	select {
	case p.kickFlush <- struct{}{}:
	default:
	}
}
