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
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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
	watchDeadline(t, m)
	// Registered after TempDir's cleanup, so it runs first.
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return m
}

// abortMargin is how long before the test binary's timeout a mount is
// aborted.
const abortMargin = 10 * time.Second

// fusectlDir is where the kernel lists FUSE connections.
const fusectlDir = "/sys/fs/fuse/connections"

// watchDeadline aborts m shortly before the test's deadline. A test
// that hangs on its own mount would otherwise deadlock at the timeout:
// the dying process waits, uninterruptibly, for answers from its own
// server goroutines, which are gone. Aborting makes the blocked calls
// fail with ENOTCONN, so the test fails and the process exits.
func watchDeadline(t testing.TB, m *frontend.MountPoint) {
	d, ok := t.(interface{ Deadline() (time.Time, bool) })
	if !ok {
		return
	}
	deadline, ok := d.Deadline()
	if !ok {
		return
	}
	timer := time.AfterFunc(time.Until(deadline)-abortMargin, func() {
		if err := mountFusectl(); err != nil {
			os.Stderr.WriteString("testkit: " + err.Error() + "\n")
		}
		if err := m.Abort(); err != nil {
			os.Stderr.WriteString("testkit: " + err.Error() + "\n")
			return
		}
		os.Stderr.WriteString("testkit: test deadline near, aborted the mount " + m.Dir() + "\n")
	})
	t.Cleanup(func() { timer.Stop() })
}

// mountFusectl mounts the FUSE control file system if it is not (as
// systemd's sys-fs-fuse-connections.mount would have).
func mountFusectl() error {
	ents, err := os.ReadDir(fusectlDir)
	if err == nil && len(ents) > 0 {
		return nil
	}
	if err := unix.Mount("fusectl", fusectlDir, "fusectl", 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
		return err
	}
	return nil
}
