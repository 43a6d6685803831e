package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/weft-fs/weft/dataplane/mgmt/api"
	"github.com/weft-fs/weft/dataplane/mountopt"
)

func localCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "local",
		Short: "Mount, unmount and list this host's weft mounts",
	}
	var opts string
	mount := &cobra.Command{
		Use:   "mount <host>/<fs> <dir>",
		Short: "Mount a file system on this host (what mount -t weft does)",
		Long: `Mount a file system: the local agent starts a FUSE frontend for <dir>
that reaches the file system's compute role over weft's protocol.

Options (-o, comma-separated):
  core=N        dedicated core N for the frontend's busy poller (performance mode)
  num_cores=N   N non-dedicated cores polled with wake-ups (CPU-optimized mode)
  net=udp|IF    kernel UDP sockets, or AF_XDP on interface IF
  _netdev, defaults, auto, noauto, nofail, user, nouser: fstab options, consumed by weft
  ro, rw, noatime, relatime, nodiratime, nosuid, nodev, noexec, sync, ...: passed to the kernel
core must lie inside the agent's cpuset.`,
		Example: `  weft local mount localhost/scratch /mnt/scratch -o num_cores=1
  weft local mount localhost/scratch /mnt/scratch -o core=1,net=udp,noatime`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := mountopt.Parse(opts); err != nil {
				return err
			}
			cl, err := g.client()
			if err != nil {
				return err
			}
			m, err := cl.Mount(cmd.Context(), api.MountRequest{Source: args[0], Dir: args[1], Options: opts})
			if err != nil {
				return err
			}
			return printMounts(g, []api.Mount{m})
		},
	}
	mount.Flags().StringVarP(&opts, "options", "o", "", "mount options, comma-separated")
	var lazy bool
	umount := &cobra.Command{
		Use:     "umount <dir>",
		Aliases: []string{"unmount"},
		Short:   "Unmount a weft mount of this host",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			if err := cl.Unmount(cmd.Context(), api.UnmountRequest{Dir: args[0], Lazy: lazy}); err != nil {
				return err
			}
			return g.print(map[string]string{"unmounted": args[0]}, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "%s unmounted\n", args[0])
			})
		},
	}
	umount.Flags().BoolVarP(&lazy, "lazy", "l", false, "detach even if busy (umount -l)")
	status := &cobra.Command{
		Use:   "status",
		Short: "List the weft mounts this host's agent serves",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := g.client()
			if err != nil {
				return err
			}
			ms, err := cl.Mounts(cmd.Context())
			if err != nil {
				return err
			}
			return printMounts(g, ms)
		},
	}
	c.AddCommand(mount, umount, status)
	return c
}

func printMounts(g *globals, ms []api.Mount) error {
	return g.print(ms, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "DIR\tSOURCE\tMODE\tCORES\tNET\tOPTIONS\tSINCE")
		for _, m := range ms {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Dir, m.Source, m.Mode, cores(m.Cores), m.Net, orDash(m.Options), m.MountedAt.Local().Format(time.DateTime))
		}
	})
}
