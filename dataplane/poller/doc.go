// Package poller is weft's poll-mode runtime: goroutines (locked to OS
// threads and pinned when given cores), each running the Pollables
// (transports, drives, the messenger) registered with it in a loop of
// non-blocking burst calls, the way DPDK lcores run rx_burst/tx_burst.
//
//	  core 0                         core 1
//	┌──────────────────────┐      ┌──────────────────────┐
//	│ LockOSThread         │      │ LockOSThread         │
//	│ sched_setaffinity(0) │      │ sched_setaffinity(1) │
//	│ loop:                │      │ loop:                │
//	│   for p: p.Poll(now) │      │   for p: p.Poll(now) │
//	│   work? again        │      │   ...                │
//	│   idle: spin, then   │      │                      │
//	│   ppoll(fds+eventfd) │      │                      │
//	└──────────────────────┘      └──────────────────────┘
//
// Modes: Dedicated busy-polls forever (mount option core=X: the core is
// the poller's alone); Adaptive spins for SpinBeforeSleep after the last
// work, then sleeps until one of its registered PollFds or its eventfd is
// readable, for at most SleepMax (num_cores=N and UDP mode). It sleeps in
// the Go runtime's netpoller (an epoll set of those descriptors wrapped
// in an os.File), so its P goes to handlers and callers at once; ppoll(2)
// is the fallback. Wake pokes the eventfd only when the poller is asleep.
// While it spins it yields its P on every empty pass, so a caller or
// worker it has just made runnable runs at once instead of after the
// spin. An unpinned poller does not lock its OS thread: a locked
// goroutine that parks must be handed its P back on its own thread at
// every wake-up (a futex wake and a context switch), which tripled a
// loopback Call's latency on a 2-core machine.
//
// Cores are checked against the process's allowed CPUs — the
// intersection of sched_getaffinity and the cgroup's
// cpuset.cpus.effective — and a core outside is refused ("core 7 is
// outside this process's cpuset 0-1"). The poller never writes a cpuset.
package poller
