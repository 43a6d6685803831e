package nvme

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// target is an opened file or block device with its geometry.
type target struct {
	path        string
	fd          int
	blockDevice bool
	memory      bool   // tmpfs, ramfs, zram, brd: served best by pread/pwrite
	direct      bool   // opened O_DIRECT
	logical     int    // logical block size, bytes
	capacity    uint64 // bytes
	devName     string // block device name in /sys/block ("loop3"), or ""
	readOnly    bool
	vfio        *vfioTarget // "vfio:<pci address>" drives (backend_vfio.go); fd is then -1
}

const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// openTarget opens path exclusively: O_EXCL for block devices (the kernel
// refuses a second exclusive opener), flock for regular files.
func openTarget(path string, readOnly bool) (*target, error) {
	if strings.HasPrefix(path, VFIOPrefix) {
		return openVFIOTarget(path, readOnly)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, fmt.Errorf("open drive %s: %w", path, err)
	}
	t := &target{path: path, readOnly: readOnly}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		t.blockDevice = true
	case unix.S_IFREG:
	default:
		return nil, fmt.Errorf("open drive %s: mode %#o is neither a block device nor a regular file", path, st.Mode&unix.S_IFMT)
	}
	if t.blockDevice {
		t.devName = blockDevName(st.Rdev)
		ro, err := sysfsInt("/sys/block/" + t.devName + "/ro")
		if err == nil && ro == 1 && !readOnly {
			return nil, fmt.Errorf("open drive %s: device is read-only (/sys/block/%s/ro = 1); open it with Options.ReadOnly: %w", path, t.devName, ErrReadOnly)
		}
		t.memory = strings.HasPrefix(t.devName, "zram") || strings.HasPrefix(t.devName, "ram")
	} else {
		var fs unix.Statfs_t
		if err := unix.Statfs(path, &fs); err == nil {
			t.memory = fs.Type == tmpfsMagic || fs.Type == ramfsMagic
		}
	}
	flags := unix.O_RDWR | unix.O_CLOEXEC
	if readOnly {
		flags = unix.O_RDONLY | unix.O_CLOEXEC
	}
	if t.blockDevice {
		flags |= unix.O_EXCL
	}
	fd, err := unix.Open(path, flags|unix.O_DIRECT, 0)
	t.direct = err == nil
	if err == unix.EINVAL { // tmpfs and friends refuse O_DIRECT
		fd, err = unix.Open(path, flags, 0)
	}
	switch {
	case err == unix.EBUSY:
		return nil, fmt.Errorf("open drive %s: %s: %w", path, holderOf(path, st), ErrBusy)
	case err == unix.EROFS || (err == unix.EACCES && !readOnly):
		return nil, fmt.Errorf("open drive %s: %v; open it with Options.ReadOnly: %w", path, err, ErrReadOnly)
	case err != nil:
		return nil, fmt.Errorf("open drive %s: %w", path, err)
	}
	t.fd = fd
	if !t.blockDevice {
		how := unix.LOCK_EX
		if readOnly {
			how = unix.LOCK_SH
		}
		if err := unix.Flock(fd, how|unix.LOCK_NB); err != nil {
			unix.Close(fd)
			if err == unix.EWOULDBLOCK {
				return nil, fmt.Errorf("open drive %s: %s: %w", path, holderOf(path, st), ErrBusy)
			}
			return nil, fmt.Errorf("open drive %s: flock: %w", path, err)
		}
		t.logical = 512
		t.capacity = uint64(st.Size)
	} else {
		lbs, err := unix.IoctlGetInt(fd, unix.BLKSSZGET)
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("open drive %s: BLKSSZGET: %w", path, err)
		}
		t.logical = lbs
		var size uint64
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&size))); e != 0 {
			unix.Close(fd)
			return nil, fmt.Errorf("open drive %s: BLKGETSIZE64: %w", path, e)
		}
		t.capacity = size
	}
	if t.logical <= 0 || BlockSize%t.logical != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("open drive %s: logical block size %d does not divide %d: %w", path, t.logical, BlockSize, ErrMisaligned)
	}
	return t, nil
}

func (t *target) close() error {
	if t.vfio != nil {
		return t.vfio.close()
	}
	if !t.blockDevice {
		unix.Flock(t.fd, unix.LOCK_UN) // a ring may still hold the file briefly
		return unix.Close(t.fd)
	}
	err := unix.Close(t.fd)
	t.awaitRelease()
	return err
}

// claimReleaseWait bounds how long close waits for the kernel to drop the
// exclusive claim on a block device.
const claimReleaseWait = 2 * time.Second

// awaitRelease waits until the block device can be claimed again. io_uring
// drops its references to registered files from a kernel worker after the
// ring is closed, so the O_EXCL claim can outlive close(2) by a few
// milliseconds; without the wait, an Open right after Close (a restart, a
// test) would fail with ErrBusy.
func (t *target) awaitRelease() {
	deadline := time.Now().Add(claimReleaseWait)
	for delay := 100 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
		fd, err := unix.Open(t.path, unix.O_RDONLY|unix.O_EXCL|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
			return
		}
		if err != unix.EBUSY || time.Now().After(deadline) {
			return
		}
		time.Sleep(delay)
	}
}

// blockDevName maps a device number to its /sys/block name.
func blockDevName(rdev uint64) string {
	link, err := os.Readlink(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(rdev), unix.Minor(rdev)))
	if err != nil {
		return ""
	}
	return filepath.Base(link)
}

func sysfsInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// holderOf names the processes that hold path open, for ErrBusy messages.
// It scans /proc/*/fd, which is slow but only runs on the error path.
func holderOf(path string, st unix.Stat_t) string {
	procs, _ := os.ReadDir("/proc")
	var holders []string
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir("/proc/" + p.Name() + "/fd")
		for _, f := range fds {
			var fst unix.Stat_t
			if unix.Stat("/proc/"+p.Name()+"/fd/"+f.Name(), &fst) != nil {
				continue
			}
			same := fst.Dev == st.Dev && fst.Ino == st.Ino
			if st.Mode&unix.S_IFMT == unix.S_IFBLK {
				same = fst.Mode&unix.S_IFMT == unix.S_IFBLK && fst.Rdev == st.Rdev
			}
			if same {
				comm, _ := os.ReadFile("/proc/" + p.Name() + "/comm")
				holders = append(holders, fmt.Sprintf("%s[%d]", strings.TrimSpace(string(comm)), pid))
				break
			}
		}
	}
	if len(holders) == 0 {
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			if h, _ := os.ReadDir("/sys/dev/block/" + fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)) + "/holders"); len(h) > 0 {
				return "held by kernel device " + h[0].Name()
			}
		}
		return "held by another opener"
	}
	return "held by " + strings.Join(holders, ", ")
}

var errShortIO = errors.New("short IO")
