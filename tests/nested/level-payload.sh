#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Payload of tests/nested/level.sh (busybox sh, in /payload): runs the level's
# command chrooted into /newroot, the overlay of this machine's root that
# /init made (testhost.hostroot=), in the same directory and with the
# environment that level.conf (bash syntax) gives. Exits with its status.
[ -d /newroot/proc/self ] || { echo "level-payload: no host root (testhost.hostroot= missing)"; exit 1; }
cp /payload/level.conf /newroot/run/level.conf || exit 1
# shellcheck disable=SC2016 # expanded by the bash in the chroot
exec chroot /newroot /bin/bash -c \
	'. /run/level.conf && cd "$dir" && exec env -i "${envs[@]}" "${cmd[@]}"' </dev/null
