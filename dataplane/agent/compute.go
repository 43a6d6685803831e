package agent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"syscall"

	"github.com/weft-fs/weft/dataplane/fsrpc"
	"github.com/weft-fs/weft/dataplane/messenger"
	"github.com/weft-fs/weft/dataplane/mgmt"
	"github.com/weft-fs/weft/dataplane/mgmt/api"
	"github.com/weft-fs/weft/dataplane/poller"
	"github.com/weft-fs/weft/dataplane/pool"
	"github.com/weft-fs/weft/dataplane/stripe"
	"github.com/weft-fs/weft/nvme"
)

// fileSystemsServedMax bounds the file systems one compute role serves,
// and so the ports it takes above data_port.
const fileSystemsServedMax = 256

// fsServer is one file system served by the compute role: fsrpc serves
// one file system per messenger, so each gets its own, on data_port+slot.
type fsServer struct {
	name string
	slot int
	m    *messenger.Messenger
}

// startCompute reopens the pool the management store names and serves
// its file systems.
func (a *Agent) startCompute(ctx context.Context) error {
	a.life, a.stopLife = context.WithCancel(context.Background())
	a.servers = map[string]*fsServer{}
	st := a.store.State()
	if st.Pool == nil {
		a.log.Info("no pool yet: it is formatted with the drives added when the first file system is created")
		return nil
	}
	paths, err := poolPaths(st)
	if err != nil {
		return err
	}
	p, err := pool.Open(paths, pool.Options{Logger: a.log.With("role", "compute")})
	if err != nil {
		return fmt.Errorf("open pool on %d drives: %w", len(paths), err)
	}
	a.dataMu.Lock()
	a.pool = p
	a.dataMu.Unlock()
	have := map[string]bool{}
	for _, f := range p.ListFS() {
		have[f.Name] = true
	}
	for _, f := range st.FileSystems {
		if !have[f.Name] {
			// Committed in the management store, but the agent stopped
			// before the pool recorded it: create it now.
			a.log.Warn("file system committed but missing from the pool; creating it", "fs", f.Name)
			if err := p.CreateFS(f.Name, f.CapacityBytes, f.DataShards, f.ParityShards); err != nil {
				return fmt.Errorf("recreate file system %q: %w", f.Name, err)
			}
		}
		delete(have, f.Name)
		if err := a.serveFS(f.Name); err != nil {
			return err
		}
	}
	for name := range have {
		a.log.Warn("file system in the pool that the management store does not name; not served", "fs", name)
	}
	return nil
}

// poolPaths lists the pool's drive paths in pool order.
func poolPaths(st mgmt.State) ([]string, error) {
	byUUID := map[string]api.Drive{}
	for _, d := range st.Drives {
		byUUID[d.UUID] = d
	}
	paths := make([]string, 0, len(st.Pool.Drives))
	for _, id := range st.Pool.Drives {
		d, ok := byUUID[id]
		if !ok {
			return nil, fmt.Errorf("management store: pool drive %s has no drive record", id)
		}
		paths = append(paths, d.Path)
	}
	return paths, nil
}

// serveFS starts the messenger and fsrpc server of one file system.
func (a *Agent) serveFS(name string) error {
	a.dataMu.Lock()
	defer a.dataMu.Unlock()
	if a.pool == nil {
		return errors.New("no pool")
	}
	svc, err := a.pool.FS(name)
	if err != nil {
		return err
	}
	used := map[int]bool{}
	for _, s := range a.servers {
		used[s.slot] = true
	}
	slot := 0
	for used[slot] {
		slot++
	}
	if slot >= fileSystemsServedMax || a.cfg.DataPort+slot > 65535 {
		return fmt.Errorf("%w: no data port left for file system %q (data_port %d, %d served)", mgmt.ErrNoSpace, name, a.cfg.DataPort, len(a.servers))
	}
	log := a.log.With("role", "compute", "fs", name)
	addr := netip.AddrPortFrom(a.dataAddr().Addr(), uint16(a.cfg.DataPort+slot))
	m, err := messenger.New(a.life, messenger.Config{
		Addr:   addr,
		Net:    "udp", // the frontends of this host reach it over loopback
		Poller: poller.Config{Cores: a.cpus.compute, Mode: a.pollMode()},
	}, log)
	if err != nil {
		return fmt.Errorf("compute messenger for %q on %s: %w", name, addr, err)
	}
	fsrpc.Serve(m, svc, log)
	a.servers[name] = &fsServer{name: name, slot: slot, m: m}
	log.Info("file system served", "addr", m.LocalAddr())
	return nil
}

// stopCompute closes the file systems' messengers, then writes back the
// pool and releases its drives.
func (a *Agent) stopCompute() error {
	a.dataMu.Lock()
	defer a.dataMu.Unlock()
	var errs []error
	for name, s := range a.servers {
		if err := s.m.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close messenger of %q: %w", name, err))
		}
		delete(a.servers, name)
	}
	if a.pool != nil {
		if err := a.pool.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close pool: %w", err))
		} else {
			a.log.Info("pool written back and closed")
		}
		a.pool = nil
	}
	if a.stopLife != nil {
		a.stopLife()
	}
	return errors.Join(errs...)
}

// CheckDrive implements mgmt.Dataplane.
func (a *Agent) CheckDrive(ctx context.Context, path string, force bool) (api.Drive, error) {
	st, err := os.Stat(path)
	if err != nil {
		return api.Drive{}, fmt.Errorf("%w: %w", mgmt.ErrInvalid, err)
	}
	var size uint64
	switch {
	case st.Mode().IsRegular():
		size = uint64(st.Size())
	case st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0:
		// O_EXCL on a block device fails with EBUSY while it is mounted
		// or held by another exclusive opener.
		f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_EXCL, 0)
		if err != nil {
			return api.Drive{}, fmt.Errorf("%w: %s is in use: %w", mgmt.ErrConflict, path, err)
		}
		end, err := f.Seek(0, 2)
		f.Close()
		if err != nil {
			return api.Drive{}, fmt.Errorf("size of %s: %w", path, err)
		}
		size = uint64(end)
	default:
		return api.Drive{}, fmt.Errorf("%w: %s is neither a block device nor a regular file", mgmt.ErrInvalid, path)
	}
	if size < nvme.DriveBytesMin {
		return api.Drive{}, fmt.Errorf("%w: %s has %d bytes, a drive needs at least %d", mgmt.ErrInvalid, path, size, nvme.DriveBytesMin)
	}
	return api.Drive{SizeBytes: size, BlockBytes: nvme.BlockSize}, nil
}

// CreatePool implements mgmt.Dataplane.
func (a *Agent) CreatePool(ctx context.Context, cluster api.Cluster, drives []api.Drive) error {
	paths := make([]string, len(drives))
	force := false
	for i, d := range drives {
		paths[i] = d.Path
		force = force || d.ForceFormat
	}
	p, err := pool.Create(paths, pool.Options{Logger: a.log.With("role", "compute"), Force: force})
	if err != nil {
		return mapPoolErr(err)
	}
	a.dataMu.Lock()
	a.pool = p
	a.dataMu.Unlock()
	return nil
}

// mapPoolErr gives pool errors the management API's meaning.
func mapPoolErr(err error) error {
	switch {
	case errors.Is(err, pool.ErrExists):
		return fmt.Errorf("%w: %w", mgmt.ErrConflict, err)
	case errors.Is(err, pool.ErrNotFound):
		return fmt.Errorf("%w: %w", mgmt.ErrNotFound, err)
	case errors.Is(err, pool.ErrNoSpace), errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%w: %w", mgmt.ErrNoSpace, err)
	case errors.Is(err, pool.ErrDrives), errors.Is(err, stripe.ErrProtection),
		errors.Is(err, nvme.ErrTooSmall), errors.Is(err, nvme.ErrForeign):
		return fmt.Errorf("%w: %w", mgmt.ErrInvalid, err)
	case errors.Is(err, nvme.ErrBusy):
		return fmt.Errorf("%w: %w", mgmt.ErrConflict, err)
	}
	return err
}

// CreateFS implements mgmt.Dataplane.
func (a *Agent) CreateFS(ctx context.Context, f api.FileSystem) error {
	a.dataMu.Lock()
	p := a.pool
	a.dataMu.Unlock()
	if p == nil {
		return errors.New("no pool")
	}
	if err := p.CreateFS(f.Name, f.CapacityBytes, f.DataShards, f.ParityShards); err != nil {
		return mapPoolErr(err)
	}
	if err := a.serveFS(f.Name); err != nil {
		// The caller rolls back its commit; do the same in the pool so
		// the name can be used again.
		if derr := p.DeleteFS(f.Name); derr != nil {
			a.log.Error("roll back file system in the pool", "fs", f.Name, "err", derr)
		}
		return err
	}
	return nil
}

// DeleteFS implements mgmt.Dataplane.
func (a *Agent) DeleteFS(ctx context.Context, f api.FileSystem) error {
	a.dataMu.Lock()
	defer a.dataMu.Unlock()
	if s, ok := a.servers[f.Name]; ok {
		s.m.Close()
		delete(a.servers, f.Name)
	}
	if a.pool == nil {
		return nil
	}
	if err := a.pool.DeleteFS(f.Name); err != nil && !errors.Is(err, pool.ErrNotFound) {
		return mapPoolErr(err)
	}
	return nil
}

// FSUsage implements mgmt.Dataplane.
func (a *Agent) FSUsage(f *api.FileSystem) {
	a.dataMu.Lock()
	p := a.pool
	_, served := a.servers[f.Name]
	a.dataMu.Unlock()
	if p == nil || !served {
		f.State = "offline"
		return
	}
	for _, i := range p.ListFS() {
		if i.Name == f.Name {
			f.UsedBytes, f.Files = i.UsedBytes, i.Files
		}
	}
	f.State = "ok"
	if p.Health().Degraded {
		f.State = "degraded"
	}
}

// DriveState implements mgmt.Dataplane.
func (a *Agent) DriveState(d *api.Drive) {
	a.dataMu.Lock()
	p := a.pool
	a.dataMu.Unlock()
	if p == nil {
		return
	}
	for _, h := range p.Health().Drives {
		if h.Path != d.Path {
			continue
		}
		switch {
		case !h.Present:
			d.State = "missing"
		case h.Failed:
			d.State = "failed"
		case h.Corrupt > 0:
			d.State = "corrupt-reads"
		default:
			d.State = "active"
		}
	}
}

// Describe implements mgmt.Dataplane.
func (a *Agent) Describe(s *api.Status) {
	s.Cpuset = poller.FormatCPUList(a.cpus.allowed)
	s.Cores = poller.FormatCPUList(a.cpus.agent)
	a.dataMu.Lock()
	defer a.dataMu.Unlock()
	var addrs []string
	for name, srv := range a.servers {
		addrs = append(addrs, fmt.Sprintf("%s=%s", name, srv.m.LocalAddr()))
	}
	sort.Strings(addrs)
	s.DataAddr = fmt.Sprintf("udp %v", addrs)
}
