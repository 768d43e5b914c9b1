#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Firecracker's API on ember: runs tests/api/test_api.py (Python 3, standard
# library only) against BUILD/ember and BUILD/tests/api/apiguest.elf, under
# a timeout. Usage: tests/api/run.sh [BUILD] [CASE...]   (default build; use
# `make test-api`). EMBER=path overrides the VMM. Needs /dev/kvm.
# Prints "ok <case>" / "FAIL <case>: <why>", then "N passed, N failed";
# exits 1 if any case failed.
set -u
B=${1:-build}
shift || true
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
timeout -k 10 600 "$PY" "$(dirname "$0")/test_api.py" "$B" "$@"
rc=$?
[ "$rc" = 124 ] && echo "FAIL test-api: timed out after 600s"
exit "$rc"
