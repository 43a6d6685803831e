package testkit

// drive.go builds real drives for nvme tests:
//
//	FileDrive   sparse file in t.TempDir() (ext4 here: O_DIRECT works)
//	TmpfsDrive  file on a tmpfs (a memory-backed target)
//	LoopDrive   /dev/loopN over a sparse file, --direct-io=on, optionally -r
//	ZramDrive   /dev/zramN added through /sys/class/zram-control
//
// Every part is removed by t.Cleanup. Backing files carry the "wdrv"
// prefix; loop and zram devices are named by the kernel, so the cleanup
// detaches exactly the device number it was given.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// drivePrefix names every backing file and directory of the drive rig.
const drivePrefix = "wdrv"

// FileDrive returns the path of a sparse file of sizeBytes in a fresh
// temporary directory.
func FileDrive(t testing.TB, sizeBytes int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), drivePrefix+"-file.img")
	if err := makeSparse(path, sizeBytes); err != nil {
		t.Fatalf("file drive: %v", err)
	}
	return path
}

func makeSparse(path string, sizeBytes int64) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Truncate(sizeBytes)
}

// TmpfsDrive returns a file of sizeBytes on a private tmpfs mount, removed
// (and unmounted) on cleanup. It skips the test when not root.
func TmpfsDrive(t testing.TB, sizeBytes int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("tmpfs drive: mounting a tmpfs needs root")
	}
	dir, err := os.MkdirTemp("", drivePrefix+"-tmpfs-")
	if err != nil {
		t.Fatalf("tmpfs drive: %v", err)
	}
	if err := unix.Mount(drivePrefix+"-tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", sizeBytes+1<<20)); err != nil {
		os.Remove(dir)
		t.Skipf("tmpfs drive: mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		unix.Unmount(dir, unix.MNT_DETACH)
		os.Remove(dir)
	})
	path := filepath.Join(dir, drivePrefix+"-mem.img")
	if err := makeSparse(path, sizeBytes); err != nil {
		t.Fatalf("tmpfs drive: %v", err)
	}
	return path
}

// LoopOptions configure LoopDrive.
type LoopOptions struct {
	// ReadOnly attaches with losetup -r.
	ReadOnly bool
	// Buffered skips --direct-io=on.
	Buffered bool
}

// LoopDrive attaches a loop device over a sparse file of sizeBytes with
// losetup --direct-io=on and returns its path (/dev/loopN). It skips the
// test when losetup or root is missing.
func LoopDrive(t testing.TB, sizeBytes int64, o LoopOptions) string {
	t.Helper()
	backing := FileDrive(t, sizeBytes)
	dev, err := AttachLoop(backing, o)
	if err != nil {
		t.Skipf("loop drive: %v", err)
	}
	t.Cleanup(func() { DetachLoop(dev) })
	return dev
}

// AttachLoop attaches backing to a free loop device and returns its path.
// The caller detaches it with DetachLoop.
func AttachLoop(backing string, o LoopOptions) (string, error) {
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("losetup needs root")
	}
	args := []string{"--find", "--show"}
	if !o.Buffered {
		args = append(args, "--direct-io=on")
	}
	if o.ReadOnly {
		args = append(args, "-r")
	}
	out, err := exec.Command("losetup", append(args, backing)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("losetup %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// DetachLoop detaches the loop device dev. It retries for a while: a
// closed io_uring ring drops its reference to the device from a kernel
// worker, and a detach during that window fails as busy.
func DetachLoop(dev string) error {
	var err error
	var out []byte
	for try := 0; try < loopDetachTries; try++ {
		if out, err = exec.Command("losetup", "-d", dev).CombinedOutput(); err == nil {
			return nil
		}
		time.Sleep(loopDetachRetryDelay)
	}
	return fmt.Errorf("losetup -d %s: %v: %s", dev, err, out)
}

// Detach retries: up to 2 s in all.
const (
	loopDetachTries      = 20
	loopDetachRetryDelay = 100 * time.Millisecond
)

// ZramDrive adds a zram device of sizeBytes and returns its path
// (/dev/zramN); cleanup resets and removes it. It skips the test when zram
// is not available.
func ZramDrive(t testing.TB, sizeBytes int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("zram drive: needs root")
	}
	raw, err := os.ReadFile("/sys/class/zram-control/hot_add")
	if err != nil {
		t.Skipf("zram drive: %v (zram module not loaded?)", err)
	}
	id, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("zram drive: hot_add said %q", raw)
	}
	sys := fmt.Sprintf("/sys/block/zram%d", id)
	t.Cleanup(func() {
		os.WriteFile(sys+"/reset", []byte("1"), 0)
		os.WriteFile("/sys/class/zram-control/hot_remove", []byte(strconv.Itoa(id)), 0)
	})
	if err := os.WriteFile(sys+"/disksize", []byte(strconv.FormatInt(sizeBytes, 10)), 0); err != nil {
		t.Skipf("zram drive: set disksize: %v", err)
	}
	return fmt.Sprintf("/dev/zram%d", id)
}
