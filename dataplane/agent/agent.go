package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/weft-fs/weft/dataplane/agent/config"
	"github.com/weft-fs/weft/dataplane/mgmt"
	"github.com/weft-fs/weft/dataplane/poller"
	"github.com/weft-fs/weft/dataplane/pool"
)

// Limits of the agent's lifecycle.
const (
	// shutdownTimeout bounds a graceful stop: API requests in flight,
	// unmounts, the pool's write-back and checkpoint.
	shutdownTimeout = 60 * time.Second
	// apiDrainTimeout bounds waiting for API requests in flight.
	apiDrainTimeout = 15 * time.Second
)

// Agent is one weftd.
type Agent struct {
	cfg     config.Config
	log     *slog.Logger
	version string
	host    string
	cpus    cpuPlan

	store *mgmt.Store
	api   *mgmt.Server

	// life is the context of everything that runs until the agent has
	// stopped (messengers, mounts); Run's context ends when the stop begins.
	life     context.Context
	stopLife context.CancelFunc

	// compute role
	dataMu  sync.Mutex // guards pool and servers
	pool    *pool.Pool
	servers map[string]*fsServer

	mountsMu sync.Mutex
	mounts   map[string]*mount // by directory
	stopping bool              // set when the agent stops: its unmounts are not the users'
	savedErr error             // last failure to record the mounts, logged once
	wg       sync.WaitGroup
}

// New prepares an agent; Run starts it.
func New(cfg config.Config, version string, log *slog.Logger) *Agent {
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	return &Agent{cfg: cfg, log: log, version: version, host: host, mounts: map[string]*mount{}}
}

// Run starts every role, calls ready once the agent serves, and runs until
// ctx is cancelled; then it stops gracefully and returns.
func (a *Agent) Run(ctx context.Context, ready func()) (err error) {
	a.cpus, err = planCPUs(a.cfg.Cores, a.cfg.IsolateCpusets)
	if err != nil {
		return err
	}
	if len(a.cfg.Cores) > 0 {
		if err := confineThreads(a.cpus.agent); err != nil {
			return err
		}
	}
	a.log.Info("weftd starting", "version", a.version, "host", a.host, "cpuset", poller.FormatCPUList(a.cpus.allowed),
		"cores", poller.FormatCPUList(a.cpus.agent), "state_dir", a.cfg.StateDir, "api", a.cfg.APIAddr)
	if err := os.MkdirAll(a.cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	token, err := mgmt.LoadOrCreateToken(a.cfg.TokenPath())
	if err != nil {
		return err
	}
	a.store, err = mgmt.OpenStore(ctx, a.cfg.StateDir, a.log.With("role", "management"))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := a.store.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := a.startCompute(ctx); err != nil {
		a.stopCompute()
		return err
	}
	a.restoreMounts(ctx)
	a.api = mgmt.NewServer(mgmt.ServerConfig{Addr: a.cfg.APIAddr, Token: token, Host: a.host, Version: a.version},
		a.store, a, a.log.With("role", "management"))
	a.registerMetrics(a.api.Registry())
	if err := a.api.Listen(); err != nil {
		a.stopCompute()
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- a.api.Serve() }()
	a.log.Info("weftd ready", "api", a.cfg.APIAddr)
	if ready != nil {
		ready()
	}
	select {
	case <-ctx.Done():
		a.log.Info("weftd stopping")
	case err = <-serveErr:
		a.log.Error("management API failed", "err", err)
	}
	return errors.Join(err, a.shutdown())
}

// shutdown stops the roles in reverse order of their start.
func (a *Agent) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var errs []error
	// Stop accepting API requests and answer those in flight.
	actx, acancel := context.WithTimeout(ctx, apiDrainTimeout)
	if err := a.api.Shutdown(actx); err != nil {
		errs = append(errs, fmt.Errorf("stop API: %w", err))
	}
	acancel()
	// Unmount: the kernel stops sending, the requests it sent are answered.
	a.unmountAll()
	a.wg.Wait()
	// Write back the pool and release the drives.
	errs = append(errs, a.stopCompute())
	err := errors.Join(errs...)
	if err != nil {
		a.log.Error("weftd stopped with errors", "err", err)
	} else {
		a.log.Info("weftd stopped")
	}
	return err
}

// dataAddr is the compute role's messenger address: loopback, where every
// frontend of this host reaches it exactly as a remote one would.
func (a *Agent) dataAddr() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(a.cfg.DataPort))
}

// pollMode is the backend pollers' mode from service.conf.
func (a *Agent) pollMode() poller.Mode {
	if a.cfg.PollMode == "dedicated" {
		return poller.Dedicated
	}
	return poller.Adaptive
}
