// Package vfio is a userspace NVMe driver over vfio-pci: the kernel-bypass
// backend under weft's drive engine. It takes an NVMe controller away from
// the kernel's nvme driver, maps its registers into the process, and runs
// admin and I/O queues in process memory that the controller reaches
// through the IOMMU. The data path has no system calls, no interrupts and
// no allocation: a poller writes commands and rings a doorbell, then finds
// completions by their phase bit.
//
//	 poller goroutine                    controller (PCI, behind the IOMMU)
//	+------------------+  sqe + doorbell  +-----------------------------+
//	| QueuePair.Submit |----------------->| I/O SQ n   (DMA memory)     |
//	| QueuePair.Poll   |<-----------------| I/O CQ n   phase-bit cqes   |
//	+------------------+   CQ doorbell    +-----------------------------+
//	 Controller: admin SQ/CQ, Identify, Create I/O CQ (no IRQ) / SQ, Reset
//	 DMA: AllocDMA / RegisterBuffer regions, IOVA allocator, PRP lists
//	 Bind / Release: driver_override between nvme and vfio-pci
//
// Bring-up follows the NVMe base specification: enable memory decoding and
// bus mastering in PCI config space, CC.EN=0 and wait for CSTS.RDY=0,
// program AQA/ASQ/ACQ, enable with 4 KiB pages and 64/16-byte entries,
// Identify Controller (serial, model, MDTS), the active namespace list and
// Identify Namespace (size, LBA format), Set Features Number of Queues.
// Each poller then creates its own queue pair (NewQueuePair); a request
// larger than the controller's transfer limit is split into several
// commands, and a transfer over two memory pages uses the command's PRP
// list page.
//
// Failure handling: every command has a deadline; Poll completes requests
// past it with ErrTimeout and keeps their command ids reserved until the
// controller answers or is reset, so a late completion is never mistaken
// for a new command. When the controller reports fatal status (CSTS.CFS)
// or drops off the bus, every request completes with ErrFatal and Submit
// refuses work until Reset disables and re-enables the controller and
// re-creates every queue pair (requests in flight then complete with
// ErrReset).
//
// The burst API has the shape of the nvme package's io_uring backend —
// Submit(reqs) (n, err), Poll(out) n, PollFd — so a drive can be served by
// either; the nvme package adapts it behind Drive when the drive is named
// "vfio:<pci address>".
//
// Tests of everything that needs a controller run in a QEMU guest with an
// emulated NVMe behind intel-iommu (TestGuestVFIO, internal/testkit).
package vfio
