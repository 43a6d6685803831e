// Package guesttest holds the nvme tests that need a real NVMe controller:
// IOPOLL on NVMe poll queues, a device without poll queues refused, and a
// drive formatted through the userspace vfio driver then read through
// io_uring after the controller goes back to the kernel nvme driver.
//
// Each TestGuestXxx runs on the host: it builds this package's tests as a
// static binary and boots a QEMU guest (internal/testkit, ci/guest) with an
// emulated NVMe controller, where the matching TestInGuestXxx runs. They
// skip, with the reason, when qemu-system-x86_64 or the pinned guest kernel
// is missing and cannot be fetched.
//
//	host: go test ./nvme/guesttest
//	  TestGuestPollQueues ──boot (nvme poll_queues=2)──► TestInGuestIOPOLL
//	                                                    TestInGuestVFIOToURing
//	  TestGuestNoPollQueues ──boot (poll_queues=0)────► TestInGuestNoPollQueues
//
// The vfio driver's own guest tests (identify, 4 KiB/1 MiB IO, queue
// wrap-around, timeouts, reset) live in nvme/vfio next to its internals.
package guesttest
