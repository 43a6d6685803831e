package nvme

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestAllocator(t *testing.T) {
	a := NewAllocator(100)
	e1, err := a.Alloc(40)
	if err != nil || e1 != (Extent{0, 40}) {
		t.Fatalf("Alloc(40) = %v, %v", e1, err)
	}
	e2, _ := a.Alloc(40)
	if _, err := a.Alloc(30); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Alloc(30) with 20 free: %v", err)
	}
	a.Free(e1)
	a.Free(e1) // repeated Free is a no-op
	if a.FreeBlocks() != 60 {
		t.Fatalf("FreeBlocks = %d, want 60", a.FreeBlocks())
	}
	a.Free(e2)
	if a.FreeBlocks() != 100 || len(a.free) != 1 {
		t.Fatalf("after freeing all: %d free in %v", a.FreeBlocks(), a.free)
	}
	if err := a.MarkUsed(Extent{90, 20}); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("MarkUsed out of range: %v", err)
	}
	if err := a.MarkUsed(Extent{10, 10}); err != nil {
		t.Fatal(err)
	}
	if err := a.MarkUsed(Extent{15, 10}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("MarkUsed overlapping: %v", err)
	}
	if a.FreeBlocks() != 90 {
		t.Fatalf("FreeBlocks = %d", a.FreeBlocks())
	}
}

// TestAllocatorModel runs random operations against a bitmap model.
func TestAllocatorModel(t *testing.T) {
	const n = 1000
	a := NewAllocator(n)
	used := make([]bool, n)
	r := rand.New(rand.NewPCG(1, 2))
	var live []Extent
	for i := 0; i < 20000; i++ {
		switch r.IntN(3) {
		case 0, 1:
			e, err := a.Alloc(uint64(1 + r.IntN(20)))
			if err != nil {
				continue
			}
			for b := e.Start; b < e.End(); b++ {
				if used[b] {
					t.Fatalf("Alloc returned used block %d", b)
				}
				used[b] = true
			}
			live = append(live, e)
		case 2:
			if len(live) == 0 {
				continue
			}
			k := r.IntN(len(live))
			e := live[k]
			live = append(live[:k], live[k+1:]...)
			a.Free(e)
			for b := e.Start; b < e.End(); b++ {
				used[b] = false
			}
		}
		free := uint64(0)
		for _, u := range used {
			if !u {
				free++
			}
		}
		if a.FreeBlocks() != free {
			t.Fatalf("step %d: FreeBlocks %d, model %d", i, a.FreeBlocks(), free)
		}
	}
}
