// Command weft is the command line of a weft cluster: see
// dataplane/mgmt/cli, or run `weft --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/weft-fs/weft/dataplane/mgmt/cli"
)

// version is set at link time (-X main.version=...).
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, version, os.Args[1:])
	stop()
	os.Exit(code)
}
