package bucket

import (
	"hash/fnv"
	"sort"
	"sync"

	"github.com/weft-fs/weft/dataplane/journal"
	"github.com/weft-fs/weft/dataplane/stripe"
)

// Count is the number of buckets a file system's namespace is sharded
// into. Ownership is per bucket, so spreading buckets over compute roles
// on several hosts changes placement, not the namespace.
const Count = 64

// inoBucketShift puts the bucket in an inode number's top 16 bits.
const inoBucketShift = 48

// Of is the bucket that owns inode ino.
func Of(ino uint64) int { return int(ino>>inoBucketShift) % Count }

// MakeIno is the inode number for counter n of bucket b.
func MakeIno(b int, n uint64) uint64 { return uint64(b)<<inoBucketShift | n&(1<<inoBucketShift-1) }

// Counter is the per-bucket counter part of ino.
func Counter(ino uint64) uint64 { return ino & (1<<inoBucketShift - 1) }

// Place is the bucket a new inode named name in directory parent goes
// to: a stable hash, so placement needs no shared state.
func Place(parent uint64, name string) int {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(parent >> (8 * i))
	}
	h.Write(b[:])
	h.Write([]byte(name))
	return int(h.Sum64() % Count)
}

// Bucket is one shard of a namespace: the inodes it owns, and for each
// directory among them, its entries. Mu guards everything in it,
// including the metadata of its inodes; it is held only for in-memory
// work, never across drive IO.
type Bucket struct {
	Mu      sync.Mutex
	Index   int
	Inodes  map[uint64]*Inode
	NextIno uint64 // counter for the next inode created here
}

// New returns an empty bucket.
func New(index int) *Bucket {
	return &Bucket{Index: index, Inodes: make(map[uint64]*Inode), NextIno: 1}
}

// Alloc returns a fresh inode number of this bucket. Callers hold Mu.
func (b *Bucket) Alloc() uint64 {
	n := b.NextIno
	b.NextIno++
	return MakeIno(b.Index, n)
}

// Inode is an inode's metadata. Meta fields are guarded by the owning
// bucket's Mu; the data map and cache are guarded by Data.
type Inode struct {
	journal.Inode
	Target string            // symlinks
	Xattrs map[string][]byte // nil when none
	Dir    *Dir              // directories
	Opens  int               // open handles: an unlinked inode lives until 0
	Blocks int64             // data blocks held by the file's stripes (cached or not)

	// Data serialises IO on the file's contents; Stripes and Cache are
	// only touched with it held (and Stripes also with the bucket's Mu
	// when changed, so checkpoints see a consistent map).
	Data    sync.Mutex
	Stripes map[uint64]*stripe.Loc
	Cache   map[uint64]*Cached
}

// Cached is a stripe held in memory: Buf is the shard-major stripe buffer,
// Rows the rows holding data, Dirty whether it differs from the drives.
type Cached struct {
	Buf      []byte
	Rows     uint32
	Dirty    bool
	Used     uint64 // last use tick, for eviction
	Reserved int64  // pool blocks promised to this dirty stripe's next copy
}

// Entry is one directory entry.
type Entry struct {
	Name   string
	Ino    uint64
	Cookie uint64
	Mode   uint32 // file type bits
	dead   bool
}

// Dir is a directory's entries: a name index plus a list ordered by
// cookie. Cookies only grow, so a listing resumed at a cookie neither
// skips nor repeats entries that stay put while others come and go.
type Dir struct {
	names map[string]*Entry
	order []*Entry // ascending Cookie; removed entries stay as tombstones until compaction
	dead  int
}

// NewDir returns an empty directory.
func NewDir() *Dir { return &Dir{names: make(map[string]*Entry)} }

// FirstCookie is the first cookie entries get; 1 and 2 are "." and "..".
const FirstCookie = 3

// Len is the number of entries.
func (d *Dir) Len() int { return len(d.names) }

// Get returns the entry called name, or nil.
func (d *Dir) Get(name string) *Entry { return d.names[name] }

// Put adds or replaces the entry called name.
func (d *Dir) Put(e Entry) {
	if old := d.names[e.Name]; old != nil {
		old.dead = true
		d.dead++
	}
	ne := &e
	d.names[e.Name] = ne
	n := len(d.order)
	if n == 0 || d.order[n-1].Cookie < e.Cookie {
		d.order = append(d.order, ne)
	} else {
		i := sort.Search(n, func(i int) bool { return d.order[i].Cookie >= e.Cookie })
		d.order = append(d.order, nil)
		copy(d.order[i+1:], d.order[i:])
		d.order[i] = ne
	}
	d.compact()
}

// Remove deletes the entry called name and returns it, or nil.
func (d *Dir) Remove(name string) *Entry {
	e := d.names[name]
	if e == nil {
		return nil
	}
	delete(d.names, name)
	e.dead = true
	d.dead++
	d.compact()
	return e
}

func (d *Dir) compact() {
	if d.dead < 64 || d.dead < len(d.names) {
		return
	}
	live := d.order[:0]
	for _, e := range d.order {
		if !e.dead {
			live = append(live, e)
		}
	}
	clear(d.order[len(live):])
	d.order = live
	d.dead = 0
}

// After calls fn for entries with cookies above cookie, in cookie order,
// until fn returns false.
func (d *Dir) After(cookie uint64, fn func(e *Entry) bool) {
	i := sort.Search(len(d.order), func(i int) bool { return d.order[i].Cookie > cookie })
	for ; i < len(d.order); i++ {
		if e := d.order[i]; !e.dead && !fn(e) {
			return
		}
	}
}
