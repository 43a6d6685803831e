package xsk

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ring is the index part of one shared ring. Producer and consumer are
// shared with the kernel; the cached copies save an atomic load per entry.
type ring struct {
	producer   *uint32
	consumer   *uint32
	flags      *uint32
	mask       uint32
	size       uint32
	cachedProd uint32
	cachedCons uint32
	mem        []byte
}

func newRing(mem []byte, off unix.XDPRingOffset, size uint32) ring {
	return ring{
		producer: (*uint32)(unsafe.Pointer(&mem[off.Producer])),
		consumer: (*uint32)(unsafe.Pointer(&mem[off.Consumer])),
		flags:    (*uint32)(unsafe.Pointer(&mem[off.Flags])),
		mask:     size - 1,
		size:     size,
		mem:      mem,
	}
}

// free returns how many entries a producer may write, refreshing the
// consumer index from the kernel only when the cached view is short of n.
func (r *ring) free(n uint32) uint32 {
	f := r.size - (r.cachedProd - r.cachedCons)
	if f >= n {
		return f
	}
	r.cachedCons = atomic.LoadUint32(r.consumer)
	return r.size - (r.cachedProd - r.cachedCons)
}

// avail returns how many entries a consumer may read, refreshing the
// producer index from the kernel when the cached view is empty.
func (r *ring) avail() uint32 {
	a := r.cachedProd - r.cachedCons
	if a > 0 {
		return a
	}
	r.cachedProd = atomic.LoadUint32(r.producer)
	return r.cachedProd - r.cachedCons
}

// publish makes the entries written since the last publish visible to the
// kernel. The atomic store orders the entry writes before the index.
func (r *ring) publish() { atomic.StoreUint32(r.producer, r.cachedProd) }

// release hands the entries read since the last release back to the kernel.
func (r *ring) release() { atomic.StoreUint32(r.consumer, r.cachedCons) }

// needWakeup reports whether the kernel asked for a syscall to make
// progress on this ring.
func (r *ring) needWakeup() bool {
	return atomic.LoadUint32(r.flags)&unix.XDP_RING_NEED_WAKEUP != 0
}

// pending is how many produced entries the kernel has not consumed yet.
func (r *ring) pending() uint32 {
	return r.cachedProd - atomic.LoadUint32(r.consumer)
}

// addrRing is the fill or completion ring: entries are UMEM addresses.
type addrRing struct {
	ring
	addrs []uint64
}

// descRing is the RX or TX ring: entries are descriptors.
type descRing struct {
	ring
	descs []unix.XDPDesc
}

func newAddrRing(mem []byte, off unix.XDPRingOffset, size uint32) addrRing {
	return addrRing{
		ring:  newRing(mem, off, size),
		addrs: unsafe.Slice((*uint64)(unsafe.Pointer(&mem[off.Desc])), size),
	}
}

func newDescRing(mem []byte, off unix.XDPRingOffset, size uint32) descRing {
	return descRing{
		ring:  newRing(mem, off, size),
		descs: unsafe.Slice((*unix.XDPDesc)(unsafe.Pointer(&mem[off.Desc])), size),
	}
}
