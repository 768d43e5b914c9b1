#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/e2e/run.sh BUILD_DIR: end-to-end tests of ember with a real Linux
# guest, in ONE boot of the nested test host (tests/nested/testhost.sh).
# Inside the test host, BUILD_DIR/ember boots BUILD_DIR/guest/{vmlinux,
# bzImage} with BUILD_DIR/guest/initrd.cpio.gz to EMBER-GUEST-READY and back
# out (exit 0), with 1 and 2 vCPUs. Prints `ok NAME` or `FAIL NAME: why` per
# case, timings, and last `N passed, N failed`. Exits non-zero on any failure,
# or if the test host itself failed or timed out.
#
# Environment: E2E_CASE_TIMEOUT (seconds per case inside the test host,
# default 60), E2E_CASES (space-separated names, to run a subset),
# TH_VERBOSE=1 (stream the test host's console).

set -euo pipefail
t_start=$(date +%s%N)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:-build}"
case_tmo="${E2E_CASE_TIMEOUT:-60}"
[[ "$case_tmo" =~ ^[0-9]+$ ]] && [ "$case_tmo" -gt 0 ] ||
	{ echo "e2e: E2E_CASE_TIMEOUT must be a positive number of seconds" >&2; exit 1; }

# shellcheck source=../nested/testhost.sh
. "$here/../nested/testhost.sh"

ember="$build/ember"
vmlinux="$build/guest/vmlinux"
bzimage="$build/guest/bzImage"
initrd="$build/guest/initrd.cpio.gz"
for f in "$ember" "$vmlinux" "$bzimage" "$initrd"; do
	[ -r "$f" ] || { echo "e2e: $f is missing (run make $build/ember guest)" >&2; exit 1; }
done
if command -v readelf >/dev/null &&
	readelf -l "$ember" 2>/dev/null | grep -q 'program interpreter'; then
	echo "e2e: $ember is dynamically linked; the test host needs a static binary" >&2
	exit 1
fi

# NAME KERNEL VCPUS CMDLINE EXPECT (the EXPECT line must appear in the output)
all_cases=(
	"vmlinux-1vcpu vmlinux 1 ember.test=reboot -"
	"vmlinux-2vcpus vmlinux 2 ember.test=cpus EMBER-CPUS_2"
	"bzImage-1vcpu bzImage 1 ember.test=reboot -"
	"bzImage-2vcpus bzImage 2 ember.test=cpus EMBER-CPUS_2"
)
declare -A expect=()
names=()
work="$build/nested/e2e"
mkdir -p "$work"
: >"$work/cases.txt"
for c in "${all_cases[@]}"; do
	read -r name kernel vcpus cmdline exp <<<"$c"
	if [ -n "${E2E_CASES:-}" ] && [[ " $E2E_CASES " != *" $name "* ]]; then
		continue
	fi
	names+=("$name")
	expect[$name]="${exp//_/ }"
	echo "$name $case_tmo --kernel ./$kernel --initrd ./initrd.cpio.gz --vcpus $vcpus --cmdline $cmdline" \
		>>"$work/cases.txt"
done
[ ${#names[@]} -gt 0 ] || { echo "e2e: E2E_CASES selects no case" >&2; exit 1; }

t0=$(date +%s%N)
th_init "$build"
th_prepare
th_initramfs "$work/initramfs.cpio" "$here/payload.sh" "$ember:ember" "$vmlinux:vmlinux" \
	"$bzimage:bzImage" "$initrd:initrd.cpio.gz" "$work/cases.txt:cases.txt"
t1=$(date +%s%N)
# Boot (~3 s) + every case at its limit + margin.
host_tmo=$((60 + ${#names[@]} * (case_tmo + 10)))
log="$work/console.log"
q=0
th_run "$work/initramfs.cpio" "$host_tmo" "$log" || q=$?
t2=$(date +%s%N)
status=$(th_decode_status "$q")
tr -d '\r' <"$log" >"$log.txt"

# ts stamps "SECS SS.MICROS" -> milliseconds since the epoch.
to_ms() {
	local s=$1 f=${2#*.}
	f=${f:0:3}
	echo $((s * 1000 + 10#$f))
}

passed=0
failed=0
for name in "${names[@]}"; do
	out=$(sed -n "s/^E2E-OUT $name //p" "$log.txt")
	start=$(awk -v n="$name" '$1 == "E2E-START" && $2 == n { print $3, $4; exit }' "$log.txt")
	done_=$(grep -c "^E2E-DONE $name\$" "$log.txt" || true)
	# Output lines are "SECS SS.MICROS TEXT".
	text=$(cut -d' ' -f3- <<<"$out")
	rc=$(sed -n 's/^E2E-EXIT \([0-9]*\)$/\1/p' <<<"$text" | tail -n 1)
	ready=$(grep -m1 'EMBER-GUEST-READY' <<<"$out" | cut -d' ' -f1,2 || true)
	last=$(grep -m1 'E2E-EXIT' <<<"$out" | cut -d' ' -f1,2 || true)
	why=
	if [ "$done_" = 0 ] && grep -q "^E2E-CASE $name\$" "$log.txt"; then
		why="no result: the test host stopped during this case ($(th_explain "$status"))"
	elif [ "$done_" = 0 ]; then
		why="not run: the test host stopped before it ($(th_explain "$status"))"
	elif [ "$rc" = 137 ]; then
		why="ember timed out after $case_tmo s"
	elif [ "$rc" != 0 ]; then
		why="ember exited with status $rc"
	elif [ -z "$ready" ]; then
		why="no EMBER-GUEST-READY"
	elif [ "${expect[$name]}" != - ] && ! grep -qE -- "${expect[$name]}([^0-9]|\$)" <<<"$text"; then
		why="no '${expect[$name]}' ($(grep -o 'EMBER-CPUS [0-9]*' <<<"$text" | head -n 1 || true))"
	fi
	timing=
	if [ -n "$start" ]; then
		s_ms=$(to_ms $start)
		[ -n "$ready" ] && timing="ready $(($(to_ms $ready) - s_ms)) ms"
		[ -n "$last" ] && timing="${timing:+$timing, }exit $(($(to_ms $last) - s_ms)) ms"
	fi
	if [ -z "$why" ]; then
		passed=$((passed + 1))
		echo "ok $name${timing:+ ($timing)}"
	else
		failed=$((failed + 1))
		echo "FAIL $name: $why${timing:+ ($timing)}; last output:"
		{ grep -v '^E2E-EXIT' <<<"$text" || true; } | tail -n 12 | sed 's/^/    | /'
	fi
done

ready_up=$(sed -n 's/.*TESTHOST-KVM-READY uptime=\([0-9.]*\).*/\1/p' "$log.txt" | head -n 1)
echo "e2e: test host ${TH_SMP} CPUs: kvm_amd ready at ${ready_up:-?} s uptime;" \
	"prepare $(((t1 - t0) / 1000000)) ms, test host run $(((t2 - t1) / 1000000)) ms," \
	"e2e total $((($(date +%s%N) - t_start) / 1000000)) ms" \
	"(console log: $log.txt)"
host_ok=1
case "$status" in
0) ;;
timeout)
	host_ok=0
	echo "e2e: FAIL the test host timed out after $host_tmo s" ;;
kvm-setup)
	host_ok=0
	echo "e2e: FAIL the test host could not set up KVM: $(grep -m1 TESTHOST-ERROR "$log.txt" || true)" ;;
*)
	host_ok=0
	echo "e2e: FAIL $(th_explain "$status"); its last output:"
	tail -n 12 "$log.txt" | sed 's/^/    | /' ;;
esac
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$host_ok" = 1 ]
