package stripe

import (
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/reedsolomon"
	"github.com/weft-fs/weft/dataplane/journal"
)

// Geometry constants.
const (
	// RowBytes is the striping unit: consecutive 4 KiB blocks of a file go
	// to consecutive data chunks, so a small tail stripe spreads over all N
	// drives and needs only ceil(blocks/N) rows per chunk.
	RowBytes = 4096
	// RowsMax is the number of rows in a full stripe: 64 KiB per drive.
	// 64 KiB chunks make a 1 MiB application write a whole stripe for
	// every N up to 16 (no read-modify-write) while keeping the buffer of a
	// cached stripe at most 1.25 MiB for 16+4.
	RowsMax = 16
	// ChunkBytes is one drive's share of a full stripe.
	ChunkBytes = RowsMax * RowBytes
	// DataMin .. DataMax and the parity choices are the protections weft
	// accepts.
	DataMin = 3
	DataMax = 16
)

// Errors callers branch on.
var (
	// ErrProtection is an N+P outside what weft accepts.
	ErrProtection = errors.New("stripe: protection out of range")
	// ErrLost means more chunks of a stripe failed than parity can cover.
	ErrLost = errors.New("stripe: data lost: too many failed chunks")
)

// CheckProtection validates N+P against the accepted range.
func CheckProtection(n, p int) error {
	if n < DataMin || n > DataMax || (p != 2 && p != 4) {
		return fmt.Errorf("%w: protection %d+%d is out of range: data drives must be %d..%d and parity 2 or 4",
			ErrProtection, n, p, DataMin, DataMax)
	}
	return nil
}

// Loc is where a stripe lives: chunk i (data for i < N, parity after)
// holds Rows rows on one drive; all chunks are on distinct drives. A
// chunk with Blocks 0 is absent: the stripe was written while drives were
// missing and reads as if that chunk had failed.
type Loc struct {
	Rows   uint32
	Chunks []journal.Chunk
}

// Layout is an N+P stripe geometry with its erasure code. A Layout is
// safe for concurrent use.
type Layout struct {
	N, P int
	enc  reedsolomon.Encoder
}

// NewLayout returns the layout for N+P.
func NewLayout(n, p int) (*Layout, error) {
	if err := CheckProtection(n, p); err != nil {
		return nil, err
	}
	enc, err := reedsolomon.New(n, p)
	if err != nil {
		return nil, fmt.Errorf("erasure code %d+%d: %w", n, p, err)
	}
	return &Layout{N: n, P: p, enc: enc}, nil
}

// DataBytes is the file bytes one stripe holds.
func (l *Layout) DataBytes() int64 { return int64(l.N) * ChunkBytes }

// BufferBytes is the size of a stripe buffer: all N+P chunks, shard-major.
func (l *Layout) BufferBytes() int { return (l.N + l.P) * ChunkBytes }

// RowsFor is the rows per chunk needed to hold the first n data bytes.
func (l *Layout) RowsFor(n int64) uint32 {
	blocks := (n + RowBytes - 1) / RowBytes
	return uint32((blocks + int64(l.N) - 1) / int64(l.N))
}

// Pos maps a byte offset within the stripe's data to its offset in the
// shard-major buffer.
func (l *Layout) Pos(off int64) int {
	blk := off / RowBytes
	shard := blk % int64(l.N)
	row := blk / int64(l.N)
	return int(shard)*ChunkBytes + int(row)*RowBytes + int(off%RowBytes)
}

// CopyOut copies stripe data bytes [off, off+len(dst)) from buf to dst.
func (l *Layout) CopyOut(dst []byte, buf []byte, off int64) {
	for len(dst) > 0 {
		p := l.Pos(off)
		n := copy(dst, buf[p:p+RowBytes-int(off%RowBytes)])
		dst = dst[n:]
		off += int64(n)
	}
}

// CopyIn copies src into stripe data bytes starting at off.
func (l *Layout) CopyIn(buf []byte, off int64, src []byte) {
	for len(src) > 0 {
		p := l.Pos(off)
		n := copy(buf[p:p+RowBytes-int(off%RowBytes)], src)
		src = src[n:]
		off += int64(n)
	}
}

// Zero clears stripe data bytes [off, end).
func (l *Layout) Zero(buf []byte, off, end int64) {
	for off < end {
		p := l.Pos(off)
		n := min(int64(RowBytes)-off%RowBytes, end-off)
		clear(buf[p : p+int(n)])
		off += n
	}
}

// Shards slices buf into N+P shards of rows rows each, reusing shards.
func (l *Layout) Shards(buf []byte, rows uint32, shards [][]byte) [][]byte {
	shards = shards[:0]
	for i := 0; i < l.N+l.P; i++ {
		shards = append(shards, buf[i*ChunkBytes:i*ChunkBytes+int(rows)*RowBytes])
	}
	return shards
}

// Encode computes the parity chunks of the first rows rows of buf.
func (l *Layout) Encode(buf []byte, rows uint32, shards [][]byte) error {
	return l.enc.Encode(l.Shards(buf, rows, shards))
}

// Device is the part of a drive a stripe needs; *nvme.Drive has it.
type Device = journal.Device

// Devices maps a pool drive number to its device, nil when missing.
type Devices = journal.Devices

// parallelRowsMin is the chunk size (rows) from which a stripe's chunks
// are read or written concurrently, one goroutine per drive: below it the
// goroutine costs more than the overlap gains.
const parallelRowsMin = 4

// Write writes every chunk of the stripe in buf (parity already encoded)
// to loc. Any failure fails the write: the caller allocates elsewhere.
func (l *Layout) Write(devs Devices, loc *Loc, buf []byte) error {
	write := func(i int) error {
		c := loc.Chunks[i]
		if c.Blocks == 0 {
			return nil // absent chunk of a degraded stripe
		}
		d := devs(c.Drive)
		if d == nil {
			return fmt.Errorf("write stripe chunk %d: drive %d missing", i, c.Drive)
		}
		if err := d.WriteBlocks(c.Block, buf[i*ChunkBytes:i*ChunkBytes+int(loc.Rows)*RowBytes]); err != nil {
			return fmt.Errorf("write stripe chunk %d on drive %d: %w", i, c.Drive, err)
		}
		return nil
	}
	if loc.Rows < parallelRowsMin {
		for i := range loc.Chunks {
			if err := write(i); err != nil {
				return err
			}
		}
		return nil
	}
	var errs [journal.ChunksMax]error
	var wg sync.WaitGroup
	for i := range loc.Chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = write(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs[:len(loc.Chunks)]...)
}

// readChunks reads chunks [from, to) into their shards, concurrently
// when they are large, and reports which failed.
func readChunks(devs Devices, loc *Loc, shards [][]byte, from, to int, failed *[journal.ChunksMax]bool) {
	if loc.Rows < parallelRowsMin || to-from < 2 {
		for i := from; i < to; i++ {
			failed[i] = !readChunk(devs, loc.Chunks[i], shards[i])
		}
		return
	}
	var wg sync.WaitGroup
	for i := from; i < to; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			failed[i] = !readChunk(devs, loc.Chunks[i], shards[i])
		}()
	}
	wg.Wait()
}

// Read fills the data chunks of buf from loc, reconstructing chunks whose
// drive is missing or returns an error (including a checksum failure)
// from the others. It reports how many chunks were reconstructed; more
// than P failures is ErrLost. Rows beyond loc.Rows are zeroed.
func (l *Layout) Read(devs Devices, loc *Loc, buf []byte, shards [][]byte) (reconstructed int, err error) {
	rows := int(loc.Rows)
	shards = l.Shards(buf, loc.Rows, shards)
	failed := 0
	var bad [journal.ChunksMax]bool
	readChunks(devs, loc, shards, 0, l.N, &bad)
	for i := 0; i < l.N; i++ {
		clear(buf[i*ChunkBytes+rows*RowBytes : (i+1)*ChunkBytes])
		if bad[i] {
			shards[i] = shards[i][:0]
			failed++
		}
	}
	if failed == 0 {
		return 0, nil
	}
	// Read just enough parity to cover the failures.
	need := failed
	for i := l.N; i < l.N+l.P; i++ {
		if need > 0 && readChunk(devs, loc.Chunks[i], shards[i]) {
			need--
			continue
		}
		shards[i] = shards[i][:0]
	}
	if need > 0 {
		return failed, fmt.Errorf("%w: %d of %d data chunks failed and only %d parity chunks read", ErrLost, failed, l.N, failed-need)
	}
	if err := l.enc.ReconstructData(shards); err != nil {
		return failed, fmt.Errorf("%w: reconstruct: %v", ErrLost, err)
	}
	return failed, nil
}

func readChunk(devs Devices, c journal.Chunk, dst []byte) bool {
	if c.Blocks == 0 {
		return false // absent
	}
	d := devs(c.Drive)
	return d != nil && d.ReadBlocks(c.Block, dst) == nil
}

// Verify reads every chunk of loc into buf and checks the parity. It
// returns the number of chunks that could not be read; ok is false when
// all chunks were read and parity does not match.
func (l *Layout) Verify(devs Devices, loc *Loc, buf []byte, shards [][]byte) (unreadable int, ok bool, err error) {
	shards = l.Shards(buf, loc.Rows, shards)
	var bad [journal.ChunksMax]bool
	readChunks(devs, loc, shards, 0, len(shards), &bad)
	for i := range shards {
		if bad[i] {
			shards[i] = shards[i][:0]
			unreadable++
		}
	}
	if unreadable > l.P {
		return unreadable, false, ErrLost
	}
	if unreadable > 0 {
		if err := l.enc.Reconstruct(shards); err != nil {
			return unreadable, false, err
		}
	}
	ok, err = l.enc.Verify(shards)
	return unreadable, ok, err
}

// ReadDirect reads stripe data bytes [off, off+len(dst)) straight from the
// data chunks holding them, one request per 4 KiB block, without the rest
// of the stripe. bounce is block-aligned scratch of at least RowBytes. It
// returns false if any chunk fails: the caller then reads the whole stripe,
// which rebuilds from parity.
func (l *Layout) ReadDirect(devs Devices, loc *Loc, off int64, dst []byte, bounce []byte) bool {
	for len(dst) > 0 {
		blk := off / RowBytes
		in := int(off % RowBytes)
		n := min(len(dst), RowBytes-in)
		row := uint32(blk / int64(l.N))
		if row >= loc.Rows {
			clear(dst[:n])
		} else {
			c := loc.Chunks[blk%int64(l.N)]
			d := devs(c.Drive)
			if d == nil || c.Blocks == 0 || d.ReadBlocks(c.Block+uint64(row), bounce[:RowBytes]) != nil {
				return false
			}
			copy(dst[:n], bounce[in:])
		}
		dst = dst[n:]
		off += int64(n)
	}
	return true
}
