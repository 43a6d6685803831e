// Package agent assembles weftd: the roles of one host as goroutine groups
// pinned to the cores the configuration gives, inside the cpuset the
// process was started in.
//
//	                        weftd (one process)
//	┌────────────────────────────────────────────────────────────────────┐
//	│ management: mgmt.Store (raft, boltdb log) + mgmt.Server (REST,     │
//	│   token, /metrics); threads confined to the agent's cores          │
//	│                                                                    │
//	│ compute + drive: pool.Pool over nvme drives, one fs.Service per    │
//	│   file system, served by fsrpc on the data messenger               │
//	│   (UDP 127.0.0.1:data_port+k, pollers on the last core of cores=)  │
//	│                      ▲                                             │
//	│                      │ weft protocol over UDP (loopback here,      │
//	│                      │ the same path as from another host)         │
//	│ frontend, one per mount: FUSE (frontend.Mount) ─ fsrpc client ─    │
//	│   its own messenger, pollers on core=X (dedicated, busy) or        │
//	│   num_cores=N (adaptive, wake-ups)                                 │
//	└────────────────────────────────────────────────────────────────────┘
//
// Cores: with `cores =` in service.conf every thread is confined to those
// cores and the compute pollers are pinned to the last one; without it
// nothing is pinned (the scheduler shares the host's cores). Frontends
// follow their mount options (core=X dedicated, num_cores=N adaptive).
//
// Lifecycle: Run opens the management store, reopens the pool the store
// names, starts the compute role and the API, then reports readiness
// (sd_notify READY=1 in weftd). On cancellation it stops in the reverse
// order: the API stops accepting and answers what is in flight, the
// mounts are unmounted (their requests answered first), the messengers
// close, the pool writes back and checkpoints, the drives are released.
package agent
