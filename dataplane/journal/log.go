package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"
	"unsafe"
)

// BlockBytes is the drive block size the journal is laid out in.
const BlockBytes = 4096

// Device is the part of a drive the journal needs; *nvme.Drive has it.
type Device interface {
	ReadBlocks(block uint64, buf []byte) error
	WriteBlocks(block uint64, buf []byte) error
	Flush() error
}

// Devices maps a pool drive number to its device, nil when the drive is
// missing.
type Devices func(drive uint16) Device

// Segment is a run of journal blocks mirrored on several drives: every
// chunk has the same length and holds the same bytes. Nonce is random per
// segment so blocks left over from an earlier use of the space never pass
// for entries of this one.
type Segment struct {
	Nonce  uint64
	Chunks []Chunk
}

// Blocks is the segment's length in blocks.
func (s Segment) Blocks() uint32 {
	if len(s.Chunks) == 0 {
		return 0
	}
	return s.Chunks[0].Blocks
}

// On-drive entry header, at the start of an entry's first block:
//
//	0  magic     u32  "WJNL"
//	4  version   u16
//	6  reserved  u16
//	8  nonce     u64  the segment's nonce
//	16 seq       u64  entry sequence number, +1 per entry across segments
//	24 blocks    u32  blocks the entry spans
//	28 length    u32  payload bytes following the header
//	32 crc       u32  CRC32C of bytes 0..32 and the payload
//	36 payload ...
const (
	entryMagic      = 0x4c4e4a57 // "WJNL" little-endian
	entryVersion    = 1
	entryHeaderSize = 36
	checkpointMagic = 0x504b4357 // "WCKP"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors callers branch on.
var (
	// ErrNoMirror means no copy of a segment or checkpoint could be
	// written or read.
	ErrNoMirror = errors.New("journal: no mirror available")
	// ErrEntryTooBig means an entry's payload does not fit a segment.
	ErrEntryTooBig = errors.New("journal: entry larger than a segment")
)

// Writer appends entries to a chain of segments. It is not safe for
// concurrent use: the pool's committer goroutine owns it.
type Writer struct {
	devs  Devices
	alloc func() (Segment, error)
	seg   Segment
	pos   uint32 // next free block in seg
	seq   uint64 // last entry written
	buf   []byte // block-aligned staging buffer
	// Retired lists segments the writer has moved past since the caller
	// last cleared it; they may be freed once a checkpoint covers them.
	Retired []Segment
}

// NewWriter starts writing entries after seq at the start of seg. alloc
// provides further segments when seg fills; buf is a block-aligned buffer
// whose length bounds one entry.
func NewWriter(devs Devices, seg Segment, seq uint64, alloc func() (Segment, error), buf []byte) *Writer {
	return &Writer{devs: devs, alloc: alloc, seg: seg, seq: seq, buf: buf}
}

// Seq is the sequence number of the last entry written.
func (w *Writer) Seq() uint64 { return w.seq }

// Segment is the segment being written.
func (w *Writer) Segment() Segment { return w.seg }

// PayloadMax is the largest payload one entry can carry.
func (w *Writer) PayloadMax() int {
	n := len(w.buf)
	if s := int(w.seg.Blocks()-1) * BlockBytes; s < n {
		n = s
	}
	return n - entryHeaderSize
}

// Append writes payload as the next entry on every mirror and flushes
// those drives. It returns the entry's sequence number.
func (w *Writer) Append(payload []byte) (uint64, error) {
	need := blocksFor(len(payload))
	if len(payload) > w.PayloadMax() {
		return 0, fmt.Errorf("%w: %d bytes", ErrEntryTooBig, len(payload))
	}
	// One block is always kept free for the entry that links the next segment.
	if w.pos+need > w.seg.Blocks()-1 {
		next, err := w.alloc()
		if err != nil {
			return 0, fmt.Errorf("allocate journal segment: %w", err)
		}
		var link []byte
		var lr Record
		lr.Kind, lr.Seg, lr.Chunks = KindNextSegment, next.Nonce, next.Chunks
		link = Append(w.buf[entryHeaderSize:entryHeaderSize], &lr)
		// link aliases buf; writeEntry copies nothing when src == dst.
		if err := w.writeEntry(link); err != nil {
			return 0, err
		}
		w.Retired = append(w.Retired, w.seg)
		w.seg, w.pos = next, 0
	}
	if err := w.writeEntry(payload); err != nil {
		return 0, err
	}
	return w.seq, nil
}

func blocksFor(payload int) uint32 {
	return uint32((entryHeaderSize + payload + BlockBytes - 1) / BlockBytes)
}

func (w *Writer) writeEntry(payload []byte) error {
	need := blocksFor(len(payload))
	b := w.buf[:int(need)*BlockBytes]
	if len(payload) > 0 && unsafe.SliceData(payload) != unsafe.SliceData(b[entryHeaderSize:]) {
		copy(b[entryHeaderSize:], payload)
	}
	clear(b[entryHeaderSize+len(payload):])
	seq := w.seq + 1
	binary.LittleEndian.PutUint32(b[0:], entryMagic)
	binary.LittleEndian.PutUint16(b[4:], entryVersion)
	binary.LittleEndian.PutUint16(b[6:], 0)
	binary.LittleEndian.PutUint64(b[8:], w.seg.Nonce)
	binary.LittleEndian.PutUint64(b[16:], seq)
	binary.LittleEndian.PutUint32(b[24:], need)
	binary.LittleEndian.PutUint32(b[28:], uint32(len(payload)))
	crc := crc32.Update(crc32.Checksum(b[:32], castagnoli), castagnoli, b[entryHeaderSize:entryHeaderSize+len(payload)])
	binary.LittleEndian.PutUint32(b[32:], crc)
	if err := writeMirrors(w.devs, w.seg.Chunks, uint64(w.pos), b); err != nil {
		return fmt.Errorf("journal entry %d: %w", seq, err)
	}
	w.seq, w.pos = seq, w.pos+need
	return nil
}

// ioBytesMax bounds one drive request (nvme.RequestBytesMax is 4 MiB).
const ioBytesMax = 1 << 20

// writeBlocks writes b at block, in requests of at most ioBytesMax.
func writeBlocks(d Device, block uint64, b []byte) error {
	for len(b) > 0 {
		n := min(len(b), ioBytesMax)
		if err := d.WriteBlocks(block, b[:n]); err != nil {
			return err
		}
		b, block = b[n:], block+uint64(n/BlockBytes)
	}
	return nil
}

// readBlocks reads b from block, in requests of at most ioBytesMax.
func readBlocks(d Device, block uint64, b []byte) error {
	for len(b) > 0 {
		n := min(len(b), ioBytesMax)
		if err := d.ReadBlocks(block, b[:n]); err != nil {
			return err
		}
		b, block = b[n:], block+uint64(n/BlockBytes)
	}
	return nil
}

// writeMirrors writes b at offset off of every chunk and flushes. It
// succeeds when at least one mirror took the write: a mirror on a failed
// drive is the degraded state the pool reports, not a reason to stop.
func writeMirrors(devs Devices, chunks []Chunk, off uint64, b []byte) error {
	var errs [MirrorsMax]error
	var wg sync.WaitGroup
	// Mirrors are written and flushed concurrently: a commit waits for
	// the slowest drive, not the sum of them.
	for i, c := range chunks[:min(len(chunks), MirrorsMax)] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := devs(c.Drive)
			if d == nil {
				errs[i] = fmt.Errorf("drive %d missing", c.Drive)
				return
			}
			if err := writeBlocks(d, c.Block+off, b); err != nil {
				errs[i] = err
				return
			}
			errs[i] = d.Flush()
		}()
	}
	wg.Wait()
	ok := 0
	var last error = errors.New("no mirrors")
	for i := range chunks[:min(len(chunks), MirrorsMax)] {
		if errs[i] == nil {
			ok++
		} else {
			last = errs[i]
		}
	}
	if ok == 0 {
		return fmt.Errorf("%w: %v", ErrNoMirror, last)
	}
	return nil
}

// Replay reads the entries of the chain starting at seg whose sequence
// numbers follow afterSeq, calling fn with each payload in order, and
// returns the last sequence number read and the segments the chain
// passed through (seg first). It stops at the first entry that
// is missing, torn or from an earlier use of the space: that is the end
// of the journal. buf is block-aligned scratch as large as a Writer's.
func Replay(devs Devices, seg Segment, afterSeq uint64, buf []byte, fn func(seq uint64, payload []byte) error) (uint64, []Segment, error) {
	seq := afterSeq
	pos := uint32(0)
	var r Record
	segs := []Segment{seg}
	for {
		payload, n, ok := readEntry(devs, seg, pos, seq+1, buf)
		if !ok {
			return seq, segs, nil
		}
		seq++
		if len(payload) > 0 && Kind(payload[0]) == KindNextSegment {
			if _, err := Decode(payload, &r); err == nil && r.Kind == KindNextSegment {
				seg = Segment{Nonce: r.Seg, Chunks: append([]Chunk(nil), r.Chunks...)}
				segs = append(segs, seg)
				pos = 0
				continue
			}
		}
		if err := fn(seq, payload); err != nil {
			return seq, segs, err
		}
		pos += n
	}
}

// readEntry returns the payload of the entry with sequence want at block
// pos of seg, trying each mirror until one holds a whole, matching entry.
func readEntry(devs Devices, seg Segment, pos uint32, want uint64, buf []byte) ([]byte, uint32, bool) {
	if pos >= seg.Blocks() {
		return nil, 0, false
	}
	for _, c := range seg.Chunks {
		d := devs(c.Drive)
		if d == nil {
			continue
		}
		head := buf[:BlockBytes]
		if d.ReadBlocks(c.Block+uint64(pos), head) != nil {
			continue
		}
		blocks, length, ok := parseEntryHeader(head, seg.Nonce, want, seg.Blocks()-pos, len(buf))
		if !ok {
			continue
		}
		if blocks > 1 && readBlocks(d, c.Block+uint64(pos)+1, buf[BlockBytes:int(blocks)*BlockBytes]) != nil {
			continue
		}
		payload, ok := checkEntry(buf, length)
		if !ok {
			continue
		}
		return payload, blocks, true
	}
	return nil, 0, false
}

// parseEntryHeader checks the first block of an entry: magic, version,
// nonce and sequence must match, and the entry must fit in room blocks
// and a buffer of bufLen bytes.
func parseEntryHeader(head []byte, nonce, want uint64, room uint32, bufLen int) (blocks, length uint32, ok bool) {
	if len(head) < entryHeaderSize ||
		binary.LittleEndian.Uint32(head[0:]) != entryMagic ||
		binary.LittleEndian.Uint16(head[4:]) != entryVersion ||
		binary.LittleEndian.Uint64(head[8:]) != nonce ||
		binary.LittleEndian.Uint64(head[16:]) != want {
		return 0, 0, false
	}
	blocks = binary.LittleEndian.Uint32(head[24:])
	length = binary.LittleEndian.Uint32(head[28:])
	if blocks == 0 || blocks > room || uint64(blocks)*BlockBytes > uint64(bufLen) ||
		uint64(length) > uint64(blocks)*BlockBytes-entryHeaderSize || blocksFor(int(length)) != blocks {
		return 0, 0, false
	}
	return blocks, length, true
}

// checkEntry verifies the CRC of the entry in buf (header included) and
// returns its payload.
func checkEntry(buf []byte, length uint32) ([]byte, bool) {
	payload := buf[entryHeaderSize : entryHeaderSize+int(length)]
	crc := crc32.Update(crc32.Checksum(buf[:32], castagnoli), castagnoli, payload)
	return payload, crc == binary.LittleEndian.Uint32(buf[32:])
}

// Checkpoint header, in the first block of every checkpoint copy:
//
//	0  magic   u32 "WCKP"
//	4  version u16
//	8  seq     u64  the last journal entry the checkpoint includes
//	16 length  u64  payload bytes (records), starting at block 1
//	24 crc     u32  CRC32C of bytes 0..24 and the payload
const checkpointHeaderSize = 28

// CheckpointBlocks is how many blocks a checkpoint of payload bytes takes.
func CheckpointBlocks(payload int) uint32 {
	return 1 + uint32((payload+BlockBytes-1)/BlockBytes)
}

// WriteCheckpoint writes the checkpoint (header block then payload) to
// every chunk and flushes. buf must be block-aligned and at least
// CheckpointBlocks(len(payload))*BlockBytes long, with the payload
// already placed at buf[BlockBytes:].
func WriteCheckpoint(devs Devices, chunks []Chunk, seq uint64, payloadLen int, buf []byte) error {
	n := int(CheckpointBlocks(payloadLen)) * BlockBytes
	b := buf[:n]
	clear(b[:BlockBytes])
	clear(b[BlockBytes+payloadLen:])
	binary.LittleEndian.PutUint32(b[0:], checkpointMagic)
	binary.LittleEndian.PutUint16(b[4:], entryVersion)
	binary.LittleEndian.PutUint64(b[8:], seq)
	binary.LittleEndian.PutUint64(b[16:], uint64(payloadLen))
	crc := crc32.Update(crc32.Checksum(b[:24], castagnoli), castagnoli, b[BlockBytes:BlockBytes+payloadLen])
	binary.LittleEndian.PutUint32(b[24:], crc)
	if err := writeMirrors(devs, chunks, 0, b); err != nil {
		return fmt.Errorf("checkpoint %d: %w", seq, err)
	}
	return nil
}

// ReadCheckpoint reads the first intact copy of the checkpoint with
// sequence seq from chunks and returns its payload. alloc provides a
// block-aligned buffer of the given length.
func ReadCheckpoint(devs Devices, chunks []Chunk, seq uint64, alloc func(n int) []byte) ([]byte, error) {
	var last error = ErrNoMirror
	for _, c := range chunks {
		d := devs(c.Drive)
		if d == nil || c.Blocks == 0 {
			continue
		}
		b := alloc(int(c.Blocks) * BlockBytes)
		if err := readBlocks(d, c.Block, b); err != nil {
			last = fmt.Errorf("drive %d: %w", c.Drive, err)
			continue
		}
		payload, err := parseCheckpoint(b, seq)
		if err != nil {
			last = fmt.Errorf("drive %d: %w", c.Drive, err)
			continue
		}
		return payload, nil
	}
	return nil, fmt.Errorf("read checkpoint %d: %w", seq, last)
}

// parseCheckpoint checks a checkpoint copy read into b (header block and
// payload blocks) and returns its payload.
func parseCheckpoint(b []byte, seq uint64) ([]byte, error) {
	if len(b) < BlockBytes {
		return nil, fmt.Errorf("%w: checkpoint of %d bytes", ErrFormat, len(b))
	}
	length := binary.LittleEndian.Uint64(b[16:])
	if binary.LittleEndian.Uint32(b[0:]) != checkpointMagic ||
		binary.LittleEndian.Uint64(b[8:]) != seq ||
		length > uint64(len(b)-BlockBytes) {
		return nil, fmt.Errorf("%w: checkpoint header", ErrFormat)
	}
	payload := b[BlockBytes : BlockBytes+int(length)]
	crc := crc32.Update(crc32.Checksum(b[:24], castagnoli), castagnoli, payload)
	if crc != binary.LittleEndian.Uint32(b[24:]) {
		return nil, fmt.Errorf("%w: checkpoint checksum", ErrFormat)
	}
	return payload, nil
}

// Records calls fn for every record in payload, in order. The record
// passed to fn is reused: fn copies what it keeps.
func Records(payload []byte, fn func(r *Record) error) error {
	var r Record
	for len(payload) > 0 {
		n, err := Decode(payload, &r)
		if err != nil {
			return err
		}
		if err := fn(&r); err != nil {
			return err
		}
		payload = payload[n:]
	}
	return nil
}
