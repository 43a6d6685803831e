package testkit

// cluster.go assembles a real local weft cluster inside the test process,
// every piece the production one, joined the way weftd joins them:
//
//	wfe-drives-*/drive{0..4}.img ──► nvme drives ──► pool (fs.Service)
//	                                                   │
//	compute messenger @127.0.0.1:<free port> ◄─────────┘ fsrpc.Serve
//	        ▲ UDP (loopback), weft protocol
//	frontend messenger @127.0.0.1:<free port> ── fsrpc.Client
//	        ▲
//	FUSE mount wfe-mnt-*/ ── frontend.Mount ◄── the test's syscalls
//
// Cleanup runs in reverse: unmount (forced if busy), close the
// messengers, close the pool, remove the drive files.

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"testing"

	"github.com/weft-fs/weft/dataplane/frontend"
	"github.com/weft-fs/weft/dataplane/fs"
	"github.com/weft-fs/weft/dataplane/fsrpc"
	"github.com/weft-fs/weft/dataplane/messenger"
	"github.com/weft-fs/weft/dataplane/poller"
)

// Cluster is a mounted local cluster.
type Cluster struct {
	// Dir is the mount point.
	Dir string
	// Mount is the FUSE mount.
	Mount *frontend.MountPoint
	// Service is the compute role's file system (the pool's fs).
	Service fs.Service
	// Compute and Frontend are the two roles' messengers.
	Compute, Frontend *messenger.Messenger
	// Client is the frontend's fs.Service: calls over the messenger.
	Client *fsrpc.Client
	// DriveDir holds the drive files, DrivePaths names them (NewCluster).
	DriveDir   string
	DrivePaths []string
}

// loopback is where test messengers bind; port 0 picks a free port.
var loopback = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0)

// ServeAndMount serves svc from a compute messenger, connects a
// frontend messenger's fsrpc client to it and mounts that client. o's
// FSName defaults to weft:localhost/test, AllowOther is set so
// unprivileged child processes can use the mount.
func ServeAndMount(t testing.TB, svc fs.Service, o frontend.Options) *Cluster {
	t.Helper()
	RequireFUSE(t)
	// Warnings to stderr: t.Log would panic when a messenger goroutine
	// logs after the test returned.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	compute, err := messenger.New(ctx, messenger.Config{Addr: loopback, Net: "udp", Poller: poller.Config{Mode: poller.Adaptive}}, log)
	if err != nil {
		t.Fatalf("compute messenger: %v", err)
	}
	t.Cleanup(func() { compute.Close() })
	fsrpc.Serve(compute, svc, log)

	c := &Cluster{Service: svc, Compute: compute}
	c.Mount, c.Frontend, c.Client = c.mountClient(t, o, log)
	c.Dir = c.Mount.Dir()
	return c
}

// AddMount mounts the cluster's file system a second time through a
// frontend of its own (its own messenger and fsrpc client): another
// client of the same compute role, as a second host would be.
func (c *Cluster) AddMount(t testing.TB, o frontend.Options) *frontend.MountPoint {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, _, _ := c.mountClient(t, o, log)
	return m
}

// mountClient starts a frontend messenger, an fsrpc client of the
// compute messenger, and a FUSE mount of that client.
func (c *Cluster) mountClient(t testing.TB, o frontend.Options, log *slog.Logger) (*frontend.MountPoint, *messenger.Messenger, *fsrpc.Client) {
	t.Helper()
	if o.Core == 0 && o.NumCores == 0 {
		o.Core = -1
	}
	mcfg, err := o.MessengerConfig(loopback)
	if err != nil {
		t.Fatalf("frontend messenger config: %v", err)
	}
	front, err := messenger.New(context.Background(), mcfg, log)
	if err != nil {
		t.Fatalf("frontend messenger: %v", err)
	}
	t.Cleanup(func() { front.Close() })
	client := fsrpc.NewClient(front, c.Compute.LocalAddr())
	if o.Logger == nil {
		o.Logger = log
	}
	o.AllowOther = true
	return MountService(t, client, o), front, client
}
