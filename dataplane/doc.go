// Package dataplane holds weft's roles and the runtime they share.
//
//	dataplane/poller     pinned poll-mode goroutines (Dedicated, Adaptive),
//	                     cpuset checks; runs Pollables (transports, drives)
//	dataplane/messenger  Call/Send/Handle over proto + netstack/reliable +
//	                     transports; RDMA-eligibility tagging; stats
//	dataplane/fs, ...    the file system, erasure coding, placement and
//	                     the roles built on the messenger
//
// The rule across the dataplane: drivers (netstack, nvme) expose
// non-blocking burst calls and own no goroutines; the poller owns cores
// and threads; pure state machines (reliability, buckets, placement) take
// inputs and the time and return actions, so they can be simulated.
package dataplane
