package nvme

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// On-drive format constants.
const (
	// BlockSize is the size of every weft block in bytes: the unit of
	// checksums, allocation and IO.
	BlockSize = 4096
	// FormatVersion is the on-drive format this package writes. Open
	// accepts this version and older ones, and refuses newer ones.
	FormatVersion = 1
	// AppRootBytesMax is the largest AppRoot the superblock holds.
	AppRootBytesMax = 512
	// DriveBytesMin is the smallest drive Format accepts.
	DriveBytesMin = 16 << 20
	// superblockCopies is the number of superblock copies, at blocks 0 and 1.
	superblockCopies = 2
	// tableStartBlock is where the checksum table begins.
	tableStartBlock = superblockCopies
	// dataAlignBlocks aligns the data region to 1 MiB so large IO stays
	// aligned to device stripes and erase blocks.
	dataAlignBlocks = (1 << 20) / BlockSize
	// checksumBytes is the size of one checksum table entry.
	checksumBytes = 4
	// entriesPerTableBlock is the number of data blocks one table block covers.
	entriesPerTableBlock = BlockSize / checksumBytes
)

// superblockMagic marks a weft drive: "WEFTDRV\x00" read as little endian.
const superblockMagic uint64 = 0x00565244_54464557

// Superblock field offsets; the CRC32C of bytes [0, sbCRCOff) sits at sbCRCOff.
const (
	sbMagicOff       = 0
	sbVersionOff     = 8
	sbCopyOff        = 12
	sbGenerationOff  = 16
	sbDriveUUIDOff   = 24
	sbClusterUUIDOff = 40
	sbBlockSizeOff   = 56
	sbAppRootLenOff  = 60
	sbCapacityOff    = 64
	sbTableStartOff  = 72
	sbTableBlocksOff = 80
	sbDataStartOff   = 88
	sbDataBlocksOff  = 96
	sbAppRootOff     = 128
	sbCRCOff         = BlockSize - 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// superblock is the decoded form of one superblock copy.
type superblock struct {
	version     uint32
	copy        uint32 // 0 or 1: which copy this is, so copies cannot be swapped
	generation  uint64 // bumped by every rewrite; the higher valid copy wins
	driveUUID   [16]byte
	clusterUUID [16]byte
	blockSize   uint32
	capacity    uint64 // bytes of the device when formatted
	tableStart  uint64 // blocks
	tableBlocks uint64
	dataStart   uint64 // blocks
	dataBlocks  uint64
	appRoot     []byte // <= AppRootBytesMax
}

// layoutFor computes the region sizes for a drive of capacity bytes.
func layoutFor(capacity uint64) (tableBlocks, dataStart, dataBlocks uint64, err error) {
	if capacity < DriveBytesMin {
		return 0, 0, 0, fmt.Errorf("%w: %d bytes, need at least %d", ErrTooSmall, capacity, DriveBytesMin)
	}
	total := capacity / BlockSize
	// Each data block costs BlockSize + checksumBytes bytes; solve for the
	// largest data region that fits after the superblocks, the table and
	// the 1 MiB alignment of the data start.
	free := total - tableStartBlock
	dataBlocks = free - (free+entriesPerTableBlock)/(entriesPerTableBlock+1)
	for {
		tableBlocks = (dataBlocks + entriesPerTableBlock - 1) / entriesPerTableBlock
		dataStart = roundUp(tableStartBlock+tableBlocks, dataAlignBlocks)
		if dataStart+dataBlocks <= total {
			return tableBlocks, dataStart, dataBlocks, nil
		}
		dataBlocks = total - dataStart
	}
}

func roundUp(v, to uint64) uint64 { return (v + to - 1) / to * to }

// encode writes sb into b (BlockSize bytes) with its CRC32C.
func (sb *superblock) encode(b []byte) {
	clear(b[:BlockSize])
	le := binary.LittleEndian
	le.PutUint64(b[sbMagicOff:], superblockMagic)
	le.PutUint32(b[sbVersionOff:], sb.version)
	le.PutUint32(b[sbCopyOff:], sb.copy)
	le.PutUint64(b[sbGenerationOff:], sb.generation)
	copy(b[sbDriveUUIDOff:], sb.driveUUID[:])
	copy(b[sbClusterUUIDOff:], sb.clusterUUID[:])
	le.PutUint32(b[sbBlockSizeOff:], sb.blockSize)
	le.PutUint32(b[sbAppRootLenOff:], uint32(len(sb.appRoot)))
	le.PutUint64(b[sbCapacityOff:], sb.capacity)
	le.PutUint64(b[sbTableStartOff:], sb.tableStart)
	le.PutUint64(b[sbTableBlocksOff:], sb.tableBlocks)
	le.PutUint64(b[sbDataStartOff:], sb.dataStart)
	le.PutUint64(b[sbDataBlocksOff:], sb.dataBlocks)
	copy(b[sbAppRootOff:], sb.appRoot)
	le.PutUint32(b[sbCRCOff:], crc32.Checksum(b[:sbCRCOff], castagnoli))
}

// decodeSuperblock parses one superblock copy. It returns ErrForeign when
// the magic is not weft's, ErrCorrupt when the checksum or the layout is
// inconsistent and ErrVersion when the format is newer than this package.
// It never panics on any input (FuzzSuperblock).
func decodeSuperblock(b []byte) (superblock, error) {
	var sb superblock
	if len(b) < BlockSize {
		return sb, fmt.Errorf("%w: superblock is %d bytes, want %d", ErrCorrupt, len(b), BlockSize)
	}
	le := binary.LittleEndian
	if m := le.Uint64(b[sbMagicOff:]); m != superblockMagic {
		if bytes.Count(b[:BlockSize], []byte{0}) == BlockSize {
			return sb, fmt.Errorf("%w: superblock is all zeros", ErrCorrupt)
		}
		return sb, fmt.Errorf("%w: magic %#016x, want %#016x", ErrForeign, m, superblockMagic)
	}
	if got, want := crc32.Checksum(b[:sbCRCOff], castagnoli), le.Uint32(b[sbCRCOff:]); got != want {
		return sb, fmt.Errorf("%w: superblock crc32c %#08x, stored %#08x", ErrCorrupt, got, want)
	}
	sb.version = le.Uint32(b[sbVersionOff:])
	if sb.version > FormatVersion || sb.version == 0 {
		return sb, fmt.Errorf("%w: format version %d, this weft reads 1..%d", ErrVersion, sb.version, FormatVersion)
	}
	sb.copy = le.Uint32(b[sbCopyOff:])
	sb.generation = le.Uint64(b[sbGenerationOff:])
	copy(sb.driveUUID[:], b[sbDriveUUIDOff:])
	copy(sb.clusterUUID[:], b[sbClusterUUIDOff:])
	sb.blockSize = le.Uint32(b[sbBlockSizeOff:])
	rootLen := le.Uint32(b[sbAppRootLenOff:])
	sb.capacity = le.Uint64(b[sbCapacityOff:])
	sb.tableStart = le.Uint64(b[sbTableStartOff:])
	sb.tableBlocks = le.Uint64(b[sbTableBlocksOff:])
	sb.dataStart = le.Uint64(b[sbDataStartOff:])
	sb.dataBlocks = le.Uint64(b[sbDataBlocksOff:])
	switch {
	case sb.copy >= superblockCopies:
		return sb, fmt.Errorf("%w: superblock copy index %d, want 0..%d", ErrCorrupt, sb.copy, superblockCopies-1)
	case sb.blockSize != BlockSize:
		return sb, fmt.Errorf("%w: block size %d, want %d", ErrCorrupt, sb.blockSize, BlockSize)
	case rootLen > AppRootBytesMax:
		return sb, fmt.Errorf("%w: app root length %d, max %d", ErrCorrupt, rootLen, AppRootBytesMax)
	}
	tb, ds, db, err := layoutFor(sb.capacity)
	if err != nil {
		return sb, fmt.Errorf("%w: superblock capacity: %v", ErrCorrupt, err)
	}
	if sb.tableStart != tableStartBlock || sb.tableBlocks != tb || sb.dataStart != ds || sb.dataBlocks != db {
		return sb, fmt.Errorf("%w: layout table %d+%d data %d+%d does not match capacity %d (want table %d+%d data %d+%d)",
			ErrCorrupt, sb.tableStart, sb.tableBlocks, sb.dataStart, sb.dataBlocks, sb.capacity,
			tableStartBlock, tb, ds, db)
	}
	sb.appRoot = append([]byte(nil), b[sbAppRootOff:sbAppRootOff+rootLen]...)
	return sb, nil
}
