package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/weft-fs/weft/dataplane/mgmt/api"
)

func clusterCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "cluster",
		Short: "Create the cluster and manage its drives",
	}
	var name string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create the cluster this agent leads (once)",
		Long: `Create the cluster: a new cluster UUID in the agent's management store.
Drives added afterwards are formatted for this cluster and refuse to join
another one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			out, err := cl.CreateCluster(cmd.Context(), name)
			if err != nil {
				return err
			}
			return g.print(out, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "cluster %s created (uuid %s)\n", out.Name, out.UUID)
			})
		},
	}
	create.Flags().StringVar(&name, "name", "weft", "cluster name")
	c.AddCommand(create, driveCmd(g))
	return c
}

func driveCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "drive",
		Short: "Add and list the drives of the pool",
	}
	var force bool
	add := &cobra.Command{
		Use:   "add <path>...",
		Short: "Format drives and add them to the pool",
		Long: `Format each drive (a block device or a file) with weft's on-drive format
for this cluster and add it to the pool. Everything on it is lost. A drive
that already carries another weft cluster's superblock is refused unless
--force is given; a drive in use by another process is always refused.`,
		Example: `  weft cluster drive add /dev/nvme0n1 /dev/nvme1n1
  weft cluster drive add /srv/weft/drive{0..4}.img`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			out, err := cl.AddDrives(cmd.Context(), args, force)
			if err != nil {
				if len(out) > 0 {
					printDrives(g, out)
				}
				return err
			}
			return printDrives(g, out)
		},
	}
	add.Flags().BoolVar(&force, "force", false, "format drives that carry a foreign weft superblock")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the drives of the pool",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			out, err := cl.Drives(cmd.Context())
			if err != nil {
				return err
			}
			return printDrives(g, out)
		},
	}
	remove := &cobra.Command{
		Use:   "remove <path|uuid>",
		Short: "Remove a drive that is not yet part of the pool",
		Long: `Remove a drive added by mistake. Only drives still pending can be
removed: once the first file system is created, the pool is formatted
on them and they stay.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			d, err := cl.RemoveDrive(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printDrives(g, []api.Drive{d})
		},
	}
	c.AddCommand(add, list, remove)
	return c
}

func printDrives(g *globals, ds []api.Drive) error {
	return g.print(ds, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "UUID\tHOST\tPATH\tSIZE\tSTATE\tADDED")
		for _, d := range ds {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", d.UUID, d.Host, d.Path, api.FormatSize(d.SizeBytes), d.State, d.AddedAt.Local().Format(time.DateTime))
		}
	})
}
