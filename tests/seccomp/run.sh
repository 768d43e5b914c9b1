#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ember's seccomp filters (vmm/seccomp.c). Usage: tests/seccomp/run.sh [BUILD]
# (use `make test-seccomp`, which builds what this needs). Needs /dev/kvm,
# strace, python3; the tests/guests workloads it traces need root for their
# TAP (see tests/guests/run.sh).
#
#   violate-vcpu, violate-vmm, violate-vmm-open-flags, violate-vmm-api,
#   violate-api
#       BUILD/tests/seccomp/ember-seccomp-test (EMBER_SECCOMP_TEST_VIOLATE)
#       makes a forbidden syscall on that thread: exit status 148 and
#       "ember: seccomp: thread <name> made forbidden syscall <nr>" on stderr
#       (violate-vmm-api: the VMM filter that goes on at InstanceStart;
#       violate-vmm-open-flags: open(), which the VMM thread may call, with
#       flags it may not use: O_WRONLY|O_CREAT|O_TRUNC);
#   no-seccomp-vcpu, no-seccomp-vmm
#       the same with --no-seccomp: the syscall goes through, the guest ends
#       normally (status 0);
#   every-thread-filtered, no-seccomp-unfiltered
#       release ember, API + 2 vCPUs: Seccomp mode 2 on every thread (0 with
#       --no-seccomp);
#   release-has-no-hooks
#       build/ember has none of the test hooks' strings (the test binary has);
#   workload-boot-timer-fifo, workload-tty, workload-api
#       release ember, filters on: boot timer logged from the vCPU to a FIFO
#       log; a terminal on standard input (raw mode, restored at exit); the
#       API with FIFO logger and metrics, 2 vCPUs paused and resumed,
#       FlushMetrics, a drive swap, Ctrl-Alt-Del; each ends with status 0;
#   allowlists-cover-workloads
#       the tests/guests and tests/api suites and the workloads above, run
#       with ember-seccomp-test (EMBER_SECCOMP_TEST_TRACE=1: no filter, a mark
#       where each thread's filter would go on) under strace: every syscall a
#       thread makes after its mark is in its list (check_trace.py). A suite
#       case failing under strace is noted, not counted (its level says so);
#       the workloads above must succeed there too.
# Prints "ok <case>" / "FAIL <case>: <why>", then "N passed, N failed"; exits
# 1 if any case failed.
set -u

B=${1:-build}
SRC=$(cd "$(dirname "$0")" && pwd)
EMBER=$B/ember
TBIN=$B/tests/seccomp/ember-seccomp-test
LISTS=$B/seccomp/allowlists.txt
SYSGUEST=$B/tests/seccomp/sysguest.elf
APIGUEST=$B/tests/api/apiguest.elf
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
TIMEOUT=30

for f in "$EMBER" "$TBIN" "$LISTS" "$SYSGUEST" "$APIGUEST"; do
	[ -e "$f" ] || { echo "FAIL setup: $f is missing (use make test-seccomp)"; exit 1; }
done
command -v strace >/dev/null || { echo "FAIL setup: strace is not installed"; exit 1; }
abs() { (cd "$(dirname "$1")" && echo "$PWD/$(basename "$1")"); }
EMBER=$(abs "$EMBER") TBIN=$(abs "$TBIN") LISTS=$(abs "$LISTS")
SYSGUEST=$(abs "$SYSGUEST") APIGUEST=$(abs "$APIGUEST")

T=$(mktemp -d /tmp/ember-seccomp.XXXXXX) || exit 1
READERS=""
cleanup() {
	for p in $READERS; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

passed=0
failed=0
ok() { echo "ok $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
oneline() { head -c 400 "$1" | tr '\n\r\t' '|  ' | sed 's/|$//'; }

# run BIN ARGS...: under a timeout, stdin /dev/null; sets rc; $T/out, $T/err.
run() {
	timeout "$TIMEOUT" "$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
}

# --- a forbidden syscall on each thread kind ---------------------------------
# expect_report CASE NAME NR: status 148 and exactly the report line.
expect_report() {
	local line="ember: seccomp: thread $2 made forbidden syscall $3"

	if [ "$rc" != 148 ]; then
		bad "$1" "exit status $rc, want 148 [stderr: $(oneline "$T/err")]"
	elif ! grep -qxF -- "$line" "$T/err"; then
		bad "$1" "no line '$line' [stderr: $(oneline "$T/err")]"
	else
		ok "$1"
	fi
}

EMBER_SECCOMP_TEST_VIOLATE=vcpu run "$TBIN" --kernel "$APIGUEST"
expect_report violate-vcpu vcpu0 41            # socket
EMBER_SECCOMP_TEST_VIOLATE=vmm run "$TBIN" --kernel "$APIGUEST"
expect_report violate-vmm vmm 59               # execve
EMBER_SECCOMP_TEST_VIOLATE=vmm-open run "$TBIN" --kernel "$APIGUEST"
expect_report violate-vmm-open-flags vmm 2     # open(O_WRONLY|O_CREAT|O_TRUNC)
EMBER_SECCOMP_TEST_VIOLATE=api run "$TBIN" --api-sock "$T/api.sock"
expect_report violate-api api 257              # openat
rm -f "$T/api.sock"
if EMBER_SECCOMP_TEST_VIOLATE=vmm "$PY" "$SRC/api_flow.py" start "$TBIN" "$T" "$APIGUEST" 148 \
	>"$T/flow" 2>&1; then
	rc=148
	cp "$T/start.err" "$T/err"
	expect_report violate-vmm-api vmm 59
else
	bad violate-vmm-api "$(oneline "$T/flow")"
fi

# --- --no-seccomp: the same syscalls go through --------------------------------
for k in vcpu vmm; do
	EMBER_SECCOMP_TEST_VIOLATE=$k run "$TBIN" --no-seccomp --kernel "$SYSGUEST" \
		--cmdline loops=2000
	if [ "$rc" != 0 ]; then
		bad "no-seccomp-$k" "exit status $rc, want 0 [stderr: $(oneline "$T/err")]"
	elif ! grep -qF "ember-seccomp-test: $k made its forbidden syscall and lives" "$T/err"; then
		bad "no-seccomp-$k" "the $k thread did not make its syscall [stderr: $(oneline "$T/err")]"
	else
		ok "no-seccomp-$k"
	fi
done

# --- every thread of the release binary is filtered ----------------------------
if "$PY" "$SRC/api_flow.py" threads "$EMBER" "$T" "$APIGUEST" >"$T/flow" 2>&1; then
	modes=$(sed -n 's/^seccomp //p' "$T/flow" | tr '\n' ',')
	n=$(grep -c '^seccomp ' "$T/flow")
	if [ "$n" -lt 4 ]; then
		bad every-thread-filtered "want 4 threads (VMM, API, 2 vCPUs), saw: $modes"
	elif grep '^seccomp ' "$T/flow" | grep -qv ' 2$'; then
		bad every-thread-filtered "a thread without a filter (mode 2): $modes"
	else
		ok every-thread-filtered
	fi
else
	bad every-thread-filtered "$(oneline "$T/flow")"
fi
# The same with --no-seccomp: a wrapper adds the flag.
printf '#!/bin/sh\nexec "%s" --no-seccomp "$@"\n' "$EMBER" >"$T/ember-noseccomp"
chmod +x "$T/ember-noseccomp"
if "$PY" "$SRC/api_flow.py" threads "$T/ember-noseccomp" "$T" "$APIGUEST" >"$T/flow" 2>&1; then
	if grep '^seccomp ' "$T/flow" | grep -qv ' 0$'; then
		bad no-seccomp-unfiltered "$(sed -n 's/^seccomp //p' "$T/flow" | tr '\n' ',')"
	else
		ok no-seccomp-unfiltered
	fi
else
	bad no-seccomp-unfiltered "$(oneline "$T/flow")"
fi

# --- no test hook in the release binary -----------------------------------------
hooks="EMBER_SECCOMP_TEST_VIOLATE EMBER_SECCOMP_TEST_TRACE ember-seccomp-mark"
missing="" found=""
for s in $hooks; do
	strings "$TBIN" | grep -qF "$s" || missing="$missing $s"
	strings "$EMBER" | grep -qF "$s" && found="$found $s"
done
if [ -n "$missing" ]; then
	bad release-has-no-hooks "the check is broken: the test binary lacks$missing"
elif [ -n "$found" ]; then
	bad release-has-no-hooks "$EMBER contains$found"
else
	ok release-has-no-hooks
fi

# --- workloads with the filters on ------------------------------------------------
# workload_boot_timer BIN DIR: --boot-timer (logged by the vCPU), log and
# metrics on FIFOs; sets rc.
workload_boot_timer() {
	local d=$2

	mkdir -p "$d" && mkfifo -m 600 "$d/log.fifo" "$d/metrics.fifo"
	cat "$d/log.fifo" >"$d/log" & READERS="$READERS $!"
	cat "$d/metrics.fifo" >/dev/null & READERS="$READERS $!"
	run "$1" --kernel "$SYSGUEST" --boot-timer --log-path "$d/log.fifo" \
		--metrics-path "$d/metrics.fifo" --level Debug --cmdline loops=4000
}
workload_boot_timer "$EMBER" "$T/w1"
sleep 0.2
if [ "$rc" != 0 ]; then
	bad workload-boot-timer-fifo "exit status $rc [stderr: $(oneline "$T/err")]"
elif ! grep -q "Guest-boot-time" "$T/w1/log"; then
	bad workload-boot-timer-fifo "no boot time in the log [log: $(oneline "$T/w1/log")]"
else
	ok workload-boot-timer-fifo
fi
# workload_tty BIN: on a terminal (script(1)'s pty), which ember puts in raw
# mode and restores at exit; sets rc.
workload_tty() {
	timeout "$TIMEOUT" script -qec "'$1' --kernel '$SYSGUEST' --cmdline loops=2000" /dev/null \
		>"$T/out" 2>"$T/err" </dev/null
	rc=$?
}
workload_tty "$EMBER"
if [ "$rc" != 0 ]; then
	bad workload-tty "exit status $rc [output: $(oneline "$T/out")]"
elif ! grep -q "SYSGUEST done" "$T/out"; then
	bad workload-tty "the guest did not run [output: $(oneline "$T/out")]"
else
	ok workload-tty
fi
mkdir -p "$T/w2"
if out=$("$PY" "$SRC/api_flow.py" workload "$EMBER" "$T/w2" "$APIGUEST" 2>&1); then
	ok workload-api
else
	bad workload-api "$out"
fi

# --- the lists cover what the test workloads do -----------------------------------
# A stand-in for ember: ember-seccomp-test in trace mode under strace -ff,
# one directory of per-thread logs per run; signals go on to ember.
TR=$T/traces
mkdir -p "$TR"
cat >"$T/ember-traced" <<EOF
#!/bin/bash
d="$TR/\$\$"
mkdir -p "\$d"
EMBER_SECCOMP_TEST_TRACE=1 strace -f -ff -qq -X raw -o "\$d/t" "$TBIN" "\$@" <&0 &
sp=\$!
fwd() { for p in \$(cat /proc/\$sp/task/*/children 2>/dev/null); do kill -\$1 \$p 2>/dev/null; done; }
trap 'fwd TERM' TERM; trap 'fwd INT' INT; trap 'fwd HUP' HUP
# A trap cuts wait short (status > 128): wait again while strace runs, and
# once it is gone, take the status bash kept for it (127: none kept).
while :; do
	wait \$sp; rc=\$?
	[ \$rc -gt 128 ] || break
	kill -0 \$sp 2>/dev/null && continue
	wait \$sp; r=\$?
	[ \$r = 127 ] || rc=\$r
	break
done
exit \$rc
EOF
chmod +x "$T/ember-traced"
# The suites' own verdicts belong to their levels (make test-guests,
# test-api): a failing case there is only noted here; what counts is that
# every syscall their runs made is allowed.
for s in guests api; do
	EMBER="$T/ember-traced" EMBER_ELF="$TBIN" "$SRC/../$s/run.sh" "$B" >"$T/suite-$s" 2>&1 ||
		echo "  note: tests/$s under strace: $(tail -1 "$T/suite-$s")" \
			"($(grep '^FAIL' "$T/suite-$s" | cut -c 1-300 | tr '\n' ' '))"
done
suites=""
workload_boot_timer "$T/ember-traced" "$T/w3"
[ "$rc" = 0 ] || suites="$suites workload-boot-timer-fifo (status $rc)"
workload_tty "$T/ember-traced"
[ "$rc" = 0 ] || suites="$suites workload-tty (status $rc)"
mkdir -p "$T/w4"
"$PY" "$SRC/api_flow.py" workload "$T/ember-traced" "$T/w4" "$APIGUEST" >"$T/flow" 2>&1 ||
	suites="$suites workload-api ($(oneline "$T/flow"))"
"$PY" "$SRC/check_trace.py" "$LISTS" "$TR" >"$T/check" 2>&1
check_rc=$?
sed 's/^/  /' "$T/check"
if [ -n "$suites" ]; then
	bad allowlists-cover-workloads "under strace, these failed:$suites"
elif [ "$check_rc" != 0 ]; then
	bad allowlists-cover-workloads "$(grep '^FAIL' "$T/check" | head -5 | tr '\n' '|')"
else
	ok allowlists-cover-workloads
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
