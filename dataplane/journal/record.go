package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Kind says what a Record changes. Every record is an idempotent upsert or
// delete of one object, so replaying a checkpoint followed by the journal
// in sequence order rebuilds exactly the acknowledged state.
type Kind uint8

// Record kinds.
const (
	KindPool        Kind = 1  // pool identity: UUID and drive UUIDs (checkpoints only)
	KindFSPut       Kind = 2  // a file system's definition
	KindFSDel       Kind = 3  // a file system removed
	KindInodePut    Kind = 4  // an inode's attributes (not its xattrs or data map)
	KindInodeDel    Kind = 5  // an inode removed together with its data and xattrs
	KindDentryPut   Kind = 6  // directory entry Parent/Name -> Ino with Cookie
	KindDentryDel   Kind = 7  // directory entry removed
	KindStripePut   Kind = 8  // stripe Idx of inode Ino now lives at Chunks
	KindStripeTrunc Kind = 9  // stripes Idx and above of inode Ino removed
	KindXattrPut    Kind = 10 // extended attribute set
	KindXattrDel    Kind = 11 // extended attribute removed
	KindBucketPut   Kind = 12 // a bucket's inode counter (checkpoints only)
	KindNextSegment Kind = 13 // the journal continues in segment Seg
	kindMax         Kind = 13
)

// Limits of the record format, checked by the decoder.
const (
	NameBytesMax   = 255       // a file, file system or xattr name
	ValueBytesMax  = 64 << 10  // an xattr value or symlink target
	ChunksMax      = 20        // data+parity chunks of a stripe (16+4)
	MirrorsMax     = 5         // copies of a journal segment or checkpoint
	DrivesMax      = 64        // drives in one pool
	recordBytesMax = 128 << 10 // one encoded record
)

// ErrFormat reports bytes that do not decode as a record.
var ErrFormat = errors.New("journal: malformed record")

// Chunk is one drive extent of a stripe or segment: Blocks data-region
// blocks from Block on the pool's drive number Drive.
type Chunk struct {
	Drive  uint16
	Block  uint64
	Blocks uint32
}

// Inode is the persistent part of an inode.
type Inode struct {
	Ino        uint64
	Mode       uint32
	Nlink      uint32
	Uid, Gid   uint32
	Rdev       uint32
	Size       uint64
	AtimeNs    int64
	MtimeNs    int64
	CtimeNs    int64
	Generation uint64
	Parent     uint64 // directories: the parent directory
	NextCookie uint64 // directories: the next entry cookie
}

// FSDef is a file system's definition.
type FSDef struct {
	Name          string
	CapacityBytes uint64
	Data, Parity  uint8
}

// Record is one metadata change. Only the fields its Kind names are used;
// a decoded record's Name and Value alias the decode buffer's copy.
type Record struct {
	Kind   Kind
	FS     uint32  // file system id
	Ino    uint64  // inode, or the directory for dentries
	Child  uint64  // dentries: the entry's inode
	Cookie uint64  // dentries: the entry's position in its directory
	Idx    uint64  // stripes: the stripe index; buckets: the bucket
	Count  uint64  // buckets: next inode counter
	Rows   uint32  // stripes: 4 KiB rows per chunk
	Mode   uint32  // dentries: the entry's file type bits
	Name   string  // dentry, xattr or file system name
	Value  []byte  // xattr value, symlink target or pool UUID list
	Inode  Inode   // KindInodePut
	FSDef  FSDef   // KindFSPut
	Chunks []Chunk // KindStripePut, KindNextSegment
	Seg    uint64  // KindNextSegment: the next segment's nonce
}

// Append encodes r onto b: kind byte, uvarint body length, body.
func Append(b []byte, r *Record) []byte {
	start := len(b)
	b = append(b, byte(r.Kind), 0, 0, 0) // body length patched below (3 bytes, fixed)
	body := len(b)
	b = binary.AppendUvarint(b, uint64(r.FS))
	switch r.Kind {
	case KindPool:
		b = appendBytes(b, r.Value)
	case KindFSPut:
		b = appendBytes(b, []byte(r.FSDef.Name))
		b = binary.AppendUvarint(b, r.FSDef.CapacityBytes)
		b = append(b, r.FSDef.Data, r.FSDef.Parity)
	case KindFSDel:
	case KindInodePut:
		in := &r.Inode
		b = binary.AppendUvarint(b, in.Ino)
		b = binary.AppendUvarint(b, uint64(in.Mode))
		b = binary.AppendUvarint(b, uint64(in.Nlink))
		b = binary.AppendUvarint(b, uint64(in.Uid))
		b = binary.AppendUvarint(b, uint64(in.Gid))
		b = binary.AppendUvarint(b, uint64(in.Rdev))
		b = binary.AppendUvarint(b, in.Size)
		b = binary.AppendVarint(b, in.AtimeNs)
		b = binary.AppendVarint(b, in.MtimeNs)
		b = binary.AppendVarint(b, in.CtimeNs)
		b = binary.AppendUvarint(b, in.Generation)
		b = binary.AppendUvarint(b, in.Parent)
		b = binary.AppendUvarint(b, in.NextCookie)
		b = appendBytes(b, r.Value)
	case KindInodeDel:
		b = binary.AppendUvarint(b, r.Ino)
	case KindDentryPut:
		b = binary.AppendUvarint(b, r.Ino)
		b = appendBytes(b, []byte(r.Name))
		b = binary.AppendUvarint(b, r.Child)
		b = binary.AppendUvarint(b, r.Cookie)
		b = binary.AppendUvarint(b, uint64(r.Mode))
	case KindDentryDel:
		b = binary.AppendUvarint(b, r.Ino)
		b = appendBytes(b, []byte(r.Name))
	case KindStripePut:
		b = binary.AppendUvarint(b, r.Ino)
		b = binary.AppendUvarint(b, r.Idx)
		b = binary.AppendUvarint(b, uint64(r.Rows))
		b = appendChunks(b, r.Chunks)
	case KindStripeTrunc:
		b = binary.AppendUvarint(b, r.Ino)
		b = binary.AppendUvarint(b, r.Idx)
	case KindXattrPut:
		b = binary.AppendUvarint(b, r.Ino)
		b = appendBytes(b, []byte(r.Name))
		b = appendBytes(b, r.Value)
	case KindXattrDel:
		b = binary.AppendUvarint(b, r.Ino)
		b = appendBytes(b, []byte(r.Name))
	case KindBucketPut:
		b = binary.AppendUvarint(b, r.Idx)
		b = binary.AppendUvarint(b, r.Count)
	case KindNextSegment:
		b = binary.AppendUvarint(b, r.Seg)
		b = appendChunks(b, r.Chunks)
	}
	n := len(b) - body
	b[start+1] = byte(n)
	b[start+2] = byte(n >> 8)
	b[start+3] = byte(n >> 16)
	return b
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendChunks(b []byte, cs []Chunk) []byte {
	b = binary.AppendUvarint(b, uint64(len(cs)))
	for _, c := range cs {
		b = binary.AppendUvarint(b, uint64(c.Drive))
		b = binary.AppendUvarint(b, c.Block)
		b = binary.AppendUvarint(b, uint64(c.Blocks))
	}
	return b
}

// decoder reads one record body; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = ErrFormat
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = ErrFormat
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32() uint32 {
	v := d.uvarint()
	if v > 0xFFFFFFFF {
		d.err = ErrFormat
	}
	return uint32(v)
}

func (d *decoder) bytes(max int) []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(max) || n > uint64(len(d.b)) {
		d.err = ErrFormat
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte1() uint8 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.err = ErrFormat
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) chunks(dst []Chunk) []Chunk {
	n := d.uvarint()
	if d.err != nil {
		return dst[:0]
	}
	if n > ChunksMax {
		d.err = ErrFormat
		return dst[:0]
	}
	dst = dst[:0]
	for i := uint64(0); i < n; i++ {
		drv := d.uvarint()
		blk := d.uvarint()
		cnt := d.u32()
		if drv >= DrivesMax {
			d.err = ErrFormat
		}
		if d.err != nil {
			return dst[:0]
		}
		dst = append(dst, Chunk{Drive: uint16(drv), Block: blk, Blocks: cnt})
	}
	return dst
}

// Decode decodes the record at the start of b into r and returns the
// number of bytes it used. r.Chunks is reused if it has capacity.
func Decode(b []byte, r *Record) (int, error) {
	if len(b) < 4 {
		return 0, fmt.Errorf("%w: %d bytes is shorter than a record header", ErrFormat, len(b))
	}
	k := Kind(b[0])
	n := int(b[1]) | int(b[2])<<8 | int(b[3])<<16
	if k == 0 || k > kindMax {
		return 0, fmt.Errorf("%w: kind %d", ErrFormat, k)
	}
	if n > recordBytesMax || n > len(b)-4 {
		return 0, fmt.Errorf("%w: body of %d bytes, %d left", ErrFormat, n, len(b)-4)
	}
	chunks := r.Chunks
	*r = Record{Kind: k}
	d := decoder{b: b[4 : 4+n]}
	r.FS = d.u32()
	switch k {
	case KindPool:
		r.Value = d.bytes(DrivesMax*16 + 16)
	case KindFSPut:
		r.FSDef.Name = string(d.bytes(NameBytesMax))
		r.FSDef.CapacityBytes = d.uvarint()
		r.FSDef.Data = d.byte1()
		r.FSDef.Parity = d.byte1()
	case KindFSDel:
	case KindInodePut:
		in := &r.Inode
		in.Ino = d.uvarint()
		in.Mode = d.u32()
		in.Nlink = d.u32()
		in.Uid = d.u32()
		in.Gid = d.u32()
		in.Rdev = d.u32()
		in.Size = d.uvarint()
		in.AtimeNs = d.varint()
		in.MtimeNs = d.varint()
		in.CtimeNs = d.varint()
		in.Generation = d.uvarint()
		in.Parent = d.uvarint()
		in.NextCookie = d.uvarint()
		r.Value = d.bytes(ValueBytesMax)
		r.Ino = in.Ino
	case KindInodeDel:
		r.Ino = d.uvarint()
	case KindDentryPut:
		r.Ino = d.uvarint()
		r.Name = string(d.bytes(NameBytesMax))
		r.Child = d.uvarint()
		r.Cookie = d.uvarint()
		r.Mode = d.u32()
	case KindDentryDel:
		r.Ino = d.uvarint()
		r.Name = string(d.bytes(NameBytesMax))
	case KindStripePut:
		r.Ino = d.uvarint()
		r.Idx = d.uvarint()
		r.Rows = d.u32()
		r.Chunks = d.chunks(chunks)
	case KindStripeTrunc:
		r.Ino = d.uvarint()
		r.Idx = d.uvarint()
	case KindXattrPut:
		r.Ino = d.uvarint()
		r.Name = string(d.bytes(NameBytesMax))
		r.Value = d.bytes(ValueBytesMax)
	case KindXattrDel:
		r.Ino = d.uvarint()
		r.Name = string(d.bytes(NameBytesMax))
	case KindBucketPut:
		r.Idx = d.uvarint()
		r.Count = d.uvarint()
	case KindNextSegment:
		r.Seg = d.uvarint()
		r.Chunks = d.chunks(chunks)
		if d.err == nil && len(r.Chunks) == 0 {
			d.err = ErrFormat
		}
	}
	if d.err != nil {
		return 0, fmt.Errorf("%w: kind %d body", d.err, k)
	}
	if len(d.b) != 0 {
		return 0, fmt.Errorf("%w: %d trailing bytes in kind %d", ErrFormat, len(d.b), k)
	}
	return 4 + n, nil
}
