package nvme

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

func FuzzSuperblock(f *testing.F) {
	sb := superblock{version: 1, generation: 7, blockSize: BlockSize, capacity: 1 << 30, appRoot: []byte("root")}
	sb.tableStart = tableStartBlock
	sb.tableBlocks, sb.dataStart, sb.dataBlocks, _ = layoutFor(sb.capacity)
	good := make([]byte, BlockSize)
	sb.encode(good)
	f.Add(good)
	f.Add(make([]byte, BlockSize))
	f.Add([]byte("XFSB"))
	bad := append([]byte(nil), good...)
	bad[100] ^= 1
	f.Add(bad)
	f.Fuzz(func(t *testing.T, b []byte) {
		sb, err := decodeSuperblock(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrForeign) && !errors.Is(err, ErrVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// A decoded superblock re-encodes to the same bytes.
		out := make([]byte, BlockSize)
		sb.encode(out)
		sb2, err := decodeSuperblock(out)
		if err != nil || sb2.generation != sb.generation || string(sb2.appRoot) != string(sb.appRoot) {
			t.Fatalf("re-encode: %v", err)
		}
		if sb.dataStart+sb.dataBlocks > sb.capacity/BlockSize || len(sb.appRoot) > AppRootBytesMax {
			t.Fatalf("accepted inconsistent layout %+v", sb)
		}
	})
}

func TestLayout(t *testing.T) {
	for _, c := range []uint64{DriveBytesMin, DriveBytesMin + 12345, 1 << 30, 1 << 40, 1<<64 - 1} {
		tb, ds, db, err := layoutFor(c)
		if err != nil {
			t.Fatal(err)
		}
		total := c / BlockSize
		if ds+db > total || tb*entriesPerTableBlock < db || ds < tableStartBlock+tb || ds%dataAlignBlocks != 0 {
			t.Fatalf("capacity %d: table %d data %d+%d of %d", c, tb, ds, db, total)
		}
		if total-(ds+db) > dataAlignBlocks+2 {
			t.Errorf("capacity %d: %d blocks wasted", c, total-(ds+db))
		}
	}
}

func TestIndexChecksum(t *testing.T) {
	for _, i := range []uint64{0, 1, 255, 256, 1 << 40, ^uint64(0), 0x0123456789abcdef} {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], i)
		if got, want := indexChecksum(i), crc32.Checksum(b[:], castagnoli); got != want {
			t.Fatalf("indexChecksum(%d) = %#x, want %#x", i, got, want)
		}
	}
}
