package pool

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"syscall"

	"github.com/weft-fs/weft/dataplane/bucket"
	"github.com/weft-fs/weft/dataplane/fs"
	"github.com/weft-fs/weft/dataplane/journal"
	"github.com/weft-fs/weft/dataplane/stripe"
	"github.com/weft-fs/weft/nvme"
)

// fileBytesMax is the largest file size (EFBIG beyond).
const fileBytesMax = 1 << 50

// flushAttempts bounds the reallocations of a stripe whose write failed.
const flushAttempts = 3

// stripesInFlightMax bounds the stripes one write-back sends to the
// drives at once.
const stripesInFlightMax = 8

// fileFor resolves the inode an IO request is about: through its handle
// when there is one (so an unlinked open file still works), otherwise by
// number.
func (f *FS) fileFor(h uint64, ino fs.Ino, write bool) (*bucket.Inode, *handle, error) {
	if err := f.alive(); err != nil {
		return nil, nil, err
	}
	var in *bucket.Inode
	var hd *handle
	if h != 0 {
		hd = f.handle(h)
		if hd == nil || (ino != 0 && hd.ino != uint64(ino)) {
			return nil, nil, syscall.EBADF
		}
		acc := hd.flags & syscall.O_ACCMODE
		if (write && acc == syscall.O_RDONLY) || (!write && acc == syscall.O_WRONLY) {
			return nil, nil, syscall.EBADF
		}
		in = hd.in
	} else {
		b := f.bkt(uint64(ino))
		b.Mu.Lock()
		in = b.Inodes[uint64(ino)]
		b.Mu.Unlock()
		if in == nil {
			return nil, nil, syscall.ENOENT
		}
	}
	switch in.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
	case syscall.S_IFDIR:
		return nil, nil, syscall.EISDIR
	default:
		return nil, nil, syscall.EINVAL
	}
	return in, hd, nil
}

// meta runs fn with in's bucket locked.
func (f *FS) meta(in *bucket.Inode, fn func()) {
	b := f.bkt(in.Ino)
	b.Mu.Lock()
	fn()
	b.Mu.Unlock()
}

// Read implements fs.Service.
func (f *FS) Read(ctx context.Context, h uint64, ino fs.Ino, off int64, buf []byte) (int, error) {
	in, _, err := f.fileFor(h, ino, false)
	if err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	in.Data.Lock()
	defer in.Data.Unlock()
	var size int64
	f.meta(in, func() { size = int64(in.Size) })
	if off >= size {
		return 0, nil
	}
	n := int(min(int64(len(buf)), size-off))
	sd := f.lay.DataBytes()
	for done := 0; done < n; {
		pos := off + int64(done)
		idx, so := uint64(pos/sd), pos%sd
		cnt := int(min(int64(n-done), sd-so))
		dst := buf[done : done+cnt]
		c := in.Cache[idx]
		loc := in.Stripes[idx]
		switch {
		case c == nil && loc == nil:
			clear(dst) // hole
		case c == nil && cnt <= directReadBytesMax && f.readDirect(loc, so, dst):
			// Small read of an uncached stripe: only the blocks asked for.
		default:
			if c == nil {
				if c, err = f.load(in, idx, true); err != nil {
					return done, err
				}
			}
			c.Used = f.tick.Add(1)
			f.lay.CopyOut(dst, c.Buf, so)
		}
		done += cnt
	}
	if err := f.trim(in); err != nil {
		return n, err
	}
	return n, nil
}

// directReadBytesMax is the largest read of an uncached stripe served
// block by block from the data chunks instead of loading the stripe
// (random 4 KiB reads would otherwise read N×64 KiB each).
const directReadBytesMax = 16 << 10

func (f *FS) readDirect(loc *stripe.Loc, off int64, dst []byte) bool {
	var bounce []byte
	select {
	case bounce = <-f.bounces:
	default:
		bounce = nvme.AlignedBuffer(stripe.RowBytes)
	}
	ok := f.lay.ReadDirect(f.p.devs, loc, off, dst, bounce)
	select {
	case f.bounces <- bounce:
	default:
	}
	return ok
}

// load brings stripe idx of in into the cache, reading it from the drives
// when read is set and it exists there. Callers hold in.Data.
func (f *FS) load(in *bucket.Inode, idx uint64, read bool) (*bucket.Cached, error) {
	if c := in.Cache[idx]; c != nil {
		return c, nil
	}
	c := &bucket.Cached{Buf: f.getBuf(), Used: f.tick.Add(1)}
	loc := in.Stripes[idx]
	if loc != nil && read {
		shards := f.getShards()
		n, err := f.lay.Read(f.p.devs, loc, c.Buf, shards)
		f.putShards(shards)
		if n > 0 {
			f.p.reconstructed.Add(uint64(n))
			f.p.degradedReads.Add(1)
		}
		if err != nil {
			f.putBuf(c.Buf)
			f.p.log.Error("stripe unreadable", "fs", f.def.Name, "ino", in.Ino, "stripe", idx, "err", err)
			return nil, fmt.Errorf("read stripe %d of inode %#x: %w", idx, in.Ino, syscall.EIO)
		}
		c.Rows = loc.Rows
	} else {
		clear(c.Buf)
		if loc != nil {
			c.Rows = loc.Rows
		}
	}
	if in.Cache == nil {
		in.Cache = make(map[uint64]*bucket.Cached)
		f.cmu.Lock()
		f.cached[in] = struct{}{}
		f.cmu.Unlock()
	}
	in.Cache[idx] = c
	f.p.cacheBytes.Add(int64(len(c.Buf)))
	return c, nil
}

// Write implements fs.Service.
func (f *FS) Write(ctx context.Context, h uint64, ino fs.Ino, off int64, data []byte, appendMode bool) (int64, fs.Attr, error) {
	in, hd, err := f.fileFor(h, ino, true)
	if err != nil {
		return 0, fs.Attr{}, err
	}
	if off < 0 {
		return 0, fs.Attr{}, syscall.EINVAL
	}
	f.p.waitCache()
	in.Data.Lock()
	at, a, err := f.writeLocked(in, hd, off, data, appendMode)
	if err == nil && hd != nil && hd.flags&(syscall.O_SYNC|syscall.O_DSYNC) != 0 {
		err = f.flushInode(in)
		in.Data.Unlock()
		if err == nil {
			err = f.p.c.syncAll()
		}
		return at, a, err
	}
	in.Data.Unlock()
	return at, a, err
}

func (f *FS) writeLocked(in *bucket.Inode, hd *handle, off int64, data []byte, appendMode bool) (int64, fs.Attr, error) {
	var size int64
	f.meta(in, func() { size = int64(in.Size) })
	if appendMode || (hd != nil && hd.flags&syscall.O_APPEND != 0) {
		off = size
	}
	end := off + int64(len(data))
	if end > fileBytesMax {
		return 0, fs.Attr{}, syscall.EFBIG
	}
	if len(data) == 0 {
		var a fs.Attr
		f.meta(in, func() { a = attrOf(in) })
		return off, a, nil
	}
	sd := f.lay.DataBytes()
	first, last := uint64(off/sd), uint64((end-1)/sd)
	// Bring partially written stripes in first: a failed read changes
	// nothing.
	for _, idx := range [2]uint64{first, last} {
		base := int64(idx) * sd
		whole := off <= base && end >= base+sd
		if !whole && in.Cache[idx] == nil && in.Stripes[idx] != nil {
			if _, err := f.load(in, idx, true); err != nil {
				return 0, fs.Attr{}, err
			}
		}
	}
	// Space: data blocks against the file system's capacity, raw blocks
	// of the copies the dirty stripes will be written to against the pool.
	n, np := int64(f.lay.N), int64(f.lay.N+f.lay.P)
	var addData, addRaw int64
	for idx := first; idx <= last; idx++ {
		base := int64(idx) * sd
		cur, dirty := f.rows(in, idx)
		want := max(cur, f.lay.RowsFor(min(end-base, sd)))
		addData += int64(want-cur) * n
		if dirty {
			addRaw += int64(want-cur) * np
		} else {
			addRaw += int64(want) * np
		}
	}
	capBlocks := int64(f.def.CapacityBytes / journal.BlockBytes)
	if f.usedBlocks.Load()+addData > capBlocks {
		return 0, fs.Attr{}, syscall.ENOSPC
	}
	if err := f.p.reserve(addRaw); err != nil {
		return 0, fs.Attr{}, err
	}
	f.usedBlocks.Add(addData)
	for idx := first; idx <= last; idx++ {
		base := int64(idx) * sd
		so := max(off-base, 0)
		eo := min(end-base, sd)
		c, err := f.load(in, idx, false) // partial stripes are cached already
		if err != nil {
			return 0, fs.Attr{}, err
		}
		f.lay.CopyIn(c.Buf, so, data[base+so-off:base+eo-off])
		want := max(c.Rows, f.lay.RowsFor(eo))
		if !c.Dirty {
			c.Reserved = int64(want) * np
		} else {
			c.Reserved += int64(want-c.Rows) * np
		}
		c.Rows, c.Dirty, c.Used = want, true, f.tick.Add(1)
	}
	var a fs.Attr
	t := now()
	f.meta(in, func() {
		in.Blocks += addData
		if uint64(end) > in.Size {
			in.Size = uint64(end)
		}
		in.MtimeNs, in.CtimeNs = t, t
		if in.Mode&(syscall.S_ISUID|syscall.S_ISGID) != 0 {
			in.Mode &^= syscall.S_ISUID
			if in.Mode&syscall.S_IXGRP != 0 {
				in.Mode &^= syscall.S_ISGID
			}
		}
		a = attrOf(in)
	})
	if err := f.trim(in); err != nil {
		return off, a, err
	}
	return off, a, nil
}

// rows is the rows stripe idx holds (cached or on the drives) and whether
// it is dirty. Callers hold in.Data.
func (f *FS) rows(in *bucket.Inode, idx uint64) (uint32, bool) {
	if c := in.Cache[idx]; c != nil {
		return c.Rows, c.Dirty
	}
	if loc := in.Stripes[idx]; loc != nil {
		return loc.Rows, false
	}
	return 0, false
}

// trim keeps one file's share of the cache bounded: least recently used
// stripes go first, dirty ones written back before they go.
func (f *FS) trim(in *bucket.Inode) error {
	if len(in.Cache) <= stripesPerInodeMax {
		return nil
	}
	type ent struct {
		idx  uint64
		used uint64
	}
	all := make([]ent, 0, len(in.Cache))
	for idx, c := range in.Cache {
		all = append(all, ent{idx, c.Used})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].used < all[j].used })
	old := all[:len(all)-stripesPerInodeMax/2]
	var dirty []uint64
	for _, e := range old {
		if in.Cache[e.idx].Dirty {
			dirty = append(dirty, e.idx)
		}
	}
	if err := f.flushStripes(in, dirty); err != nil {
		return err
	}
	for _, e := range old {
		f.evict(in, e.idx, in.Cache[e.idx])
	}
	return nil
}

func (f *FS) evict(in *bucket.Inode, idx uint64, c *bucket.Cached) {
	if c.Dirty {
		f.p.reserved.Add(-c.Reserved)
	}
	delete(in.Cache, idx)
	f.p.cacheBytes.Add(-int64(len(c.Buf)))
	f.putBuf(c.Buf)
	c.Buf = nil
}

// dropCache forgets every cached stripe of in, dirty or not. Callers hold
// in.Data.
func (f *FS) dropCache(in *bucket.Inode) {
	for idx, c := range in.Cache {
		f.evict(in, idx, c)
	}
	in.Cache = nil
	f.cmu.Lock()
	delete(f.cached, in)
	f.cmu.Unlock()
}

// writeStripe encodes a dirty stripe and writes it to newly allocated
// chunks, trying other drives if a write fails. Nothing references the
// new chunks until the caller logs them. Callers hold in.Data.
func (f *FS) writeStripe(in *bucket.Inode, idx uint64, c *bucket.Cached) (*stripe.Loc, error) {
	shards := f.getShards()
	defer f.putShards(shards)
	if err := f.lay.Encode(c.Buf, c.Rows, shards); err != nil {
		return nil, fmt.Errorf("encode stripe: %w", err)
	}
	var err error
	for attempt := 0; attempt < flushAttempts; attempt++ {
		var chunks []journal.Chunk
		chunks, err = f.p.allocStripe(f.lay.N+f.lay.P, f.lay.N, c.Rows, int(idx), make([]journal.Chunk, 0, f.lay.N+f.lay.P))
		if err != nil {
			break
		}
		l := &stripe.Loc{Rows: c.Rows, Chunks: chunks}
		if err = f.lay.Write(f.p.devs, l, c.Buf); err != nil {
			f.p.freeChunks(chunks) // never referenced
			continue
		}
		return l, nil
	}
	f.p.log.Error("stripe write failed", "fs", f.def.Name, "ino", in.Ino, "stripe", idx, "err", err)
	if errors.Is(err, ErrNoSpace) {
		return nil, syscall.ENOSPC
	}
	return nil, fmt.Errorf("write stripe %d of inode %#x: %v: %w", idx, in.Ino, err, syscall.EIO)
}

// flushStripes writes the given dirty stripes of in and logs all the new
// mappings and the inode's attributes as one operation, so a commit never
// carries half of a file's write-back; the old chunks are freed once that
// is durable. Callers hold in.Data.
func (f *FS) flushStripes(in *bucket.Inode, idxs []uint64) error {
	if len(idxs) == 0 {
		return nil
	}
	locs := make([]*stripe.Loc, len(idxs))
	errs := make([]error, len(idxs))
	if len(idxs) == 1 {
		locs[0], errs[0] = f.writeStripe(in, idxs[0], in.Cache[idxs[0]])
	} else {
		// Stripes go to the drives concurrently (each stripe's chunks
		// are concurrent already): a 1 MiB write-back is one round trip.
		var wg sync.WaitGroup
		sem := make(chan struct{}, stripesInFlightMax)
		for i, idx := range idxs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				locs[i], errs[i] = f.writeStripe(in, idx, in.Cache[idx])
				<-sem
			}()
		}
		wg.Wait()
	}
	if err := errors.Join(errs...); err != nil {
		for _, l := range locs {
			if l != nil {
				f.p.freeChunks(l.Chunks)
			}
		}
		for _, e := range errs {
			if errors.Is(e, syscall.ENOSPC) {
				return syscall.ENOSPC
			}
		}
		return fmt.Errorf("%w: %v", syscall.EIO, err)
	}
	b := f.bkt(in.Ino)
	b.Mu.Lock()
	if b.Inodes[in.Ino] != in || f.deleted.Load() {
		b.Mu.Unlock()
		for _, l := range locs {
			f.p.freeChunks(l.Chunks)
		}
	} else {
		if in.Stripes == nil {
			in.Stripes = make(map[uint64]*stripe.Loc)
		}
		var frees []journal.Chunk
		recs := make([]*journal.Record, 0, len(idxs)+1)
		for i, idx := range idxs {
			if old := in.Stripes[idx]; old != nil {
				frees = append(frees, old.Chunks...)
			}
			loc := locs[i]
			in.Stripes[idx] = loc
			recs = append(recs, &journal.Record{Kind: journal.KindStripePut, FS: f.id, Ino: in.Ino, Idx: idx, Rows: loc.Rows, Chunks: loc.Chunks})
		}
		recs = append(recs, f.inodeRec(in))
		f.p.c.log(frees, recs...)
		b.Mu.Unlock()
	}
	for _, idx := range idxs {
		c := in.Cache[idx]
		f.p.reserved.Add(-c.Reserved)
		c.Reserved, c.Dirty = 0, false
	}
	return nil
}

// flushInode writes back every dirty stripe of in. Callers hold in.Data.
func (f *FS) flushInode(in *bucket.Inode) error {
	var idxs []uint64
	for idx, c := range in.Cache {
		if c.Dirty {
			idxs = append(idxs, idx)
		}
	}
	return f.flushStripes(in, idxs)
}

// writeback writes back every dirty stripe of the file system and, when
// evict is set, empties the cache.
func (f *FS) writeback(evict bool) error {
	f.cmu.Lock()
	ins := make([]*bucket.Inode, 0, len(f.cached))
	for in := range f.cached {
		ins = append(ins, in)
	}
	f.cmu.Unlock()
	var first error
	for _, in := range ins {
		in.Data.Lock()
		err := f.flushInode(in)
		if err != nil && first == nil {
			first = err
		}
		if evict && err == nil {
			f.dropCache(in)
		}
		in.Data.Unlock()
	}
	return first
}

// Fsync implements fs.Service: the file's dirty stripes are written, the
// data drives flushed and the journal committed (which also makes every
// metadata change logged before it durable).
func (f *FS) Fsync(ctx context.Context, h uint64, ino fs.Ino, dataOnly bool) error {
	if err := f.alive(); err != nil {
		return err
	}
	var in *bucket.Inode
	if hd := f.handle(h); hd != nil {
		in = hd.in
	} else {
		b := f.bkt(uint64(ino))
		b.Mu.Lock()
		in = b.Inodes[uint64(ino)]
		b.Mu.Unlock()
		if in == nil {
			return syscall.ENOENT
		}
	}
	in.Data.Lock()
	err := f.flushInode(in)
	in.Data.Unlock()
	if err != nil {
		return err
	}
	return f.p.c.syncAll()
}

// truncate sets in's size, dropping or zeroing data past it.
func (f *FS) truncate(in *bucket.Inode, size uint64) error {
	if size > fileBytesMax {
		return syscall.EFBIG
	}
	in.Data.Lock()
	defer in.Data.Unlock()
	var old uint64
	f.meta(in, func() { old = in.Size })
	sd := uint64(f.lay.DataBytes())
	keep := (size + sd - 1) / sd // stripes below keep survive
	if size < old {
		np := int64(f.lay.N + f.lay.P)
		if r := size % sd; r != 0 {
			idx := size / sd
			if in.Cache[idx] != nil || in.Stripes[idx] != nil {
				c, err := f.load(in, idx, true)
				if err != nil {
					return err
				}
				f.lay.Zero(c.Buf, int64(r), int64(sd))
				rows := min(c.Rows, f.lay.RowsFor(int64(r)))
				if !c.Dirty {
					f.p.reserved.Add(int64(rows) * np) // shrinking never fails for space
					c.Reserved = int64(rows) * np
				} else {
					f.p.reserved.Add(-int64(c.Rows-rows) * np)
					c.Reserved -= int64(c.Rows-rows) * np
				}
				c.Rows, c.Dirty = rows, true
			}
		}
		for idx, c := range in.Cache {
			if idx >= keep {
				f.evict(in, idx, c)
			}
		}
	}
	var frees []journal.Chunk
	var freed int64
	t := now()
	f.meta(in, func() {
		for idx, loc := range in.Stripes {
			if idx >= keep {
				frees = append(frees, loc.Chunks...)
				delete(in.Stripes, idx)
			}
		}
		blocks := f.blocksOf(in)
		freed = in.Blocks - blocks
		in.Blocks = blocks
		in.Size = size
		in.MtimeNs, in.CtimeNs = t, t
		recs := []*journal.Record{f.inodeRec(in)}
		if len(frees) > 0 {
			recs = append(recs, &journal.Record{Kind: journal.KindStripeTrunc, FS: f.id, Ino: in.Ino, Idx: keep})
		}
		if f.bkt(in.Ino).Inodes[in.Ino] == in {
			f.p.c.log(frees, recs...)
		}
	})
	f.usedBlocks.Add(-freed)
	return nil
}

// blocksOf counts the data blocks of in's stripes, cached or not.
// Callers hold in.Data.
func (f *FS) blocksOf(in *bucket.Inode) int64 {
	var rows int64
	for idx, loc := range in.Stripes {
		if in.Cache[idx] == nil {
			rows += int64(loc.Rows)
		}
	}
	for _, c := range in.Cache {
		rows += int64(c.Rows)
	}
	return rows * int64(f.lay.N)
}

// releaseData frees an inode's stripes once it is gone from its bucket
// (its InodeDel already logged).
func (f *FS) releaseData(in *bucket.Inode) {
	in.Data.Lock()
	defer in.Data.Unlock()
	var frees []journal.Chunk
	for _, loc := range in.Stripes {
		frees = append(frees, loc.Chunks...)
	}
	in.Stripes = nil
	f.dropCache(in)
	f.usedBlocks.Add(-in.Blocks)
	in.Blocks = 0
	f.p.c.log(frees)
}

// DropCache writes back every dirty stripe and empties the stripe cache
// (benchmarks of the drive path, memory pressure).
func (f *FS) DropCache() error { return f.writeback(true) }
