package pool

import (
	"context"

	"github.com/weft-fs/weft/dataplane/bucket"
	"github.com/weft-fs/weft/dataplane/stripe"
)

// Rebuild rewrites every stripe that lost protection — a chunk on a
// missing or failed drive, or an absent chunk written while drives were
// missing — onto healthy drives, reconstructing the lost chunks from the
// survivors. It returns how many stripes it rewrote. File systems whose
// N+P is wider than the healthy drives are left as they are (there is
// nowhere to put a full stripe).
func (p *Pool) Rebuild(ctx context.Context) (int, error) {
	healthy := 0
	for _, s := range p.slots {
		if s.dev != nil && !s.failed.Load() {
			healthy++
		}
	}
	total := 0
	for _, f := range p.allFS() {
		if f.lay.N+f.lay.P > healthy {
			continue
		}
		for _, b := range f.buckets {
			b.Mu.Lock()
			ins := make([]*bucket.Inode, 0, len(b.Inodes))
			for _, in := range b.Inodes {
				ins = append(ins, in)
			}
			b.Mu.Unlock()
			for _, in := range ins {
				if err := ctx.Err(); err != nil {
					return total, err
				}
				n, err := f.rebuildInode(in)
				total += n
				if err != nil {
					return total, err
				}
			}
		}
	}
	return total, p.c.syncAll()
}

func (p *Pool) unprotected(loc *stripe.Loc) bool {
	for _, c := range loc.Chunks {
		if c.Blocks == 0 {
			return true
		}
		s := p.slots[c.Drive]
		if s.dev == nil || s.failed.Load() {
			return true
		}
	}
	return false
}

func (f *FS) rebuildInode(in *bucket.Inode) (int, error) {
	in.Data.Lock()
	defer in.Data.Unlock()
	var idxs []uint64
	np := int64(f.lay.N + f.lay.P)
	for idx, loc := range in.Stripes {
		if !f.p.unprotected(loc) {
			continue
		}
		c, err := f.load(in, idx, true)
		if err != nil {
			return 0, err
		}
		if !c.Dirty {
			c.Reserved = int64(c.Rows) * np
			f.p.reserved.Add(c.Reserved)
			c.Dirty = true
		}
		idxs = append(idxs, idx)
	}
	if err := f.flushStripes(in, idxs); err != nil {
		return 0, err
	}
	return len(idxs), nil
}
