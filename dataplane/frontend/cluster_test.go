package frontend_test

import (
	"testing"

	"github.com/weft-fs/weft/internal/testkit/cluster"
)

// newCluster mounts a fresh local cluster: five file-backed drives, a
// 3+2 file system, the compute and frontend roles talking weft's
// protocol over loopback UDP.
func newCluster(t *testing.T) *cluster.Cluster {
	return cluster.New(t, cluster.Options{})
}

// newMount is newCluster's mount point.
func newMount(t *testing.T) string { return newCluster(t).Dir }
