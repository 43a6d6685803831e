package pool

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/weft-fs/weft/dataplane/journal"
	"github.com/weft-fs/weft/nvme"
)

// Drive is what the pool needs of a drive; *nvme.Drive has it, and so
// will a remote drive role.
type Drive interface {
	journal.Device
	AppRoot() []byte
	SetAppRoot([]byte) error
	Close() error
}

// missingMax is how many drives may be missing at open: the widest parity.
const missingMax = 4

// Open opens the pool on the drives at paths (any order). Drives that are
// missing, unreadable or not of this pool are tolerated up to the widest
// parity; their data is rebuilt from parity on read.
func Open(paths []string, o Options) (*Pool, error) {
	o.fill()
	p, l, err := openState(paths, o, false)
	if err != nil {
		return nil, err
	}
	// Orphans: unlinked files whose last handle went with the crash.
	for _, f := range p.byID {
		for _, b := range f.buckets {
			for ino, in := range b.Inodes {
				if in.Nlink == 0 {
					delete(b.Inodes, ino)
					f.usedBlocks.Add(-in.Blocks)
				}
			}
		}
	}
	if probs := p.markUsed(l); len(probs) > 0 {
		for _, pr := range probs {
			p.log.Error("pool metadata damage", "problem", pr)
		}
	}
	last := l.segs[len(l.segs)-1]
	p.c.init(p, last, l.seq)
	p.c.w.Retired = append(p.c.w.Retired, l.segs[:len(l.segs)-1]...)
	p.c.ckptChunks, p.c.ckptSeq = l.root.CkptChunks, l.root.CkptSeq
	// A fresh checkpoint puts the journal in clean space: nothing written
	// after the torn tail can ever be mistaken for an entry.
	if err := p.checkpoint(); err != nil {
		p.closeDrives()
		return nil, fmt.Errorf("open pool: %w", err)
	}
	p.start()
	p.log.Info("pool open", "drives", len(p.slots), "file_systems", len(p.byID), "journal_entries", l.entries)
	return p, nil
}

// openState opens the drives and loads the metadata without starting
// anything.
func openState(paths []string, o Options, readOnly bool) (*Pool, *loaded, error) {
	type opened struct {
		path string
		dev  Drive
		info driveInfo
		root appRoot
	}
	var good []opened
	var bad []string
	var lastErr error
	closeAll := func() {
		for _, g := range good {
			g.dev.Close()
		}
	}
	for _, path := range paths {
		dev, info, err := openDrive(path, readOnly)
		if errors.Is(err, nvme.ErrBusy) {
			// In use is not missing: another process runs this pool.
			closeAll()
			return nil, nil, fmt.Errorf("open pool: %w", err)
		}
		if err != nil {
			o.Logger.Warn("drive unavailable", "path", path, "err", err)
			lastErr = err
			bad = append(bad, path)
			continue
		}
		root, err := decodeAppRoot(dev.AppRoot())
		if err != nil {
			o.Logger.Warn("drive holds no pool app root", "path", path, "err", err)
			dev.Close()
			lastErr = fmt.Errorf("drive %s: %w", path, err)
			bad = append(bad, path)
			continue
		}
		good = append(good, opened{path, dev, info, root})
	}
	if len(good) == 0 {
		return nil, nil, fmt.Errorf("%w: none of the %d drives opened as a weft pool drive (last: %v)", ErrDrives, len(paths), lastErr)
	}
	// The newest app root names the pool and its size.
	best := good[0].root
	for _, g := range good {
		if g.root.CkptSeq > best.CkptSeq {
			best = g.root
		}
	}
	p := newPool(o, best.Pool)
	p.slots = make([]*slot, best.Drives)
	for i := range p.slots {
		p.slots[i] = &slot{index: uint16(i)}
	}
	for _, g := range good {
		if g.root.Pool != best.Pool || g.root.Drives != best.Drives {
			closeAll()
			return nil, nil, fmt.Errorf("%w: drive %s belongs to another pool", ErrDrives, g.path)
		}
		s := p.slots[g.root.Drive]
		if s.dev != nil {
			closeAll()
			return nil, nil, fmt.Errorf("%w: drives %s and %s both claim slot %d", ErrDrives, s.path, g.path, g.root.Drive)
		}
		s.path, s.dev, s.uuid, s.blocks = g.path, g.dev, g.info.uuid, g.info.blocks
		s.alloc = nvme.NewAllocator(g.info.blocks)
	}
	missing := 0
	for _, s := range p.slots {
		if s.dev == nil {
			if len(bad) > 0 {
				s.path, bad = bad[0], bad[1:]
			}
			missing++
		}
	}
	if missing > missingMax {
		closeAll()
		return nil, nil, fmt.Errorf("%w: pool has %d drives and %d are missing; at most %d may be", ErrDrives, len(p.slots), missing, missingMax)
	}
	l, err := p.load()
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("open pool: %w", err)
	}
	return p, l, nil
}

func isDir(mode uint32) bool { return mode&syscall.S_IFMT == syscall.S_IFDIR }
