#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/clients/run.sh BUILD: the clients that drive Firecracker, unchanged,
# driving BUILD/ember (make test-clients; tests/nested/level.sh runs it where
# a Linux guest can run). firecracker-go-sdk (the release pinned in
# tests/clients/go.mod) through BUILD/tests/clients/sdkvm (sdkvm/main.go):
# our guest kernel with a copy of the root file system as the root drive, a
# second drive replaced after boot, a TAP in a network namespace of its own
# (169.254.100.1/24 here, .2 in the guest), MMDS V2 with metadata; then
# GET /, /version, /vm/config, the MMDS, PATCH /drives, FlushMetrics into
# the SDK's metrics FIFO, pause and resume, Shutdown and Wait.
# Prints sdkvm's "ok NAME" / "FAIL NAME: why" lines, the logs of a failed
# run, and last "N passed, N failed". CLIENTS_TIMEOUT (seconds, default 300)
# bounds the run.
set -uo pipefail
export LC_ALL=C

build=${1:-build}
tmo=${CLIENTS_TIMEOUT:-300}
die() {
	echo "FAIL clients: $*"
	echo "0 passed, 1 failed"
	exit 1
}
[[ "$tmo" =~ ^[0-9]+$ ]] && [ "$tmo" -gt 0 ] || die "CLIENTS_TIMEOUT must be a positive number of seconds"
for f in ember guest/vmlinux guest/rootfs.ext4 tests/clients/sdkvm; do
	[ -r "$build/$f" ] || die "$build/$f is missing (make test-clients builds it)"
done
[ "$(id -u)" = 0 ] || die "needs root for a TAP device in a network namespace of its own"

# A network namespace of its own: the TAP and its address go with it.
if [ -z "${CLIENTS_IN_NETNS:-}" ]; then
	CLIENTS_IN_NETNS=1 exec unshare --net -- "$0" "$@"
fi
ip link set lo up || die "ip link set lo up failed"
ip tuntap add dev tap0 mode tap || die "cannot create TAP tap0 (ip tuntap add)"
ip addr add 169.254.100.1/24 dev tap0 && ip link set tap0 up || die "cannot configure tap0"

work=$(mktemp -d /tmp/ember-clients.XXXXXX) || die "mktemp failed"
trap 'rm -rf "$work"' EXIT
cp --sparse=always "$build/guest/rootfs.ext4" "$work/root.img" || die "cannot copy the root file system"
truncate -s 1M "$work/scratch.img" "$work/scratch2.img" || die "truncate failed"

timeout -k 10 "$tmo" "$build/tests/clients/sdkvm" \
	-ember "$PWD/$build/ember" -kernel "$PWD/$build/guest/vmlinux" \
	-rootfs "$work/root.img" -scratch "$work/scratch.img" -scratch2 "$work/scratch2.img" \
	-tap tap0 -mac 02:fc:00:00:00:05 -guest 169.254.100.2/24 -dir "$work" \
	-boot-timeout 120s | tee "$work/out"
rc=${PIPESTATUS[0]}
passed=$(grep -c '^ok ' "$work/out")
failed=$(grep -c '^FAIL ' "$work/out")
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
	echo "FAIL sdkvm: exited with status $rc$( [ "$rc" = 124 ] && echo " (timed out after $tmo s)")"
	failed=1
fi
if [ "$failed" != 0 ]; then
	for f in stderr.log console.log vmm.log sdk.log; do
		[ -s "$work/$f" ] || continue
		echo "--- last lines of $f"
		tail -n 25 "$work/$f"
	done
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
