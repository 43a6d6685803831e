package testkit

// pool.go builds pools of real file-backed drives for file-system tests.

import (
	"testing"

	"github.com/weft-fs/weft/dataplane/pool"
)

// PoolDriveBytes is the default size of a pool test drive (sparse).
const PoolDriveBytes = 256 << 20

// PoolDrives returns the paths of n sparse drive files of sizeBytes, each
// in its own temporary directory.
func PoolDrives(t testing.TB, n int, sizeBytes int64) []string {
	t.Helper()
	paths := make([]string, n)
	for i := range paths {
		paths[i] = FileDrive(t, sizeBytes)
	}
	return paths
}

// NewPool creates a pool on n fresh drives of sizeBytes with one file
// system "fs" of capacityBytes at protection data+parity. The pool is
// closed at cleanup unless the test closed it.
func NewPool(t testing.TB, n int, sizeBytes int64, capacityBytes uint64, data, parity int, o pool.Options) (*pool.Pool, *pool.FS, []string) {
	t.Helper()
	paths := PoolDrives(t, n, sizeBytes)
	p, err := pool.Create(paths, o)
	if err != nil {
		t.Fatalf("create pool: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.CreateFS("fs", capacityBytes, data, parity); err != nil {
		t.Fatalf("create fs: %v", err)
	}
	f, err := p.FS("fs")
	if err != nil {
		t.Fatal(err)
	}
	return p, f, paths
}
