package nvme

import (
	"fmt"
	"sort"
	"sync"
)

// Extent is a run of Len data blocks starting at data block Start.
type Extent struct {
	Start uint64 // first data block
	Len   uint64 // number of blocks
}

// End is the first block after the extent.
func (e Extent) End() uint64 { return e.Start + e.Len }

// Allocator hands out extents of the data region. It lives in memory only:
// the owner (the file system) persists what it uses and rebuilds the
// allocator on open with MarkUsed. It is safe for concurrent use.
//
// Free space is a sorted list of disjoint free extents; Alloc is next-fit
// from a rotating cursor, so consecutive allocations land close together
// and the list is not rescanned from the start each time.
type Allocator struct {
	mu     sync.Mutex
	blocks uint64
	free   []Extent // sorted by Start, disjoint, never adjacent
	nfree  uint64
	cursor int
}

// NewAllocator returns an allocator over blocks data blocks, all free.
func NewAllocator(blocks uint64) *Allocator {
	a := &Allocator{blocks: blocks, nfree: blocks}
	if blocks > 0 {
		a.free = []Extent{{0, blocks}}
	}
	return a
}

// Blocks is the size of the region the allocator manages.
func (a *Allocator) Blocks() uint64 { return a.blocks }

// FreeBlocks is the number of free blocks.
func (a *Allocator) FreeBlocks() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.nfree
}

// Alloc returns a contiguous extent of n blocks, or ErrNoSpace when no free
// extent is that long (even if the total free space is larger).
func (a *Allocator) Alloc(n uint64) (Extent, error) {
	if n == 0 {
		return Extent{}, fmt.Errorf("allocate 0 blocks: %w", ErrOutOfRange)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for k := 0; k < len(a.free); k++ {
		i := (a.cursor + k) % len(a.free)
		f := &a.free[i]
		if f.Len < n {
			continue
		}
		e := Extent{f.Start, n}
		f.Start += n
		f.Len -= n
		a.cursor = i
		if f.Len == 0 {
			a.free = append(a.free[:i], a.free[i+1:]...)
			if a.cursor >= len(a.free) {
				a.cursor = 0
			}
		}
		a.nfree -= n
		return e, nil
	}
	return Extent{}, fmt.Errorf("allocate %d blocks (%d free, fragmented into %d extents): %w", n, a.nfree, len(a.free), ErrNoSpace)
}

// Free returns e to the free space. Blocks of e that are already free stay
// free (the union is taken), so a repeated Free is harmless; blocks beyond
// the region are ignored.
func (a *Allocator) Free(e Extent) {
	if e.Start >= a.blocks || e.Len == 0 {
		return
	}
	if e.End() > a.blocks || e.End() < e.Start {
		e.Len = a.blocks - e.Start
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// First free extent that ends at or after e.Start (touching counts).
	i := sort.Search(len(a.free), func(i int) bool { return a.free[i].End() >= e.Start })
	j := i
	start, end := e.Start, e.End()
	var covered uint64
	for j < len(a.free) && a.free[j].Start <= end {
		f := a.free[j]
		covered += overlap(f, e)
		start = min(start, f.Start)
		end = max(end, f.End())
		j++
	}
	merged := Extent{start, end - start}
	a.free = append(a.free[:i], append([]Extent{merged}, a.free[j:]...)...)
	a.nfree += e.Len - covered
	if a.cursor >= len(a.free) {
		a.cursor = 0
	}
}

func overlap(a, b Extent) uint64 {
	s, e := max(a.Start, b.Start), min(a.End(), b.End())
	if e > s {
		return e - s
	}
	return 0
}

// MarkUsed removes e from the free space; the owner calls it for every
// extent it references when it rebuilds the allocator. It fails with
// ErrOutOfRange when e leaves the region and with ErrNoSpace when part of e
// is already in use (a double reference), leaving the allocator unchanged.
func (a *Allocator) MarkUsed(e Extent) error {
	if e.Len == 0 || e.End() > a.blocks || e.End() < e.Start {
		return fmt.Errorf("mark extent [%d, +%d) used: region is [0, %d): %w", e.Start, e.Len, a.blocks, ErrOutOfRange)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	i := sort.Search(len(a.free), func(i int) bool { return a.free[i].End() > e.Start })
	if i == len(a.free) || a.free[i].Start > e.Start || a.free[i].End() < e.End() {
		return fmt.Errorf("mark extent [%d, +%d) used: part of it is already used: %w", e.Start, e.Len, ErrNoSpace)
	}
	f := a.free[i]
	left := Extent{f.Start, e.Start - f.Start}
	right := Extent{e.End(), f.End() - e.End()}
	var repl []Extent
	if left.Len > 0 {
		repl = append(repl, left)
	}
	if right.Len > 0 {
		repl = append(repl, right)
	}
	a.free = append(a.free[:i], append(repl, a.free[i+1:]...)...)
	a.nfree -= e.Len
	if a.cursor >= len(a.free) {
		a.cursor = 0
	}
	return nil
}
