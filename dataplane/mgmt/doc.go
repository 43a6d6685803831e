// Package mgmt is the management role: the cluster's configuration kept in
// hashicorp/raft (one voter per cluster for now, its log in a bolt file
// under the agent's state directory), and the REST/JSON API over it that
// `weft` and mount.weft use, with Prometheus metrics beside it.
//
//	weft CLI ──HTTP+token──> Server ──validate──> Dataplane (agent: drives, pool, mounts)
//	                            │
//	                            └──Apply(command)──> raft ──> fsm: cluster, drives, file systems
//	                                                  │
//	                                   state_dir/raft/raft.db (log, fsync'ed), snapshots
//
// The raft state is what the agent reopens after a restart: which drives
// form the pool and which file systems exist. The file systems' contents
// live on the drives, owned by the compute role.
package mgmt
