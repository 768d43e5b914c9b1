#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/nested/without-kvm.sh CMD [ARG]...: run CMD as on a machine without
# /dev/kvm: in a private mount namespace whose /dev is a tmpfs holding a copy
# of every node of this machine's /dev but kvm (devpts and shm mounted anew).
# For checking that `make test`, `make run` and `make bench` work there, e.g.
#   tests/nested/without-kvm.sh bash .ci/run
# Needs root. Exits with CMD's status.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: without-kvm.sh CMD [ARG]..." >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "without-kvm.sh: needs root (a mount namespace)" >&2; exit 1; }

# shellcheck disable=SC2016 # the script runs in the namespace
exec unshare -m --propagation private bash -c '
	set -e
	old=$(mktemp -d /tmp/without-kvm.XXXXXX)
	mount --bind /dev "$old"
	mount -t tmpfs -o mode=755,nosuid tmpfs /dev
	# Nodes, directories and links, but nothing below the mounts (pts, shm).
	(cd "$old" && find . -xdev -mindepth 1 \( -path ./pts -o -path ./shm -o -path ./mqueue -o -path ./hugepages \) -prune -o -print0 |
		cpio -0 -pdm --quiet /dev)
	umount "$old"
	rmdir "$old"
	rm -f /dev/kvm
	mkdir -p /dev/pts /dev/shm
	mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
	ln -sf pts/ptmx /dev/ptmx
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
	[ ! -e /dev/kvm ] || { echo "without-kvm.sh: /dev/kvm is still there" >&2; exit 1; }
	exec "$@"
' without-kvm "$@"
