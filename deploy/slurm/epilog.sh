#!/bin/bash
# Slurm epilog example (Epilog= in slurm.conf, runs as root on each node
# after a job): unmount the weft file systems the prolog mounted, when the
# site mounts per job (WEFT_UNMOUNT=1). The usual choice is to keep them
# mounted across jobs (the default here): mounting is cheap, not free.
# A mount still busy (another job on the node uses it) is left alone.
set -euo pipefail
WEFT_MOUNTS=${WEFT_MOUNTS:-"localhost/default:/mnt/weft"}

[ "${WEFT_UNMOUNT:-0}" = 1 ] || exit 0
for entry in $WEFT_MOUNTS; do
	dir=${entry#*:}
	mountpoint -q "$dir" || continue
	if ! umount "$dir"; then
		echo "weft epilog: $dir busy, left mounted" >&2
	fi
done
