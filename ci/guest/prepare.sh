#!/bin/sh
# prepare.sh fetches (once) the pinned Debian guest kernel and builds the base
# initramfs the NVMe guest tests boot. Everything lands in the cache directory
# (default ci/cache/guest, gitignored) and is reused on later runs:
#
#   ci/cache/guest/<kver>/vmlinuz        the guest kernel
#   ci/cache/guest/<kver>/base.cpio.gz   busybox-static + /init + modules
#   ci/cache/guest/<kver>/READY          written last: the cache is complete
#
# The test binary is not part of it: internal/testkit/guest.go appends it as a
# second gzip cpio per run. Needs: apt-get, dpkg, xz, cpio, gzip, busybox-static
# (installed or fetched with apt-get download).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/pin.sh"

cache=${WEFT_GUEST_CACHE:-$(cd "$here/../.." && pwd)/ci/cache/guest}
out="$cache/$GUEST_KVER"
[ -f "$out/READY" ] && { echo "$out"; exit 0; }

mkdir -p "$cache"
work=$(mktemp -d "$cache/wgu-prep.XXXXXX")
trap 'rm -rf "$work"' EXIT

deb="$cache/${GUEST_KPKG}_$(echo "$GUEST_KPKG_VERSION" | sed 's/:/%3a/')_amd64.deb"
if [ ! -f "$deb" ]; then
	(cd "$work" && apt-get download "$GUEST_KPKG=$GUEST_KPKG_VERSION" >&2)
	mv "$work"/"$GUEST_KPKG"_*.deb "$deb"
fi
dpkg -x "$deb" "$work/k"

# busybox: the host's copy when it is the static build, else the package.
bb=/bin/busybox
if ! [ -x "$bb" ] || ldd "$bb" >/dev/null 2>&1; then
	(cd "$work" && apt-get download busybox-static >&2)
	dpkg -x "$work"/busybox-static_*.deb "$work/bb"
	bb="$work/bb/bin/busybox"
fi

root="$work/root"
mkdir -p "$root/bin" "$root/lib/modules" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/test"
cp "$bb" "$root/bin/busybox"
moddir="$work/k/lib/modules/$GUEST_KVER/kernel"
for m in $GUEST_MODULES; do
	f=$(find "$moddir" -name "$m.ko*" | head -n1)
	[ -n "$f" ] || { echo "prepare.sh: module $m not in $GUEST_KPKG" >&2; exit 1; }
	case "$f" in
	*.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
	*.zst) zstd -qdc "$f" >"$root/lib/modules/$m.ko" ;;
	*) cp "$f" "$root/lib/modules/$m.ko" ;;
	esac
done
cp "$here/init" "$root/init"
chmod 755 "$root/init" "$root/bin/busybox"

mkdir -p "$out.tmp"
cp "$work/k/boot/vmlinuz-$GUEST_KVER" "$out.tmp/vmlinuz"
(cd "$root" && find . | sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 >"$out.tmp/base.cpio.gz")
echo "$GUEST_KPKG=$GUEST_KPKG_VERSION" >"$out.tmp/READY"
rm -rf "$out"
mv "$out.tmp" "$out"
echo "$out"
