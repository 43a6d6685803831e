package pool

import (
	"errors"
	"fmt"
	"sort"
	"syscall"

	"github.com/weft-fs/weft/dataplane/bucket"
	"github.com/weft-fs/weft/dataplane/journal"
	"github.com/weft-fs/weft/dataplane/stripe"
	"github.com/weft-fs/weft/nvme"
)

// snapshot encodes the whole metadata state as records: the pool, then
// per file system its definition, bucket counters and inodes (with
// xattrs and stripe maps), then all directory entries, so replaying the
// records in order never meets an entry before its directory. Callers
// hold p.mu and every bucket lock.
func (p *Pool) snapshot(fss []*FS) []byte {
	var b []byte
	ids := make([]byte, 0, len(p.slots)*16+16)
	ids = append(ids, p.id[:]...)
	for _, s := range p.slots {
		ids = append(ids, s.uuid[:]...)
	}
	b = journal.Append(b, &journal.Record{Kind: journal.KindPool, FS: p.nextFS, Value: ids})
	var r journal.Record
	for _, f := range fss {
		b = journal.Append(b, &journal.Record{Kind: journal.KindFSPut, FS: f.id, FSDef: f.def})
		for _, bk := range f.buckets {
			b = journal.Append(b, &journal.Record{Kind: journal.KindBucketPut, FS: f.id, Idx: uint64(bk.Index), Count: bk.NextIno})
			for _, in := range sortedInodes(bk) {
				b = journal.Append(b, f.inodeRec(in))
				for name, v := range in.Xattrs {
					r = journal.Record{Kind: journal.KindXattrPut, FS: f.id, Ino: in.Ino, Name: name, Value: v}
					b = journal.Append(b, &r)
				}
				for idx, loc := range in.Stripes {
					r = journal.Record{Kind: journal.KindStripePut, FS: f.id, Ino: in.Ino, Idx: idx, Rows: loc.Rows, Chunks: loc.Chunks}
					b = journal.Append(b, &r)
				}
			}
		}
		for _, bk := range f.buckets {
			for _, in := range sortedInodes(bk) {
				if in.Dir == nil {
					continue
				}
				in.Dir.After(0, func(e *bucket.Entry) bool {
					r = journal.Record{Kind: journal.KindDentryPut, FS: f.id, Ino: in.Ino, Name: e.Name,
						Child: e.Ino, Cookie: e.Cookie, Mode: e.Mode}
					b = journal.Append(b, &r)
					return true
				})
			}
		}
	}
	return b
}

func sortedInodes(b *bucket.Bucket) []*bucket.Inode {
	out := make([]*bucket.Inode, 0, len(b.Inodes))
	for _, in := range b.Inodes {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ino < out[j].Ino })
	return out
}

// state is metadata being rebuilt from a checkpoint and the journal,
// before the pool runs: no locks are needed.
type state struct {
	p      *Pool
	poolID []byte // pool UUID followed by drive UUIDs, from the checkpoint
}

// apply replays one record. Records about objects that no longer exist
// are ignored: a later record of the same operation removed them.
func (s *state) apply(r *journal.Record) error {
	p := s.p
	if r.Kind == journal.KindPool {
		s.poolID = append([]byte(nil), r.Value...)
		p.nextFS = r.FS
		return nil
	}
	if r.Kind == journal.KindFSPut {
		if _, ok := p.byID[r.FS]; ok {
			return nil
		}
		f, err := newFS(p, r.FS, r.FSDef)
		if err != nil {
			return fmt.Errorf("file system %d: %w", r.FS, err)
		}
		p.byID[r.FS], p.fss[r.FSDef.Name] = f, f
		if int32(r.FSDef.Parity) > p.maxParity.Load() {
			p.maxParity.Store(int32(r.FSDef.Parity))
		}
		p.nextFS = max(p.nextFS, r.FS+1)
		return nil
	}
	f := p.byID[r.FS]
	if f == nil {
		return nil
	}
	switch r.Kind {
	case journal.KindFSDel:
		delete(p.byID, r.FS)
		delete(p.fss, f.def.Name)
	case journal.KindBucketPut:
		if r.Idx < bucket.Count {
			b := f.buckets[r.Idx]
			b.NextIno = max(b.NextIno, r.Count)
		}
	case journal.KindInodePut:
		b := f.bkt(r.Ino)
		b.NextIno = max(b.NextIno, bucket.Counter(r.Ino)+1)
		in := b.Inodes[r.Ino]
		if in == nil {
			in = f.newInode(r.Inode)
			b.Inodes[r.Ino] = in
		} else {
			in.Inode = r.Inode
		}
		in.Target = string(r.Value)
		if in.Dir != nil && in.NextCookie < bucket.FirstCookie {
			in.NextCookie = bucket.FirstCookie
		}
	case journal.KindInodeDel:
		delete(f.bkt(r.Ino).Inodes, r.Ino)
	case journal.KindDentryPut:
		if d := f.inode(r.Ino); d != nil && d.Dir != nil {
			d.Dir.Put(bucket.Entry{Name: r.Name, Ino: r.Child, Cookie: r.Cookie, Mode: r.Mode})
			d.NextCookie = max(d.NextCookie, r.Cookie+1)
		}
	case journal.KindDentryDel:
		if d := f.inode(r.Ino); d != nil && d.Dir != nil {
			d.Dir.Remove(r.Name)
		}
	case journal.KindStripePut:
		in := f.inode(r.Ino)
		if in == nil {
			return nil
		}
		if len(r.Chunks) != f.lay.N+f.lay.P || r.Rows == 0 || r.Rows > stripe.RowsMax {
			return fmt.Errorf("%w: stripe %d of inode %#x has %d chunks of %d rows", journal.ErrFormat, r.Idx, r.Ino, len(r.Chunks), r.Rows)
		}
		if in.Stripes == nil {
			in.Stripes = make(map[uint64]*stripe.Loc)
		}
		in.Stripes[r.Idx] = &stripe.Loc{Rows: r.Rows, Chunks: append([]journal.Chunk(nil), r.Chunks...)}
	case journal.KindStripeTrunc:
		if in := f.inode(r.Ino); in != nil {
			for idx := range in.Stripes {
				if idx >= r.Idx {
					delete(in.Stripes, idx)
				}
			}
		}
	case journal.KindXattrPut:
		if in := f.inode(r.Ino); in != nil {
			if in.Xattrs == nil {
				in.Xattrs = make(map[string][]byte)
			}
			in.Xattrs[r.Name] = append([]byte(nil), r.Value...)
		}
	case journal.KindXattrDel:
		if in := f.inode(r.Ino); in != nil {
			delete(in.Xattrs, r.Name)
		}
	}
	return nil
}

// loaded is the result of reading a pool's metadata from its drives.
type loaded struct {
	root     appRoot
	segs     []journal.Segment
	seq      uint64
	entries  int
	problems []string
}

// load finds the newest app root, reads its checkpoint and replays the
// journal into p. p.slots must be filled (nil devs for missing drives).
func (p *Pool) load() (*loaded, error) {
	var roots []appRoot
	for _, s := range p.slots {
		if s.dev == nil {
			continue
		}
		r, err := decodeAppRoot(s.dev.AppRoot())
		if err != nil {
			continue
		}
		roots = append(roots, r)
	}
	sort.Slice(roots, func(i, j int) bool { return roots[i].CkptSeq > roots[j].CkptSeq })
	alloc := func(n int) []byte { return nvme.AlignedBuffer(n) }
	var lastErr error = errors.New("no drive holds a pool app root")
	for _, root := range roots {
		if root.Pool != p.id {
			continue
		}
		payload, err := journal.ReadCheckpoint(p.devs, root.CkptChunks, root.CkptSeq, alloc)
		if err != nil {
			lastErr = err
			continue
		}
		st := &state{p: p}
		if err := journal.Records(payload, st.apply); err != nil {
			lastErr = fmt.Errorf("checkpoint %d: %w", root.CkptSeq, err)
			p.resetState()
			continue
		}
		l := &loaded{root: root}
		buf := nvme.AlignedBuffer(entryBytesMax)
		seq, segs, err := journal.Replay(p.devs, root.Journal, root.CkptSeq, buf, func(seq uint64, payload []byte) error {
			l.entries++
			return journal.Records(payload, st.apply)
		})
		if err != nil {
			// A record that does not decode inside an entry whose CRC
			// matched is damage, not a torn tail: keep what applied.
			l.problems = append(l.problems, fmt.Sprintf("journal entry %d: %v", seq, err))
		}
		l.seq, l.segs = seq, segs
		p.finishLoad()
		return l, nil
	}
	return nil, fmt.Errorf("%w: no readable checkpoint: %v", ErrDrives, lastErr)
}

func (p *Pool) resetState() {
	p.fss, p.byID, p.nextFS = make(map[string]*FS), make(map[uint32]*FS), 1
}

// finishLoad derives what records do not carry: cookies, counters and
// space accounting.
func (p *Pool) finishLoad() {
	for _, f := range p.byID {
		var used int64
		for _, b := range f.buckets {
			for _, in := range b.Inodes {
				in.Blocks = 0
				for _, loc := range in.Stripes {
					in.Blocks += int64(loc.Rows) * int64(f.lay.N)
				}
				used += in.Blocks
				if in.Mode&syscall.S_IFMT == syscall.S_IFDIR && in.Dir == nil {
					in.Dir = bucket.NewDir()
				}
			}
		}
		f.usedBlocks.Store(used)
	}
}

// markUsed rebuilds the allocators from every referenced extent: stripes,
// the checkpoint and the journal segments. It returns the extents that
// were referenced twice or out of range.
func (p *Pool) markUsed(l *loaded) []string {
	var problems []string
	mark := func(what string, c journal.Chunk) {
		if int(c.Drive) >= len(p.slots) {
			problems = append(problems, fmt.Sprintf("%s: drive %d is not in the pool", what, c.Drive))
			return
		}
		if c.Blocks == 0 || p.slots[c.Drive].alloc == nil {
			return // absent chunk of a degraded stripe, or a missing drive
		}
		if err := p.slots[c.Drive].alloc.MarkUsed(nvme.Extent{Start: c.Block, Len: uint64(c.Blocks)}); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", what, err))
		}
	}
	for _, c := range l.root.CkptChunks {
		mark("checkpoint", c)
	}
	for _, s := range l.segs {
		for _, c := range s.Chunks {
			mark("journal segment", c)
		}
	}
	for _, f := range p.byID {
		for _, b := range f.buckets {
			for _, in := range b.Inodes {
				for idx, loc := range in.Stripes {
					for _, c := range loc.Chunks {
						mark(fmt.Sprintf("fs %s inode %#x stripe %d", f.def.Name, in.Ino, idx), c)
					}
				}
			}
		}
	}
	return problems
}
