#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# End-to-end payload: runs inside the nested test host (busybox sh), in
# /payload, next to ember, the guest files (vmlinux, bzImage, initrd.cpio.gz,
# rootfs.ext4), tun.ko and cases.txt. For every case it runs an optional
# setup hook, then ember under a timeout (stdin from /dev/null) with an
# optional peer hook running beside it, and prints on the console, for
# tests/e2e/run.sh to parse:
#   E2E-CASE NAME
#   E2E-START NAME SECS SECS_IN_MINUTE.MICROS     (ts '%s %.S')
#   E2E-OUT NAME SECS SECS_IN_MINUTE.MICROS TEXT  (every output line of ember)
#   E2E-OUT NAME ... E2E-EXIT STATUS              (or E2E-EXIT setup-failed)
#   E2E-HOST NAME TEXT                            (output of the hooks)
#   E2E-DONE NAME
# cases.txt lines: NAME TIMEOUT_SECS SETUP PEER ARGS... (ARGS without spaces
# inside). SETUP and PEER are `-` or FUNCTION[,ARG]... naming a hook below.

stamp() { echo | ts '%s %.S' | cut -d' ' -f1,2; }
uptime_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
md5() { md5sum <"$1" | cut -d' ' -f1; }

# run_bounded SECS IN OUT CMD...: CMD with stdin IN (`hold`: a FIFO opened
# read-write, which never reaches EOF) and stdout OUT, stopped after SECS, or
# 2 s after ember ended. Returns CMD's status (143 when it was stopped).
run_bounded() {
	lim=$(($(uptime_ms) + $1 * 1000))
	in=$2 out=$3
	shift 3
	if [ "$in" = hold ]; then
		[ -p /tmp/hold ] || mkfifo /tmp/hold
		"$@" <>/tmp/hold >"$out" &
	else
		"$@" <"$in" >"$out" &
	fi
	pid=$!
	grace=
	while kill -0 "$pid" 2>/dev/null; do
		now=$(uptime_ms)
		if [ -e /tmp/ember.done ] && [ -z "$grace" ]; then
			grace=$((now + 2000))
		fi
		if [ "$now" -ge "$lim" ] || { [ -n "$grace" ] && [ "$now" -ge "$grace" ]; }; then
			kill "$pid" 2>/dev/null
			break
		fi
		sleep 0.1
	done
	wait "$pid"
}

# --- hooks (output goes to E2E-HOST lines) ----------------------------------

# disk_copy,FILE: a fresh copy of rootfs.ext4 in the test host's tmpfs.
disk_copy() {
	cp rootfs.ext4 "$1" || return 1
	echo "HOST-DISK $1 $(wc -c <"$1")"
}

# data_image,FILE,KIB: FILE with KIB KiB of random data; prints its checksum.
data_image() {
	dd if=/dev/urandom of="$1" bs=1k count="$2" 2>/dev/null || return 1
	echo "HOST-DATA $(md5 "$1") $(wc -c <"$1")"
}

# disk_ro_setup,ROOT,DATA,KIB: both of the above.
disk_ro_setup() {
	disk_copy "$1" && data_image "$2" "$3"
}

# net_setup,TAP,ADDR/PREFIX,MIB: the TAP device (tun.ko loaded if needed) and
# the MIB MiB of random data to send to the guest, in /tmp/h2g.
net_setup() {
	if [ ! -c /dev/net/tun ]; then
		insmod ./tun.ko || { echo "HOST-ERROR insmod tun.ko failed"; return 1; }
	fi
	if [ ! -e "/sys/class/net/$1" ]; then
		tunctl -t "$1" >/dev/null || { echo "HOST-ERROR tunctl -t $1 failed"; return 1; }
	fi
	if ! ip addr flush dev "$1" || ! ip addr add "$2" dev "$1" || ! ip link set "$1" up; then
		echo "HOST-ERROR cannot configure $1"
		return 1
	fi
	dd if=/dev/urandom of=/tmp/h2g bs=1M count="$3" 2>/dev/null || return 1
	echo "HOST-H2G-DATA $(md5 /tmp/h2g) $(wc -c </tmp/h2g)"
}

# net_peer,GUEST: beside the guest of ember.test=net: waits until GUEST
# answers a ping (60 s at most), pings it 3 times, sends /tmp/h2g to its
# port 5000 (connection retried for 60 s), then receives its data on port
# 5001. Prints:
#   HOST-PING RECEIVED/3
#   HOST-H2G BYTES_SENT MILLISECONDS ATTEMPTS   (or HOST-ERROR ...)
#   HOST-G2H MD5 BYTES MILLISECONDS_LISTENING
net_peer() {
	g=$1
	end=$(($(uptime_ms) + 60000))
	until ping -c 1 -W 1 -w 2 "$g" >/dev/null 2>&1; do
		if [ -e /tmp/ember.done ] || [ "$(uptime_ms)" -ge "$end" ]; then
			echo "HOST-ERROR no ping reply from $g"
			return 1
		fi
		sleep 0.2
	done
	ping -c 3 -w 10 "$g" >/tmp/ping.out 2>&1
	echo "HOST-PING $(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' /tmp/ping.out)/3"
	sed -n 's/^round-trip/HOST-PING-RTT round-trip/p' /tmp/ping.out

	end=$(($(uptime_ms) + 60000))
	i=0
	while :; do
		i=$((i + 1))
		t0=$(uptime_ms)
		if run_bounded 90 /tmp/h2g /dev/null nc "$g" 5000 2>/tmp/nc.err; then
			echo "HOST-H2G $(wc -c </tmp/h2g) $(($(uptime_ms) - t0)) $i"
			break
		fi
		if [ -e /tmp/ember.done ] || [ "$(uptime_ms)" -ge "$end" ]; then
			echo "HOST-ERROR sending to $g:5000 failed after $i attempts: $(tail -n 1 /tmp/nc.err)"
			return 1
		fi
		sleep 0.2
	done

	t0=$(uptime_ms)
	run_bounded 90 hold /tmp/g2h nc -l -p 5001 2>/tmp/nc.err
	rc=$?
	echo "HOST-G2H $(md5 /tmp/g2h) $(wc -c </tmp/g2h) $(($(uptime_ms) - t0))"
	[ "$rc" = 0 ] || echo "HOST-ERROR receiving on port 5001: status $rc $(tail -n 1 /tmp/nc.err)"
	rm -f /tmp/g2h
}

# FUNCTION[,ARG]...
run_hook() {
	# shellcheck disable=SC2086
	(IFS=,; set -- $1; "$@") </dev/null 2>&1
}

echo "E2E-PAYLOAD-START $(cut -d' ' -f1 /proc/uptime)"
while read -r name tmo setup peer args; do
	case "$name" in "" | "#"*) continue ;; esac
	echo "E2E-CASE $name"
	rm -f /tmp/out /tmp/host.out /tmp/ember.done
	: >/tmp/host.out
	if [ "$setup" = - ] || run_hook "$setup" >>/tmp/host.out; then
		start=$(stamp)
		ppid=
		if [ "$peer" != - ]; then
			run_hook "$peer" >>/tmp/host.out &
			ppid=$!
		fi
		# shellcheck disable=SC2086
		{
			timeout -s KILL "$tmo" ./ember $args </dev/null 2>&1
			echo "E2E-EXIT $?"
		} | ts '%s %.S' >/tmp/out
		touch /tmp/ember.done
		# The peer's every step stops within 2 s once ember.done exists.
		[ -z "$ppid" ] || wait "$ppid"
	else
		start=$(stamp)
		echo "E2E-EXIT setup-failed" | ts '%s %.S' >/tmp/out
	fi
	echo "E2E-START $name $start"
	sed "s/^/E2E-OUT $name /" /tmp/out
	sed "s/^/E2E-HOST $name /" /tmp/host.out
	echo "E2E-DONE $name"
done <cases.txt
echo "E2E-PAYLOAD-END $(cut -d' ' -f1 /proc/uptime)"
