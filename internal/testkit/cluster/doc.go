// Package cluster assembles a real local weft cluster for tests: a pool
// of file-backed drives, one file system on it, served over a compute
// messenger and mounted through a frontend messenger (see
// testkit.ServeAndMount for the diagram). It lives apart from testkit
// because it imports the pool, which imports nvme, whose own tests
// import testkit.
//
//	cluster.New(t, Options{})
//	  wfe-drives-*/drive{0..4}.img ─► pool.Create ─► CreateFS "test" (3+2)
//	  ─► testkit.ServeAndMount: compute messenger + fsrpc.Serve,
//	     frontend messenger + fsrpc.Client, frontend.Mount on wfe-mnt-*
//
// Tests get a *testkit.Cluster: Dir (the mount point), Service (the
// pool's file system, for setting up state without the mount), Client
// (fsrpc over the messengers) and AddMount for a second client.
package cluster
