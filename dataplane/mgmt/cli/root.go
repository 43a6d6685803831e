package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/weft-fs/weft/dataplane/agent/config"
	"github.com/weft-fs/weft/dataplane/mgmt/api"
)

// Environment variables that point the CLI at an agent.
const (
	EnvAPI       = "WEFT_API"
	EnvTokenFile = "WEFT_TOKEN_FILE"
)

// globals are the flags every command shares.
type globals struct {
	json      bool
	api       string
	tokenFile string
	config    string
	out       io.Writer
}

// client resolves the agent's address and token: flags, then environment,
// then the agent's service.conf.
func (g *globals) client() (*api.Client, error) {
	addr, tokPath := g.api, g.tokenFile
	if addr == "" {
		addr = os.Getenv(EnvAPI)
	}
	if tokPath == "" {
		tokPath = os.Getenv(EnvTokenFile)
	}
	if addr == "" || tokPath == "" {
		path := g.config
		if path == "" {
			path = config.Path()
		}
		c, _, err := config.Load(path)
		if err != nil {
			return nil, err
		}
		if addr == "" {
			addr = c.APIAddr
		}
		if tokPath == "" {
			tokPath = c.TokenPath()
		}
	}
	tok, err := api.ReadToken(tokPath)
	if err != nil {
		return nil, err
	}
	return api.NewClient(addr, tok), nil
}

// print writes v as JSON with -J, else calls table.
func (g *globals) print(v any, table func(w *tabwriter.Writer)) error {
	if g.json {
		enc := json.NewEncoder(g.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// NewRoot builds the `weft` command tree.
func NewRoot(version string) *cobra.Command {
	g := &globals{out: os.Stdout}
	root := &cobra.Command{
		Use:   "weft",
		Short: "Manage a weft cluster: drives, file systems and mounts",
		Long: `weft manages a weft cluster through the local agent (weftd): its drives,
its erasure-coded file systems and this host's mounts.

The agent's API address and token come from /etc/weft/service.conf
(api_addr, state_dir/token); --api and --token-file, or WEFT_API and
WEFT_TOKEN_FILE, override them. The token file is readable by root only.`,
		Example: `  weft cluster create
  weft cluster drive add /dev/nvme0n1 /dev/nvme1n1 /dev/nvme2n1 /dev/nvme3n1 /dev/nvme4n1
  weft fs create scratch --capacity 10TiB --protection 8+2
  weft local mount localhost/scratch /mnt/scratch -o num_cores=1
  weft status -J`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(os.Stdout)
	pf := root.PersistentFlags()
	pf.BoolVarP(&g.json, "json", "J", false, "print JSON instead of tables")
	pf.StringVar(&g.api, "api", "", "agent API address host:port (default: api_addr of service.conf)")
	pf.StringVar(&g.tokenFile, "token-file", "", "API token file (default: state_dir/token of service.conf)")
	pf.StringVar(&g.config, "config", "", "agent configuration (default $WEFT_CONFIG or "+config.DefaultPath+")")
	root.AddCommand(clusterCmd(g), fsCmd(g), statusCmd(g), localCmd(g), fsckCmd(g))
	return root
}

// Execute runs the CLI and returns the process exit code.
func Execute(ctx context.Context, version string, args []string) int {
	root := NewRoot(version)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "weft:", err)
		return 1
	}
	return 0
}

func cores(c []int) string {
	if len(c) == 0 {
		return "-"
	}
	return config.FormatCPUList(c)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func join(ss []string) string { return strings.Join(ss, ",") }
