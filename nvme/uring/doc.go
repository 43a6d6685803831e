// Package uring is weft's own io_uring ring over golang.org/x/sys/unix:
// setup, the shared-memory queues, io_uring_enter, registered buffers,
// files and eventfd. It holds the mechanism only; nvme decides what to
// submit and who waits.
//
//	application                         kernel
//	NextSQE/Prep*  --> SQ ring (tail) -->  consumes at head, starts IO
//	Reap           <-- CQ ring (tail) <--  posts a CQE per finished IO
//
// Both rings and the SQE array are mmapped from the ring fd (the SQ and CQ
// rings share one mapping when the kernel reports IORING_FEAT_SINGLE_MMAP).
// Indices are free-running uint32s, masked on use; the side that owns an
// index stores it with sync/atomic (a release) and the other side loads it
// with sync/atomic (an acquire), so no syscall is needed to hand over work:
// Submit is one io_uring_enter for a whole burst (none with SQPOLL while its
// thread is awake) and Reap is none at all.
//
// CQ overflow: when more completions arrive than the CQ holds, a kernel
// with IORING_FEAT_NODROP keeps them on a list and sets IORING_SQ_CQ_OVERFLOW;
// Reap then issues a non-blocking GETEVENTS that moves them into the CQ, so
// no completion is lost. On an IOPOLL ring Reap issues the same call to poll
// the device, because IOPOLL completions are only found by polling.
//
// A Ring is single-owner: one goroutine (or a mutex) submits and one
// consumer reaps.
package uring
