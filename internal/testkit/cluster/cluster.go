package cluster

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/weft-fs/weft/dataplane/frontend"
	"github.com/weft-fs/weft/dataplane/pool"
	"github.com/weft-fs/weft/internal/testkit"
)

// Options shapes a local cluster. The zero value is five drives
// of 512 MiB (sparse files) holding one 3+2 file system named "test".
type Options struct {
	// Drives is the number of drive files (default 5).
	Drives int
	// DriveBytes is each drive file's size (default 512 MiB).
	DriveBytes int64
	// Data and Parity are the protection N+P (default 3+2).
	Data, Parity int
	// CapacityBytes is the file system's usable size (default: a
	// quarter of the raw space).
	CapacityBytes uint64
	// FSName names the file system (default "test").
	FSName string
	// CacheBytes bounds the pool's stripe cache (default: the pool's);
	// a small cache makes reads go to the drives.
	CacheBytes int64
	// Frontend configures the mount.
	Frontend frontend.Options
}

func (o *Options) fill() {
	if o.Drives == 0 {
		o.Drives = 5
	}
	if o.DriveBytes == 0 {
		o.DriveBytes = 512 << 20
	}
	if o.Data == 0 {
		o.Data, o.Parity = 3, 2
	}
	if o.CapacityBytes == 0 {
		o.CapacityBytes = uint64(o.DriveBytes) * uint64(o.Drives) / 4
	}
	if o.FSName == "" {
		o.FSName = "test"
	}
	if o.Frontend.FSName == "" {
		o.Frontend.FSName = "weft:localhost/" + o.FSName
	}
}

// Cluster is a mounted local cluster and the pool behind it.
type Cluster struct {
	*testkit.Cluster
	// Pool holds the drives and the file system.
	Pool *pool.Pool
}

// New builds a pool of file-backed drives in a wfe-drives-*
// directory, creates one file system on it, serves it over a compute
// messenger and mounts it through a frontend messenger (testkit.ServeAndMount).
// Everything is torn down at cleanup, the mount first.
func New(t testing.TB, o Options) *Cluster {
	t.Helper()
	testkit.RequireFUSE(t)
	o.fill()
	dir := testkit.TempDir(t, "drives")
	paths := make([]string, o.Drives)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("drive%d.img", i))
		if err := os.WriteFile(paths[i], nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(paths[i], o.DriveBytes); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := pool.Create(paths, pool.Options{Logger: log, CacheBytes: o.CacheBytes})
	if err != nil {
		t.Fatalf("create pool: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close pool: %v", err)
		}
	})
	if err := p.CreateFS(o.FSName, o.CapacityBytes, o.Data, o.Parity); err != nil {
		t.Fatalf("create fs %s: %v", o.FSName, err)
	}
	svc, err := p.FS(o.FSName)
	if err != nil {
		t.Fatalf("open fs %s: %v", o.FSName, err)
	}
	c := testkit.ServeAndMount(t, svc, o.Frontend)
	c.DriveDir = dir
	c.DrivePaths = paths
	return &Cluster{Cluster: c, Pool: p}
}
