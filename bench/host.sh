#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/host.sh BUILD OUT RESET_RUNS EXIT_RUNS N1 N2 [FIRECRACKER]: the KVM runs of
# bench/run.sh's first part, on whatever KVM it runs on (bench/run.sh starts
# it through tests/nested/level.sh: this machine's /dev/kvm when a test guest
# runs there, else the nested test host). Needs OUT/{vmmtime,kvmloop,
# apibench,snapbench,reset.elf} (built by bench/run.sh) and
# BUILD/tests/api/apiguest.elf. Prints, on stdout only:
#   HOST <vmmtime line>   one per run (labels reset, kvm-min, kvm-irq,
#                         ember-N1/N2, raw-N1/N2)
#   API <apibench line>   process start to the API socket, round trips
#   API-FC <apibench line>  the same for FIRECRACKER, when given
#   SNAP-MIB <snapbench line>  snapshot create and load at MIB MiB (128, 512)
#   HOST-SNAP-MIB-STATUS N  snapbench's exit status
#   HOST-BEGIN            first (only the lines after the last one count)
#   HOST-API-STATUS N     apibench's exit status (HOST-API-FC-STATUS for FIRECRACKER)
# Figures are printed, never asserted.
set -uo pipefail

build=${1:?usage: host.sh BUILD OUT RESET_RUNS EXIT_RUNS N1 N2}
out=${2:?} reset_runs=${3:?} exit_runs=${4:?} n1=${5:?} n2=${6:?} fc=${7:-}

# t LABEL [vmmtime options] -- ARGS: one vmmtime run set, prefixed.
t() {
	local l=$1
	shift
	"$out/vmmtime" -l "$l" "$@" | sed -u 's/^/HOST /'
}

# Where a run starts (in the nested test host a run may be repeated).
echo HOST-BEGIN

t reset -n "$reset_runs" -t 30 -m RST -- "$build/ember" --kernel "$out/reset.elf"
t kvm-min -n 20 -t 30 -m RST -- "$out/kvmloop" 1
t kvm-irq -n 20 -t 30 -m RST -- "$out/kvmloop" 1 --irqchip
for ((r = 0; r < exit_runs; r++)); do
	t "ember-$n1" -t 60 -- "$build/ember" --kernel "$build/tests/guests/exitloop.elf" --cmdline "loops=$n1"
	t "ember-$n2" -t 60 -- "$build/ember" --kernel "$build/tests/guests/exitloop.elf" --cmdline "loops=$n2"
	t "raw-$n1" -t 60 -- "$out/kvmloop" "$n1"
	t "raw-$n2" -t 60 -- "$out/kvmloop" "$n2"
done
"$out/apibench" 100 2000 "$build/ember" 2>&1 | sed -u 's/^/API /'
echo "HOST-API-STATUS ${PIPESTATUS[0]}"
for m in 128 512; do
	"$out/snapbench" 20 "$build/ember" "$build/tests/api/apiguest.elf" "$m" "${TMPDIR:-/tmp}" 2>&1 |
		sed -u "s/^/SNAP-$m /"
	echo "HOST-SNAP-$m-STATUS ${PIPESTATUS[0]}"
done
if [ -n "$fc" ]; then
	"$out/apibench" 100 2000 "$fc" 2>&1 | sed -u 's/^/API-FC /'
	echo "HOST-API-FC-STATUS ${PIPESTATUS[0]}"
fi
