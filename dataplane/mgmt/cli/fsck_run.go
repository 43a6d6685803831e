package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// runFsck runs the file system's offline checker over the drives.
func runFsck(cmd *cobra.Command, g *globals, drives []string) error {
	return errors.New("fsck: the offline checker is not in this build")
}
