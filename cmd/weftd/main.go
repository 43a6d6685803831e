// Command weftd is the weft agent: it runs this host's management, drive,
// compute and frontend roles (see dataplane/agent). It reads
// /etc/weft/service.conf; each flag overrides one key of it. Under systemd
// (deploy/systemd/weft-agent.service, Type=notify) it reports readiness
// with sd_notify, and SIGTERM stops it gracefully.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/weft-fs/weft/dataplane/agent"
	"github.com/weft-fs/weft/dataplane/agent/config"
)

// version is set at link time (-X main.version=...).
var version = "dev"

func main() {
	os.Exit(run())
}

func run() int {
	fl := flag.NewFlagSet("weftd", flag.ContinueOnError)
	path := fl.String("config", config.Path(), "service configuration file")
	showVersion := fl.Bool("version", false, "print the version and exit")
	// One flag per service.conf key, named with dashes.
	for _, k := range config.Keys() {
		fl.String(strings.ReplaceAll(k, "_", "-"), "", config.KeyHelp(k)+" (overrides "+k+")")
	}
	fl.Usage = func() {
		fmt.Fprintf(fl.Output(), "usage: weftd [--config FILE] [--KEY VALUE]...\n\nThe weft agent. Keys of service.conf, each overridable by a flag:\n\n")
		fl.PrintDefaults()
	}
	if err := fl.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Println("weftd", version)
		return 0
	}
	cfg, found, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "weftd:", err)
		return 1
	}
	var ferr error
	fl.Visit(func(f *flag.Flag) {
		if f.Name == "config" || f.Name == "version" || ferr != nil {
			return
		}
		ferr = cfg.Set(strings.ReplaceAll(f.Name, "-", "_"), f.Value.String())
	})
	if ferr != nil {
		fmt.Fprintln(os.Stderr, "weftd: flag:", ferr)
		return 2
	}
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if !found {
		log.Info("no configuration file, using defaults", "path", *path)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// STOPPING=1 as soon as the signal arrives, and at the latest when
	// Run returns (an early failure, or a stop faster than the goroutine).
	var stopping sync.Once
	notifyStopping := func() { stopping.Do(func() { daemon.SdNotify(false, daemon.SdNotifyStopping) }) }
	go func() {
		<-ctx.Done()
		notifyStopping()
	}()
	a := agent.New(cfg, version, log)
	err = a.Run(ctx, func() {
		if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
			log.Warn("sd_notify READY", "err", err)
		}
	})
	notifyStopping()
	if err != nil {
		log.Error("weftd", "err", err)
		return 1
	}
	return 0
}
