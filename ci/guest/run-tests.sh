#!/bin/sh
# run-tests.sh runs every test that boots a QEMU guest (the NVMe paths this
# host cannot exercise: IOPOLL on poll queues, the vfio userspace driver).
# `make test-guest` calls it. The first run downloads the pinned guest
# kernel into ci/cache/guest (prepare.sh); tests skip, with the reason, when
# qemu-system-x86_64 is missing or the kernel cannot be fetched.
# Needs: qemu-system-x86, busybox-static, cpio, xz-utils (apt-get install).
set -eu
cd "$(dirname "$0")/../.."
sh ci/guest/prepare.sh >/dev/null
go test -count=1 -timeout 10m -run 'TestGuest' "$@" ./internal/testkit/
exec go test -count=1 -timeout 10m "$@" ./nvme/vfio/ ./nvme/guesttest/
