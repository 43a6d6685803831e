#!/bin/bash
# Slurm prolog example (Prolog= in slurm.conf, runs as root on each node of
# a job before it starts): make sure the job's weft file systems are mounted.
# The agent's cores are kept out of the jobs by CpuSpecList in slurm.conf
# and weftd runs with isolate_cpusets=false, so nothing here touches
# cpusets. WEFT_MOUNTS is a list of "host/fs:/mountpoint" entries, set by
# the site (e.g. from the job's --constraint or a default).
set -euo pipefail
WEFT_MOUNTS=${WEFT_MOUNTS:-"localhost/default:/mnt/weft"}
WEFT_MOUNT_OPTS=${WEFT_MOUNT_OPTS:-"num_cores=1"}

for entry in $WEFT_MOUNTS; do
	src=${entry%%:*}
	dir=${entry#*:}
	if mountpoint -q "$dir"; then
		continue
	fi
	mkdir -p "$dir"
	if ! mount -t weft "$src" "$dir" -o "$WEFT_MOUNT_OPTS"; then
		echo "weft prolog: mount $src on $dir failed" >&2
		# A non-zero exit drains the node: the job is requeued elsewhere.
		exit 1
	fi
done
