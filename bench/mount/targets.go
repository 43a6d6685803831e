package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/weft-fs/weft/dataplane/agent"
	"github.com/weft-fs/weft/dataplane/agent/config"
	"github.com/weft-fs/weft/dataplane/mgmt/api"
)

// weftTarget is an agent running in this process with one mounted file
// system.
type weftTarget struct {
	mnt    string
	client *api.Client
	cancel context.CancelFunc
	done   chan error
}

// startWeft runs the agent on five drive files in raw, creates a 3+2 file
// system and mounts it, all through the management API.
func startWeft(ctx context.Context, work, raw string, log *slog.Logger) (*weftTarget, error) {
	cfg := config.Default()
	cfg.StateDir = filepath.Join(work, "state")
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg.APIAddr = fmt.Sprintf("127.0.0.1:%d", port)
	cfg.DataPort = port + 1
	if err := cfg.Set("poll_mode", pollMode); err != nil {
		return nil, err
	}
	actx, cancel := context.WithCancel(ctx)
	w := &weftTarget{mnt: filepath.Join(work, "weft"), cancel: cancel, done: make(chan error, 1)}
	ready := make(chan struct{})
	a := agent.New(cfg, "bench", log)
	go func() { w.done <- a.Run(actx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-w.done:
		return nil, err
	case <-time.After(setupTimeout):
		cancel()
		return nil, fmt.Errorf("agent not ready after %s", setupTimeout)
	}
	tok, err := api.ReadToken(cfg.TokenPath())
	if err != nil {
		w.stop()
		return nil, err
	}
	w.client = api.NewClient(cfg.APIAddr, tok)
	var drives []string
	for i := range 5 {
		p := filepath.Join(raw, fmt.Sprintf("drive%d.img", i))
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			w.stop()
			return nil, err
		}
		if err := os.Truncate(p, driveBytes); err != nil {
			w.stop()
			return nil, err
		}
		drives = append(drives, p)
	}
	steps := []func() error{
		func() error { _, err := w.client.CreateCluster(ctx, "bench"); return err },
		func() error { _, err := w.client.AddDrives(ctx, drives, false); return err },
		func() error {
			_, err := w.client.CreateFS(ctx, api.CreateFSRequest{Name: weftFSName, CapacityBytes: fsCapacityBytes, Protection: "3+2"})
			return err
		},
		func() error { return os.MkdirAll(w.mnt, 0o755) },
		func() error {
			_, err := w.client.Mount(ctx, api.MountRequest{Source: "localhost/" + weftFSName, Dir: w.mnt, Options: mountOptions})
			return err
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			w.stop()
			return nil, err
		}
	}
	return w, nil
}

// stop unmounts and stops the agent (its shutdown unmounts too).
func (w *weftTarget) stop() {
	w.cancel()
	if err := <-w.done; err != nil {
		fmt.Fprintln(os.Stderr, "weft agent stop:", err)
	}
}

// mountLoopback mounts go-fuse's loopback file system of dir at mnt, with
// go-fuse's default options (1 s attribute and entry timeouts, page
// cache): the reference point for what a FUSE file system costs here.
func mountLoopback(dir, mnt string) (*fuse.Server, error) {
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return nil, err
	}
	root, err := fs.NewLoopbackRoot(dir)
	if err != nil {
		return nil, err
	}
	return fs.Mount(mnt, root, &fs.Options{MountOptions: fuse.MountOptions{
		FsName: "loopback", Name: "loopback", DirectMount: true, AllowOther: true, MaxWrite: 1 << 20,
	}})
}

// freePort finds a TCP port with a free UDP port above it.
func freePort() (int, error) {
	for range 100 {
		p := 20000 + rand.IntN(30000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if err != nil {
			continue
		}
		u.Close()
		return p, nil
	}
	return 0, fmt.Errorf("no free port")
}
