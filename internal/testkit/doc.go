// Package testkit builds the real parts tests and benchmarks run against,
// one file per concept: network namespaces of hosts joined by a bridge
// (netns.go) and their impairment (impair.go), drives (drive.go), QEMU
// guests (guest.go), mounts (mount.go), pools and whole local clusters
// (pool.go, cluster.go). Every helper names what it creates with its
// owner's prefix, removes it in t.Cleanup, and skips the test with the
// reason when the process lacks root or the kernel lacks a feature.
package testkit
