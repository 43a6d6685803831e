package nvme

import (
	"fmt"
	"hash/crc32"
	"sync/atomic"
	"unsafe"
)

// checksumEmpty is the table entry of a block that was never written: its
// contents must read back as all zeros. A real checksum that happens to be 0
// is stored as checksumZero instead, so 0 always means "never written".
const (
	checksumEmpty = 0
	checksumZero  = 0xFFFF_FFFF
)

// table is the in-memory copy of the checksum table region: one
// little-endian uint32 per data block, laid out exactly as on the drive so a
// table block is written back straight from memory (no copy). Entries are
// read and written with atomics because completions of different
// goroutines update neighbouring entries while Flush writes a block out.
type table struct {
	raw     []byte   // BlockSize-aligned; tableBlocks*BlockSize bytes
	entries []uint32 // aliases raw
	dirty   []uint32 // one flag per table block, 1 = must be written back
}

func newTable(tableBlocks, dataBlocks uint64) *table {
	raw := AlignedBuffer(int(tableBlocks * BlockSize))
	return &table{
		raw:     raw,
		entries: unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(raw))), dataBlocks),
		dirty:   make([]uint32, tableBlocks),
	}
}

// blockChecksum is the CRC32C of one data block, seeded with its index so a
// block written to the wrong place (a misdirected write) fails verification.
func blockChecksum(index uint64, data []byte) uint32 {
	c := crc32.Update(indexChecksum(index), castagnoli, data)
	if c == checksumEmpty {
		return checksumZero
	}
	return c
}

// indexChecksum is the CRC32C of index as 8 little-endian bytes, computed
// bytewise from the table: handing crc32 an 8-byte array would make it
// escape, and a heap allocation per block is what the hot path avoids.
func indexChecksum(index uint64) uint32 {
	crc := ^uint32(0)
	for i := range 8 {
		crc = castagnoli[byte(crc)^byte(index>>(8*i))] ^ crc>>8
	}
	return ^crc
}

// record stores the checksums of buf, written at data block first.
func (t *table) record(first uint64, buf []byte) {
	for i := 0; i < len(buf)/BlockSize; i++ {
		b := first + uint64(i)
		t.set(b, blockChecksum(b, buf[i*BlockSize:(i+1)*BlockSize]))
	}
}

// sums computes the checksums of buf, to be written at data block first,
// into out (len(buf)/BlockSize entries) without touching the table: the
// caller computes them while the write is in flight and stores them once it
// succeeded.
func sums(first uint64, buf []byte, out []uint32) {
	for i := range out[:len(buf)/BlockSize] {
		out[i] = blockChecksum(first+uint64(i), buf[i*BlockSize:(i+1)*BlockSize])
	}
}

// store puts precomputed checksums of blocks [first, first+len(sums)).
func (t *table) store(first uint64, sums []uint32) {
	for i, c := range sums {
		t.set(first+uint64(i), c)
	}
}

func (t *table) set(b uint64, c uint32) {
	atomic.StoreUint32(&t.entries[b], c)
	tb := b / entriesPerTableBlock
	if atomic.LoadUint32(&t.dirty[tb]) == 0 {
		atomic.StoreUint32(&t.dirty[tb], 1)
	}
}

// verify checks buf, read from data block first, against the table. On a
// mismatch it clears buf (the caller never sees the bad bytes) and returns
// an error wrapping ErrCorrupt that names the first bad block.
func (t *table) verify(path string, first uint64, buf []byte) error {
	for i := 0; i < len(buf)/BlockSize; i++ {
		b := first + uint64(i)
		blk := buf[i*BlockSize : (i+1)*BlockSize]
		want := atomic.LoadUint32(&t.entries[b])
		if want == checksumEmpty {
			if allZero(blk) {
				continue
			}
			clear(buf)
			return fmt.Errorf("read drive %s: data block %d holds data but has no checksum (written but never flushed): %w", path, b, ErrCorrupt)
		}
		if got := blockChecksum(b, blk); got != want {
			clear(buf)
			return fmt.Errorf("read drive %s: data block %d crc32c %#08x, table says %#08x: %w", path, b, got, want, ErrCorrupt)
		}
	}
	return nil
}

// takeDirty returns the index of the next dirty table block at or after
// from and clears its flag, or -1. An entry updated after the flag is
// cleared sets it again, so the next flush writes it.
func (t *table) takeDirty(from int) int {
	for i := from; i < len(t.dirty); i++ {
		if atomic.LoadUint32(&t.dirty[i]) != 0 && atomic.SwapUint32(&t.dirty[i], 0) != 0 {
			return i
		}
	}
	return -1
}

func (t *table) markDirty(tb int) { atomic.StoreUint32(&t.dirty[tb], 1) }

func (t *table) block(tb int) []byte { return t.raw[tb*BlockSize : (tb+1)*BlockSize] }

func allZero(b []byte) bool {
	// Compare 8 bytes at a time; b is BlockSize long and aligned.
	w := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8)
	for _, v := range w {
		if v != 0 {
			return false
		}
	}
	return true
}

// snapshot copies table blocks [from, to) into dst with atomic loads, for
// writers whose reads of the table memory the race detector sees (pwrite);
// io_uring and NVMe read the live table memory directly, entry by entry
// atomic (aligned 4-byte words), which the crash contract tolerates (see
// doc.go).
func (t *table) snapshot(dst []byte, from, to int) []byte {
	n := (to - from) * entriesPerTableBlock
	src := unsafe.Slice((*uint32)(unsafe.Pointer(&t.raw[from*BlockSize])), n)
	out := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(dst))), n)
	for i := range src {
		out[i] = atomic.LoadUint32(&src[i])
	}
	return dst[:n*checksumBytes]
}
