package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/weft-fs/weft/dataplane/mgmt/api"
)

func fsCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "fs",
		Short: "Create, list and delete file systems",
	}
	var capacity, protection string
	create := &cobra.Command{
		Use:   "create <name>",
		Short: "Create an erasure-coded file system in the pool",
		Long: fmt.Sprintf(`Create a file system striped across the pool's drives with N+P erasure
coding: every stripe holds N data and P parity shards on N+P different
drives, so any P drives can fail without losing data. Accepted: N+2 or
N+4 with %d <= N <= %d; the pool needs at least N+P drives.`, api.ProtectionDataMin, api.ProtectionDataMax),
		Example: `  weft fs create scratch --capacity 10GiB --protection 3+2
  weft fs create home --capacity 2TiB --protection 8+4`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			size, err := api.ParseSize(capacity)
			if err != nil {
				return fmt.Errorf("--capacity: %w", err)
			}
			if _, err := api.ParseProtection(protection); err != nil {
				return fmt.Errorf("--protection: %w", err)
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			f, err := cl.CreateFS(cmd.Context(), api.CreateFSRequest{Name: args[0], CapacityBytes: size, Protection: protection})
			if err != nil {
				return err
			}
			return printFS(g, []api.FileSystem{f})
		},
	}
	create.Flags().StringVar(&capacity, "capacity", "", "size of the file system, e.g. 10GiB, 2TiB (required)")
	create.Flags().StringVar(&protection, "protection", "3+2", "erasure coding N+P: N+2 or N+4, 3 <= N <= 16")
	create.MarkFlagRequired("capacity")
	list := &cobra.Command{
		Use:   "list",
		Short: "List file systems with their usage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			fs, err := cl.FileSystems(cmd.Context())
			if err != nil {
				return err
			}
			return printFS(g, fs)
		},
	}
	del := &cobra.Command{
		Use:   "delete <name>",
		Short: "Delete a file system and everything in it",
		Long:  "Delete a file system and free its space. A mounted file system is refused: unmount it everywhere first.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			if err := cl.DeleteFS(cmd.Context(), args[0]); err != nil {
				return err
			}
			return g.print(map[string]string{"deleted": args[0]}, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "file system %s deleted\n", args[0])
			})
		},
	}
	c.AddCommand(create, list, del)
	return c
}

func printFS(g *globals, fs []api.FileSystem) error {
	return g.print(fs, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tPROTECTION\tCAPACITY\tUSED\tFILES\tSTATE\tUUID")
		for _, f := range fs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", f.Name, f.Protection(), api.FormatSize(f.CapacityBytes), api.FormatSize(f.UsedBytes), f.Files, orDash(f.State), f.UUID)
		}
	})
}
