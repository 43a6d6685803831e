package vfio

import "sort"

// IOVA space the driver hands out. It starts above 4 GiB so it never meets
// the x86 MSI window (0xfee00000) or other reserved low ranges, and stays
// below 2^39, the smallest address width of common IOMMUs (QEMU's
// intel-iommu default).
const (
	iovaBase  = 1 << 32
	iovaLimit = 1 << 39
)

// iovaSpan is a free range [start, start+size) of IO virtual addresses.
type iovaSpan struct{ start, size uint64 }

// iovaAllocator hands out page-aligned IOVA ranges first-fit and merges
// freed ranges with their neighbours. The free list stays short because
// long-lived regions (queues, registered buffers) are allocated first and
// short-lived mappings come and go at the end.
type iovaAllocator struct {
	free []iovaSpan // sorted by start, never adjacent
}

func newIOVAAllocator() *iovaAllocator {
	return &iovaAllocator{free: []iovaSpan{{iovaBase, iovaLimit - iovaBase}}}
}

// alloc returns the start of a free range of size bytes (rounded up to a
// page) or false when the space is exhausted.
func (a *iovaAllocator) alloc(size uint64) (uint64, bool) {
	size = roundUp(size, pageBytes)
	for i := range a.free {
		s := &a.free[i]
		if s.size < size {
			continue
		}
		start := s.start
		s.start += size
		s.size -= size
		if s.size == 0 {
			a.free = append(a.free[:i], a.free[i+1:]...)
		}
		return start, true
	}
	return 0, false
}

// release returns [start, start+size) to the free list.
func (a *iovaAllocator) release(start, size uint64) {
	size = roundUp(size, pageBytes)
	i := sort.Search(len(a.free), func(i int) bool { return a.free[i].start > start })
	// Merge with the previous and next spans when they touch.
	if i > 0 && a.free[i-1].start+a.free[i-1].size == start {
		a.free[i-1].size += size
		if i < len(a.free) && start+size == a.free[i].start {
			a.free[i-1].size += a.free[i].size
			a.free = append(a.free[:i], a.free[i+1:]...)
		}
		return
	}
	if i < len(a.free) && start+size == a.free[i].start {
		a.free[i].start = start
		a.free[i].size += size
		return
	}
	a.free = append(a.free, iovaSpan{})
	copy(a.free[i+1:], a.free[i:])
	a.free[i] = iovaSpan{start, size}
}

func roundUp(v, to uint64) uint64 { return (v + to - 1) / to * to }
