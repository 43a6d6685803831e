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
// # Two backends under one burst API
//
// The burst API has the shape of the nvme package's io_uring backend —
// Submit(reqs) (n, err), Poll(out) n, PollFd — so a drive can be served by
// either. nvme.Open picks by name: a block device path is served by
// io_uring (IOPOLL on NVMe poll queues with Options.Poll = PollIO), a PCI
// address "vfio:0000:00:03.0" by this driver (nvme/backend_vfio.go binds the
// controller to vfio-pci and gives it back to the kernel nvme driver at
// Close). Above the backend nothing changes: the same superblocks, checksum
// table and CRC32C per block, the same Drive.Submit/Poll and blocking
// calls, so a drive formatted through vfio opens through io_uring.
//
//	       nvme.Drive: Submit / Poll / ReadBlocks / Flush (CRC32C, flush chains)
//	                         │ rawReq / rawCompletion
//	       ┌─────────────────┴──────────────────┐
//	io_uring backend                     vfio backend
//	/dev/nvme0n1                         vfio:0000:00:03.0
//	SQE → io_uring_enter → nvme driver   sqe → doorbell MMIO (no syscall)
//	IOPOLL: kernel polls poll queues     phase-bit polling of our own CQ
//	PollFd: eventfd (or -1 with IOPOLL)  PollFd: -1 (no interrupts at all)
//
// Tests of everything that needs a controller run in a QEMU guest with an
// emulated NVMe behind intel-iommu (TestGuestVFIO, internal/testkit).
package vfio
