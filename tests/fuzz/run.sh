#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tests/fuzz/run.sh FUZZ_DIR NAME SECONDS
# Run the libFuzzer binary FUZZ_DIR/fuzz_NAME for SECONDS over the seeds in
# tests/fuzz/NAME/ (read only) and its own corpus FUZZ_DIR/corpus/NAME/.
# Exit 0 when no crash; otherwise print the end of the log (the crashing
# input is saved as FUZZ_DIR/crash-*) and exit 1.
set -uo pipefail
[ $# -eq 3 ] || { echo "usage: run.sh FUZZ_DIR NAME SECONDS" >&2; exit 2; }
dir=$1 name=$2 secs=$3
src=$(cd "$(dirname "$0")" && pwd)
bin=$dir/fuzz_$name
log=$dir/fuzz_$name.log
[ -x "$bin" ] || { echo "fuzz: $bin is missing" >&2; exit 1; }
mkdir -p "$dir/corpus/$name"
dict=()
[ -f "$src/$name.dict" ] && dict=(-dict="$src/$name.dict")
echo "== fuzz_$name for $secs s"
(cd "$dir" && UBSAN_OPTIONS=print_stacktrace=1 timeout -k 10 $((secs + 60)) \
	"./fuzz_$name" -max_total_time="$secs" -max_len=65536 -timeout=10 \
	-rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
	"corpus/$name" "$src/$name") >"$log" 2>&1
rc=$?
if [ $rc != 0 ]; then
	tail -40 "$log"
	echo "== fuzz_$name FAILED (exit $rc; log $log)"
	exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
echo "== fuzz_$name: no crash in ${runs:-?} runs"
