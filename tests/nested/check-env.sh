#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The test harness's own knobs (TH_KVM_AMD, LEVEL_*, E2E_*): a bad value is
# refused in one line naming the variable, with a non-zero status, before
# anything is built, fetched or booted; good values are taken as they are.
# Pure shell, no KVM, a few seconds: part of test-unit.
# Prints "ok ..." / "FAIL ..." per check and "check-env: N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1

passed=0 failed=0
ok() { echo "ok check-env: $1"; passed=$((passed + 1)); }
bad() { echo "FAIL check-env: $1: $2"; failed=$((failed + 1)); }

scratch=$(mktemp -d) || exit 1
trap 'rm -rf "$scratch"' EXIT

# refused NAME WORD CMD...: CMD fails within 20 s, printing exactly one line
# (stdout and stderr together; a level's summary line and its first line,
# where it runs, aside) that names WORD, and leaves $scratch empty (nothing
# made before the check).
refused() {
	local name=$1 word=$2 out rc lines
	shift 2
	out=$(timeout -k 5 20 "$@" 2>&1 </dev/null)
	rc=$?
	out=$(grep -vE '^([0-9]+ passed, [0-9]+ failed|check: runs (on this machine.s /dev/kvm|in the nested test host) .*)$' <<<"$out")
	lines=$(grep -c . <<<"$out")
	if [ "$rc" = 0 ]; then
		bad "$name" "accepted (status 0): $(tr '\n' '|' <<<"$out")"
	elif [ "$rc" -ge 124 ]; then
		bad "$name" "did not answer within 20 s (status $rc)"
	elif [ "$lines" != 1 ] || [[ "$out" != *"$word"* ]]; then
		bad "$name" "expected one line naming $word, got $lines: $(tr '\n' '|' <<<"$out")"
	elif [ -n "$(ls -A "$scratch")" ]; then
		bad "$name" "made $(ls -A "$scratch" | head -n 3 | tr '\n' ' ')before refusing"
	else
		ok "$name refused: $out"
	fi
}

# th_init's parse of TH_KVM_AMD: "unset|VALUE" -> TH_KVM_AMD_PARAMS.
params() {
	# (a subshell: th_init may exit)
	(
		if [ "$1" = unset ]; then unset TH_KVM_AMD; else export TH_KVM_AMD=$1; fi
		# shellcheck source=testhost.sh
		. tests/nested/testhost.sh
		EMBER_CACHE=$scratch/cache th_init "$scratch/build"
		echo "params=[$TH_KVM_AMD_PARAMS]"
	) 2>&1
}

for v in 'npt' 'npt=1;reboot' 'npt=1,' 'NPT=1' 'npt=1 nested=1' ',npt=1' 'npt=$(id)' 'npt=1,,nested=1'; do
	out=$(params "$v")
	rc=$?
	if [ "$rc" != 0 ] && [ "$(grep -c . <<<"$out")" = 1 ] &&
		[[ "$out" == "testhost: TH_KVM_AMD must be P=V[,P=V...], not '$v'" ]] &&
		[ ! -e "$scratch/build" ]; then
		ok "TH_KVM_AMD='$v' refused by th_init"
	else
		bad "TH_KVM_AMD='$v'" "status $rc: $(tr '\n' '|' <<<"$out")"
	fi
done
for c in 'unset|npt=0' '|' 'npt=1|npt=1' 'npt=0,nested=1,avic=N|npt=0,nested=1,avic=N'; do
	v=${c%%|*} want=${c#*|}
	out=$(params "$v")
	if [ "$out" = "params=[$want]" ]; then
		ok "TH_KVM_AMD ${v:-(empty)} gives kvm_amd '$want'"
	else
		bad "TH_KVM_AMD ${v:-(empty)}" "expected params=[$want], got: $(tr '\n' '|' <<<"$out")"
	fi
	rm -rf "${scratch:?}"/*
done

# level.sh checks its knobs before it probes KVM or boots a test host.
for kv in LEVEL_RETRIES=5 LEVEL_RETRIES=x LEVEL_TIMEOUT=0 LEVEL_TIMEOUT=-1 LEVEL_STALL=1m \
	EMBER_TEST_KVM=maybe; do
	refused "level.sh $kv" "${kv%%=*}" env "$kv" tests/nested/level.sh check "$scratch/build" -- true
done
refused "TH_KVM_AMD=npt in a nested level" TH_KVM_AMD \
	env TH_KVM_AMD=npt EMBER_TEST_KVM=nested tests/nested/level.sh check "$scratch/build" -- true
# e2e's, before it builds or fetches anything.
for kv in E2E_RETRIES=7 E2E_RETRIES=-1 E2E_CASE_TIMEOUT=0 E2E_NET_TIMEOUT=x; do
	refused "tests/e2e/run.sh $kv" "${kv%%=*}" env "$kv" tests/e2e/run.sh "$scratch/build"
done

echo "check-env: $passed passed, $failed failed"
[ "$failed" = 0 ]
