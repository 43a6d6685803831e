package pool

import (
	"fmt"

	"github.com/weft-fs/weft/nvme"
)

// driveInfo is what the pool keeps of a drive's identity.
type driveInfo struct {
	blocks uint64
	uuid   [16]byte
}

var _ Drive = (*nvme.Drive)(nil)

// formatDrive formats path as a drive of pool cluster.
func formatDrive(path string, cluster [16]byte, force bool) error {
	if err := nvme.Format(path, nvme.FormatOptions{ClusterUUID: cluster, Force: force}); err != nil {
		return fmt.Errorf("format drive %s: %w", path, err)
	}
	return nil
}

// openDrive opens a formatted drive.
func openDrive(path string, readOnly bool) (Drive, driveInfo, error) {
	d, err := nvme.Open(path, nvme.Options{ReadOnly: readOnly})
	if err != nil {
		return nil, driveInfo{}, err
	}
	in := d.Info()
	return d, driveInfo{blocks: in.DataBlocks, uuid: in.DriveUUID}, nil
}
