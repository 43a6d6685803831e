package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func fsckCmd(g *globals) *cobra.Command {
	var drives []string
	c := &cobra.Command{
		Use:   "fsck --drive <path> [--drive <path>]...",
		Short: "Check a pool's file systems offline (weftd stopped)",
		Long: `Read every drive of a pool directly and check the file systems on it:
superblocks, metadata journal and checkpoints, inode and directory
consistency, extent maps, and the checksums and parity of every stripe.
The drives must not be in use: stop weftd first. Exits non-zero when it
finds damage.`,
		Example: `  systemctl stop weft-agent
  weft fsck --drive /dev/nvme0n1 --drive /dev/nvme1n1 --drive /dev/nvme2n1 ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(drives) == 0 {
				return errors.New("fsck: give the pool's drives with --drive")
			}
			return runFsck(cmd, g, drives)
		},
	}
	c.Flags().StringArrayVar(&drives, "drive", nil, "a drive of the pool (repeat for each)")
	return c
}
