#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/run.sh [BUILD]: ember's benchmarks. Prints a Markdown report on stdout,
# writes it to bench/results.md and plots its ratios to bench/results.png
# (gnuplot). Figures are printed, never asserted.
#
#  1. The size of BUILD/ember (and of QEMU's binary); and on this machine's
#     /dev/kvm, or where it cannot run a test guest inside the nested test
#     host (bench/host.sh through tests/nested/level.sh; the rows say
#     which): ember's start to the first guest instruction (bench/reset.S: a
#     guest that writes "RST" and resets at once; wall and CPU, timed by
#     bench/vmmtime.c); process start to the API socket accepting
#     (bench/apibench.c); the cost of one PIO exit
#     (tests/guests/exitloop.elf, loops=N1 and N2) against a VMM that does
#     nothing but KVM_RUN (bench/kvmloop.c).
#  2. In ONE boot of the nested test host (tests/nested/testhost.sh; payload
#     bench/payload.sh), ember and QEMU microvm alternately, the same
#     BUILD/guest/vmlinux and initrd (plus bench/guest-init.sh, bench/ready.c
#     and bench/iobench.c): boot to the guest's readiness marker (a byte
#     written to ember's boot-timer page or QEMU's isa-debugcon port, which
#     the VMM turns into a line on a pipe: no console parsing on the clock)
#     and to the VMM's exit, 1 vCPU / 128 MiB and 2 vCPUs / 512 MiB;
#     density (bench/density.c: 128 MiB VMs ready within 10 s, one after
#     another and 4 booting at once); the VMM's memory overhead (Rss minus the
#     Rss of its guest RAM), threads and open fds with the guest idle after
#     boot and after 64 MiB of disk I/O; virtio-blk sequential 1 MiB and
#     random 4 KiB O_DIRECT reads/writes on a raw file in the test host's
#     tmpfs; TCP guest -> test host and test host -> guest over a TAP.
#
# Needs BUILD/ember, BUILD/tests/guests/{exitloop,badport}.elf and BUILD/guest/
# (built with make when missing) and installs the Debian packages it uses.
# Environment (defaults): BENCH_PHASES ("host nested"), BENCH_RESET_RUNS
# (100), BENCH_EXIT_RUNS (20), BENCH_EXIT_N1/N2 (5000/50000), BENCH_RUNS
# (nested boots per VMM and variant, 8), BENCH_DENS_ROUNDS (density rounds,
# 2), BENCH_DENS_SECS (the density window, 10), BENCH_DENS_PAR (VMs booting
# at once in the parallel density figure, 4), BENCH_DENS_CAP (most VMs in one
# window, 64), BENCH_MEM_RUNS (memory readings per VMM, 3), BENCH_IO_ROUNDS
# (4), BENCH_BLK_MIB (256), BENCH_NET_MIB (128), BENCH_RAND_SECS (5),
# BENCH_IO=0 (no I/O figures), BENCH_HOST_TIMEOUT (test host limit, 1200 s),
# BENCH_STALL (a test host silent that long is stopped, 300 s),
# BENCH_NESTED_TRIES (test hosts in all for the unfinished parts, 2),
# BENCH_RESULTS (bench/results.md), BENCH_PLOT (bench/results.png),
# BENCH_ONLY (the parts to run, among "host boot density mem blk net exits snap";
# default all: e.g. BENCH_ONLY=density for the density figures alone),
# BENCH_EMBER_B (a second ember binary whose mem, blk and net runs alternate
# with the others in the same test host boot, as "ember-b": an A/B
# comparison of two builds), BENCH_QEMU=0 (no QEMU runs), BENCH_NESTED_LOG
# (report on an earlier run's console.log instead of booting the test host),
# FIRECRACKER (a Firecracker binary: its API start-up beside ember's in part
# 1, and its boot, mem, blk and net runs alternating with the others in the
# test host; ember/Firecracker ratios in a group of their own).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="$(realpath -m "${1:-build}")"
out="$build/bench"
phases=" ${BENCH_PHASES:-host nested} "
reset_runs=${BENCH_RESET_RUNS:-100}
exit_runs=${BENCH_EXIT_RUNS:-20}
n1=${BENCH_EXIT_N1:-5000}
n2=${BENCH_EXIT_N2:-50000}
runs=${BENCH_RUNS:-8}
dens_rounds=${BENCH_DENS_ROUNDS:-2}
dens_secs=${BENCH_DENS_SECS:-10}
dens_par=${BENCH_DENS_PAR:-4}
dens_cap=${BENCH_DENS_CAP:-64}
mem_runs=${BENCH_MEM_RUNS:-3}
io_rounds=${BENCH_IO_ROUNDS:-4}
blk_mib=${BENCH_BLK_MIB:-256}
net_mib=${BENCH_NET_MIB:-128}
rand_secs=${BENCH_RAND_SECS:-5}
do_io=${BENCH_IO:-1}
host_tmo=${BENCH_HOST_TIMEOUT:-1200}
stall_secs=${BENCH_STALL:-300}
nested_tries=${BENCH_NESTED_TRIES:-2}
results=${BENCH_RESULTS:-$here/results.md}
plot=${BENCH_PLOT:-$here/results.png}
only=" ${BENCH_ONLY:-host boot density mem blk net exits snap} "
ember_b=${BENCH_EMBER_B:-}
fc_bin=${FIRECRACKER:-}
qemu_runs=${BENCH_QEMU:-1}
all_parts="host boot density mem blk net exits snap"

die() { echo "bench: $*" >&2; exit 1; }

log() { echo "bench: $*" >&2; }

for v in reset_runs:RESET_RUNS exit_runs:EXIT_RUNS n1:EXIT_N1 n2:EXIT_N2 runs:RUNS \
	dens_rounds:DENS_ROUNDS dens_secs:DENS_SECS dens_par:DENS_PAR dens_cap:DENS_CAP mem_runs:MEM_RUNS \
	io_rounds:IO_ROUNDS blk_mib:BLK_MIB net_mib:NET_MIB rand_secs:RAND_SECS host_tmo:HOST_TIMEOUT stall_secs:STALL nested_tries:NESTED_TRIES; do
	x=${v%%:*}
	if ! [[ "${!x}" =~ ^[0-9]{1,9}$ ]] || [ "${!x}" -eq 0 ]; then
		die "BENCH_${v#*:} must be a positive number (got '${!x}')"
	fi
done
[ "$dens_cap" -le 256 ] || die "BENCH_DENS_CAP must be at most 256 (got '$dens_cap')"
[ "$dens_par" -le "$dens_cap" ] || die "BENCH_DENS_PAR must be at most BENCH_DENS_CAP"
[ "$dens_secs" -le 600 ] || die "BENCH_DENS_SECS must be at most 600 (got '$dens_secs')"
[[ "$do_io" =~ ^[01]$ ]] || die "BENCH_IO must be 0 or 1 (got '$do_io')"
[[ "$qemu_runs" =~ ^[01]$ ]] || die "BENCH_QEMU must be 0 or 1 (got '$qemu_runs')"
for p in $phases; do
	[[ "$p" =~ ^(host|nested)$ ]] || die "BENCH_PHASES: unknown phase '$p' (host, nested)"
done
[ -n "${phases// /}" ] || die "BENCH_PHASES names no phase (host, nested)"
only=${only//,/ }
parts=""
for p in $only; do
	[[ " $all_parts " == *" $p "* ]] || die "BENCH_ONLY: unknown part '$p' (${all_parts// /, })"
	[[ "$p" == host ]] || parts="$parts $p"
done
[ -n "${only// /}" ] || die "BENCH_ONLY names no part (${all_parts// /, })"
# BENCH_ONLY narrows the phases: host only if named, nested only for its parts.
[[ "$only" == *" host "* ]] || phases=${phases/ host / }
[ -n "$parts" ] || phases=${phases/ nested / }
[ -n "${phases// /}" ] || die "BENCH_PHASES and BENCH_ONLY leave nothing to run"
parts=${parts# }
has_part() { [[ " $parts " == *" $1 "* ]]; }
if [ -n "$ember_b" ]; then
	[ -x "$ember_b" ] || die "BENCH_EMBER_B: $ember_b is not an executable file"
fi
[ "$n2" -gt "$n1" ] || die "BENCH_EXIT_N2 must be larger than BENCH_EXIT_N1"
fc_ver=
if [ -n "$fc_bin" ]; then
	[ -f "$fc_bin" ] && [ -x "$fc_bin" ] || die "FIRECRACKER: $fc_bin is not an executable file"
	fc_bin=$(realpath "$fc_bin")
	fc_ver=$("$fc_bin" --version 2>&1 | head -n 1)
	[[ "$fc_ver" == Firecracker* ]] || die "FIRECRACKER: $fc_bin --version says '$fc_ver', not Firecracker's version"
fi

# shellcheck source=../tests/nested/testhost.sh
. "$root/tests/nested/testhost.sh"
# The test host loads kvm_amd with npt=0 for the tests (steadier there:
# tests/nested/README.md); the figures are taken with nested paging, as on
# real hardware, unless TH_KVM_AMD says otherwise.
export TH_KVM_AMD="${TH_KVM_AMD-npt=1}"
cd "$root"

# --- prerequisites -----------------------------------------------------------
th_need_pkgs musl-tools binutils gcc make gnuplot-nox fonts-dejavu-core
need=()
boot_nested=0
[[ "$phases" == *" nested "* ]] && [ -z "${BENCH_NESTED_LOG:-}" ] && boot_nested=1
if [[ "$phases" == *" host "* ]] || [ "$boot_nested" = 1 ]; then
	[ -x "$build/ember" ] || need+=("$build/ember")
fi
for g in exitloop badport; do
	[[ "$phases" != *" host "* ]] || [ -r "$build/tests/guests/$g.elf" ] ||
		need+=("$build/tests/guests/$g.elf")
done
[ "$boot_nested" = 0 ] ||
	{ [ -r "$build/guest/vmlinux" ] && [ -r "$build/guest/initrd.cpio.gz" ]; } || need+=(guest)
if [ ${#need[@]} -gt 0 ]; then
	log "building ${need[*]}"
	make -s BUILD="$build" "${need[@]}" >&2 || die "make ${need[*]} failed"
fi
mkdir -p "$out"

# Tools: the static ones also run inside the test host and the guest.
SCC=(musl-gcc -static -O2 -Wall -Wextra -Werror -s)
"${SCC[@]}" -o "$out/vmmtime" "$here/vmmtime.c" || die "cannot build vmmtime"
"${SCC[@]}" -o "$out/density" "$here/density.c" || die "cannot build density"
"${SCC[@]}" -o "$out/iobench" "$here/iobench.c" || die "cannot build iobench"
"${SCC[@]}" -o "$out/ready" "$here/ready.c" || die "cannot build ready"
gcc -O2 -Wall -Wextra -Werror -o "$out/kvmloop" "$here/kvmloop.c" || die "cannot build kvmloop"
gcc -O2 -Wall -Wextra -Werror -o "$out/apibench" "$here/apibench.c" || die "cannot build apibench"
"${SCC[@]}" -o "$out/snapbench" "$here/snapbench.c" || die "cannot build snapbench"
as --64 -o "$out/reset.o" "$here/reset.S" &&
	ld -m elf_x86_64 -static -nostdlib -n --build-id=none -Ttext=0x100000 -e _start \
		-o "$out/reset.elf" "$out/reset.o" || die "cannot build reset.elf"

# --- statistics ----------------------------------------------------------------
# stats: numbers on stdin -> "MEDIAN P10 P90 MIN MAX N" (nearest rank), or
# "- - - - - 0" for none.
stats() {
	sort -g | awk '{ a[NR] = $1 }
	function rank(p,  i) { i = int(p * NR + 0.999999); if (i < 1) i = 1; return a[i] }
	END {
		if (NR == 0) { print "- - - - - 0"; exit }
		med = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		print med, rank(0.1), rank(0.9), a[1], a[NR], NR
	}'
}
# kstats: "KEY VALUE" lines on stdin (KEY: the run or round) -> stats of the VALUEs.
kstats() { awk 'NF == 2 { print $2 }' | stats; }
# fmt "MED P10 P90 MIN MAX N" SCALE DIGITS SPREAD(p|m): "med [p10-p90]" or
# "med [min-max]", each value divided by SCALE.
fmt() {
	local s=$1 scale=$2 d=$3 spread=$4
	awk -v s="$s" -v k="$scale" -v d="$d" -v sp="$spread" 'BEGIN {
		split(s, v, " ")
		if (v[6] == 0) { print "n/a"; exit }
		f = "%." d "f"
		lo = sp == "p" ? v[2] : v[4]; hi = sp == "p" ? v[3] : v[5]
		printf(f " [" f "–" f "]\n", v[1] / k, lo / k, hi / k)
	}'
}
med() { cut -d' ' -f1 <<<"$1"; }
cnt() { cut -d' ' -f6 <<<"$1"; }
# ratio A B: A/B to 2 decimals, or n/a.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0) print "n/a"
		else printf("%.2f\n", a / b)
	}'
}
# pairs KV_A KV_B: the ratios A/B of the values with the same KEY (the same
# run or round: the VMMs alternate, so each pair shared the machine's load).
pairs() {
	awk 'NR == FNR { if (NF == 2) a[$1] = $2; next }
		NF == 2 && ($1 in a) && $2 + 0 != 0 { printf("%.6g\n", a[$1] / $2) }' \
		<(printf '%s\n' "$1") <(printf '%s\n' "$2")
}

# The report: one table. Rows are kept per group (the issue's order) and
# printed group by group; the ratios also go to the plot.
declare -A rows=()
notes=()
plotdat="$out/plot.dat"
: >"$plotdat"
# row GROUP FIGURE EMBER OTHER RATIO N
row() { rows[$1]+="| $2 | $3 | $4 | $5 | $6 |"$'\n'; }
# plot_add GROUP LABEL RATIO LO HI KIND: one point of the plot; KIND says
# which way is better for ember: lower, higher, or ref (against a limit).
plot_add() {
	local l=$2
	[ "$3" != n/a ] || return 0
	[ "$6" != higher ] || l="$l ▲"
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$l" "$3" "${4:-$3}" "${5:-$3}" "$6" "$1" >>"$plotdat"
}
# cmp GROUP FIGURE KV_EMBER KV_OTHER SCALE DIGITS SPREAD PLOT-LABEL KIND: a
# row comparing two sets of "KEY VALUE" lines; the ratio of the medians, with
# the min-max of the per-run ratios (pairs) in brackets. No PLOT-LABEL: not
# plotted.
cmp() {
	local g=$1 name=$2 kv_e=$3 kv_o=$4 scale=$5 d=$6 sp=$7 label=$8 kind=$9
	local e o r p lo=- hi=- cell
	e=$(kstats <<<"$kv_e")
	o=$(kstats <<<"$kv_o")
	r=$(ratio "$(med "$e")" "$(med "$o")")
	p=$(pairs "$kv_e" "$kv_o" | stats)
	cell=$r
	if [ "$r" != n/a ] && [ "$(cnt "$p")" -gt 1 ]; then
		read -r _ _ _ lo hi _ <<<"$p"
		cell=$(awk -v r="$r" -v lo="$lo" -v hi="$hi" 'BEGIN { printf("%s [%.2f–%.2f]", r, lo, hi) }')
	fi
	row "$g" "$name" "$(fmt "$e" "$scale" "$d" "$sp")" "$(fmt "$o" "$scale" "$d" "$sp")" \
		"$cell" "$(cnt "$e") / $(cnt "$o")"
	if [ -n "$label" ] && [ "$lo" = - ]; then
		plot_add "$g" "$label" "$r" "" "" "$kind"
	elif [ -n "$label" ]; then
		plot_add "$g" "$label" "$r" "$lo" "$hi" "$kind"
	fi
	return 0
}

started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)

# --- 1. this machine -------------------------------------------------------------
# Where part 1's KVM runs ran (set below when they run).
kvm="this machine's /dev/kvm"
if [[ "$phases" == *" host "* ]]; then
	log "host: binary size, $reset_runs start-to-reset runs, $exit_runs x 4 exit-loop runs"
	hl="$out/host.txt"
	bytes=$(stat -c %s "$build/ember")
	read -r text data bss _ < <(size "$build/ember" | awk 'NR == 2')
	qsize="—" qr="—"
	if qbin=$(command -v qemu-system-x86_64); then
		qbin=$(realpath "$qbin")
		qbytes=$(stat -c %s "$qbin")
		read -r nlib libbytes < <(ldd "$qbin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' |
			xargs -r stat -L -c %s | awk '{ s += $1; n++ } END { print n + 0, s + 0 }')
		qsize="$qbytes (dynamic; + $nlib libraries, $libbytes bytes)"
		qr=$(ratio "$bytes" "$qbytes")
		plot_add 4 "static binary size (vs QEMU's binary alone)" "$qr" "" "" lower
		qr="$qr (vs the binary alone)"
	fi
	row 4 "binary size (bytes; ember static: \`size\` text/data/bss)" \
		"$bytes ($text / $data / $bss)" "$qsize" "$qr" "1"

	# The KVM runs: on this machine's /dev/kvm when a test guest runs there,
	# else in the nested test host (tests/nested/level.sh says which).
	LEVEL_SUMMARY=0 tests/nested/level.sh bench-host "$build" -- bench/host.sh "$build" "$out" \
		"$reset_runs" "$exit_runs" "$n1" "$n2" "$fc_bin" >"$out/host-run.txt" 2>&1 || true
	where=$(sed -n 's/^bench-host: runs \(.*\)$/\1/p' "$out/host-run.txt" | head -n 1)
	log "host: the KVM runs ${where:-did not start: $(tail -n 1 "$out/host-run.txt")}"
	[[ "$where" != "in the nested test host"* ]] || kvm="the nested test host's KVM (this machine's cannot run them)"
	# The last run's lines (the test host may have run it again).
	awk '/^HOST-BEGIN$/ { n = NR } { l[NR] = $0 } END { for (i = n + 1; i <= NR; i++) print l[i] }' \
		"$out/host-run.txt" >"$out/host-last.txt"
	sed -n 's/^HOST //p' "$out/host-last.txt" >"$hl"
	sed -n 's/^API //p' "$out/host-last.txt" >"$out/api.txt"
	sed -n 's/^API-FC //p' "$out/host-last.txt" >"$out/api-fc.txt"
	sed -n 's/^SNAP-\([0-9]*\) /\1 /p' "$out/host-last.txt" >"$out/snap.txt"
	[ -s "$hl" ] || notes+=("the KVM runs of part 1 gave no figures: $(grep -v '^TESTHOST' "$out/host-run.txt" | tail -n 2 | tr '\n' ' ')")
	notes+=("part 1's KVM runs (start-up, exit cost, API) ran $where")
	bad=$(awk '$8 != 0' "$hl" | wc -l)
	[ "$bad" = 0 ] || notes+=("$bad host runs exited non-zero and are left out: $(awk '$8 != 0 { print $1 "=" $8 }' "$hl" | sort | uniq -c | tr '\n' ' ')")
	# hkv LABEL EXPR: "KEY VALUE" of the good runs of LABEL; KEY names the
	# label too: these runs are not interleaved, so they make no pairs.
	# shellcheck disable=SC2016 # the awk expressions are passed as text
	hkv() { awk -v l="$1" '$1 == l && $8 == 0 { print l "-" $2, '"$2"' }' "$hl"; }
	# shellcheck disable=SC2016 # the awk expressions are passed as text
	cmp 1 "start → first guest instruction, $kvm: fork → the guest's first COM1 bytes on stdout (ms, median [p10–p90]; reference: a bare \`KVM_RUN\` VMM with KVM's local APICs (a split irqchip, as ember's), kvmloop)" \
		"$(hkv reset '$3')" "$(hkv kvm-irq '$3')" 1000 2 p "" ""
	# shellcheck disable=SC2016
	cmp 1 "start → process exit incl. KVM teardown, $kvm (ms; reference as above)" \
		"$(hkv reset '$5')" "$(hkv kvm-irq '$5')" 1000 2 p "" ""
	# Per exit: paired runs, (t(N2) - t(N1)) / (N2 - N1), one figure per round.
	# shellcheck disable=SC2016 # the awk expressions are passed as text
	per_exit() { # LABEL-PREFIX COLUMN-EXPR -> "ROUND NS"
		paste <(awk -v l="$1-$n1" '$1 == l { print ($8 == 0 ? '"$2"' : "x") }' "$hl") \
			<(awk -v l="$1-$n2" '$1 == l { print ($8 == 0 ? '"$2"' : "x") }' "$hl") |
			awk -v d=$((n2 - n1)) '$1 != "x" && $2 != "x" { printf("%d %.1f\n", NR, ($2 - $1) * 1000 / d) }'
	}
	# shellcheck disable=SC2016
	cmp 7 "PIO exit round trip on $kvm, wall (ns/exit, loops=$n1 vs $n2, median [p10–p90]; the limit: kvmloop, \`KVM_RUN\` only) — ember/limit" \
		"$(per_exit ember '$5')" "$(per_exit raw '$5')" 1 0 p "PIO exit cost (ember/limit: raw KVM_RUN loop)" ref
	# shellcheck disable=SC2016
	cmp 7 "PIO exit round trip, CPU user+sys (ns/exit) — ember/limit" \
		"$(per_exit ember '$6 + $7')" "$(per_exit raw '$6 + $7')" 1 0 p "" ""
	# The API (bench/apibench.c): process start to the socket accepting, and
	# round trips on one keep-alive connection. Medians [p10–p90], p99.
	if grep -qx 'HOST-API-STATUS 0' "$out/host-last.txt"; then
		api() { awk -v k="$1" -v s="$2" '$1 == k { printf("%.*f [%.*f–%.*f], p99 %.*f", s, $3, s, $5, s, $7, s, $9) }' "$out/api.txt"; }
		api_med() { awk -v k="$1" '$1 == k { print $3 }' "$out/api.txt"; }
		row 1 "process start → API socket accepting, wall (µs)" "$(api startup-wall-us 0)" "—" "—" "100"
		row 1 "process start → API socket accepting, CPU of all threads (µs)" \
			"$(api startup-cpu-us 0)" "8000 (Firecracker's published figure, not measured here)" \
			"$(ratio "$(api_med startup-cpu-us)" 8000)" "100"
		row 1 "GET / round trip on a keep-alive connection (µs)" "$(api get-root-us 1)" "—" "—" "2000"
		row 1 "PUT /drives/rootfs round trip (µs)" "$(api put-drive-us 1)" "—" "—" "2000"
	else
		notes+=("bench/apibench failed: $(tail -n 1 "$out/api.txt")")
	fi
	# Snapshots (bench/snapbench.c, a ticking test guest): create once, load 20 times.
	for m in 128 512; do
		if ! grep -qx "HOST-SNAP-$m-STATUS 0" "$out/host-last.txt"; then
			notes+=("bench/snapbench at $m MiB failed: $(grep -v ' median ' "$out/snap.txt" | awk -v m="$m" '$1 == m' | tail -n 1)")
			continue
		fi
		snap() { awk -v m="$m" -v k="$1" -v s="$2" '$1 == m && $2 == k { printf("%.*f [%.*f–%.*f]", s, $4 / 1000, s, $6 / 1000, s, $8 / 1000) }' "$out/snap.txt"; }
		snap1() { awk -v m="$m" -v k="$1" '$1 == m && $2 == k { printf("%.1f", $4 / 1000) }' "$out/snap.txt"; }
		# The 5 ms target is for real hardware: no ratio under TCG.
		tref="—" tr="—"
		if [ "$kvm" = "this machine's /dev/kvm" ]; then
			tref="5 (Firecracker's published target, not measured here)"
			tr=$(ratio "$(awk -v m="$m" '$1 == m && $2 == "load-us" { print $4 / 1000 }' "$out/snap.txt")" 5)
		fi
		row 1 "snapshot load, $m MiB, on $kvm: PUT /snapshot/load (File, resume_vm) → 204 (ms)" \
			"$(snap load-us 2)" "$tref" "$tr" "20"
		row 1 "… to the guest's first console line after it (ms)" "$(snap load-to-guest-us 2)" "—" "—" "20"
		row 1 "… CPU of ember's threads other than the vCPUs' for the load (ms)" \
			"$(snap load-vmm-cpu-us 2)" "—" "—" "20"
		row 1 "snapshot create, $m MiB, Full / Diff after one tick (ms, one run each)" \
			"$(snap1 create-full-us) / $(snap1 create-diff-us)" "—" "—" "1"
	done
	if [ -n "$fc_bin" ] && grep -qx 'HOST-API-FC-STATUS 0' "$out/host-last.txt" &&
		grep -qx 'HOST-API-STATUS 0' "$out/host-last.txt"; then
		for spec in "startup-wall-us|process start → API socket accepting, wall (µs)|API socket start, wall|0" \
			"startup-cpu-us|process start → API socket accepting, CPU of all threads (µs)|API socket start, CPU|0" \
			"get-root-us|GET / round trip on a keep-alive connection (µs)||1" \
			"put-drive-us|PUT /drives/rootfs round trip (µs)||1"; do
			IFS='|' read -r k name short d <<<"$spec"
			fe=$(awk -v k="$k" '$1 == k { print $3, $5, $7, $5, $7, $11 }' "$out/api.txt")
			ff=$(awk -v k="$k" '$1 == k { print $3, $5, $7, $5, $7, $11 }' "$out/api-fc.txt")
			r=$(ratio "$(med "$fe")" "$(med "$ff")")
			row 8 "$name" "$(fmt "$fe" 1 "$d" p)" "$(fmt "$ff" 1 "$d" p)" "$r" "$(cnt "$fe") / $(cnt "$ff")"
			[ -z "$short" ] || plot_add 8 "$short (vs Firecracker)" "$r" "" "" lower
		done
	elif [ -n "$fc_bin" ]; then
		notes+=("bench/apibench on Firecracker failed: $(tail -n 1 "$out/api-fc.txt")")
	fi
fi

# --- 2. the nested test host ------------------------------------------------------
host_secs='' left=''
if [[ "$phases" == *" nested "* ]]; then
	nd="$out/nested"
	if [ -n "${BENCH_NESTED_LOG:-}" ]; then
		# Report on an earlier run's console log instead of booting the test host.
		[ -r "$BENCH_NESTED_LOG" ] || die "BENCH_NESTED_LOG: cannot read $BENCH_NESTED_LOG"
		mkdir -p "$nd"
		[ "$(realpath "$BENCH_NESTED_LOG")" = "$(realpath -m "$nd/console.log")" ] ||
			cp "$BENCH_NESTED_LOG" "$nd/console.log"
		q=0 t0=0 t1=0
	else
		log "nested: preparing the test host (QEMU, its libraries, tun.ko, the bench initrd)"
		th_need_pkgs qemu-system-x86 busybox-static cpio kmod gzip
		th_init "$build"
		th_prepare
		mkdir -p "$nd"

		# The guest initrd plus /bench/init, /bench/iobench and /bench/ready
		# (a second gzip member: the kernel unpacks concatenated archives in
		# order).
		stage="$nd/initrd-stage"
		rm -rf "$stage"
		mkdir -p "$stage/bench"
		cp "$here/guest-init.sh" "$stage/bench/init"
		cp "$out/iobench" "$stage/bench/iobench"
		cp "$out/ready" "$stage/bench/ready"
		chmod 755 "$stage/bench/init" "$stage/bench/iobench" "$stage/bench/ready"
		(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9n) \
			>"$nd/bench-add.cpio.gz" || die "cannot pack the bench initrd"
		cat "$build/guest/initrd.cpio.gz" "$nd/bench-add.cpio.gz" >"$nd/bench-initrd.cpio.gz"
		rm -rf "$stage"

		# tun.ko of the test host's kernel (a module in Debian's cloud kernel;
		# th_kernel keeps it with the KVM modules: TH_KVM_MODULES).
		tun="$TH_KDIR/tun.ko"
		[ -s "$tun" ] || die "no $tun (th_kernel should have fetched it)"

		# QEMU, every library ldd lists, and its firmware (-L /payload).
		qbin=$(realpath "$(command -v qemu-system-x86_64)")
		files=("$build/ember:ember" "$build/guest/vmlinux:vmlinux"
			"$build/guest/initrd.cpio.gz:initrd.cpio.gz" "$nd/bench-initrd.cpio.gz:bench-initrd.cpio.gz"
			"$out/vmmtime:vmmtime" "$out/density:density" "$out/iobench:iobench" "$tun:tun.ko"
			"$out/snapbench:snapbench"
			"$qbin:qemu-system-x86_64" "$TH_VMLINUZ:stock-vmlinuz")
		[ -z "$ember_b" ] || files+=("$ember_b:ember-b")
		while read -r lib; do
			files+=("$lib:$(basename "$lib")")
		done < <(ldd "$qbin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }')
		if [ -n "$fc_bin" ]; then
			files+=("$fc_bin:firecracker")
			# A dynamic one: its libraries beside QEMU's (one copy each).
			while read -r lib; do
				[[ " ${files[*]} " == *" $lib:"* ]] || files+=("$lib:$(basename "$lib")")
			done < <(ldd "$fc_bin" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }')
		fi
		for fw in bios-microvm.bin qboot.rom pvh.bin linuxboot_dma.bin; do
			[ -r "/usr/share/qemu/$fw" ] && files+=("/usr/share/qemu/$fw:$fw")
		done
		# The nested SVM emulation sometimes freezes the test host (tests/
		# nested/README.md): a test host that prints no BENCH line for
		# BENCH_STALL seconds is stopped. The parts it finished (each ends
		# with "BENCH-INFO PART runs done") are kept, and a new test host runs
		# the others (BENCH_NESTED_TRIES test hosts in all, default 2).
		left=$parts host_secs=0
		: >"$nd/console.log"
		for try in $(seq 1 "$nested_tries"); do
			cat >"$nd/params.sh" <<-EOF
				RUNS=$runs IO_ROUNDS=$io_rounds BLK_MIB=$blk_mib RAND_SECS=$rand_secs NET_MIB=$net_mib
				TMO=90 DO_IO=$do_io PARTS="$left" QEMU_RUNS=$qemu_runs MEM_RUNS=$mem_runs
				DENS_ROUNDS=$dens_rounds DENS_SECS=$dens_secs DENS_PAR=$dens_par DENS_CAP=$dens_cap
			EOF
			th_initramfs "$nd/initramfs.cpio" "$here/payload.sh" "${files[@]}" "$nd/params.sh:params.sh"
			log "nested: booting test host #$try for: $left ($(du -m "$nd/initramfs.cpio" | cut -f1) MiB" \
				"initramfs, limit $host_tmo s)"
			q=0
			t0=$(date +%s)
			th_run "$nd/initramfs.cpio" "$host_tmo" "$nd/console-$try.log" &
			runpid=$!
			stalled=$(th_watch "$runpid" "$nd/console-$try.log" "$stall_secs" '^BENCH')
			wait "$runpid" || q=$?
			t1=$(date +%s)
			host_secs=$((host_secs + t1 - t0))
			[ -z "$stalled" ] || q=124
			if [ "$(th_decode_status "$q")" = 0 ]; then
				cat "$nd/console-$try.log" >>"$nd/console.log"
				break
			fi
			why=${stalled:-$(th_explain "$(th_decode_status "$q")")}
			# Keep its lines up to the last finished part's.
			n=$(grep -an '^BENCH-INFO [a-z]* runs done' "$nd/console-$try.log" | tail -n 1 | cut -d: -f1 || true)
			[ -z "$n" ] || head -n "$n" "$nd/console-$try.log" >>"$nd/console.log"
			done_parts=$(sed -n 's/^BENCH-INFO \([a-z]*\) runs done.*/\1/p' "$nd/console-$try.log" | tr -d '\r')
			was=$left left=
			for p in $was; do
				grep -qx "$p" <<<"$done_parts" || left="$left $p"
			done
			left=${left# }
			if [ -z "$left" ]; then
				# Every part finished: the test host died on its way out.
				notes+=("test host #$try ended badly after its last part ($why)")
				q=0
				break
			fi
			notes+=("test host #$try ended badly ($why) in: $left")
			[ "$try" -lt "$nested_tries" ] || break
			log "nested: test host #$try ended badly ($why); a new one for: $left"
			notes+=("test host #$((try + 1)) ran: $left")
		done
	fi
	tr -d '\r' <"$nd/console.log" >"$nd/console.txt"
	ct="$nd/console.txt"
	status=$(th_decode_status "$q")
	[ -n "${BENCH_NESTED_LOG:-}" ] || [ "$status" = 0 ] || notes+=("the last test host ended badly: $(th_explain "$status"); the figures of ${left// /, } are partial or missing")
	[ -n "${BENCH_NESTED_LOG:-}" ] || log "nested: test hosts ran $host_secs s in all ($(th_explain "$status"))"
	while read -r l; do notes+=("test host: $l"); done < <(sed -n 's/^BENCH-\(ERROR\|OUT\) //p' "$ct" | head -n 30)
	# The test host prints them when it was given some (always, since
	# TH_KVM_AMD has a default); not in a console log kept only in part.
	kv=$(sed -n 's/^TESTHOST-KVM-AMD //p' "$ct" | head -n 1)
	if [ -n "$kv" ]; then
		notes+=("the test host's kvm_amd parameters: $kv")
	elif [ -z "${BENCH_NESTED_LOG:-}" ]; then
		notes+=("the test host's kvm_amd parameters: not in the console log kept (asked for: TH_KVM_AMD=$TH_KVM_AMD)")
	else
		notes+=("the test host's kvm_amd parameters: not in $BENCH_NESTED_LOG")
	fi
	qv=$(sed -n 's/^BENCH-INFO qemu: //p' "$ct" | head -n 1)
	tcpus=$(sed -n 's/^BENCH-INFO test host: \([0-9]*\) CPUs.*/\1/p' "$ct" | head -n 1)

	# nkv LABEL AWK-EXPR: "RUN VALUE" per good run (exit status 0, marker
	# seen); fields: $3 RUN, $4 READY_US, $5 EOF_US, $6 EXIT_US, $7 USER_US, $8 SYS_US.
	nkv() { awk -v l="$1" '$1 == "BENCH" && $2 == l && $9 == 0 && $4 >= 0 { print $3, '"$2"' }' "$ct"; }
	# kvmkv LABEL NAME [LESS]: "RUN VALUE" of the KVM counter NAME (less
	# the counter LESS) at the readiness marker (BENCH-KVM lines: payload.sh
	# prints them for good runs only).
	kvmkv() {
		awk -v l="$1" -v k="$2" -v s="${3:-}" '$1 == "BENCH-KVM" && $2 == l {
			x = ""; y = s == "" ? 0 : ""
			for (i = 4; i <= NF; i++) { split($i, a, "="); if (a[1] == k) x = a[2]; else if (a[1] == s) y = a[2] }
			if (x != "" && y != "") print $3, s == "" ? x : x - y }' "$ct"
	}
	# kvm_medians LABEL: "name median, ..." for every counter of LABEL.
	kvm_medians() {
		local k m r=
		for k in $(awk -v l="$1" '$1 == "BENCH-KVM" && $2 == l {
				for (i = 4; i <= NF; i++) { split($i, a, "="); if (!(a[1] in s)) { s[a[1]]; print a[1] } } }' "$ct"); do
			m=$(med "$(kvmkv "$1" "$k" | kstats)")
			r="$r, $k $m"
		done
		echo "${r#, }"
	}
	# boot_kvm_rows VARIANT WHAT SHORT: exits, nested page faults and port
	# I/O exits from start to the readiness marker, ember against QEMU.
	boot_kvm_rows() {
		cmp 2 "KVM exits, start → guest readiness marker, $2 (count: the test host's KVM, debugfs \`exits\`)" \
			"$(kvmkv "exits-$1-ember" exits)" "$(kvmkv "exits-$1-qemu" exits)" 1 0 m "VM exits to readiness, $3" lower
		# The test host's interrupts (its timer, its IPIs) land wherever the
		# guest runs, more the longer it runs: the counts swing with the test
		# host's speed; without them the rest is the guest's and the VMM's.
		cmp 2 "… less the exits for the test host's interrupts (\`exits\` − \`irq_exits\`), $2 (count)" \
			"$(kvmkv "exits-$1-ember" exits irq_exits)" \
			"$(kvmkv "exits-$1-qemu" exits irq_exits)" 1 0 m "" ""
		cmp 2 "… of which nested page faults fixed (\`pf_fixed\`), $2 (count)" \
			"$(kvmkv "exits-$1-ember" pf_fixed)" "$(kvmkv "exits-$1-qemu" pf_fixed)" 1 0 m "" ""
		cmp 2 "… of which port I/O exits (\`io_exits\`), $2 (count)" \
			"$(kvmkv "exits-$1-ember" io_exits)" "$(kvmkv "exits-$1-qemu" io_exits)" 1 0 m "" ""
	}
	# boot_time_rows VARIANT WHAT SHORT: start to the readiness marker and
	# to the VMM's exit, ember against QEMU.
	boot_time_rows() {
		# shellcheck disable=SC2016 # the awk expressions are passed as text
		cmp 2 "start → guest readiness marker, $2 (ms, median [min–max])" \
			"$(nkv "boot-$1-ember" '$4')" "$(nkv "boot-$1-qemu" '$4')" 1000 0 m \
			"boot to readiness, $3" lower
		# shellcheck disable=SC2016
		cmp 2 "start → VMM exit after the guest's \`reboot -f\`, $2 (ms)" \
			"$(nkv "boot-$1-ember" '$6')" "$(nkv "boot-$1-qemu" '$6')" 1000 0 m "" ""
	}
	# boot_failed VARIANT: a note for each VMM whose runs failed.
	boot_failed() {
		local l b
		for l in "boot-$1-ember" "boot-$1-qemu" "boot-$1-fc"; do
			b=$(awk -v l="$l" '$1 == "BENCH" && $2 == l && ($9 != 0 || $4 < 0)' "$ct" | wc -l)
			[ "$b" = 0 ] || notes+=("$l: $b runs failed (no marker, or a non-zero exit) and are left out")
		done
	}
	# The boot rows (the boot part) and the exit rows (the exits part) of
	# each variant, either part alone or both.
	if has_part boot || has_part exits; then
		for spec in "quiet-1-128|1 vCPU, 128 MiB, kernel \`quiet\`|1 vCPU, 128 MiB" \
			"quiet-2-512|2 vCPUs, 512 MiB, kernel \`quiet\`|2 vCPUs, 512 MiB" \
			"console-1-128|1 vCPU, 128 MiB, full kernel log on the serial console|1 vCPU, 128 MiB, console log"; do
			IFS='|' read -r v what short <<<"$spec"
			if has_part boot; then
				boot_time_rows "$v" "$what" "$short"
				# shellcheck disable=SC2016 # the awk expression is passed as text
				cmp 2 "VMM CPU user+sys for the whole run (guest time included), $what (ms)" \
					"$(nkv "boot-$v-ember" '$7 + $8')" "$(nkv "boot-$v-qemu" '$7 + $8')" 1000 0 m "" ""
			fi
			if [ -n "$fc_bin" ] && has_part boot; then
				# shellcheck disable=SC2016
				cmp 8 "start → guest readiness marker, $what (ms)" \
					"$(nkv "boot-$v-ember" '$4')" "$(nkv "boot-$v-fc" '$4')" 1000 0 m \
					"boot to readiness, $short (vs Firecracker)" lower
				# shellcheck disable=SC2016
				cmp 8 "start → VMM exit after the guest's \`reboot -f\`, $what (ms)" \
					"$(nkv "boot-$v-ember" '$6')" "$(nkv "boot-$v-fc" '$6')" 1000 0 m "" ""
			fi
			if [ -n "$fc_bin" ] && has_part exits; then
				cmp 8 "KVM exits, start → guest readiness marker, $what (count; of which \`pf_fixed\`: $(med "$(kvmkv "exits-$v-ember" pf_fixed | kstats)") / $(med "$(kvmkv "exits-$v-fc" pf_fixed | kstats)"))" \
					"$(kvmkv "exits-$v-ember" exits)" "$(kvmkv "exits-$v-fc" exits)" 1 0 m \
					"VM exits to readiness, $short (vs Firecracker)" lower
			fi
			has_part exits && boot_kvm_rows "$v" "$what" "$short"
			has_part boot && boot_failed "$v"
		done
		# Debian's cloud kernel (the test host's bzImage; ACPI on both sides).
		v=stock-quiet-2-256 what="Debian's cloud kernel (stock bzImage), 2 vCPUs, 256 MiB, \`quiet\`"
		short="stock kernel, 2 vCPUs, 256 MiB"
		if has_part boot; then
			boot_time_rows "$v" "$what" "$short"
			boot_failed "$v"
		fi
		has_part exits && boot_kvm_rows "$v" "$what" "$short"
	fi
	# Exits by reason: the medians of every counter per VMM and variant, and
	# the tracepoint's reasons of the traced runs (the exits part).
	if has_part exits; then
		for l in $(awk '$1 == "BENCH-KVM" && $2 ~ /^exits-/ { print $2 }' "$ct" | sort -u); do
			notes+=("KVM counters at the readiness marker, ${l#exits-} (medians of $(kvmkv "$l" exits | wc -l) runs of the exits part): $(kvm_medians "$l")")
		done
		while read -r _ l r; do
			notes+=("exit reasons to the readiness marker, ${l#trace-} (one more run, traced: the test host's kvm:kvm_exit events until the marker): ${r// /, }")
		done < <(grep '^BENCH-EXITS ' "$ct" | sort -k2,2)
	fi
	if has_part density; then
		# dkv LABEL: "ROUND READY" of the density windows of LABEL.
		dkv() { awk -v l="$1" '$1 == "BENCH-DENS" && $2 == l && $4 == "sum" { print $3, $5 }' "$ct"; }
		cmp 5 "density: 128 MiB microVMs ready within $dens_secs s, started one after another, all kept alive (count, median [min–max])" \
			"$(dkv dens-ember-p1)" "$(dkv dens-qemu-p1)" 1 0 m "density, one after another (count)" higher
		cmp 5 "density: 128 MiB microVMs ready within $dens_secs s, $dens_par booting at once, all kept alive (count)" \
			"$(dkv "dens-ember-p$dens_par")" "$(dkv "dens-qemu-p$dens_par")" 1 0 m \
			"density, $dens_par booting at once (count)" higher
		# Per label: windows, VMs started, failed, ready but silent on the
		# console, what stopped the starts, lowest MemAvailable.
		ds=$(awk '$1 == "BENCH-DENS" && $4 == "sum" {
				k = $2; w[k]++; st[k] += $6; f[k] += $7; nc[k] += $8
				if (index("," stop[k] ",", "," $9 ",") == 0) stop[k] = stop[k] (stop[k] == "" ? "" : ",") $9
				if (!(k in ma) || ($10 >= 0 && $10 < ma[k])) ma[k] = $10 }
			END { for (k in w) printf("%s: %d windows, %d VMs started, %d failed before their marker, %d ready without EMBER-GUEST-READY on the console, starts stopped by %s, lowest MemAvailable %d MiB; ",
				k, w[k], st[k], f[k], nc[k], stop[k], ma[k]) }' "$ct")
		[ -z "$ds" ] || notes+=("density details — ${ds%; }")
	fi
	if has_part snap; then
		# sv VMM NAME: "MEDIAN P10 P90 N" of a snapbench line (BENCH-SNAP VMM NAME median M p10 A p90 B p99 C n N).
		sv() { awk -v v="$1" -v k="$2" '$1 == "BENCH-SNAP" && $2 == v && $3 == k { print $5, $7, $9, $13 }' "$ct" | tail -n 1; }
		# scell "MEDIAN P10 P90 N" SCALE DIGITS: "median [p10–p90]" (the median alone for one run).
		scell() {
			awk -v s="$1" -v k="$2" -v d="$3" 'BEGIN { split(s, v, " "); if (v[4] == "") { print "n/a"; exit }
				f = "%." d "f"; if (v[4] > 1) printf(f " [" f "–" f "]\n", v[1] / k, v[2] / k, v[3] / k); else printf(f "\n", v[1] / k) }'
		}
		# srow NAME FIGURE SCALE DIGITS PLOT-LABEL [SUFFIX]: ember vs QEMU
		# (labels emberSUFFIX, qemuSUFFIX), ratio of the medians.
		srow() {
			local e q r
			e=$(sv "ember${6:-}" "$1") q=$(sv "qemu${6:-}" "$1")
			r=$(ratio "$(cut -d' ' -f1 <<<"$e")" "$(cut -d' ' -f1 <<<"$q")")
			row 9 "$2" "$(scell "$e" "$3" "$4")" "$(scell "$q" "$3" "$4")" "$r" \
				"$(cut -d' ' -f4 <<<"$e") / $(cut -d' ' -f4 <<<"$q")"
			[ -z "$5" ] || plot_add 9 "$5" "$r" "" "" lower
		}
		srow restore-us "restore, 128 MiB, 1 vCPU: VMM start → guest running again (ms; ember: \`PUT /snapshot/load\` with resume_vm answered; QEMU: QMP's RESUME after \`-incoming\` completed and \`cont\`, the stream of a stopped VM restoring it stopped; target ≤ 0.2 × QEMU)" 1000 1 "snapshot restore"
		srow restore-to-guest-us "… → the guest's first tick after it (ms; it ticks every 20 ms)" 1000 1 ""
		srow create-us "save, 128 MiB: ember \`PUT /snapshot/create\` Full / QEMU \`stop\` + \`migrate\` to a file until completed (ms, one run)" 1000 1 "snapshot save"
		srow restore-us "restore, 512 MiB, 1 vCPU: VMM start → guest running again (ms; as at 128 MiB)" 1000 1 "snapshot restore 512 MiB" -512
		srow restore-to-guest-us "… → the guest's first tick after it (ms)" 1000 1 "" -512
		srow create-us "save, 512 MiB (ms, one run)" 1000 1 "snapshot save 512 MiB" -512
		srow clones-us "4 clones of one snapshot started at once → all 4 ticking (ms; ember: \`--restore --resume\` each, sharing the memory file; QEMU: \`-incoming\` and \`cont\` each)" 1000 0 "4 clones ready"
		srow clone-guest-kib "memory per idle clone, private dirty guest RAM (MiB; ember: the pages it wrote since the load; QEMU: all it loaded)" 1024 1 "clone guest memory"
		srow clone-vmm-kib "memory per idle clone, the VMM's own private dirty memory: heap, stacks, data (MiB; target for ember < 1)" 1024 2 "clone VMM memory"
		while read -r l; do notes+=("snapbench: $l"); done < <(awk '$1 == "BENCH-SNAP" && $4 != "median" { $1 = ""; print substr($0, 2) }' "$ct" | head -n 5)
	fi
	if has_part mem; then
		# mkv LABEL WHEN EXPR: "RUN VALUE" per reading, over the BENCH-MEM
		# fields $5 RSS_KB, $6 GUEST_RSS_KB, $7 GUEST_SIZE_KB, $8 THREADS, $9 FDS.
		mkv() { awk -v l="$1" -v w="$2" '$1 == "BENCH-MEM" && $2 == l && $4 == w { print $3, '"$3"' }' "$ct"; }
		mv=("ember")
		[ -z "$ember_b" ] || mv+=("emberb")
		for spec in "3|boot|\$5 - \$6|1024|1|VMM memory overhead: Rss − the guest RAM's Rss, guest idle after boot (MiB)|memory overhead, idle after boot" \
			"3|io|\$5 - \$6|1024|1|VMM memory overhead: Rss − the guest RAM's Rss, guest idle after 64 MiB of O_DIRECT disk writes + 64 MiB of reads + 64 MiB sent over TCP (MiB)|memory overhead, after disk + net I/O" \
			"3|boot|\$5|1024|1|VMM Rss in all (guest RAM included), guest idle after boot (MiB)|" \
			"3|boot|\$6|1024|1|guest RAM touched: Rss of the guest RAM mapping, guest idle after boot (MiB)|" \
			"4|boot|\$8|1|0|VMM threads, guest idle after boot (/proc/PID/task)|threads" \
			"4|io|\$8|1|0|VMM threads, guest idle after the disk and net I/O|" \
			"4|boot|\$9|1|0|VMM open fds, guest idle after boot (/proc/PID/fd)|open fds" \
			"4|io|\$9|1|0|VMM open fds, guest idle after the disk and net I/O|"; do
			IFS='|' read -r g when x scale d name short <<<"$spec"
			for v in "${mv[@]}"; do
				n=$name s=$short
				[ "$v" = ember ] || { n="$name — **ember-b** ($(basename "$ember_b"))"; s=; }
				cmp "$g" "$n" "$(mkv "mem-$v" "$when" "$x")" "$(mkv mem-qemu "$when" "$x")" \
					"$scale" "$d" m "$s" lower
			done
			[ -z "$fc_bin" ] || [ "$g" != 3 ] || [[ "$name" == *overhead* ]] || continue
			[ -z "$fc_bin" ] || cmp 8 "$name" "$(mkv mem-ember "$when" "$x")" "$(mkv mem-fc "$when" "$x")" \
				"$scale" "$d" m "${short:+$short (vs Firecracker)}" lower
		done
		for l in mem-ember mem-emberb mem-qemu mem-fc; do
			b=$(awk -v l="$l" '$1 == "BENCH" && $2 == l && $9 != 0' "$ct" | wc -l)
			[ "$b" = 0 ] || notes+=("$l: $b runs ended with a non-zero status")
		done
		gs=$(awk '$1 == "BENCH-MEM" { print $2 "=" $7 }' "$ct" | sort -u | tr '\n' ' ')
		notes+=("memory: Rss from /proc/PID/smaps_rollup, the guest RAM's Rss from /proc/PID/smaps (the anonymous mapping of exactly the guest's size when there is one only, as for ember, else the largest anonymous mapping, as for QEMU; sizes in KiB: ${gs:-none}), read while the guest sleeps 3 s after boot and after the I/O (a 64 MiB raw file in the test host's tmpfs, \`iobench seqwrite\` + \`seqread\`, then \`iobench tcpsend\` of 64 MiB to the test host through a TAP); readings that ended after the guest's pause are left out")
	fi
	if [ "$do_io" = 1 ] && { has_part blk || has_part net; }; then
		for l in blk-ember blk-emberb blk-qemu blk-fc net-ember net-emberb net-qemu net-fc; do
			b=$(awk -v l="$l" '$1 == "BENCH" && $2 == l && $9 != 0' "$ct" | wc -l)
			[ "$b" = 0 ] || notes+=("$l: $b of $(awk -v l="$l" '$1 == "BENCH" && $2 == l' "$ct" | wc -l) runs ended with a non-zero status (the test host lines above say how)")
		done
		# io LABEL KIND SCALE: "RUN FIGURE" (count/us*SCALE) of one kind.
		io() { awk -v l="$1" -v k="$2" -v s="$3" '$1 == "BENCH-IO" && $2 == l && $4 == k && $6 > 0 { printf("%s %.3f\n", $3, $5 / $6 * s) }' "$ct"; }
		# gstat LABEL KEY SCALE: "RUN DELTA" of a guest counter (after - before) / SCALE.
		gstat() { awk -v l="$1" -v k="$2" -v s="$3" '$1 == "BENCH-STAT" && $2 == l && $5 == k {
				if ($4 == "before") b[$3] = $6; else if ($4 == "after") a[$3] = $6 }
			END { for (r in a) if (r in b) printf("%s %.3f\n", r, (a[r] - b[r]) / s) }' "$ct"; }
		bv=("ember")
		[ -z "$ember_b" ] || bv+=("emberb")
		for spec in "blk|seqwrite|virtio-blk sequential 1 MiB O_DIRECT writes + fdatasync, $blk_mib MiB (MB/s)|1|1|virtio-blk sequential writes (MB/s)" \
			"blk|seqread|virtio-blk sequential 1 MiB O_DIRECT reads, $blk_mib MiB (MB/s)|1|1|virtio-blk sequential reads (MB/s)" \
			"blk|randread|virtio-blk random 4 KiB O_DIRECT reads, queue depth 1, ${rand_secs} s (IOPS)|1000000|0|virtio-blk random 4 KiB reads (IOPS)" \
			"net|tcprecv|TCP guest → test host over TAP + virtio-net, $net_mib MiB, received (MB/s)|1|1|TCP guest → host (MB/s)" \
			"net|guestrecv|TCP test host → guest over TAP + virtio-net, $net_mib MiB, received by the guest (MB/s)|1|1|TCP host → guest (MB/s)" \
			"net|irqs|virtio-net: guest interrupts per MiB sent (/proc/interrupts)|$net_mib|1|" \
			"net|RetransSegs|TCP segments the guest retransmitted, per run|1|0|" \
			"net|OutSegs|TCP segments the guest sent, per MiB (TSO: up to 64 KiB each)|$net_mib|1|"; do
			IFS='|' read -r pt kind name scale d short <<<"$spec"
			has_part "$pt" || continue
			for v in "${bv[@]}"; do
				case $kind in
				tcprecv) e=$(io "net-$v-recv" "$kind" "$scale"); o=$(io net-qemu-recv "$kind" "$scale") ;;
				guestrecv) e=$(io "net-$v" tcprecv "$scale"); o=$(io net-qemu tcprecv "$scale") ;;
				irqs|RetransSegs|OutSegs) e=$(gstat "net-$v" "$kind" "$scale"); o=$(gstat net-qemu "$kind" "$scale") ;;
				*) e=$(io "blk-$v" "$kind" "$scale"); o=$(io blk-qemu "$kind" "$scale") ;;
				esac
				n=$name s=$short
				[ "$v" = ember ] || { n="$name — **ember-b** ($(basename "$ember_b"))"; s=; }
				cmp 6 "$n" "$e" "$o" 1 "$d" m "$s" higher
			done
			if [ -n "$fc_bin" ]; then
				case $kind in
				tcprecv) e=$(io net-ember-recv "$kind" "$scale"); o=$(io net-fc-recv "$kind" "$scale") ;;
				guestrecv) e=$(io net-ember tcprecv "$scale"); o=$(io net-fc tcprecv "$scale") ;;
				irqs|RetransSegs|OutSegs) continue ;;
				*) e=$(io blk-ember "$kind" "$scale"); o=$(io blk-fc "$kind" "$scale") ;;
				esac
				cmp 8 "$name" "$e" "$o" 1 "$d" m "${short:+$short (vs Firecracker)}" higher
			fi
		done
	fi
	[ -z "$fc_bin" ] || notes+=("Firecracker ($fc_ver, \`FIRECRACKER=$fc_bin\`) ran in the same test host boot, alternating with ember and QEMU, as \`firecracker --no-api --config-file\` with the same kernel, initrd, kernel command line (ember's default, \`$(sed -n 's/^FCMD="\(.*\)"$/\1/p' "$here/payload.sh")\`, and the test arguments), vCPUs, memory, drive file and TAP as ember; its readiness marker is the same byte written to its boot-timer page (0xc0000000, \`--boot-timer --log-path /proc/self/fd/3 --level Info\`); its default seccomp filters on. Density has no Firecracker rows")
	notes+=("readiness marker (boot and density rows): the guest's /bench/init runs \`/bench/ready\` right after mounting /proc, /sys and /dev; for ember it writes the byte 123 to guest-physical 0xd1000000 through /dev/mem (ember's boot-timer page; \`ember --boot-timer --log-path /proc/self/fd/3\` logs a \"Guest-boot-time\" line), for QEMU it writes the byte 123 to port 0x402 (\`-chardev file,id=rdy,path=/proc/self/fd/3 -device isa-debugcon,iobase=0x402,chardev=rdy\`). fd 3 of the VMM is a pipe to the timer (bench/vmmtime.c \`-M\`, bench/density.c), which takes CLOCK_MONOTONIC just before the fork and again when the marker arrives on that pipe; the console is only copied on the clock. The guest then prints EMBER-GUEST-READY on the serial console: a run whose console lacks it is counted as failed (checked after the run)")
	notes+=("density: in a window of $dens_secs s from the first fork, 128 MiB / 1 vCPU VMs (kernel \`quiet\`, guest idle after its marker, never rebooting) are started one after another (the next when the previous is ready) or with $dens_par booting at once (a new one whenever one is ready or has failed); every VM stays alive until the window is over, then all are killed. Counted: the VMs whose marker arrived within the window. Bounded by $dens_cap VMs per window and by the test host's MemAvailable (no new VM under 256 MiB; the test host has 2 GiB, tests/nested/testhost.sh has no option to change it); ${dens_rounds} rounds per VMM and mode, the VMMs alternating")
	notes+=("In the test host, QEMU's guests print Linux's XSAVE size warning and its CPUID dump (29 lines, seen on the full-log rows only; \`quiet\` hides them) and run without XSAVE: QEMU enters them with XCR0 = x87, and the test host's emulated AMD-V lets their XSETBV through without KVM seeing it, so KVM's CPUID leaf 0xD disagrees (tests/nested/README.md). Firecracker's should too (it sets XCR0 only when it restores a snapshot; not looked at). ember's guests do not: ember enters them with XCR0 already set. The full-log rows' port I/O exits count those 29 lines for the others (about 4000 exits).")
	notes+=("QEMU ran as \`qemu-system-x86_64 -M microvm,x-option-roms=off,isa-serial=on,rtc=off,acpi=off -accel kvm -cpu host -m MIB -smp N -nographic -no-reboot -nodefaults -serial stdio\` (acpi=off: the guest kernel has no ACPI, and only then does QEMU add virtio_mmio.device= to the command line), with \`console=ttyS0 reboot=t panic=-1\` before the test arguments; ember with its default command line (\`console=ttyS0 reboot=k panic=1\`) and the same test arguments; both with \`rdinit=/bench/init\` from the same initrd. The stock-kernel rows boot Debian's cloud kernel (the test host's own bzImage, which finds its CPUs through ACPI only) with QEMU's acpi=on and ember's defaults (ACPI and the MP table). VM exits and the other KVM counters are the test host's KVM statistics of the VMM's VM (debugfs /sys/kernel/debug/kvm/PID-FD/, summed over its vCPUs), read by vmmtime -k right after the readiness marker arrived: the counts from the VM's creation to the marker. The test host's transparent huge pages: $(sed -n 's/^BENCH-INFO test host THP: //p' "$ct" | head -n 1) (with \`always\`, QEMU's 2 MiB-aligned guest RAM gets them, and ember's when \`--huge-pages Transparent\` aligns it: \`pages_2m\`)")
	if [ -n "${BENCH_NESTED_LOG:-}" ]; then
		notes+=("nested figures from the earlier console log $BENCH_NESTED_LOG")
	else
		notes+=("test host (${tcpus:-?} emulated CPUs, 2 GiB): $host_secs s for its boots (all test hosts); console log ${nd#"$root"/}/console.txt")
	fi
fi

# --- report ------------------------------------------------------------------------
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
groups=("1. start-up ($kvm; no QEMU here, against a bare KVM VMM)"
	"2. boot to the guest's readiness marker (nested test host, ember vs QEMU)"
	"3. memory overhead (nested test host)"
	"4. binary size, threads, open fds"
	"5. density (nested test host)"
	"6. I/O (nested test host)"
	"7. exit cost ($kvm, against the raw KVM_RUN loop)"
	"8. against Firecracker (FIRECRACKER=; the reference column is Firecracker, the ratio ember/Firecracker; same runs as above)"
	"9. snapshots (nested test host, ember vs QEMU: a Full snapshot and its loads against \`migrate\` to a file and \`-incoming\`)")
{
	echo "# ember benchmarks"
	echo
	echo "Measured $started by \`bench/run.sh\` at commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo ?)" \
		"on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))," \
		"Linux $(uname -r); ${qv:-QEMU} \`-M microvm\`. Load average at start $load_start, at end $load_end;" \
		"$(($(date +%s) - t_start)) s in all."
	echo
	echo "Figures are medians with their spread in brackets (p10–p90 for the many host runs, min–max"
	echo "for the few nested ones); N is the number of runs (ember / QEMU or reference). The ratio is"
	echo "ember/QEMU (ember/reference, ember/limit) of the medians, with in brackets the min–max of the"
	echo "per-run ratios (ember's run i against QEMU's run i, which ran right after or before it)."
	echo "Times, sizes, counts of threads and fds: < 1 means ember is ahead; throughput and density:"
	echo "> 1 means ember is ahead. MB = 10^6 bytes. The machine has 2 cores shared with other builds"
	echo "and tests: the figures are noisy. In the nested test host everything (both VMMs, the guests)"
	echo "runs under QEMU's TCG emulation of the test host, so absolute figures are far below native;"
	echo "compare ember and QEMU with each other only. Plot: \`${plot#"$root"/}\`."
	echo
	echo "| figure | ember | QEMU (or reference) | ember/QEMU | N |"
	echo "|---|---|---|---|---|"
	for g in 1 2 3 4 5 6 7 8 9; do
		[ -n "${rows[$g]:-}" ] || continue
		echo "| **${groups[$((g - 1))]}** | | | | |"
		printf '%s' "${rows[$g]}"
	done
	if [ ${#notes[@]} -gt 0 ]; then
		echo
		echo "Notes:"
		for n in "${notes[@]}"; do echo "- $n"; done
	fi
} | tee "$results"

# --- plot ----------------------------------------------------------------------------
if [ -s "$plotdat" ] && command -v gnuplot >/dev/null; then
	# The rows in the table's order.
	sort -t $'\t' -k6,6n -s -o "$plotdat" "$plotdat"
	np=$(wc -l <"$plotdat")
	if gnuplot <<-EOF 2>"$out/gnuplot.err"; then
		set terminal pngcairo size 1000,$((220 + 32 * np)) font "DejaVu Sans,10" noenhanced
		set output "$plot"
		set datafile separator "\t"
		set title "ember / QEMU -M microvm$([ -z "$fc_bin" ] || echo ", and ember / Firecracker on the rows marked so")\n$started; medians; bars: min–max of the per-run ratios\nnested test host under TCG, 2 shared cores"
		set logscale x 2
		set xrange [0.0078125:8]
		set xtics ("1/128" 0.0078125, "1/64" 0.015625, "1/32" 0.03125, "1/16" 0.0625, "1/8" 0.125, "1/4" 0.25, "1/2" 0.5, "1" 1, "2" 2, "4" 4, "8" 8)
		set xlabel "ember / QEMU (log scale): < 1 is ember ahead\n▲ rows (throughput, density): > 1 is ember ahead"
		set yrange [$np - 0.5:-0.5]
		set ytics scale 0 font ",9"
		set grid xtics lc rgb "#dddddd"
		# (below the plot: inside, it would hide the points of some rows)
		set key at screen 0.5, screen 0.01 center bottom horizontal box samplen 2 width -6
		set bmargin 7
		set arrow 1 from 1, graph 0 to 1, graph 1 nohead lw 2 lc rgb "#444444"
		set lmargin 52
		cl(x) = x < 0.0078125 ? 0.0078125 : (x > 8 ? 8 : x)
		ok(k, r) = (k eq "lower" && r < 1) || (k eq "higher" && r > 1)
		plot "$plotdat" using (ok(strcol(5), \$2) ? cl(\$2) : 1/0):0:(cl(\$3)):(cl(\$4)):ytic(1) \
			with xerrorbars pt 7 ps 1.3 lc rgb "#1a9641" title "ember ahead", \
		     "$plotdat" using (!ok(strcol(5), \$2) && strcol(5) ne "ref" ? cl(\$2) : 1/0):0:(cl(\$3)):(cl(\$4)) \
			with xerrorbars pt 7 ps 1.3 lc rgb "#d7191c" title "ember not ahead", \
		     "$plotdat" using (strcol(5) eq "ref" ? cl(\$2) : 1/0):0:(cl(\$3)):(cl(\$4)) \
			with xerrorbars pt 5 ps 1.2 lc rgb "#555555" title "ember / limit (floor: 1)", \
		     "$plotdat" using (cl(\$2)):0:(sprintf("%.2f", \$2)) with labels offset 0,0.75 font ",8" notitle
	EOF
		log "plot: ${plot#"$root"/}"
	else
		log "gnuplot failed: $(head -n 3 "$out/gnuplot.err" | tr '\n' ' ')"
	fi
fi

# A test host that ended badly leaves partial figures: said in the notes, and
# in the exit status.
if [[ " $phases " == *" nested "* ]] && [ -z "${BENCH_NESTED_LOG:-}" ] && [ "${status:-0}" != 0 ]; then
	log "the test host ended badly ($(th_explain "$status")): the nested figures are partial"
	exit 1
fi
