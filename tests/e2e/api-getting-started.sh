#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Firecracker's getting-started sequence (docs/getting-started.md), run
# against ember with `curl --unix-socket`, on a host whose KVM boots Linux
# (on the development machines: inside the nested test host, where
# tests/e2e/payload.sh runs it; see tests/e2e/run.sh).
#
#   tests/e2e/api-getting-started.sh EMBER KERNEL ROOTFS [TAP]
#       Starts EMBER --api-sock (its console input a FIFO that stays open,
#       like a terminal; its output in a temporary file), drives it, and
#       waits for its exit (status 0 expected).
#   tests/e2e/api-getting-started.sh --attach SOCKET CONSOLE_OUT CONSOLE_IN KERNEL ROOTFS [TAP]
#       Drives an ember started by the caller with --api-sock SOCKET, whose
#       console output goes to the file CONSOLE_OUT and whose console input
#       is the FIFO CONSOLE_IN; its exit status is the caller's to check.
#
# The requests: PUT /logger (Debug, show_level, show_log_origin), PUT
# /boot-source (KERNEL, BOOT_ARGS: they replace the whole command line, as
# in Firecracker), PUT /drives/rootfs (ROOTFS, root, read-write), PUT
# /network-interfaces/IFACE_ID (TAP, GUEST_MAC; only with TAP), PUT
# /machine-config (VCPUS, MEM_MIB), GET / (Not started), PUT /actions
# InstanceStart; every PUT must answer 204. Then READY on the console, GET /
# (Running), GET /vm/config, a pre-boot resource refused after the start
# (400), and by END:
#   ctrl-alt-del (default): PATCH /vm Paused, GET / (Paused), PATCH /vm
#     Resumed, GET / (Running); with TICKS=1 the guest's shell (BOOT_ARGS
#     without an ember.test action) is first given a loop printing
#     "EMBER-TICK N" every 150 ms: no line may appear while paused, lines
#     must come again after the resume. Then PUT /actions SendCtrlAltDel:
#     the guest restarts and ember ends (the socket is removed).
#   guest: nothing more; the guest ends by itself (e.g. ember.test=net;
#     it must stay up for the checks after READY, a second or so).
#   snapshot (with --attach and EMBER_BIN, the binary): the guest's shell
#     gets a loop printing "EMBER-TICK N" every 150 ms in the background,
#     writes a file to its root disk, fills 32 MiB of its tmpfs from the
#     seeded generator /bin/ember-fill SNAP_SEED (their md5 printed: it
#     must be SNAP_SUM) and, with TAP, brings eth0 up with
#     SNAP_GUEST; with a dd to the disk and (with TAP) a ping flood in
#     flight, PATCH /vm Paused, PUT /snapshot/create
#     (SNAP_DIR/snap.state, SNAP_DIR/snap.mem of MEM_MIB MiB), ember is
#     killed (SIGKILL; the caller sees status 137) and its socket removed;
#     3 s later a new EMBER on the same socket (console in SNAP_DIR/console2.
#     {in,out}) gets PUT /snapshot/load with resume_vm: the ticks go on from
#     the next number, not faster than before, and the guest's uptime
#     printed with them moves by less than 1 s (plus the loop's longest
#     step before the pause) across the 3 s and more the snapshot sat on disk, the dd ends without an error, the NIC (moved by
#     network_overrides to SNAP_TAP2, made to replace TAP with the address
#     SNAP_HOST) answers pings, the MMDS (V2 on that NIC, configured before
#     the boot) answers the guest with data put after the load, the 32 MiB
#     still have SNAP_SUM as md5, the shell reads the file back and writes
#     another through virtio-blk, then SendCtrlAltDel ends the new ember
#     with status 0 and it removes its socket.
#
# Environment: BOOT_ARGS (default Firecracker's "console=ttyS0 reboot=k
# panic=1"), READY (default EMBER-GUEST-READY), TIMEOUT (seconds for each
# wait, default 60), VCPUS (2), MEM_MIB (1024), IFACE_ID (net1), GUEST_MAC
# (06:00:AC:10:00:02), END, TICKS, LOG_PATH and LOG_FILE (the log file as
# ember and as this script see it; default a temporary file), STOP_FILE (with --attach: a file whose
# existence means ember has ended; every wait stops then). Needs curl and a POSIX sh (busybox is
# enough). Prints "ok STEP [(detail)]" / "FAIL STEP: why", then "N passed, N
# failed"; exits 1 on any failure. Every wait is bounded.
set -u

usage="usage: api-getting-started.sh EMBER KERNEL ROOTFS [TAP]
       api-getting-started.sh --attach SOCKET CONSOLE_OUT CONSOLE_IN KERNEL ROOTFS [TAP]"
T=$(mktemp -d /tmp/ember-gs.XXXXXX) || exit 1
if [ "${1:-}" = --attach ]; then
	[ $# -ge 6 ] && [ $# -le 7 ] || { echo "$usage" >&2; rm -rf "$T"; exit 2; }
	ATTACH=1
	EMBER=
	API_SOCKET=$2 CONSOLE_OUT=$3 CONSOLE_IN=$4 KERNEL=$5 ROOTFS=$6 TAP_DEV=${7:-}
else
	[ $# -ge 3 ] && [ $# -le 4 ] || { echo "$usage" >&2; rm -rf "$T"; exit 2; }
	ATTACH=0
	EMBER=$1 KERNEL=$2 ROOTFS=$3 TAP_DEV=${4:-}
	API_SOCKET=$T/firecracker.socket CONSOLE_OUT=$T/console.out CONSOLE_IN=$T/console.in
fi
BOOT_ARGS=${BOOT_ARGS:-console=ttyS0 reboot=k panic=1}
READY=${READY:-EMBER-GUEST-READY}
TIMEOUT=${TIMEOUT:-60}
VCPUS=${VCPUS:-2}
MEM_MIB=${MEM_MIB:-1024}
IFACE_ID=${IFACE_ID:-net1}
GUEST_MAC=${GUEST_MAC:-06:00:AC:10:00:02}
END=${END:-ctrl-alt-del}
TICKS=${TICKS:-0}
STOP_FILE=${STOP_FILE:-}
SNAP_DIR=${SNAP_DIR:-/tmp}
case "$END" in ctrl-alt-del | guest | snapshot) ;; *) echo "END must be ctrl-alt-del, guest or snapshot" >&2; exit 2 ;; esac
[ "$END" != snapshot ] || { [ "$ATTACH" = 1 ] && [ -n "${EMBER_BIN:-}" ] &&
	[ -n "${SNAP_SEED:-}" ] && [ -n "${SNAP_SUM:-}" ]; } ||
	{ echo "END=snapshot needs --attach, EMBER_BIN, SNAP_SEED and SNAP_SUM" >&2; exit 2; }

# The log file as this script sees it, and as ember is told (they differ
# for a jailed ember: LOG_FILE is under the jail's root, LOG_PATH inside it).
LOGFILE=${LOG_FILE:-$T/firecracker.log}
LOGPATH=${LOG_PATH:-$LOGFILE}
passed=0
failed=0
pid=
holder=

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	[ -n "$holder" ] && kill "$holder" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ok() { echo "ok $1${2:+ ($2)}"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit $?
}
uptime_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }

# api METHOD PATH [DATA]: the request as the guide writes it; sets code, body.
api() {
	if [ $# -ge 3 ]; then
		curl -sS -m 10 -X "$1" --unix-socket "$API_SOCKET" --data "$3" \
			-o "$T/body" -w '%{http_code}' "http://localhost$2" >"$T/code" 2>"$T/curl.err"
	else
		curl -sS -m 10 -X "$1" --unix-socket "$API_SOCKET" \
			-o "$T/body" -w '%{http_code}' "http://localhost$2" >"$T/code" 2>"$T/curl.err"
	fi
	code=$(cat "$T/code")
	body=$(cat "$T/body" 2>/dev/null)
}

# step NAME WANT_CODE METHOD PATH [DATA]
step() {
	name=$1 want=$2
	shift 2
	api "$@"
	if [ "$code" = "$want" ]; then
		ok "$name"
	else
		bad "$name" "$1 $2: HTTP $code (want $want) $body $(head -c 200 "$T/curl.err")"
	fi
}

# state NAME WANT: GET / shows "state":"WANT".
state() {
	api GET /
	case "$body" in
	*"\"state\":\"$2\""*) ok "$1" ;;
	*) bad "$1" "GET / = HTTP $code $body $(head -c 200 "$T/curl.err")" ;;
	esac
}

# wait_until SECS CMD...: until CMD succeeds; 1 on timeout (or at once
# when STOP_FILE exists).
wait_until() {
	n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		[ -z "$STOP_FILE" ] || [ ! -e "$STOP_FILE" ] || return 1
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# line_done PATTERN FILE: PATTERN on a finished line of FILE. The console
# writes a line in pieces: a last line without its newline may be cut.
line_done() {
	if [ -n "$(tail -c 1 "$2")" ]; then
		sed '$d' "$2"
	else
		cat "$2"
	fi | grep -q "$1"
}

ember_gone() {
	if [ "$ATTACH" = 1 ]; then
		[ ! -e "$API_SOCKET" ]
	else
		! kill -0 "$pid" 2>/dev/null
	fi
}

ticks() { grep -c 'EMBER-TICK [0-9]' "$CONSOLE_OUT"; }
ticks_over() { [ "$(ticks)" -gt "$1" ]; }
# The numbers of the EMBER-TICK lines in FILE, one per line.
# The numbers of FILE's complete tick lines (number and uptime: the
# snapshot may cut a line in two, its end printed by the loaded VM).
tick_numbers() { sed -n 's/.*EMBER-TICK \([0-9][0-9]*\) [0-9.][0-9.]*.*/\1/p' "$1"; }
# The guest's uptime that tick N printed in FILE (END=snapshot's loop).
tick_uptime() { sed -n "s/.*EMBER-TICK $2 \([0-9.][0-9.]*\).*/\1/p" "$1" | head -n 1; }

# type_line TEXT: TEXT and a newline on the guest's console input (a FIFO
# whose reader is ember; bounded, in case ember has gone).
type_line() {
	timeout 5 sh -c 'printf "%s\n" "$1" >"$2"' sh "$1" "$CONSOLE_IN"
}

# The ember process serving API_SOCKET (its command line names it), or nothing.
ember_pid() {
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = ember ] || continue
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "--api-sock $API_SOCKET" &&
			echo "${p#/proc/}" && return
	done
}
gone() { ! kill -0 "$1" 2>/dev/null; }

# ember_diag: for a guest that never got ready, what each of ember's threads
# is doing (state, kernel wait channel, syscall number or "running") and how
# many exits the test host's KVM counted in 1 s: tells a guest that spins or
# halts from an ember that is stuck. One "diag" line each; never fails.
ember_diag() {
	local p t e1 e2
	p=$(ember_pid)
	[ -n "$p" ] || { echo "diag: no ember process"; return 0; }
	for t in /proc/"$p"/task/*; do
		echo "diag thread $(cat "$t/comm" 2>/dev/null):" \
			"$(sed -n 's/^State:[[:space:]]*//p' "$t/status" 2>/dev/null)," \
			"wchan $(cat "$t/wchan" 2>/dev/null), syscall $(cut -d' ' -f1 "$t/syscall" 2>/dev/null)"
	done
	[ -r /sys/kernel/debug/kvm/exits ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	e1=$(cat /sys/kernel/debug/kvm/exits 2>/dev/null)
	sleep 1
	e2=$(cat /sys/kernel/debug/kvm/exits 2>/dev/null)
	if [ -n "$e1" ] && [ -n "$e2" ]; then
		echo "diag: the test host's KVM counted $((e2 - e1)) exits in 1 s"
	fi
	return 0
}

# END=snapshot: see the top.
snap_round_trip() {
	out2=$SNAP_DIR/console2.out in2=$SNAP_DIR/console2.in state=$SNAP_DIR/snap.state
	mem=$SNAP_DIR/snap.mem
	if ! wait_until "$TIMEOUT" grep -q "type 'exit'" "$CONSOLE_OUT"; then
		bad ticks "no shell banner on the console in ${TIMEOUT}s"
		return
	fi
	sleep 0.5
	type_line "(i=0;while [ \$i -lt 2000 ];do i=\$((i+1));echo EMBER-TI''CK \$i \$(cut -d' ' -f1 /proc/uptime);sleep .15;done) &"
	type_line "echo before-snapshot >/snap-before && sync && echo EMBER-SY''NCED"
	# 32 MiB from a seeded generator in the guest's memory (its /tmp is a
	# tmpfs) and their checksum, which the caller computed too.
	type_line "ember-fill $SNAP_SEED 32 >/tmp/fill && echo EMBER-FI''LL-SUM \$(md5sum </tmp/fill)"
	if [ -n "$TAP_DEV" ]; then
		type_line "ip addr add $SNAP_GUEST/24 dev eth0 && ip link set eth0 up && ip route add 169.254.169.254 dev eth0 && echo EMBER-ET''H0-UP"
	fi
	if wait_until 20 ticks_over 3 && wait_until 20 grep -q EMBER-SYNCED "$CONSOLE_OUT" &&
		wait_until 30 grep -q 'EMBER-FILL-SUM [0-9a-f]\{32\}' "$CONSOLE_OUT" &&
		{ [ -z "$TAP_DEV" ] || wait_until 20 grep -q EMBER-ETH0-UP "$CONSOLE_OUT"; }; then
		ok ticks "the loop ticks, a file written before the snapshot, 32 MiB filled${TAP_DEV:+, eth0 up}"
	else
		bad ticks "no EMBER-TICK, EMBER-SYNCED, EMBER-FILL-SUM or EMBER-ETH0-UP lines: $(tail -c 300 "$CONSOLE_OUT" | tr '\n' '|')"
		return
	fi
	# In flight at the snapshot: dd to the disk (O_DIRECT: every block goes
	# to virtio-blk at once) in a loop that only ends when this host says so
	# after the load (a single dd may end before the pause on a fast
	# machine), and a ping flood from this host.
	type_line "(while [ ! -e /tmp/dd-stop ];do dd if=/dev/zero of=/snap-dd bs=64k count=160 oflag=direct 2>/tmp/dd.err||{ echo EMBER-DD''-ERROR \$(cat /tmp/dd.err);exit;};echo EMBER-DD''-ROUND;done;echo EMBER-DD''-OK) &"
	wait_until 20 grep -q EMBER-DD-ROUND "$CONSOLE_OUT" ||
		bad io-in-flight "no EMBER-DD-ROUND line in 20 s: $(grep -m1 'EMBER-DD-ERROR' "$CONSOLE_OUT" || echo 'the dd loop did not write')"
	flood=
	if [ -n "$TAP_DEV" ]; then
		wait_until 10 ping -c 1 -W 1 "$SNAP_GUEST" >/dev/null 2>&1
		ping -A -c 100000 -W 1 "$SNAP_GUEST" >"$SNAP_DIR/flood.out" 2>&1 &
		flood=$!
	fi
	sleep 1
	step pause 204 PATCH /vm '{"state": "Paused"}'
	sleep 0.5
	last=$(tick_numbers "$CONSOLE_OUT" | tail -n 1)
	t1=$(uptime_ms)
	step snapshot-create 204 PUT /snapshot/create "{
        \"snapshot_type\": \"Full\",
        \"snapshot_path\": \"$state\",
        \"mem_file_path\": \"$mem\"
    }"
	[ "$code" = 204 ] || return
	size=$(wc -c <"$mem")
	if [ "$size" = $((MEM_MIB << 20)) ]; then
		ok snapshot-files "$(($(uptime_ms) - t1)) ms; state $(wc -c <"$state") bytes, memory $((size >> 20)) MiB ($(du -k "$mem" | cut -f1) KiB allocated)"
	else
		bad snapshot-files "memory file of $size bytes, want $((MEM_MIB << 20))"
		return
	fi
	[ -z "$flood" ] || { kill -INT "$flood" 2>/dev/null; wait "$flood" 2>/dev/null; }
	pid1=$(ember_pid)
	[ -n "$pid1" ] && kill -KILL "$pid1"
	if [ -n "$pid1" ] && wait_until 10 gone "$pid1"; then
		ok killed "the snapshotted ember (pid $pid1)"
	else
		bad killed "no ember process to kill, or it lived on"
		return
	fi
	rm -f "$API_SOCKET"
	# The NIC moves to another TAP (network_overrides): tap0 goes, TAP2
	# comes with the same address.
	overrides=
	if [ -n "$TAP_DEV" ]; then
		ip link del "$TAP_DEV" 2>/dev/null
		if ! tunctl -t "$SNAP_TAP2" >/dev/null || ! ip addr add "$SNAP_HOST/24" dev "$SNAP_TAP2" ||
			! ip link set "$SNAP_TAP2" up; then
			bad restore "cannot make $SNAP_TAP2"
			return
		fi
		overrides=", \"network_overrides\": [{\"iface_id\": \"$IFACE_ID\", \"host_dev_name\": \"$SNAP_TAP2\"}]"
	fi
	sleep 3
	rm -f "$in2"
	mkfifo "$in2" || { bad restore "mkfifo failed"; return; }
	"$EMBER_BIN" --api-sock "$API_SOCKET" <>"$in2" >"$out2" 2>&1 &
	pid=$!
	CONSOLE_IN=$in2
	if ! wait_until 10 test -S "$API_SOCKET"; then
		bad restore "no socket $API_SOCKET after 10 s: $(tail -c 300 "$out2")"
		return
	fi
	t1=$(uptime_ms)
	step snapshot-load 204 PUT /snapshot/load "{
        \"snapshot_path\": \"$state\",
        \"mem_backend\": { \"backend_type\": \"File\", \"backend_path\": \"$mem\" },
        \"resume_vm\": true$overrides
    }"
	[ "$code" = 204 ] || { echo "ember: $(tail -c 300 "$out2")"; return; }
	ok load-time "$(($(uptime_ms) - t1)) ms from the request to its answer"
	state state-restored Running
	t1=$(uptime_ms)
	if ! wait_until 20 sh -c "[ \$(grep -c 'EMBER-TICK [0-9]' '$out2') -ge 8 ]"; then
		bad ticks-after-restore "fewer than 8 EMBER-TICK lines 20 s after the load: $(tail -c 300 "$out2" | tr '\n' '|')"
		return
	fi
	ms=$(($(uptime_ms) - t1))
	first=$(tick_numbers "$out2" | head -n 1)
	# The guest's uptime at the last tick before and the first after: the
	# 3 s and more the snapshot sat on disk must not show.
	gap=$(awk -v a="$(tick_uptime "$CONSOLE_OUT" "$last")" -v b="$(tick_uptime "$out2" "$first")" \
		'BEGIN { if (a == "" || b == "") print "?"; else printf "%.2f\n", b - a }')
	# A loaded guest ticks slower than every 150 ms: its longest step before
	# the pause is allowed on top of the 1 s.
	step_max=$(sed -n 's/.*EMBER-TICK [0-9][0-9]* \([0-9.][0-9.]*\).*/\1/p' "$CONSOLE_OUT" |
		awk 'NR > 1 && $1 - p > m { m = $1 - p } { p = $1 } END { printf "%.2f\n", m }')
	if [ "$first" != $((last + 1)) ] && [ "$first" != $((last + 2)) ]; then
		bad ticks-after-restore "the first tick after the load is ${first:-none}, the last before $last"
	elif [ "$ms" -lt 700 ]; then
		bad ticks-after-restore "8 ticks of 150 ms came within $ms ms: the guest's clock jumped"
	elif [ "$gap" = "?" ] || ! awk -v g="$gap" -v m="$step_max" 'BEGIN { exit !(g >= 0 && g < 1 + m) }'; then
		bad ticks-after-restore "the guest's uptime moved by $gap s from tick $last to tick $first (allowed: 1 s + its longest step before, $step_max s)"
	else
		ok ticks-after-restore "$last before, $first after, the guest's uptime $gap s apart (its longest step before: $step_max s); 8 in $ms ms"
	fi
	if grep -q 'soft lockup' "$out2"; then
		bad no-soft-lockup "$(grep -m1 'soft lockup' "$out2")"
	fi
	type_line "touch /tmp/dd-stop"
	if grep -q 'EMBER-DD-[OE]' "$CONSOLE_OUT"; then
		bad io-in-flight "the dd loop ended before the snapshot: $(grep -m1 'EMBER-DD-[OE]' "$CONSOLE_OUT")"
	elif wait_until 30 line_done 'EMBER-DD-[OE]' "$out2" && grep -q EMBER-DD-OK "$out2"; then
		ok io-in-flight "the dd loop running at the snapshot went on after the load and ended without an error"
	else
		bad io-in-flight "$(grep -m1 'EMBER-DD-ERROR' "$out2" || echo 'no EMBER-DD-OK line in 30 s')"
	fi
	if [ -n "$TAP_DEV" ]; then
		if wait_until 30 ping -c 1 -W 1 "$SNAP_GUEST" >/dev/null 2>&1 &&
			ping -c 5 -W 2 "$SNAP_GUEST" >"$SNAP_DIR/ping.out" 2>&1; then
			ok ping-after-restore "over $SNAP_TAP2: $(grep -o '[0-9]* packets received' "$SNAP_DIR/ping.out"); the flood before: $(grep -o '[0-9]* packets transmitted, [0-9]* packets received' "$SNAP_DIR/flood.out" || tail -n 1 "$SNAP_DIR/flood.out")"
		else
			bad ping-after-restore "no ping reply over $SNAP_TAP2: $(tail -n 2 "$SNAP_DIR/ping.out" 2>/dev/null | tr '\n' '|')"
		fi
		# The MMDS's configuration came back with the snapshot (its data
		# store did not, as in Firecracker): new data, a V2 token, a GET.
		step mmds-after-load 204 PUT /mmds "{\"snap\": \"loaded-$SNAP_SEED\"}"
		type_line "t=\$(printf 'PUT /latest/api/token HTTP/1.1\\r\\nX-metadata-token-ttl-seconds: 60\\r\\n\\r\\n' | timeout 10 nc 169.254.169.254 80 | tail -n 1); echo EMBER-MM''DS-GOT \$(printf 'GET /snap HTTP/1.1\\r\\nX-metadata-token: %s\\r\\n\\r\\n' \"\$t\" | timeout 10 nc 169.254.169.254 80 | tail -n 1)"
		if wait_until 30 line_done 'EMBER-MMDS-GOT' "$out2" &&
			[ "$(tr -d '\r' <"$out2" | sed -n 's/.*EMBER-MMDS-GOT \([^ ]*\).*/\1/p' | head -n 1)" = "loaded-$SNAP_SEED" ]; then
			ok mmds-after-load "the guest's V2 token and GET /snap: loaded-$SNAP_SEED"
		else
			bad mmds-after-load "want loaded-$SNAP_SEED, the guest got: $(grep -m1 'EMBER-MMDS-GOT' "$out2" || echo nothing in 30 s)"
		fi
	fi
	sum1=$(sed -n 's/.*EMBER-FILL-SUM \([0-9a-f]\{32\}\).*/\1/p' "$CONSOLE_OUT" | head -n 1)
	type_line "echo EMBER-FI''LL-AGAIN \$(md5sum </tmp/fill)"
	if wait_until 30 grep -q 'EMBER-FILL-AGAIN [0-9a-f]\{32\}' "$out2" &&
		[ "$(sed -n 's/.*EMBER-FILL-AGAIN \([0-9a-f]\{32\}\).*/\1/p' "$out2" | head -n 1)" = "$SNAP_SUM" ] &&
		[ "$sum1" = "$SNAP_SUM" ]; then
		ok memory-after-restore "the 32 MiB from seed $SNAP_SEED: md5 $SNAP_SUM before the snapshot and after the load"
	else
		bad memory-after-restore "seed $SNAP_SEED: want md5 $SNAP_SUM; before the snapshot $sum1, after: $(grep -m1 'EMBER-FILL-AGAIN' "$out2" || echo none)"
	fi
	type_line "cat /snap-before && echo after >/snap-after && sync && cat /snap-after && echo EMBER-DI''SK-OK"
	if wait_until 20 grep -q EMBER-DISK-OK "$out2" && grep -q before-snapshot "$out2"; then
		ok disk-after-restore "read the file written before, wrote and synced another"
	else
		bad disk-after-restore "$(tail -c 300 "$out2" | tr '\n' '|')"
	fi
	t1=$(uptime_ms)
	step ctrl-alt-del 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
	if wait_until "$TIMEOUT" gone "$pid"; then
		wait "$pid"
		rc=$?
		pid=
		if [ "$rc" = 0 ]; then
			ok restored-ember-ended "$(($(uptime_ms) - t1)) ms after SendCtrlAltDel, status 0"
		else
			bad restored-ember-ended "status $rc: $(tail -c 300 "$out2" | tr '\n' '|')"
		fi
	else
		bad restored-ember-ended "still running ${TIMEOUT}s after SendCtrlAltDel: $(tail -c 300 "$out2" | tr '\n' '|')"
	fi
	if [ -e "$API_SOCKET" ]; then
		bad socket-removed "$API_SOCKET is left behind"
	else
		ok socket-removed
	fi
}

command -v curl >/dev/null || { bad setup "no curl"; finish; }

if [ "$ATTACH" = 0 ]; then
	# The console's input stays open (a FIFO held by a sleeper), like a terminal.
	mkfifo "$CONSOLE_IN" || { bad setup "mkfifo failed"; finish; }
	sleep 100000 >"$CONSOLE_IN" &
	holder=$!
	"$EMBER" --api-sock "$API_SOCKET" <"$CONSOLE_IN" >"$CONSOLE_OUT" 2>"$T/ember.err" &
	pid=$!
fi
if wait_until 10 test -S "$API_SOCKET"; then
	ok api-socket
else
	bad api-socket "no socket $API_SOCKET after 10 s: $(cat "$T/ember.err" 2>/dev/null)"
	finish
fi

step logger 204 PUT /logger "{
        \"log_path\": \"${LOGPATH}\",
        \"level\": \"Debug\",
        \"show_level\": true,
        \"show_log_origin\": true
    }"
step boot-source 204 PUT /boot-source "{
        \"kernel_image_path\": \"${KERNEL}\",
        \"boot_args\": \"${BOOT_ARGS}\"
    }"
step drives-rootfs 204 PUT /drives/rootfs "{
        \"drive_id\": \"rootfs\",
        \"path_on_host\": \"${ROOTFS}\",
        \"is_root_device\": true,
        \"is_read_only\": false
    }"
if [ -n "$TAP_DEV" ]; then
	step "network-interfaces-$IFACE_ID" 204 PUT "/network-interfaces/$IFACE_ID" "{
        \"iface_id\": \"$IFACE_ID\",
        \"guest_mac\": \"$GUEST_MAC\",
        \"host_dev_name\": \"$TAP_DEV\"
    }"
fi
if [ "$END" = snapshot ] && [ -n "$TAP_DEV" ]; then
	step mmds-config 204 PUT /mmds/config "{
        \"version\": \"V2\",
        \"network_interfaces\": [\"$IFACE_ID\"]
    }"
fi
step machine-config 204 PUT /machine-config "{
        \"vcpu_count\": $VCPUS,
        \"mem_size_mib\": $MEM_MIB
    }"
state state-not-started "Not started"
t0=$(uptime_ms)
step instance-start 204 PUT /actions '{
        "action_type": "InstanceStart"
    }'
[ "$code" = 204 ] || finish

if wait_until "$TIMEOUT" grep -q "$READY" "$CONSOLE_OUT"; then
	ok guest-ready "$(($(uptime_ms) - t0)) ms after InstanceStart"
else
	bad guest-ready "no $READY in ${TIMEOUT}s: $(tail -c 300 "$CONSOLE_OUT" | tr '\n' '|')"
	ember_diag
	finish
fi
state state-running Running
api GET /vm/config
case "$body" in
*'"drive_id":"rootfs"'*'"is_root_device":true'*"\"vcpu_count\":$VCPUS"*) ok vm-config ;;
*"\"vcpu_count\":$VCPUS"*'"drive_id":"rootfs"'*'"is_root_device":true'*) ok vm-config ;;
*) bad vm-config "GET /vm/config = HTTP $code $body" ;;
esac
step boot-source-after-start 400 PUT /boot-source "{\"kernel_image_path\": \"${KERNEL}\"}"
case "$body" in
*"not supported after starting the microVM"*) ok fault-after-start ;;
*) bad fault-after-start "$body" ;;
esac
if grep -q "The API server received a Put request on" "$LOGFILE" 2>/dev/null; then
	ok log-file
else
	bad log-file "no API requests in $LOGFILE"
fi

if [ "$END" = ctrl-alt-del ]; then
	if [ "$TICKS" = 1 ]; then
		# The guest's shell (no ember.test action): its banner, then a
		# bounded loop typed on the console ("TI''CK": the echo of the
		# typed line is no tick).
		if wait_until "$TIMEOUT" grep -q "type 'exit'" "$CONSOLE_OUT"; then
			sleep 0.5
			type_line "i=0;while [ \$i -lt 600 ];do i=\$((i+1));echo EMBER-TI''CK \$i;sleep .15;done"
			t1=$(uptime_ms)
			if wait_until 20 ticks_over 3; then
				ok ticks "4 lines $(($(uptime_ms) - t1)) ms after typing the loop"
			else
				bad ticks "no EMBER-TICK lines 20 s after typing the loop: $(tail -c 300 "$CONSOLE_OUT" | tr '\n' '|')"
			fi
		else
			bad ticks "no shell banner on the console in ${TIMEOUT}s"
		fi
	fi
	step pause 204 PATCH /vm '{"state": "Paused"}'
	state state-paused Paused
	if [ "$TICKS" = 1 ]; then
		# Lines already on their way may still land; then none for 2 s.
		sleep 0.5
		n1=$(ticks)
		sleep 2
		n2=$(ticks)
		if [ "$n2" = "$n1" ]; then
			ok no-output-while-paused "$n1 lines before, none in 2 s"
		else
			bad no-output-while-paused "$((n2 - n1)) EMBER-TICK lines in 2 s while paused"
		fi
	fi
	step resume 204 PATCH /vm '{"state": "Resumed"}'
	t1=$(uptime_ms)
	if [ "$TICKS" = 1 ]; then
		if wait_until 10 ticks_over "$n2"; then
			ok output-after-resume "first line $(($(uptime_ms) - t1)) ms after the resume"
		else
			bad output-after-resume "no EMBER-TICK line in 10 s after the resume"
		fi
	fi
	state state-resumed Running
	t1=$(uptime_ms)
	step ctrl-alt-del 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
	if wait_until "$TIMEOUT" ember_gone; then
		ok ember-ended "$(($(uptime_ms) - t1)) ms after SendCtrlAltDel"
	else
		bad ember-ended "ember still running ${TIMEOUT}s after SendCtrlAltDel: $(tail -c 300 "$CONSOLE_OUT" | tr '\n' '|')"
		finish
	fi
elif [ "$END" = snapshot ]; then
	snap_round_trip
elif [ "$ATTACH" = 0 ]; then
	if wait_until "$TIMEOUT" ember_gone; then
		ok ember-ended
	else
		bad ember-ended "ember still running ${TIMEOUT}s after the guest's start"
		finish
	fi
fi

if [ "$ATTACH" = 0 ] && ember_gone; then
	wait "$pid"
	rc=$?
	pid=
	if [ "$rc" = 0 ]; then
		ok exit-status-0
	else
		bad exit-status-0 "status $rc: $(tail -n 2 "$T/ember.err" | tr '\n' '|')"
	fi
	if [ -e "$API_SOCKET" ]; then
		bad socket-removed "$API_SOCKET is left behind"
	else
		ok socket-removed
	fi
fi
finish
