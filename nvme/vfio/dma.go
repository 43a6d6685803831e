package vfio

// dma.go owns the memory the controller reads and writes: regions of host
// memory, each mapped once into the container's IOMMU at a contiguous IOVA
// range, so translating a buffer is a range lookup and a subtraction.
//
//	process memory        IOMMU (container)        controller
//	[mem ........]  ───►  [iova ........]   ◄───   PRP entries
//
// Queues, PRP lists and buffers from AllocDMA live in regions the driver
// mmaps itself (locked, populated, huge pages when the size allows); callers
// can also register their own page-aligned buffers (RegisterBuffer), the
// equivalent of io_uring's registered buffers. A buffer in no region is
// mapped for the duration of its command only: correct, but a map and an
// unmap ioctl per request.

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePageBytes is the huge page size tried for large DMA allocations.
const hugePageBytes = 2 << 20

// dmaRegion is one host memory range mapped for the device.
type dmaRegion struct {
	start, end uintptr // process addresses [start, end)
	iova       uint64
	mem        []byte // set when the driver mmapped it (and unmaps it)
}

// dmaRegions is the copy-on-write list of regions: pollers translate
// buffers against a snapshot without locks; the rare writers (register,
// alloc, release) swap in a new slice under Controller.mu.
type dmaRegions struct {
	list atomic.Pointer[[]dmaRegion]
}

// lookup returns the IOVA of [p, p+n) when one region holds it whole.
func (r *dmaRegions) lookup(p uintptr, n int) (uint64, bool) {
	l := r.list.Load()
	if l == nil {
		return 0, false
	}
	for i := range *l {
		g := &(*l)[i]
		if p >= g.start && p+uintptr(n) <= g.end {
			return g.iova + uint64(p-g.start), true
		}
	}
	return 0, false
}

func (r *dmaRegions) add(g dmaRegion) {
	var next []dmaRegion
	if l := r.list.Load(); l != nil {
		next = append(next, *l...)
	}
	next = append(next, g)
	r.list.Store(&next)
}

// remove drops the region starting at start and returns it.
func (r *dmaRegions) remove(start uintptr) (dmaRegion, bool) {
	l := r.list.Load()
	if l == nil {
		return dmaRegion{}, false
	}
	var next []dmaRegion
	var found dmaRegion
	ok := false
	for _, g := range *l {
		if g.start == start && !ok {
			found, ok = g, true
			continue
		}
		next = append(next, g)
	}
	r.list.Store(&next)
	return found, ok
}

// mmapDMA returns size bytes of zeroed, populated, locked anonymous memory,
// from huge pages when size is a multiple of the huge page size and the
// host has some reserved.
func mmapDMA(size int) ([]byte, error) {
	const flags = unix.MAP_PRIVATE | unix.MAP_ANONYMOUS | unix.MAP_POPULATE
	if size%hugePageBytes == 0 {
		if m, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, flags|unix.MAP_HUGETLB|unix.MAP_LOCKED); err == nil {
			return m, nil
		}
	}
	m, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, flags|unix.MAP_LOCKED)
	if err != nil {
		// MAP_LOCKED fails beyond RLIMIT_MEMLOCK; VFIO pins the pages
		// itself when they are mapped, so unlocked memory still works.
		m, err = unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, flags)
	}
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes of DMA memory: %w", size, err)
	}
	return m, nil
}

func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// AllocDMA returns n bytes (rounded up to a page) of memory the controller
// can read and write directly: IO through buffers carved from it needs no
// per-request mapping. The memory stays valid until FreeDMA or Close.
func (c *Controller) AllocDMA(n int) ([]byte, error) {
	if n <= 0 {
		return nil, fmt.Errorf("vfio %s: alloc %d bytes of DMA memory: %w", c.addr, n, ErrInvalid)
	}
	size := int(roundUp(uint64(n), pageBytes))
	mem, err := mmapDMA(size)
	if err != nil {
		return nil, fmt.Errorf("vfio %s: %w", c.addr, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.mapRegionLocked(mem, true); err != nil {
		unix.Munmap(mem)
		return nil, err
	}
	return mem[:n:n], nil
}

// FreeDMA releases memory returned by AllocDMA.
func (c *Controller) FreeDMA(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unmapRegionLocked(addrOf(b))
}

// RegisterBuffer maps the caller's buffer b (page-aligned, a whole number
// of pages) for the controller until UnregisterBuffer or Close, so IO
// through it needs no per-request mapping. The pages stay pinned; b must
// not be freed or reused for other memory while registered.
func (c *Controller) RegisterBuffer(b []byte) error {
	if len(b) == 0 || addrOf(b)%pageBytes != 0 || len(b)%pageBytes != 0 {
		return fmt.Errorf("vfio %s: register buffer at %#x, %d bytes: want page-aligned address and length: %w",
			c.addr, addrOf(b), len(b), ErrInvalid)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mapRegionLocked(b, false)
}

// UnregisterBuffer undoes RegisterBuffer. No command may be using b.
func (c *Controller) UnregisterBuffer(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unmapRegionLocked(addrOf(b))
}

func (c *Controller) mapRegionLocked(mem []byte, owned bool) error {
	iova, ok := c.iova.alloc(uint64(len(mem)))
	if !ok {
		return fmt.Errorf("vfio %s: IOVA space exhausted mapping %d bytes: %w", c.addr, len(mem), ErrInvalid)
	}
	if err := c.dev.mapDMA(addrOf(mem), iova, uint64(len(mem))); err != nil {
		c.iova.release(iova, uint64(len(mem)))
		return err
	}
	g := dmaRegion{start: addrOf(mem), end: addrOf(mem) + uintptr(len(mem)), iova: iova}
	if owned {
		g.mem = mem
	}
	c.regions.add(g)
	return nil
}

func (c *Controller) unmapRegionLocked(start uintptr) error {
	g, ok := c.regions.remove(start)
	if !ok {
		return fmt.Errorf("vfio %s: no DMA region at %#x: %w", c.addr, start, ErrInvalid)
	}
	size := uint64(g.end - g.start)
	err := c.dev.unmapDMA(g.iova, size)
	c.iova.release(g.iova, size)
	if g.mem != nil {
		unix.Munmap(g.mem)
	}
	return err
}

// mapTransient maps the pages under [p, p+n) for one command and returns
// the IOVA of p and the mapping to undo with unmapTransient.
func (c *Controller) mapTransient(p uintptr, n int) (iova, mapIOVA, mapSize uint64, err error) {
	first := p &^ (pageBytes - 1)
	size := roundUp(uint64(p-first)+uint64(n), pageBytes)
	c.mu.Lock()
	defer c.mu.Unlock()
	base, ok := c.iova.alloc(size)
	if !ok {
		return 0, 0, 0, fmt.Errorf("vfio %s: IOVA space exhausted: %w", c.addr, ErrInvalid)
	}
	if err := c.dev.mapDMA(first, base, size); err != nil {
		c.iova.release(base, size)
		return 0, 0, 0, err
	}
	return base + uint64(p-first), base, size, nil
}

func (c *Controller) unmapTransient(iova, size uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dev.unmapDMA(iova, size)
	c.iova.release(iova, size)
}
