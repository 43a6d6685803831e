package testkit

// mount.go mounts an fs.Service through a real FUSE mount for tests:
//
//	test ──► os.* on <tmp>/wfe-mnt-*/ ──► kernel FUSE ──► frontend ──► fs.Service
//
// Cleanup unmounts even when the test failed with files still open: a
// busy mount is detached and its connection aborted (see
// frontend.MountPoint.Unmount), so no test leaves a mount behind.

import (
	"context"
	"os"
	"testing"

	"github.com/weft-fs/weft/dataplane/frontend"
	"github.com/weft-fs/weft/dataplane/fs"
)

// RequireFUSE skips t unless it can mount FUSE file systems: root and a
// /dev/fuse device.
func RequireFUSE(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("FUSE mounts need root (mount(2) on /dev/fuse)")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no FUSE device: %v", err)
	}
}

// TempDir makes a directory named wfe-<pattern>-* under the system temp
// directory and removes it at cleanup. Unlike t.TempDir the name carries
// the frontend's prefix, so leftovers are attributable.
func TempDir(t testing.TB, pattern string) string {
	t.Helper()
	d, err := os.MkdirTemp("", "wfe-"+pattern+"-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// MountService mounts svc on a fresh wfe-mnt-* directory and unmounts it
// at cleanup. o.FSName defaults to weft:localhost/test.
func MountService(t testing.TB, svc fs.Service, o frontend.Options) *frontend.MountPoint {
	t.Helper()
	RequireFUSE(t)
	dir := TempDir(t, "mnt")
	if o.FSName == "" {
		o.FSName = "weft:localhost/test"
	}
	if o.Core == 0 && o.NumCores == 0 {
		o.Core = -1
	}
	m, err := frontend.Mount(context.Background(), dir, svc, o)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	// Registered after TempDir's cleanup, so it runs first.
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return m
}
