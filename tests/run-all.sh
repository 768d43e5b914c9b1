#!/usr/bin/env bash
# make test: run every level in order, show its output, and close with the
# total of the "N passed, N failed" lines the levels print. Any level that
# fails (non-zero exit) fails the run, whatever it counted.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0 failed=0 status=0 failed_levels=() times=()
t_all=$SECONDS
for level in "$@"; do
	echo "=== make $level"
	log=$(mktemp)
	t0=$SECONDS
	make --no-print-directory "$level" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	times+=("$level $((SECONDS - t0)) s")
	while read -r p f; do
		passed=$((passed + p))
		failed=$((failed + f))
	done < <(sed -nE 's/^([A-Za-z-]+: )?([0-9]+) passed, ([0-9]+) failed.*$/\2 \3/p' "$log")
	rm -f "$log"
	if [ "$rc" != 0 ]; then
		status=1
		failed_levels+=("$level")
	fi
done
echo "make test: $((SECONDS - t_all)) s in all ($(IFS=,; echo "${times[*]}" | sed 's/,/, /g'))"
[ "$status" = 0 ] || echo "make test: failed levels: ${failed_levels[*]}"
echo "total: $passed passed, $failed failed"
exit "$status"
