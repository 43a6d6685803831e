package pool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/weft-fs/weft/dataplane/journal"
)

// appRoot is what the pool keeps in every drive's superblock: which pool
// and slot the drive is, and where the latest checkpoint and the journal
// that follows it live. Every drive holds the same pointers; on open the
// copy with the highest checkpoint sequence whose checkpoint reads back
// intact wins.
type appRoot struct {
	Pool       [16]byte
	Drive      uint16 // this drive's slot in the pool
	Drives     uint16 // slots in the pool
	CkptSeq    uint64
	CkptChunks []journal.Chunk
	Journal    journal.Segment
}

const (
	appRootMagic   = 0x4c4f5057 // "WPOL"
	appRootVersion = 1
	chunkBytes     = 14 // drive u16, block u64, blocks u32
	// appRootBytes: magic, version, drive, drives, two mirror counts,
	// pool, checkpoint seq, checkpoint chunks, nonce, segment chunks, crc.
	appRootBytes = 4 + 2 + 2 + 2 + 2 + 16 + 8 + journal.MirrorsMax*chunkBytes + 8 + journal.MirrorsMax*chunkBytes + 4
)

var errAppRoot = errors.New("pool: not a weft pool app root")

func (a *appRoot) encode() []byte {
	b := make([]byte, appRootBytes)
	le := binary.LittleEndian
	le.PutUint32(b[0:], appRootMagic)
	le.PutUint16(b[4:], appRootVersion)
	le.PutUint16(b[6:], a.Drive)
	le.PutUint16(b[8:], a.Drives)
	b[10] = byte(len(a.CkptChunks))
	b[11] = byte(len(a.Journal.Chunks))
	copy(b[12:28], a.Pool[:])
	le.PutUint64(b[28:], a.CkptSeq)
	off := 36
	putChunks(b[off:], a.CkptChunks)
	off += journal.MirrorsMax * chunkBytes
	le.PutUint64(b[off:], a.Journal.Nonce)
	off += 8
	putChunks(b[off:], a.Journal.Chunks)
	off += journal.MirrorsMax * chunkBytes
	le.PutUint32(b[off:], crc32.Checksum(b[:off], castagnoli))
	return b
}

func putChunks(b []byte, cs []journal.Chunk) {
	for i, c := range cs {
		o := i * chunkBytes
		binary.LittleEndian.PutUint16(b[o:], c.Drive)
		binary.LittleEndian.PutUint64(b[o+2:], c.Block)
		binary.LittleEndian.PutUint32(b[o+10:], c.Blocks)
	}
}

func getChunks(b []byte, n int) []journal.Chunk {
	cs := make([]journal.Chunk, n)
	for i := range cs {
		o := i * chunkBytes
		cs[i] = journal.Chunk{
			Drive:  binary.LittleEndian.Uint16(b[o:]),
			Block:  binary.LittleEndian.Uint64(b[o+2:]),
			Blocks: binary.LittleEndian.Uint32(b[o+10:]),
		}
	}
	return cs
}

func decodeAppRoot(b []byte) (appRoot, error) {
	var a appRoot
	le := binary.LittleEndian
	if len(b) < appRootBytes || le.Uint32(b[0:]) != appRootMagic {
		return a, errAppRoot
	}
	if v := le.Uint16(b[4:]); v != appRootVersion {
		return a, fmt.Errorf("%w: version %d, this build reads %d", errAppRoot, v, appRootVersion)
	}
	end := appRootBytes - 4
	if le.Uint32(b[end:]) != crc32.Checksum(b[:end], castagnoli) {
		return a, fmt.Errorf("%w: checksum", errAppRoot)
	}
	a.Drive = le.Uint16(b[6:])
	a.Drives = le.Uint16(b[8:])
	nc, ns := int(b[10]), int(b[11])
	if nc > journal.MirrorsMax || ns > journal.MirrorsMax || nc == 0 || ns == 0 ||
		a.Drives == 0 || a.Drives > journal.DrivesMax || a.Drive >= a.Drives {
		return a, fmt.Errorf("%w: counts out of range", errAppRoot)
	}
	copy(a.Pool[:], b[12:28])
	a.CkptSeq = le.Uint64(b[28:])
	off := 36
	a.CkptChunks = getChunks(b[off:], nc)
	off += journal.MirrorsMax * chunkBytes
	a.Journal.Nonce = le.Uint64(b[off:])
	off += 8
	a.Journal.Chunks = getChunks(b[off:], ns)
	for _, c := range append(a.CkptChunks, a.Journal.Chunks...) {
		if c.Drive >= a.Drives || c.Blocks == 0 {
			return a, fmt.Errorf("%w: chunk on drive %d of %d", errAppRoot, c.Drive, a.Drives)
		}
	}
	return a, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)
