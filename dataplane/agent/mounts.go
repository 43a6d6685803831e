package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	stdnet "net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/weft-fs/weft/dataplane/frontend"
	"github.com/weft-fs/weft/dataplane/fsrpc"
	"github.com/weft-fs/weft/dataplane/messenger"
	"github.com/weft-fs/weft/dataplane/mgmt"
	"github.com/weft-fs/weft/dataplane/mgmt/api"
	"github.com/weft-fs/weft/dataplane/mountopt"
)

// Limits of mounts.
const (
	// mountProbeTimeout bounds the first round trip of a new mount to the
	// compute role, made before the kernel mount so a broken path fails
	// the mount instead of every later request.
	mountProbeTimeout = 10 * time.Second
	// unmountServerWait is how long an unmount waits for the FUSE server
	// to end after the kernel let go.
	unmountServerWait = 10 * time.Second
	// busyUnmountGrace is how long a stopping agent lets the users of a
	// busy mount finish before it aborts the mount's FUSE connection.
	busyUnmountGrace = 10 * time.Second
	// mountsMax bounds the mounts one agent serves.
	mountsMax = 64
)

// fuseType is the kernel file system type of weft mounts.
const fuseType = "fuse.weft"

// mount is one frontend: a FUSE session and its messenger.
type mount struct {
	info api.Mount
	mp   *frontend.MountPoint
	m    *messenger.Messenger
	done chan struct{} // closed when the mount has ended and is cleaned up
}

// Mount implements mgmt.Dataplane: it starts a frontend for dir whose
// fsrpc client reaches the file system's compute messenger over UDP.
func (a *Agent) Mount(ctx context.Context, f api.FileSystem, req api.MountRequest, o mountopt.Options) (api.Mount, error) {
	a.dataMu.Lock()
	srv := a.servers[f.Name]
	a.dataMu.Unlock()
	if srv == nil {
		return api.Mount{}, fmt.Errorf("file system %q is not served by this agent (pool offline?)", f.Name)
	}
	a.mountsMu.Lock()
	n := len(a.mounts)
	a.mountsMu.Unlock()
	if n >= mountsMax {
		return api.Mount{}, fmt.Errorf("%w: this agent serves %d mounts, at most %d", mgmt.ErrConflict, n, mountsMax)
	}
	if err := clearStaleMount(req.Dir); err != nil {
		return api.Mount{}, err
	}
	if st, err := os.Stat(req.Dir); err != nil || !st.IsDir() {
		return api.Mount{}, fmt.Errorf("%w: mount point %s is not a directory", mgmt.ErrInvalid, req.Dir)
	}
	net := o.Net
	if net == "" {
		net = a.cfg.Net
	}
	fo := frontend.Options{
		FSName:   "weft:" + req.Source,
		Core:     o.Core,
		NumCores: o.NumCores,
		Net:      net,
		// A cluster file system serves every user of the host; the
		// compute role checks each request against the caller's ids.
		AllowOther:         true,
		DefaultPermissions: o.DefaultPermissions,
		MountFlags:         o.MountFlags,
		Logger:             a.log.With("role", "frontend", "dir", req.Dir),
	}
	mc, err := fo.MessengerConfig(netip.AddrPortFrom(a.dataAddr().Addr(), 0))
	if err != nil {
		return api.Mount{}, fmt.Errorf("%w: %w", mgmt.ErrInvalid, err)
	}
	if net != "udp" {
		if _, err := stdnet.InterfaceByName(net); err != nil {
			return api.Mount{}, fmt.Errorf("%w: net=%s: no such network interface; accepted udp or an interface name", mgmt.ErrInvalid, net)
		}
		// The compute role is on this host, reached over loopback, where
		// AF_XDP cannot attach: without the hook the messenger logs that
		// and carries the mount over UDP.
		fo.Logger.Warn("AF_XDP needs a remote compute role; this one is on loopback, using UDP", "net", net)
	}
	mode := "default: one unpinned adaptive poller, CPU used only during IO"
	switch {
	case o.Core >= 0:
		mode = fmt.Sprintf("performance: dedicated core %d, busy polling", o.Core)
	case o.NumCores > 0:
		mode = fmt.Sprintf("cpu-optimized: %d non-dedicated core(s), adaptive polling", o.NumCores)
	}
	m, err := messenger.New(a.life, mc, fo.Logger)
	if err != nil {
		return api.Mount{}, fmt.Errorf("frontend messenger: %w", err)
	}
	client := fsrpc.NewClient(m, srv.m.LocalAddr())
	pctx, cancel := context.WithTimeout(ctx, mountProbeTimeout)
	_, err = client.StatFS(pctx)
	cancel()
	if err != nil {
		m.Close()
		return api.Mount{}, fmt.Errorf("reach the compute role of %q at %s: %w", f.Name, srv.m.LocalAddr(), err)
	}
	mp, err := frontend.Mount(a.life, req.Dir, client, fo)
	if err != nil {
		m.Close()
		return api.Mount{}, fmt.Errorf("FUSE mount: %w", err)
	}
	mt := &mount{
		info: api.Mount{Source: req.Source, Dir: req.Dir, FS: f.Name, Options: o.String(), Mode: mode,
			Cores: mc.Poller.Cores, Net: net, MountedAt: time.Now().UTC()},
		mp: mp, m: m, done: make(chan struct{}),
	}
	a.mountsMu.Lock()
	a.mounts[req.Dir] = mt
	a.saveMountsLocked()
	a.mountsMu.Unlock()
	a.wg.Add(1)
	go a.watch(mt)
	return mt.info, nil
}

// watch cleans up after a mount ends, whether through the API or an
// umount(8) of the directory.
func (a *Agent) watch(mt *mount) {
	defer a.wg.Done()
	mt.mp.Wait()
	if err := mt.m.Close(); err != nil {
		a.log.Warn("close frontend messenger", "dir", mt.info.Dir, "err", err)
	}
	a.mountsMu.Lock()
	if a.mounts[mt.info.Dir] == mt {
		delete(a.mounts, mt.info.Dir)
		// A mount the agent ends because it stops stays recorded, to be
		// restored at the next start; one unmounted by a user does not.
		if !a.stopping {
			a.saveMountsLocked()
		}
	}
	a.mountsMu.Unlock()
	a.log.Info("mount ended", "dir", mt.info.Dir)
	close(mt.done)
}

// Unmount implements mgmt.Dataplane. A busy mount is refused unless Lazy.
func (a *Agent) Unmount(ctx context.Context, r api.UnmountRequest) error {
	a.mountsMu.Lock()
	mt := a.mounts[r.Dir]
	a.mountsMu.Unlock()
	if mt == nil {
		if isWeftMount(r.Dir) {
			// Left by an agent that died: nothing serves it any more.
			if err := unix.Unmount(r.Dir, unix.MNT_DETACH); err != nil {
				return fmt.Errorf("detach stale mount: %w", err)
			}
			a.log.Info("stale mount detached", "dir", r.Dir)
			return nil
		}
		return fmt.Errorf("%w: %s is not a weft mount of this agent", mgmt.ErrNotFound, r.Dir)
	}
	flags := 0
	if r.Lazy {
		flags = unix.MNT_DETACH
	}
	if err := unix.Unmount(r.Dir, flags); err != nil {
		if errors.Is(err, syscall.EBUSY) {
			return fmt.Errorf("%w: %s is busy (files open or a process inside); close them or unmount lazily (-l)", mgmt.ErrConflict, r.Dir)
		}
		return fmt.Errorf("umount %s: %w", r.Dir, err)
	}
	select {
	case <-mt.done:
		return nil
	case <-time.After(unmountServerWait):
		return mt.mp.Unmount()
	}
}

// Mounts implements mgmt.Dataplane.
func (a *Agent) Mounts() []api.Mount {
	a.mountsMu.Lock()
	defer a.mountsMu.Unlock()
	out := make([]api.Mount, 0, len(a.mounts))
	for _, mt := range a.mounts {
		out = append(out, mt.info)
	}
	return out
}

// unmountAll ends every mount at shutdown. An idle mount is unmounted; a
// busy one is detached (MNT_DETACH: no new opens, open files keep
// working) and given busyUnmountGrace for its users to finish, so requests
// in flight are answered; only then is its connection aborted.
func (a *Agent) unmountAll() {
	a.mountsMu.Lock()
	a.stopping = true
	all := make([]*mount, 0, len(a.mounts))
	for _, mt := range a.mounts {
		all = append(all, mt)
	}
	a.mountsMu.Unlock()
	for _, mt := range all {
		dir := mt.info.Dir
		err := unix.Unmount(dir, 0)
		if errors.Is(err, syscall.EBUSY) {
			a.log.Warn("mount busy at shutdown: detaching, waiting for open files", "dir", dir, "grace", busyUnmountGrace)
			err = unix.Unmount(dir, unix.MNT_DETACH)
		}
		if err != nil {
			a.log.Warn("unmount at shutdown", "dir", dir, "err", err)
		}
		select {
		case <-mt.done:
			continue
		case <-time.After(busyUnmountGrace):
		}
		// Still open after the grace: abort, failing what the users do
		// next on it (ENOTCONN). Not a failed stop: the data they wrote
		// is in the pool, which is written back next.
		a.log.Warn("mount still in use after the grace period: aborting its FUSE connection", "dir", dir)
		if err := mt.mp.Unmount(); err != nil {
			a.log.Warn("abort mount", "dir", dir, "err", err)
		}
		<-mt.done
	}
}

// clearStaleMount detaches a weft mount whose agent died (its FUSE
// connection is gone: stat fails with ENOTCONN), so the directory can be
// mounted again after a restart.
func clearStaleMount(dir string) error {
	var st unix.Stat_t
	err := unix.Stat(dir, &st)
	if err == nil || !errors.Is(err, syscall.ENOTCONN) {
		return nil
	}
	if !isWeftMount(dir) {
		return fmt.Errorf("%w: %s: %w (a dead FUSE mount of another file system)", mgmt.ErrConflict, dir, err)
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach stale mount %s: %w", dir, err)
	}
	return nil
}

// isWeftMount reports whether dir is a mount point of type fuse.weft.
func isWeftMount(dir string) bool {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 3 && fields[2] == fuseType && unescapeMount(fields[1]) == dir {
			return true
		}
	}
	return false
}

// unescapeMount undoes /proc/mounts' octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range []byte(s[i+1 : i+4]) {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + c - '0'
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
