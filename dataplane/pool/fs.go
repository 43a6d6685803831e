package pool

import (
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/weft-fs/weft/dataplane/bucket"
	"github.com/weft-fs/weft/dataplane/fs"
	"github.com/weft-fs/weft/dataplane/journal"
	"github.com/weft-fs/weft/dataplane/stripe"
	"github.com/weft-fs/weft/nvme"
)

// Limits of the namespace.
const (
	nameBytesMax   = 255
	symlinkMax     = 4096
	xattrNameMax   = 255
	xattrValueMax  = 64 << 10
	xattrListMax   = 64 << 10
	stripeBufsFree = 64 // stripe buffers kept on the free list
)

// FS is one file system of a pool; it implements fs.Service.
type FS struct {
	p       *Pool
	id      uint32
	def     journal.FSDef
	lay     *stripe.Layout
	buckets [bucket.Count]*bucket.Bucket
	deleted atomic.Bool

	usedBlocks atomic.Int64 // data blocks (rows x N) held by stripes, cached or not

	hmu        sync.Mutex
	handles    map[uint64]*handle
	nextHandle uint64

	cmu    sync.Mutex
	cached map[*bucket.Inode]struct{} // inodes holding cached stripes
	tick   atomic.Uint64

	bufs    chan []byte   // free stripe buffers
	bounces chan []byte   // free 4 KiB aligned buffers for direct reads
	shards  chan [][]byte // free shard slice headers
}

var _ fs.Service = (*FS)(nil)

type handle struct {
	ino   uint64
	in    *bucket.Inode
	flags uint32
}

func newFS(p *Pool, id uint32, def journal.FSDef) (*FS, error) {
	lay, err := stripe.NewLayout(int(def.Data), int(def.Parity))
	if err != nil {
		return nil, err
	}
	f := &FS{p: p, id: id, def: def, lay: lay, handles: make(map[uint64]*handle), nextHandle: 1,
		cached: make(map[*bucket.Inode]struct{}), bufs: make(chan []byte, stripeBufsFree),
		shards: make(chan [][]byte, stripeBufsFree), bounces: make(chan []byte, stripeBufsFree)}
	for i := range f.buckets {
		f.buckets[i] = bucket.New(i)
	}
	return f, nil
}

// Name is the file system's name.
func (f *FS) Name() string { return f.def.Name }

// Info describes the file system.
func (f *FS) Info() FSInfo {
	var files uint64
	for _, b := range f.buckets {
		b.Mu.Lock()
		files += uint64(len(b.Inodes))
		b.Mu.Unlock()
	}
	return FSInfo{Name: f.def.Name, CapacityBytes: f.def.CapacityBytes,
		UsedBytes: uint64(f.usedBlocks.Load()) * journal.BlockBytes,
		Data:      int(f.def.Data), Parity: int(f.def.Parity), Files: files}
}

func (f *FS) bkt(ino uint64) *bucket.Bucket { return f.buckets[bucket.Of(ino)] }

func (f *FS) newInode(a journal.Inode) *bucket.Inode {
	in := &bucket.Inode{Inode: a}
	if a.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		in.Dir = bucket.NewDir()
		if in.NextCookie < bucket.FirstCookie {
			in.NextCookie = bucket.FirstCookie
		}
	}
	return in
}

// inodeRec is the InodePut record of in. Callers hold its bucket's Mu.
func (f *FS) inodeRec(in *bucket.Inode) *journal.Record {
	r := &journal.Record{Kind: journal.KindInodePut, FS: f.id, Ino: in.Ino, Inode: in.Inode}
	if in.Target != "" {
		r.Value = []byte(in.Target)
	}
	return r
}

func (f *FS) getBuf() []byte {
	select {
	case b := <-f.bufs:
		return b
	default:
		return nvme.AlignedBuffer(f.lay.BufferBytes())
	}
}

func (f *FS) putBuf(b []byte) {
	select {
	case f.bufs <- b:
	default:
	}
}

func (f *FS) getShards() [][]byte {
	select {
	case s := <-f.shards:
		return s
	default:
		return make([][]byte, 0, f.lay.N+f.lay.P)
	}
}

func (f *FS) putShards(s [][]byte) {
	select {
	case f.shards <- s[:0]:
	default:
	}
}

func attrOf(in *bucket.Inode) fs.Attr {
	a := fs.Attr{Ino: fs.Ino(in.Ino), Mode: in.Mode, Nlink: in.Nlink, Uid: in.Uid, Gid: in.Gid, Rdev: in.Rdev,
		Size: in.Size, AtimeNs: in.AtimeNs, MtimeNs: in.MtimeNs, CtimeNs: in.CtimeNs, Generation: in.Generation,
		Blocks: uint64(in.Blocks) * (journal.BlockBytes / 512)}
	if in.Mode&syscall.S_IFMT == syscall.S_IFLNK {
		a.Size = uint64(len(in.Target))
	}
	return a
}

func now() int64 { return time.Now().UnixNano() }

func sortFS(fss []*FS) { sort.Slice(fss, func(i, j int) bool { return fss[i].id < fss[j].id }) }

// lockBuckets locks the buckets of the given inodes in index order and
// returns the unlock function.
func (f *FS) lockBuckets(inos ...uint64) func() {
	var idx [4]int
	n := 0
	for _, ino := range inos {
		b := bucket.Of(ino)
		dup := false
		for _, x := range idx[:n] {
			dup = dup || x == b
		}
		if !dup {
			idx[n] = b
			n++
		}
	}
	s := idx[:n]
	sort.Ints(s)
	for _, b := range s {
		f.buckets[b].Mu.Lock()
	}
	return func() {
		for i := n - 1; i >= 0; i-- {
			f.buckets[idx[i]].Mu.Unlock()
		}
	}
}

// lockAll locks every bucket (rename, which may touch four).
func (f *FS) lockAll() func() {
	for _, b := range f.buckets {
		b.Mu.Lock()
	}
	return func() {
		for i := len(f.buckets) - 1; i >= 0; i-- {
			f.buckets[i].Mu.Unlock()
		}
	}
}

// inode returns ino; callers hold its bucket's Mu.
func (f *FS) inode(ino uint64) *bucket.Inode { return f.bkt(ino).Inodes[ino] }
