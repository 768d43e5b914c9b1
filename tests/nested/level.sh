#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/nested/level.sh LEVEL BUILD -- CMD [ARG]...: run a test level that
# needs KVM (CMD, from the repository's top) where a KVM can run it.
#
# - On this machine's /dev/kvm when it exists and runs a test guest
#   (BUILD/ember boots BUILD/tests/guests/badport.elf to "PASS badport";
#   with LEVEL_LINUX=1, for a level that boots Linux guests, the kernel-mode
#   instructions of BUILD/tests/guests/kvmprobe.elf to "KVMPROBE OK"):
#   CMD runs here as it is.
# - Otherwise inside the nested test host, which has a real KVM whatever this
#   machine has: this machine's / is shared with it read-only (virtiofs) under
#   a writable tmpfs overlay, with the test host's own /proc, /sys, /dev,
#   /tmp, /run and cgroups (laid out as this machine's), and CMD runs there
#   chrooted, in the same directory, with the same tools (python3, strace,
#   ip, ...) and the same assertions: nothing is copied in one by one.
# Either way the first line says where the level runs and why.
# EMBER_TEST_KVM=local|nested forces one (for debugging, and for checking both).
#
# In the test host, a run whose test host dies (timeout, no status, silent for
# LEVEL_STALL s, default 300, or its kernel reports a BUG, oops or panic:
# TH_CRASH_RE; QEMU-TCG's known failures) is run again in a new test host,
# said so in a line. A failed test, a guest's triple fault included, is never
# run again. LEVEL_RETRIES (0 to 4, default 4, as e2e's) bounds the reruns. Only the
# last run's "N passed, N failed" line is printed as such (make test adds
# them up); earlier runs' are shown as "run N: ...", and a run without one
# fails unless LEVEL_SUMMARY=0 (a command that is no test). LEVEL_TIMEOUT (seconds,
# default 2400) bounds one test host. Exits with CMD's status (1 when the
# test host failed).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
level=${1:?usage: level.sh LEVEL BUILD -- CMD [ARG]...}
build=${2:?usage: level.sh LEVEL BUILD -- CMD [ARG]...}
shift 2
[ "${1:-}" = -- ] && shift
[ $# -ge 1 ] || { echo "$level: level.sh: no command" >&2; exit 1; }

die() {
	echo "$level: $*"
	echo "0 passed, 1 failed"
	exit 1
}

retries=${LEVEL_RETRIES:-4}
tmo=${LEVEL_TIMEOUT:-2400}
stall=${LEVEL_STALL:-300}
[[ "$retries" =~ ^[0-4]$ ]] || die "LEVEL_RETRIES must be 0 to 4"
for v in "$tmo" "$stall"; do
	[[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -gt 0 ] || die "LEVEL_TIMEOUT and LEVEL_STALL must be positive numbers of seconds"
done

# --- where ---------------------------------------------------------------------
where="" why=""
case "${EMBER_TEST_KVM:-}" in
local) where=local why="forced by EMBER_TEST_KVM=local" ;;
nested) where=nested why="forced by EMBER_TEST_KVM=nested" ;;
"")
	probe="$build/tests/guests/badport.elf" pass="PASS badport" what="a test guest"
	if [ "${LEVEL_LINUX:-0}" = 1 ]; then
		probe="$build/tests/guests/kvmprobe.elf" pass="KVMPROBE OK" what="a Linux guest"
	fi
	if [ ! -e /dev/kvm ]; then
		where=nested why="this machine has no /dev/kvm"
	elif [ ! -x "$build/ember" ] || [ ! -r "$probe" ]; then
		die "$build/ember or $probe is missing (make builds them)"
	else
		out=$(timeout -k 5 30 "$build/ember" --kernel "$probe" --mem-mib 64 </dev/null 2>&1)
		rc=$?
		if [ "$rc" = 0 ] && grep -q "$pass" <<<"$out"; then
			where=local why="$what runs on it"
		else
			where=nested
			why="$what does not run on this machine's /dev/kvm (status $rc: $(tail -n 1 <<<"$out"))"
		fi
	fi
	;;
*) die "EMBER_TEST_KVM must be local or nested, not '$EMBER_TEST_KVM'" ;;
esac

if [ "$where" = local ]; then
	echo "$level: runs on this machine's /dev/kvm ($why)"
	exec "$@"
fi
echo "$level: runs in the nested test host (QEMU TCG + kvm_amd, this machine's / shared read-only; $why)"
# The test host has /tmp (and /run, /proc, ...) of its own: a checkout there
# is not where the level would run.
case "$(pwd -P)/" in
/tmp/* | /run/* | /proc/* | /sys/* | /dev/*)
	die "the repository is under /$(pwd -P | cut -d/ -f2), which the nested test host does not share with this machine: clone it elsewhere (e.g. under /work or \$HOME)" ;;
esac

# --- in the nested test host ------------------------------------------------------
# shellcheck source=testhost.sh
. "$here/testhost.sh"
th_init "$build"
th_prepare
work="$TH_OUT/level-$level"
mkdir -p "$work"
# One run of a level at a time per build directory.
exec 9>"$work/.lock"
flock -w 1800 9 || die "$work is still locked by another run after 30 min"

# What the payload runs: the directory and the command, shell-quoted, and the
# environment the levels read (their own variables, the locale, CI).
conf="$work/level.conf"
{
	printf 'dir=%q\n' "$PWD"
	printf 'cmd=('
	printf '%q ' "$@"
	printf ')\n'
	printf 'envs=('
	while IFS= read -r -d '' kv; do
		case "${kv%%=*}" in
		PATH | HOME | LANG | LC_* | CI | TERM | EMBER* | JAILER | E2E_* | TH_SMP | TH_KVM_AMD) printf '%q ' "$kv" ;;
		esac
	done < <(env -0)
	printf 'EMBER_TEST_KVM=local '
	printf ')\n'
} >"$conf"
th_initramfs "$work/initramfs.cpio" "$here/level-payload.sh" "$conf:level.conf"

# run_once N: one test host; sets st (th_decode_status, or "watched" when
# th_watch stopped it: watch_why says why), log.
run_once() {
	local n=$1 runpid streampid q=0
	log="$work/console-$n.log"
	: >"$log"
	TH_HOSTROOT=1 th_run "$work/initramfs.cpio" "$tmo" "$log" &
	runpid=$!
	# Live, without the carriage returns; summary lines renamed until this
	# run proves to be the one that counts.
	tail -n +1 -F --pid="$runpid" "$log" 2>/dev/null |
		sed -u -E -e 's/\r//g' -e "s/^([0-9]+ passed, [0-9]+ failed)/run $n: \\1/" &
	streampid=$!
	watch_why=$(th_watch "$runpid" "$log" "$stall")
	wait "$runpid" || q=$?
	wait "$streampid" 2>/dev/null
	if [ -n "$watch_why" ]; then st=watched; else st=$(th_decode_status "$q"); fi
}

n=0
while :; do
	n=$((n + 1))
	run_once "$n"
	txt=$(tr -d '\r' <"$log")
	again=
	case "$st" in
	0) break ;;
	watched) again=$watch_why ;;
	timeout | kvm-setup | qemu-error:*) again=$(th_explain "$st") ;;
	esac
	crash=$(grep -m1 -E "$TH_CRASH_RE" <<<"$txt" | sed 's/^\[[ 0-9.]*\] //' || true)
	[ -z "$again" ] || [ -z "$crash" ] || [[ "$again" == *"$crash"* ]] || again+=": $crash"
	[ -n "$again" ] || break
	if [ "$n" -gt "$retries" ]; then
		echo "$level: $again; ran in $n test hosts, not again"
		break
	fi
	echo "$level: note: $again; running the level again in a new test host"
done

# The counted line: this run's summary.
sum=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$txt" | tail -n 1)
case "$st" in
[0-9]*)
	if [ -n "$sum" ]; then
		echo "$sum"
		exit "$st"
	fi
	# Not a test level (bench/host.sh): its status is the answer.
	[ "${LEVEL_SUMMARY:-1}" = 1 ] || exit "$st"
	die "the level printed no summary (status $st; console log: $log)"
	;;
*) die "the nested test host failed: $again (console log: $log)" ;;
esac
