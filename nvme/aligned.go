package nvme

import "unsafe"

// AlignedBuffer returns a zeroed buffer of n bytes whose address is a
// multiple of BlockSize, as O_DIRECT IO and ReadBlocks/WriteBlocks require.
// n is rounded up to a multiple of BlockSize.
func AlignedBuffer(n int) []byte {
	n = (n + BlockSize - 1) / BlockSize * BlockSize
	raw := make([]byte, n+BlockSize)
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(raw))) & (BlockSize - 1))
	return raw[off : off+n : off+n]
}

// isAligned reports whether b starts on a BlockSize boundary and holds a
// whole, non-zero number of blocks.
func isAligned(b []byte) bool {
	return len(b) > 0 && len(b)%BlockSize == 0 &&
		uintptr(unsafe.Pointer(unsafe.SliceData(b)))%BlockSize == 0
}
