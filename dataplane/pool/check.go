package pool

import (
	"fmt"
	"log/slog"
	"syscall"

	"github.com/weft-fs/weft/dataplane/bucket"
	"github.com/weft-fs/weft/dataplane/fs"
	"github.com/weft-fs/weft/dataplane/journal"
	"github.com/weft-fs/weft/dataplane/stripe"
	"github.com/weft-fs/weft/nvme"
)

// problemsMax bounds the problems a report lists (the counts stay exact).
const problemsMax = 100

// Report is what Check found.
type Report struct {
	Drives, DrivesMissing int
	FileSystems           int
	Inodes, Dirs          int
	Stripes               int
	Orphans               int // unlinked inodes still open at the crash; Open removes them
	DegradedChunks        int // chunks unreadable or failing their CRC, rebuilt from parity
	JournalEntries        int
	Damage                int      // problems found, listed (up to problemsMax) in Problems
	Problems              []string // human-readable damage
}

// Clean reports whether Check found no damage.
func (r *Report) Clean() bool { return r.Damage == 0 }

func (r *Report) problem(format string, args ...any) {
	r.Damage++
	if len(r.Problems) < problemsMax {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// Check verifies a closed pool without changing it (the drives are opened
// read-only): every referenced extent allocated once and inside its
// drive, every stripe's chunks readable (or rebuildable) with consistent
// parity, the directory tree connected, link counts and directory
// parents right, and no stripe beyond its file's size.
func Check(paths []string) (Report, error) {
	var r Report
	o := Options{Logger: slog.New(slog.DiscardHandler)}
	o.fill()
	p, l, err := openState(paths, o, true)
	if err != nil {
		return r, err
	}
	defer p.closeDrives()
	r.Drives = len(p.slots)
	for _, s := range p.slots {
		if s.dev == nil {
			r.DrivesMissing++
		}
	}
	r.JournalEntries = l.entries
	for _, pr := range l.problems {
		r.problem("%s", pr)
	}
	for _, pr := range p.markUsed(l) {
		r.problem("extent %s", pr)
	}
	r.FileSystems = len(p.byID)
	for _, f := range p.byID {
		f.check(&r)
	}
	return r, nil
}

func (f *FS) check(r *Report) {
	name := f.def.Name
	refs := make(map[uint64]int)
	subdirs := make(map[uint64]int)
	reached := make(map[uint64]bool)
	// Walk the tree from the root.
	queue := []uint64{uint64(fs.RootIno)}
	reached[uint64(fs.RootIno)] = true
	if f.inode(uint64(fs.RootIno)) == nil {
		r.problem("fs %s: root directory missing", name)
		queue = nil
	}
	for len(queue) > 0 {
		d := f.inode(queue[0])
		queue = queue[1:]
		if d.Dir == nil {
			continue
		}
		d.Dir.After(0, func(e *bucket.Entry) bool {
			child := f.inode(e.Ino)
			if child == nil {
				r.problem("fs %s: entry %q in dir %#x points to missing inode %#x", name, e.Name, d.Ino, e.Ino)
				return true
			}
			refs[e.Ino]++
			if child.Mode&syscall.S_IFMT != e.Mode {
				r.problem("fs %s: entry %q in dir %#x has type %o, inode has %o", name, e.Name, d.Ino, e.Mode, child.Mode&syscall.S_IFMT)
			}
			if isDir(child.Mode) {
				subdirs[d.Ino]++
				if child.Parent != d.Ino {
					r.problem("fs %s: dir %#x is in %#x but records parent %#x", name, e.Ino, d.Ino, child.Parent)
				}
				if reached[e.Ino] {
					r.problem("fs %s: dir %#x has a second name %q", name, e.Ino, e.Name)
					return true
				}
			}
			if !reached[e.Ino] {
				reached[e.Ino] = true
				queue = append(queue, e.Ino)
			}
			return true
		})
	}
	buf := nvme.AlignedBuffer(f.lay.BufferBytes())
	shards := make([][]byte, 0, f.lay.N+f.lay.P)
	sd := uint64(f.lay.DataBytes())
	for _, b := range f.buckets {
		for _, in := range b.Inodes {
			r.Inodes++
			if bucket.Of(in.Ino) != b.Index {
				r.problem("fs %s: inode %#x filed in bucket %d", name, in.Ino, b.Index)
			}
			if isDir(in.Mode) {
				r.Dirs++
			}
			if !reached[in.Ino] {
				if in.Nlink == 0 {
					r.Orphans++
				} else {
					r.problem("fs %s: inode %#x (nlink %d) is not reachable from the root", name, in.Ino, in.Nlink)
				}
			} else if isDir(in.Mode) {
				want := uint32(2 + subdirs[in.Ino])
				if in.Nlink != want {
					r.problem("fs %s: dir %#x has nlink %d, want %d", name, in.Ino, in.Nlink, want)
				}
			} else if in.Ino != uint64(fs.RootIno) && in.Nlink != uint32(refs[in.Ino]) {
				r.problem("fs %s: inode %#x has nlink %d but %d names", name, in.Ino, in.Nlink, refs[in.Ino])
			}
			for idx, loc := range in.Stripes {
				r.Stripes++
				if idx*sd >= in.Size {
					r.problem("fs %s: inode %#x has stripe %d beyond its size %d", name, in.Ino, idx, in.Size)
				}
				if !f.checkStripe(r, in, idx, loc) {
					continue
				}
				bad, ok, err := f.lay.Verify(f.p.devs, loc, buf, shards)
				r.DegradedChunks += bad
				switch {
				case err != nil:
					var why []string
					for _, c := range loc.Chunks {
						d := f.p.devs(c.Drive)
						if d == nil {
							why = append(why, fmt.Sprintf("drive %d missing", c.Drive))
							continue
						}
						if e := d.ReadBlocks(c.Block, buf[:int(c.Blocks)*journal.BlockBytes]); e != nil {
							why = append(why, e.Error())
						}
					}
					r.problem("fs %s: inode %#x stripe %d: %v (%v)", name, in.Ino, idx, err, why)
				case !ok:
					r.problem("fs %s: inode %#x stripe %d: parity does not match the data", name, in.Ino, idx)
				}
			}
		}
	}
}

// checkStripe checks a stripe's shape: chunk count, rows, distinct
// drives.
func (f *FS) checkStripe(r *Report, in *bucket.Inode, idx uint64, loc *stripe.Loc) bool {
	if len(loc.Chunks) != f.lay.N+f.lay.P || loc.Rows == 0 || loc.Rows > stripe.RowsMax {
		r.problem("fs %s: inode %#x stripe %d: %d chunks of %d rows", f.def.Name, in.Ino, idx, len(loc.Chunks), loc.Rows)
		return false
	}
	var seen [journal.DrivesMax]bool
	for _, c := range loc.Chunks {
		if c.Blocks == 0 {
			continue // absent: written while its drive was missing
		}
		if int(c.Drive) >= len(seen) || seen[c.Drive] || c.Blocks != loc.Rows {
			r.problem("fs %s: inode %#x stripe %d: chunk on drive %d repeats a drive or has %d blocks for %d rows",
				f.def.Name, in.Ino, idx, c.Drive, c.Blocks, loc.Rows)
			return false
		}
		seen[c.Drive] = true
	}
	return true
}
