package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/weft-fs/weft/dataplane/mgmt/api"
)

func statusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the agent, the cluster, its drives, file systems and mounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			s, err := cl.Status(cmd.Context())
			if err != nil {
				return err
			}
			return g.print(s, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "host:\t%s (weftd %s, up %s)\n", s.Host, s.Version, time.Since(s.StartedAt).Round(time.Second))
				fmt.Fprintf(w, "cpuset:\t%s (roles on %s)\n", orDash(s.Cpuset), orDash(s.Cores))
				fmt.Fprintf(w, "data path:\t%s\n", orDash(s.DataAddr))
				if s.Cluster == nil {
					fmt.Fprintf(w, "cluster:\tnone (weft cluster create)\n")
				} else {
					fmt.Fprintf(w, "cluster:\t%s (%s)\n", s.Cluster.Name, s.Cluster.UUID)
				}
				fmt.Fprintf(w, "management:\traft %s, term %d, applied %d, %d voter(s)\n", s.Raft.State, s.Raft.Term, s.Raft.AppliedIndex, s.Raft.Voters)
				active := 0
				var size uint64
				for _, d := range s.Drives {
					if d.State == "active" {
						active++
					}
					size += d.SizeBytes
				}
				fmt.Fprintf(w, "drives:\t%d (%d active), %s raw\n", len(s.Drives), active, api.FormatSize(size))
				for _, f := range s.FileSystems {
					fmt.Fprintf(w, "fs %s:\t%s, %s of %s used, %d files, %s\n", f.Name, f.Protection(), api.FormatSize(f.UsedBytes), api.FormatSize(f.CapacityBytes), f.Files, orDash(f.State))
				}
				for _, m := range s.Mounts {
					fmt.Fprintf(w, "mount %s:\t%s (%s)\n", m.Dir, m.Source, m.Mode)
				}
			})
		},
	}
}
