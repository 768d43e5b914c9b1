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
# the SDK's metrics FIFO, pause and resume, Shutdown and Wait. Two cases:
#   plain   ember started by the SDK's command builder (as firectl's
#           --firecracker-binary does)
#   jailed  the SDK's JailerCfg with BUILD/ember-jailer as its jailer
#           binary: ember as uid/gid 1000 in a jail under the work
#           directory, cgroups as this machine's (v2 if /sys/fs/cgroup is
#           cgroup2, else v1), the SDK's hard links into the jail.
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
for f in ember ember-jailer guest/vmlinux guest/rootfs.ext4 tests/clients/sdkvm; do
	[ -r "$build/$f" ] || die "$build/$f is missing (make test-clients builds it)"
done
[ "$(id -u)" = 0 ] || die "needs root for a TAP device in a network namespace of its own"

# A network namespace of its own: the TAP and its address go with it.
if [ -z "${CLIENTS_IN_NETNS:-}" ]; then
	CLIENTS_IN_NETNS=1 exec unshare --net -- "$0" "$@"
fi
ip link set lo up || die "ip link set lo up failed"
# The jailed ember (uid 1000) opens it too.
ip tuntap add dev tap0 mode tap user 1000 group 1000 || die "cannot create TAP tap0 (ip tuntap add)"
ip addr add 169.254.100.1/24 dev tap0 && ip link set tap0 up || die "cannot configure tap0"

work=$(mktemp -d /tmp/ember-clients.XXXXXX) || die "mktemp failed"
# The jail's cgroups (ember-jailer leaves them, as Firecracker's jailer
# does: whoever started it removes them) go with the work directory.
cleanup() {
	find /sys/fs/cgroup -depth -type d -name 'sdk-jailed-*' -exec rmdir {} + 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
cgv=1
[ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ] || cgv=2

passed=0 failed=0
# one CASE [SDKVM-ARG]...: one VM in $work/CASE, with its own copies (the
# jailed case's SDK hard-links them into the jail: one file system).
one() {
	local c=$1 d="$work/$1" rc p f
	shift
	mkdir -p "$d"
	cp --sparse=always "$build/guest/rootfs.ext4" "$d/root.img" &&
		cp "$build/guest/vmlinux" "$d/vmlinux" &&
		truncate -s 1M "$d/scratch.img" "$d/scratch2.img" || die "cannot copy the guest's files to $d"
	# The jailed ember (uid/gid 1000) writes its drives: the SDK links
	# them into the jail as they are, so they are made its own, as for a
	# jailed Firecracker.
	[ "$c" != jailed ] || chown 1000:1000 "$d"/*.img || die "chown $d failed"
	timeout -k 10 "$tmo" "$build/tests/clients/sdkvm" -case "$c" \
		-ember "$PWD/$build/ember" -kernel "$d/vmlinux" \
		-rootfs "$d/root.img" -scratch "$d/scratch.img" -scratch2 "$d/scratch2.img" \
		-tap tap0 -mac 02:fc:00:00:00:05 -guest 169.254.100.2/24 -dir "$d" \
		-boot-timeout 120s "$@" >"$d/out"
	rc=$?
	p=$(grep -c '^ok ' "$d/out")
	f=$(grep -c '^FAIL ' "$d/out")
	cat "$d/out"
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "FAIL $c/sdkvm: exited with status $rc$( [ "$rc" = 124 ] && echo " (timed out after $tmo s)")"
		f=1
	fi
	if [ "$f" != 0 ]; then
		for x in stderr.log console.log vmm.log sdk.log; do
			[ -s "$d/$x" ] || continue
			echo "--- $c: last lines of $x"
			tail -n 25 "$d/$x"
		done
	fi
	passed=$((passed + p))
	failed=$((failed + f))
}

one plain
one jailed -jailer "$PWD/$build/ember-jailer" -uid 1000 -gid 1000 -cgroup-version "$cgv"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
