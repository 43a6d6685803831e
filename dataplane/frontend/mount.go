package frontend

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/weft-fs/weft/dataplane/fs"
)

// subtype makes the kernel file system type fuse.weft.
const subtype = "weft"

// MountPoint is one FUSE mount serving an fs.Service. (The type cannot
// share the name of the Mount function that makes it.)
type MountPoint struct {
	dir    string
	srv    *fuse.Server
	fs     *fileSystem
	cancel context.CancelFunc
	// dev is the mount's device number; its minor names the connection
	// in /sys/fs/fuse/connections, used to abort a mount that will not
	// unmount.
	dev uint64

	once sync.Once
	err  error
	done chan struct{}
}

// Mount mounts svc on dir and serves it until Unmount, or until ctx is
// done. It returns once the kernel has accepted the mount.
func Mount(ctx context.Context, dir string, svc fs.Service, o Options) (*MountPoint, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", dir, err)
	}
	if st, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("mount %s: %w", abs, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("mount %s: not a directory", abs)
	}
	sctx, cancel := context.WithCancel(ctx)
	rfs := newFileSystem(sctx, svc, o)
	mo := &fuse.MountOptions{
		FsName:        o.FSName,
		Name:          subtype,
		AllowOther:    o.AllowOther,
		MaxWrite:      writeBytesMax,
		MaxBackground: backgroundRequestsMax,
		// The kernel does it by mount(2) when we are root, so no
		// fusermount helper runs; others fall back to fusermount3.
		DirectMount:      true,
		DirectMountFlags: o.MountFlags,
		// Symlink targets may change through another client.
		EnableSymlinkCaching: false,
		// mmap of direct-IO files (kernel 6.6+), so executables and
		// mmap-based tools work on a consistent mount; and O_TRUNC
		// carried by open, which the file system applies atomically,
		// instead of a separate setattr round trip.
		ExtraCapabilities: fuse.CAP_DIRECT_IO_ALLOW_MMAP | fuse.CAP_ATOMIC_O_TRUNC,
		// Replies come from memory, not a file descriptor: splicing
		// them only adds a pipe (and 1 MiB replies overflow its size).
		DisableSplice: true,
		Debug:         o.Debug,
		Logger:        log.New(slogWriter{o.Logger}, "", 0),
	}
	if o.DefaultPermissions {
		mo.Options = append(mo.Options, "default_permissions")
	}
	srv, err := fuse.NewServer(rfs, abs, mo)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("mount %s on %s: %w", o.FSName, abs, err)
	}
	m := &MountPoint{dir: abs, srv: srv, fs: rfs, cancel: cancel, done: make(chan struct{})}
	go func() {
		srv.Serve()
		close(m.done)
	}()
	if err := srv.WaitMount(); err != nil {
		m.Unmount()
		return nil, fmt.Errorf("mount %s on %s: %w", o.FSName, abs, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(abs, &st); err == nil {
		m.dev = st.Dev
	}
	go func() {
		select {
		case <-sctx.Done():
			m.Unmount()
		case <-m.done:
		}
	}()
	return m, nil
}

// Dir is the mount point.
func (m *MountPoint) Dir() string { return m.dir }

// KernelRefs is how many inodes the kernel holds references to.
func (m *MountPoint) KernelRefs() int { return m.fs.inodes.len() }

// Unmount unmounts and waits for the server to stop. A mount still busy
// (open files, a process's working directory) is detached instead
// (MNT_DETACH): it leaves the namespace at once, and the server stops
// when the last file on it is closed; its FUSE connection is aborted
// too where fusectl is mounted, failing those files' IO right away. So
// Unmount always takes the mount away: callers like test cleanup must
// never leave one behind. It is safe to call more than once.
func (m *MountPoint) Unmount() error {
	m.once.Do(func() {
		if err := m.srv.Unmount(); err != nil {
			m.fs.log.Warn("unmount busy, detaching", "dir", m.dir, "err", err)
			if derr := unix.Unmount(m.dir, unix.MNT_DETACH); derr != nil && derr != unix.EINVAL {
				m.err = fmt.Errorf("unmount %s: %w; detach: %w", m.dir, err, derr)
			}
			if m.abort() {
				select {
				case <-m.done:
				case <-time.After(unmountWait):
					m.fs.log.Warn("server still running after abort", "dir", m.dir)
				}
			}
		}
		m.cancel()
	})
	return m.err
}

// Abort ends the mount at once, busy or not: the FUSE connection is
// aborted through fusectl (/sys/fs/fuse/connections), so every request
// in flight and every later one fails with ENOTCONN, and the mount is
// detached. It is the last resort for a mount whose server cannot
// answer: a process blocked on its own FUSE mount could otherwise never
// exit. It fails if fusectl is not mounted.
func (m *MountPoint) Abort() error {
	if !m.abort() {
		return fmt.Errorf("abort %s: no fusectl connection to abort (mount -t fusectl fusectl /sys/fs/fuse/connections)", m.dir)
	}
	unix.Unmount(m.dir, unix.MNT_DETACH)
	return nil
}

// abort ends the FUSE connection through fusectl: pending and future
// requests fail with ENOTCONN and the server's reads of /dev/fuse
// return. It reports whether it could.
func (m *MountPoint) abort() bool {
	if m.dev == 0 {
		return false
	}
	// The kernel names connections by its own dev_t encoding.
	kdev := uint64(unix.Major(m.dev))<<20 | uint64(unix.Minor(m.dev))
	p := "/sys/fs/fuse/connections/" + strconv.FormatUint(kdev, 10) + "/abort"
	if err := os.WriteFile(p, []byte("1"), 0); err != nil {
		return false // fusectl not mounted: the detached mount ends at last close
	}
	return true
}

// Wait blocks until the mount ends (unmounted here or by umount(8)).
func (m *MountPoint) Wait() {
	<-m.done
	m.cancel()
}

// slogWriter routes go-fuse's log.Logger output to slog.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Info(string(p), "component", "go-fuse")
	return len(p), nil
}
