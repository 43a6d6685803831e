#!/bin/bash
# demo.sh is `make demo`: five file-backed drives in a temporary directory,
# a weftd on them, a 3+2 file system, a FUSE mount, and a fio job through
# the mount that writes with crc32c verification headers, verifies, and
# reads back; then it unmounts, stops weftd and removes everything — also
# when a step fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
export PATH=/usr/local/go/bin:$PATH

if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root: weftd mounts FUSE with mount(2) and formats drives" >&2
	exit 1
fi
for b in weftd weft mount.weft; do
	[ -x "$bin/$b" ] || { echo "demo: $bin/$b missing: run make build" >&2; exit 1; }
done

DRIVE_SIZE=${DRIVE_SIZE:-1G}    # each of the five drive files (sparse)
FS_CAPACITY=${FS_CAPACITY:-2GiB}
FIO_SIZE=${FIO_SIZE:-256M}      # per fio job

work=$(mktemp -d /tmp/wag-demo.XXXXXX)
mnt=$work/mnt
state=$work/state
log=$work/weftd.log
port=$((20000 + RANDOM % 20000))
pid=
cleanup() {
	rc=$?
	set +e
	if mountpoint -q "$mnt" 2>/dev/null; then
		"$bin/weft" local umount "$mnt" >/dev/null 2>&1 || umount "$mnt" 2>/dev/null || umount -l "$mnt"
	fi
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid"
	fi
	if [ $rc != 0 ] && [ -f "$log" ]; then
		echo "--- demo failed; last lines of weftd's log:" >&2
		tail -n 30 "$log" >&2
	fi
	rm -rf "$work"
	exit $rc
}
trap cleanup EXIT INT TERM

mkdir -p "$mnt" "$state" "$work/drives"
cat >"$work/service.conf" <<CONF
state_dir = $state
api_addr = 127.0.0.1:$port
data_port = $((port + 1))
net = udp
CONF
export WEFT_CONFIG=$work/service.conf

echo "== five drives of $DRIVE_SIZE in $work/drives"
drives=()
for i in 0 1 2 3 4; do
	truncate -s "$DRIVE_SIZE" "$work/drives/drive$i.img"
	drives+=("$work/drives/drive$i.img")
done

echo "== weftd (log: $log)"
"$bin/weftd" --config "$work/service.conf" >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	"$bin/weft" status >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || { echo "demo: weftd exited" >&2; exit 1; }
	sleep 0.1
done

set -x
"$bin/weft" cluster create --name demo
"$bin/weft" cluster drive add "${drives[@]}"
"$bin/weft" fs create demo --capacity "$FS_CAPACITY" --protection 3+2
# What mount -t weft runs once bin/mount.weft is installed as /sbin/mount.weft.
"$bin/mount.weft" localhost/demo "$mnt" -o num_cores=1,noatime
{ set +x; } 2>/dev/null
grep " $mnt " /proc/self/mounts

echo "== fio: sequential 1 MiB write + crc32c verify, then sequential and random 4 KiB reads"
# The three jobs share their files (filename_format), so the reads read
# what write-verify wrote; verify_state_save=0 keeps fio from leaving state
# files in the current directory.
(cd "$work" && fio --output-format=normal --group_reporting \
	--directory="$mnt" --filename_format='demo.$jobnum' --ioengine=psync --size="$FIO_SIZE" --numjobs=2 \
	--verify_state_save=0 \
	--name=write-verify --rw=write --bs=1M --verify=crc32c --do_verify=1 --verify_fatal=1 \
	--name=seq-read --stonewall --rw=read --bs=1M \
	--name=rand-read --stonewall --rw=randread --bs=4k --runtime=5 --time_based \
	>"$work/fio.txt")
grep -E "^(write-verify|seq-read|rand-read):|^ +(READ|WRITE):|err= *[0-9]" "$work/fio.txt" | sed 's/^/  /'
if grep -q "verify: bad" "$work/fio.txt"; then
	echo "demo: fio found verify errors" >&2
	exit 1
fi
echo "  verify errors: 0"

echo "== status"
"$bin/weft" status
"$bin/weft" fs list

echo "== unmount, stop weftd"
"$bin/weft" local umount "$mnt"
kill -TERM "$pid"
wait "$pid"
pid=
echo "demo: ok"
