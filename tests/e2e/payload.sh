#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# End-to-end payload: runs inside the nested test host (busybox sh), in
# /payload, next to ember, vmlinux, bzImage, initrd.cpio.gz and cases.txt.
# For every case it runs ember under a timeout, stdin from /dev/null, and
# prints on the console, for tests/e2e/run.sh to parse:
#   E2E-CASE NAME
#   E2E-START NAME SECS SECS_IN_MINUTE.MICROS     (ts '%s %.S')
#   E2E-OUT NAME SECS SECS_IN_MINUTE.MICROS TEXT  (every output line)
#   E2E-OUT NAME ... E2E-EXIT STATUS
#   E2E-DONE NAME
# cases.txt lines: NAME TIMEOUT_SECS ARGS... (ARGS without spaces inside).

stamp() { echo | ts '%s %.S' | cut -d' ' -f1,2; }

echo "E2E-PAYLOAD-START $(cut -d' ' -f1 /proc/uptime)"
while read -r name tmo args; do
	case "$name" in "" | "#"*) continue ;; esac
	echo "E2E-CASE $name"
	start=$(stamp)
	# shellcheck disable=SC2086
	{
		timeout -s KILL "$tmo" ./ember $args </dev/null 2>&1
		echo "E2E-EXIT $?"
	} | ts '%s %.S' >/tmp/out
	echo "E2E-START $name $start"
	sed "s/^/E2E-OUT $name /" /tmp/out
	echo "E2E-DONE $name"
done <cases.txt
echo "E2E-PAYLOAD-END $(cut -d' ' -f1 /proc/uptime)"
