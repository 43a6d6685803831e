package vfio

import (
	"math/rand/v2"
	"testing"
)

func TestIOVAAllocatorReuse(t *testing.T) {
	a := newIOVAAllocator()
	type span struct{ start, size uint64 }
	var live []span
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		if len(live) > 0 && r.IntN(2) == 0 {
			j := r.IntN(len(live))
			a.release(live[j].start, live[j].size)
			live = append(live[:j], live[j+1:]...)
			continue
		}
		size := uint64(1+r.IntN(64)) * pageBytes
		start, ok := a.alloc(size)
		if !ok {
			t.Fatal("iova space exhausted")
		}
		if start%pageBytes != 0 || start < iovaBase || start+size > iovaLimit {
			t.Fatalf("alloc %d -> %#x outside the space or misaligned", size, start)
		}
		for _, l := range live {
			if start < l.start+l.size && l.start < start+size {
				t.Fatalf("alloc [%#x,+%d) overlaps live [%#x,+%d)", start, size, l.start, l.size)
			}
		}
		live = append(live, span{start, size})
	}
	for _, l := range live {
		a.release(l.start, l.size)
	}
	if len(a.free) != 1 || a.free[0] != (iovaSpan{iovaBase, iovaLimit - iovaBase}) {
		t.Fatalf("after freeing everything the free list is %v, want one span of the whole space", a.free)
	}
}
