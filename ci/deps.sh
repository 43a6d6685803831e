#!/bin/bash
# deps.sh installs what weft's make targets need, if missing:
#   ci/deps.sh demo   fio, fuse3 (and /dev/fuse), iproute2, util-linux mount
#   ci/deps.sh test   the above plus qemu-system-x86, busybox-static, kmod,
#                     cpio, zstd, xz-utils for the QEMU guest tests
# Go itself is expected at /usr/local/go (or on PATH): weft needs Go 1.26.
set -euo pipefail
mode=${1:-demo}

need=()
have() { command -v "$1" >/dev/null 2>&1; }
want() { # want <command> <package>
	have "$1" || need+=("$2")
}
want fio fio
want fusermount3 fuse3
want ip iproute2
want mount mount
want mountpoint util-linux
if [ "$mode" = test ]; then
	want qemu-system-x86_64 qemu-system-x86
	[ -x /bin/busybox ] || need+=(busybox-static)
	want modprobe kmod
	want cpio cpio
	want zstd zstd
	want xz xz-utils
	want gzip gzip
fi

if [ ${#need[@]} -gt 0 ]; then
	if ! have apt-get; then
		echo "deps: missing ${need[*]} and no apt-get to install them" >&2
		exit 1
	fi
	sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	echo "deps: installing ${need[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

export PATH=/usr/local/go/bin:$PATH
if ! have go; then
	echo "deps: Go is not installed: install Go 1.26 under /usr/local/go (https://go.dev/dl/)" >&2
	exit 1
fi
if [ ! -e /dev/fuse ]; then
	modprobe fuse 2>/dev/null || true
	[ -e /dev/fuse ] || { echo "deps: /dev/fuse is missing (load the fuse module)" >&2; exit 1; }
fi
