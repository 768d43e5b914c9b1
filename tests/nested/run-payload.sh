#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Payload of `make run` in the nested test host (busybox sh, in /payload):
# ember on the test host's serial console, which is the user's terminal,
# made its controlling tty (setsid -c), so ember puts it in raw mode and the
# guest's shell gets every key. Exits with ember's status.
[ -c /dev/ttyS0 ] || { echo "run-payload: no /dev/ttyS0" >&2; exit 1; }
setsid -c ./ember --kernel ./vmlinux --initrd ./initrd.cpio.gz \
	</dev/ttyS0 >/dev/ttyS0 2>&1
