package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/weft-fs/weft/dataplane/pool"
)

// errDamage makes `weft fsck` exit non-zero after printing its report.
type errDamage int

func (e errDamage) Error() string { return fmt.Sprintf("fsck: %d problem(s) found", int(e)) }

// runFsck runs the pool's offline checker (pool.Check) over the drives,
// opened read-only; weftd must be stopped so the drives do not change
// under it.
func runFsck(cmd *cobra.Command, g *globals, drives []string) error {
	r, err := pool.Check(drives)
	if err != nil {
		return fmt.Errorf("fsck: %w", err)
	}
	out := struct {
		Clean bool `json:"clean"`
		pool.Report
	}{r.Clean(), r}
	if err := g.print(out, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "drives:\t%d (%d missing)\n", r.Drives, r.DrivesMissing)
		fmt.Fprintf(w, "file systems:\t%d\n", r.FileSystems)
		fmt.Fprintf(w, "inodes:\t%d (%d directories, %d orphans to reclaim)\n", r.Inodes, r.Dirs, r.Orphans)
		fmt.Fprintf(w, "stripes:\t%d (%d chunks rebuilt from parity)\n", r.Stripes, r.DegradedChunks)
		fmt.Fprintf(w, "journal entries:\t%d\n", r.JournalEntries)
		for _, p := range r.Problems {
			fmt.Fprintf(w, "problem:\t%s\n", p)
		}
		if r.Clean() {
			fmt.Fprintln(w, "result:\tclean")
		} else {
			fmt.Fprintf(w, "result:\t%d problem(s)\n", r.Damage)
		}
	}); err != nil {
		return err
	}
	if !r.Clean() {
		return errDamage(r.Damage)
	}
	return nil
}
