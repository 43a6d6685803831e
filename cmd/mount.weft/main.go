// Command mount.weft is the mount(8) helper for weft file systems,
// installed as /sbin/mount.weft so that
//
//	mount -t weft localhost/myfs /mnt/weft -o num_cores=1
//
// works. mount(8) runs it as "mount.weft SRC DIR [-sfnvrw] [-o opts]". It
// checks the options (weft's own — core, num_cores, net and the fstab
// ones — are consumed; the rest go to the kernel mount) and asks the
// local agent, weftd, to serve the mount: the agent owns the FUSE session,
// so the mount outlives this helper.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/weft-fs/weft/dataplane/agent/config"
	"github.com/weft-fs/weft/dataplane/mgmt/api"
	"github.com/weft-fs/weft/dataplane/mountopt"
)

// Exit codes of mount helpers (mount(8), "RETURN CODES").
const (
	exitUsage   = 1
	exitSystem  = 2
	exitFailure = 32
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	h, err := mountopt.ParseHelperArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mount.weft:", err)
		return exitUsage
	}
	opts := h.Options
	if h.Sloppy {
		var dropped []string
		opts, dropped = mountopt.DropUnknown(opts)
		for _, d := range dropped {
			fmt.Fprintf(os.Stderr, "mount.weft: ignoring unknown option %q (-s)\n", d)
		}
	}
	o, err := mountopt.Parse(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mount.weft:", err)
		return exitUsage
	}
	dir, err := filepath.Abs(h.Dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mount.weft:", err)
		return exitUsage
	}
	// ENOTCONN: a weft mount whose agent died; the agent clears it.
	if st, err := os.Stat(dir); (err != nil && !errors.Is(err, syscall.ENOTCONN)) || (err == nil && !st.IsDir()) {
		fmt.Fprintf(os.Stderr, "mount.weft: mount point %s is not a directory\n", dir)
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "mount.weft: mount %s on %s: %v\n", h.Source, dir, err)
		if o.NoFail {
			// nofail: a missing file system must not fail the boot.
			return 0
		}
		return exitFailure
	}
	c, err := client()
	if err != nil {
		return fail(err)
	}
	if h.Fake {
		// -f: check that the agent knows the file system, mount nothing.
		fs, err := c.FileSystems(ctx)
		if err != nil {
			return fail(err)
		}
		_, name, _ := strings.Cut(h.Source, "/")
		for _, f := range fs {
			if f.Name == name {
				if h.Verbose {
					fmt.Printf("mount.weft: would mount %s on %s with %q\n", h.Source, dir, o.String())
				}
				return 0
			}
		}
		return fail(fmt.Errorf("file system %q does not exist", name))
	}
	m, err := c.Mount(ctx, api.MountRequest{Source: h.Source, Dir: dir, Options: o.String()})
	if err != nil {
		var e *api.Error
		if errors.As(err, &e) && e.Status >= http.StatusInternalServerError {
			fmt.Fprintf(os.Stderr, "mount.weft: mount %s on %s: %v\n", h.Source, dir, err)
			return exitSystem
		}
		return fail(err)
	}
	if h.Verbose {
		fmt.Printf("mount.weft: %s mounted on %s (%s, net %s)\n", m.Source, m.Dir, m.Mode, m.Net)
	}
	return 0
}

// client finds the local agent through its service.conf ($WEFT_CONFIG or
// /etc/weft/service.conf).
func client() (*api.Client, error) {
	cfg, _, err := config.Load(config.Path())
	if err != nil {
		return nil, err
	}
	tok, err := api.ReadToken(cfg.TokenPath())
	if err != nil {
		return nil, err
	}
	return api.NewClient(cfg.APIAddr, tok), nil
}
