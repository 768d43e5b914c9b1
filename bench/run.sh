#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/run.sh [BUILD]: ember's benchmarks. Prints a Markdown report on stdout
# and writes it to bench/results.md. Figures are printed, never asserted.
#
#  1. On this machine's /dev/kvm: the size of BUILD/ember; ember's start to
#     the first guest instruction (bench/reset.S: a guest that writes "RST" and
#     resets at once; wall and CPU, timed by bench/vmmtime.c); the cost of one PIO exit
#     (tests/guests/exitloop.elf, loops=N1 and N2) against a VMM that does
#     nothing but KVM_RUN (bench/kvmloop.c).
#  2. In ONE boot of the nested test host (tests/nested/testhost.sh; payload
#     bench/payload.sh), ember and QEMU microvm alternately: boot of
#     BUILD/guest/vmlinux + initrd.cpio.gz to EMBER-GUEST-READY and to the
#     VMM's exit; virtio-blk sequential 1 MiB and random 4 KiB O_DIRECT
#     reads/writes on a raw file in the test host's tmpfs; TCP guest -> test
#     host over a TAP (bench/iobench.c, bench/guest-init.sh); the VMM's memory
#     overhead (Rss minus the Rss of its guest RAM), threads and open fds with
#     the guest idle after boot and after 64 MiB of disk I/O.
#
# Needs BUILD/ember, BUILD/tests/guests/exitloop.elf and BUILD/guest/
# (built with make when missing) and installs the Debian packages it uses.
# Environment (defaults): BENCH_PHASES ("host nested"), BENCH_RESET_RUNS
# (100), BENCH_EXIT_RUNS (20), BENCH_EXIT_N1/N2 (5000/50000), BENCH_RUNS
# (nested boots per VMM and variant, 8), BENCH_MEM_RUNS (memory readings per
# VMM, 3), BENCH_IO_ROUNDS (4), BENCH_BLK_MIB
# (256), BENCH_NET_MIB (128), BENCH_RAND_SECS (5), BENCH_IO=0 (no I/O
# figures), BENCH_HOST_TIMEOUT (test host limit, 600 s), BENCH_RESULTS
# (bench/results.md), BENCH_ONLY (the parts to run, among "host boot mem blk
# net"; default all: e.g. BENCH_ONLY=mem for the memory, thread and fd
# figures alone, ~1-2 min: e.g. BENCH_ONLY=net for the TCP figures alone, ~1-2 min
# with BENCH_IO_ROUNDS=4), BENCH_EMBER_B (a second ember binary whose blk
# mem, blk and net runs alternate with the others in the same test host boot, as
# "ember-b": an A/B comparison of two builds), BENCH_QEMU=0 (no QEMU runs).
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
mem_runs=${BENCH_MEM_RUNS:-3}
io_rounds=${BENCH_IO_ROUNDS:-4}
blk_mib=${BENCH_BLK_MIB:-256}
net_mib=${BENCH_NET_MIB:-128}
rand_secs=${BENCH_RAND_SECS:-5}
do_io=${BENCH_IO:-1}
host_tmo=${BENCH_HOST_TIMEOUT:-600}
results=${BENCH_RESULTS:-$here/results.md}
only=" ${BENCH_ONLY:-host boot mem blk net} "
ember_b=${BENCH_EMBER_B:-}
qemu_runs=${BENCH_QEMU:-1}

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

for v in reset_runs:RESET_RUNS exit_runs:EXIT_RUNS n1:EXIT_N1 n2:EXIT_N2 runs:RUNS mem_runs:MEM_RUNS \
	io_rounds:IO_ROUNDS blk_mib:BLK_MIB net_mib:NET_MIB rand_secs:RAND_SECS host_tmo:HOST_TIMEOUT; do
	x=${v%%:*}
	if ! [[ "${!x}" =~ ^[0-9]{1,9}$ ]] || [ "${!x}" -eq 0 ]; then
		die "BENCH_${v#*:} must be a positive number (got '${!x}')"
	fi
done
[[ "$do_io" =~ ^[01]$ ]] || die "BENCH_IO must be 0 or 1 (got '$do_io')"
[[ "$qemu_runs" =~ ^[01]$ ]] || die "BENCH_QEMU must be 0 or 1 (got '$qemu_runs')"
for p in $phases; do
	[[ "$p" =~ ^(host|nested)$ ]] || die "BENCH_PHASES: unknown phase '$p' (host, nested)"
done
[ -n "${phases// /}" ] || die "BENCH_PHASES names no phase (host, nested)"
only=${only//,/ }
parts=""
for p in $only; do
	[[ "$p" =~ ^(host|boot|mem|blk|net)$ ]] || die "BENCH_ONLY: unknown part '$p' (host, boot, mem, blk, net)"
	[[ "$p" == host ]] || parts="$parts $p"
done
[ -n "${only// /}" ] || die "BENCH_ONLY names no part (host, boot, mem, blk, net)"
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

# shellcheck source=../tests/nested/testhost.sh
. "$root/tests/nested/testhost.sh"
cd "$root"

# --- prerequisites -----------------------------------------------------------
th_need_pkgs musl-tools binutils gcc make
need=()
boot_nested=0
[[ "$phases" == *" nested "* ]] && [ -z "${BENCH_NESTED_LOG:-}" ] && boot_nested=1
if [[ "$phases" == *" host "* ]] || [ "$boot_nested" = 1 ]; then
	[ -x "$build/ember" ] || need+=("$build/ember")
fi
[[ "$phases" != *" host "* ]] || [ -r "$build/tests/guests/exitloop.elf" ] ||
	need+=("$build/tests/guests/exitloop.elf")
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
"${SCC[@]}" -o "$out/iobench" "$here/iobench.c" || die "cannot build iobench"
gcc -O2 -Wall -Wextra -Werror -o "$out/kvmloop" "$here/kvmloop.c" || die "cannot build kvmloop"
gcc -O2 -Wall -Wextra -Werror -o "$out/apibench" "$here/apibench.c" || die "cannot build apibench"
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

rows=()   # Markdown table rows, per section
notes=()
row() { rows+=("| $1 | $2 | $3 | $4 | $5 |"); }
section() { rows+=("" "### $1" "" "| figure | ember | $2 | ember/$3 | N |" "|---|---|---|---|---|"); }

started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 1. this machine -------------------------------------------------------------
if [[ "$phases" == *" host "* ]]; then
	log "host: binary size, $reset_runs start-to-reset runs, $exit_runs x 4 exit-loop runs"
	[ -r /dev/kvm ] || die "/dev/kvm is missing: the host figures need it"
	hl="$out/host.txt"
	: >"$hl"
	bytes=$(stat -c %s "$build/ember")
	read -r text data bss _ < <(size "$build/ember" | awk 'NR == 2')
	section "This machine's /dev/kvm (no nesting; guest kernel mode is instruction-emulated here)" \
		"reference" "ref"
	row "static binary size (bytes; \`size\`: text/data/bss)" \
		"$bytes ($text / $data / $bss)" "—" "—" "1"

	"$out/vmmtime" -n "$reset_runs" -t 30 -l reset -m RST -- \
		"$build/ember" --kernel "$out/reset.elf" >>"$hl"
	"$out/vmmtime" -n 20 -t 30 -l kvm-min -m RST -- "$out/kvmloop" 1 >>"$hl"
	"$out/vmmtime" -n 20 -t 30 -l kvm-irq -m RST -- "$out/kvmloop" 1 --irqchip >>"$hl"
	for ((r = 0; r < exit_runs; r++)); do
		"$out/vmmtime" -t 60 -l "ember-$n1" -- "$build/ember" \
			--kernel "$build/tests/guests/exitloop.elf" --cmdline "loops=$n1" >>"$hl"
		"$out/vmmtime" -t 60 -l "ember-$n2" -- "$build/ember" \
			--kernel "$build/tests/guests/exitloop.elf" --cmdline "loops=$n2" >>"$hl"
		"$out/vmmtime" -t 60 -l "raw-$n1" -- "$out/kvmloop" "$n1" >>"$hl"
		"$out/vmmtime" -t 60 -l "raw-$n2" -- "$out/kvmloop" "$n2" >>"$hl"
	done
	bad=$(awk '$8 != 0' "$hl" | wc -l)
	[ "$bad" = 0 ] || notes+=("$bad host runs exited non-zero and are left out: $(awk '$8 != 0 { print $1 "=" $8 }' "$hl" | sort | uniq -c | tr '\n' ' ')")
	col() { awk -v l="$1" -v c="$2" '$1 == l && $8 == 0 { print $c }' "$hl"; }
	cpu() { awk -v l="$1" '$1 == l && $8 == 0 { print $6 + $7 }' "$hl"; }
	s_first=$(col reset 3 | stats)
	s_exit=$(col reset 5 | stats)
	s_cpu=$(cpu reset | stats)
	k_exit=$(col kvm-min 5 | stats)
	k_first=$(col kvm-min 3 | stats)
	i_exit=$(col kvm-irq 5 | stats)
	i_first=$(col kvm-irq 3 | stats)
	row "start → first guest instruction: fork → the guest's first COM1 bytes on stdout (ms, median [p10–p90])" \
		"$(fmt "$s_first" 1000 2 p)" \
		"$(fmt "$k_first" 1000 2 p) bare VM (kvmloop); $(fmt "$i_first" 1000 2 p) with in-kernel irqchip + PIT" \
		"$(ratio "$(med "$s_first")" "$(med "$i_first")") (vs irqchip + PIT)" "$(cnt "$s_first")"
	row "start → process exit, incl. KVM teardown (ms, wall)" "$(fmt "$s_exit" 1000 2 p)" \
		"$(fmt "$k_exit" 1000 2 p) bare VM; $(fmt "$i_exit" 1000 2 p) with in-kernel irqchip + PIT" \
		"$(ratio "$(med "$s_exit")" "$(med "$i_exit")") (vs irqchip + PIT)" "$(cnt "$s_exit")"
	row "start → exit, CPU user+sys (ms)" "$(fmt "$s_cpu" 1000 2 p)" "—" "—" "$(cnt "$s_cpu")"
	# Per exit: paired runs, (t(N2) - t(N1)) / (N2 - N1), one figure per round.
	# shellcheck disable=SC2016 # the awk expressions are passed as text
	per_exit() { # LABEL-PREFIX COLUMN-EXPR
		paste <(awk -v l="$1-$n1" '$1 == l { print ($8 == 0 ? '"$2"' : "x") }' "$hl") \
			<(awk -v l="$1-$n2" '$1 == l { print ($8 == 0 ? '"$2"' : "x") }' "$hl") |
			awk -v d=$((n2 - n1)) '$1 != "x" && $2 != "x" { printf("%.1f\n", ($2 - $1) * 1000 / d) }' |
			stats
	}
	e_wall=$(per_exit ember '$5')
	r_wall=$(per_exit raw '$5')
	e_cpu=$(per_exit ember '$6 + $7')
	r_cpu=$(per_exit raw '$6 + $7')
	row "PIO exit round trip, wall (ns/exit, loops=$n1 vs $n2, median [p10–p90])" \
		"$(fmt "$e_wall" 1 0 p)" "$(fmt "$r_wall" 1 0 p) (kvmloop: KVM_RUN only)" \
		"$(ratio "$(med "$e_wall")" "$(med "$r_wall")")" "$(cnt "$e_wall") pairs"
	row "PIO exit round trip, CPU user+sys (ns/exit)" \
		"$(fmt "$e_cpu" 1 0 p)" "$(fmt "$r_cpu" 1 0 p)" \
		"$(ratio "$(med "$e_cpu")" "$(med "$r_cpu")")" "$(cnt "$e_cpu") pairs"
	# The API (bench/apibench.c): process start to the socket accepting, and
	# round trips on one keep-alive connection. Medians [p10–p90], p99.
	if "$out/apibench" 100 2000 "$build/ember" >"$out/api.txt" 2>&1; then
		api() { awk -v k="$1" -v s="$2" '$1 == k { printf("%.*f [%.*f–%.*f], p99 %.*f", s, $3, s, $5, s, $7, s, $9) }' "$out/api.txt"; }
		api_med() { awk -v k="$1" '$1 == k { print $3 }' "$out/api.txt"; }
		row "process start → API socket accepting, wall (µs)" "$(api startup-wall-us 0)" "—" "—" "100"
		row "process start → API socket accepting, CPU of all threads (µs)" \
			"$(api startup-cpu-us 0)" "8000 (Firecracker's published figure)" \
			"$(ratio "$(api_med startup-cpu-us)" 8000)" "100"
		row "GET / round trip on a keep-alive connection (µs)" "$(api get-root-us 1)" "—" "—" "2000"
		row "PUT /drives/rootfs round trip (µs)" "$(api put-drive-us 1)" "—" "—" "2000"
	else
		notes+=("bench/apibench failed: $(tail -n 1 "$out/api.txt")")
	fi
fi

# --- 2 and 3. the nested test host ----------------------------------------------
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

		# The guest initrd plus /bench/init and /bench/iobench (a second gzip
		# member: the kernel unpacks concatenated archives in order).
		stage="$nd/initrd-stage"
		rm -rf "$stage"
		mkdir -p "$stage/bench"
		cp "$here/guest-init.sh" "$stage/bench/init"
		cp "$out/iobench" "$stage/bench/iobench"
		chmod 755 "$stage/bench/init" "$stage/bench/iobench"
		(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9n) \
			>"$nd/bench-add.cpio.gz" || die "cannot pack the bench initrd"
		cat "$build/guest/initrd.cpio.gz" "$nd/bench-add.cpio.gz" >"$nd/bench-initrd.cpio.gz"
		rm -rf "$stage"

		# tun.ko of the test host's kernel (a module in Debian's cloud kernel).
		tun=
		read -r kpkg kver <"$TH_KDIR/package" || true
		tdir="$TH_CACHE/bench-${kpkg}_${kver}"
		if [ ! -s "$tdir/tun.ko" ] && [ -n "$kpkg" ]; then
			log "fetching tun.ko from $kpkg $kver"
			tmp=$(mktemp -d)
			if (cd "$tmp" && apt-get download "$kpkg=$kver" >/dev/null 2>&1) &&
				dpkg-deb -x "$tmp"/*.deb "$tmp/x"; then
				f=$(ls "$tmp"/x/lib/modules/*/kernel/drivers/net/tun.ko* 2>/dev/null | head -n 1) || true
				mkdir -p "$tdir"
				case "$f" in
				*.ko) cp "$f" "$tdir/tun.ko" ;;
				*.ko.xz) xz -dc "$f" >"$tdir/tun.ko" ;;
				*.ko.zst) zstd -qdc "$f" >"$tdir/tun.ko" ;;
				*.ko.gz) gzip -dc "$f" >"$tdir/tun.ko" ;;
				esac
			fi
			rm -rf "$tmp"
		fi
		if [ -s "$tdir/tun.ko" ]; then
			tun="$tdir/tun.ko"
		else
			notes+=("no tun.ko for the test host's kernel: no network figures")
			printf '\n' >"$nd/tun.ko" # insmod fails inside; the payload says so
			tun="$nd/tun.ko"
		fi

		# QEMU, every library ldd lists, and its firmware (-L /payload).
		qbin=$(realpath "$(command -v qemu-system-x86_64)")
		files=("$build/ember:ember" "$build/guest/vmlinux:vmlinux"
			"$build/guest/initrd.cpio.gz:initrd.cpio.gz" "$nd/bench-initrd.cpio.gz:bench-initrd.cpio.gz"
			"$out/vmmtime:vmmtime" "$out/iobench:iobench" "$tun:tun.ko"
			"$qbin:qemu-system-x86_64")
		[ -z "$ember_b" ] || files+=("$ember_b:ember-b")
		while read -r lib; do
			files+=("$lib:$(basename "$lib")")
		done < <(ldd "$qbin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }')
		for fw in bios-microvm.bin qboot.rom pvh.bin linuxboot_dma.bin; do
			[ -r "/usr/share/qemu/$fw" ] && files+=("/usr/share/qemu/$fw:$fw")
		done
		cat >"$nd/params.sh" <<-EOF
			RUNS=$runs IO_ROUNDS=$io_rounds BLK_MIB=$blk_mib RAND_SECS=$rand_secs NET_MIB=$net_mib
			TMO=90 DO_IO=$do_io PARTS="$parts" QEMU_RUNS=$qemu_runs MEM_RUNS=$mem_runs
		EOF
		files+=("$nd/params.sh:params.sh")
		th_initramfs "$nd/initramfs.cpio" "$here/payload.sh" "${files[@]}"
		log "nested: booting the test host ($(du -m "$nd/initramfs.cpio" | cut -f1) MiB initramfs," \
			"limit $host_tmo s)"
		q=0
		t0=$(date +%s)
		th_run "$nd/initramfs.cpio" "$host_tmo" "$nd/console.log" || q=$?
		t1=$(date +%s)
	fi
	tr -d '\r' <"$nd/console.log" >"$nd/console.txt"
	status=$(th_decode_status "$q")
	[ -n "${BENCH_NESTED_LOG:-}" ] || [ "$status" = 0 ] || notes+=("the test host ended badly: $(th_explain "$status"); the figures below are what it printed before")
	[ -n "${BENCH_NESTED_LOG:-}" ] || log "nested: test host ran $((t1 - t0)) s ($(th_explain "$status"))"
	while read -r l; do notes+=("test host: $l"); done < <(sed -n 's/^BENCH-\(ERROR\|OUT\) //p' "$nd/console.txt" | head -n 30)
	qv=$(sed -n 's/^BENCH-INFO qemu: //p' "$nd/console.txt" | head -n 1)

	# nval LABEL AWK-EXPR: one value per good run (exit status 0, marker seen);
	# fields: $4 READY_US, $5 EOF_US, $6 EXIT_US, $7 USER_US, $8 SYS_US.
	nval() { awk -v l="$1" '$1 == "BENCH" && $2 == l && $9 == 0 && $4 >= 0 { print '"$2"' }' "$nd/console.txt"; }
	section "Nested test host (QEMU TCG + kvm_amd), 1 vCPU, 128 MiB; ${qv:-QEMU ?} -M microvm" "QEMU" "QEMU"
	has_part boot && for variant in quiet console; do
		case $variant in
		quiet) what="kernel \`quiet\`" ;;
		console) what="full kernel log on the serial console" ;;
		esac
		for fig in ready exit tail cpu; do
			case $fig in
			ready) x='$4'; name="start → EMBER-GUEST-READY on stdout, $what (ms, median [min–max])" ;;
			exit) x='$6'; name="start → VMM exit after \`reboot -f\`, $what (ms)" ;;
			tail) x='$6 - $4'; name="EMBER-GUEST-READY → VMM exit (guest reboot + VMM teardown), $what (ms)" ;;
			cpu) x='$7 + $8'; name="VMM CPU user+sys (guest time included) for the whole run, $what (ms)" ;;
			esac
			e=$(nval "boot-$variant-ember" "$x" | stats)
			q_=$(nval "boot-$variant-qemu" "$x" | stats)
			row "$name" "$(fmt "$e" 1000 0 m)" "$(fmt "$q_" 1000 0 m)" \
				"$(ratio "$(med "$e")" "$(med "$q_")")" "$(cnt "$e") / $(cnt "$q_")"
		done
	done
	has_part boot && for l in boot-quiet-ember boot-quiet-qemu boot-console-ember boot-console-qemu; do
		b=$(awk -v l="$l" '$1 == "BENCH" && $2 == l && ($9 != 0 || $4 < 0)' "$nd/console.txt" | wc -l)
		[ "$b" = 0 ] || notes+=("$l: $b runs failed (no marker or a non-zero exit) and are left out")
	done
	if has_part mem; then
		# mem LABEL WHEN EXPR: per-reading values of EXPR over the BENCH-MEM
		# fields $5 RSS_KB, $6 GUEST_RSS_KB, $7 GUEST_SIZE_KB, $8 THREADS, $9 FDS.
		mem() { awk -v l="$1" -v w="$2" '$1 == "BENCH-MEM" && $2 == l && $4 == w { print '"$3"' }' "$nd/console.txt" | stats; }
		mv=("ember")
		[ -z "$ember_b" ] || mv+=("emberb")
		for spec in "boot|\$5 - \$6|1024|1|VMM memory overhead: Rss − the guest RAM's Rss, guest idle after boot (MiB)" \
			"io|\$5 - \$6|1024|1|VMM memory overhead: Rss − the guest RAM's Rss, guest idle after 64 MiB of O_DIRECT disk writes + 64 MiB of reads (MiB)" \
			"boot|\$5|1024|1|VMM Rss in all (guest RAM included), guest idle after boot (MiB)" \
			"boot|\$6|1024|1|guest RAM touched: Rss of the guest RAM mapping, guest idle after boot (MiB)" \
			"boot|\$8|1|0|VMM threads, guest idle after boot (/proc/PID/task)" \
			"io|\$8|1|0|VMM threads, guest idle after the disk I/O" \
			"boot|\$9|1|0|VMM open fds, guest idle after boot (/proc/PID/fd)" \
			"io|\$9|1|0|VMM open fds, guest idle after the disk I/O"; do
			IFS='|' read -r when x scale d name <<<"$spec"
			for v in "${mv[@]}"; do
				e=$(mem "mem-$v" "$when" "$x")
				q_=$(mem mem-qemu "$when" "$x")
				n=$name
				[ "$v" = ember ] || n="$name — **ember-b** ($(basename "$ember_b"))"
				row "$n" "$(fmt "$e" "$scale" "$d" m)" "$(fmt "$q_" "$scale" "$d" m)" \
					"$(ratio "$(med "$e")" "$(med "$q_")")" "$(cnt "$e") / $(cnt "$q_")"
			done
		done
		for l in mem-ember mem-emberb mem-qemu; do
			b=$(awk -v l="$l" '$1 == "BENCH" && $2 == l && $9 != 0' "$nd/console.txt" | wc -l)
			[ "$b" = 0 ] || notes+=("$l: $b runs ended with a non-zero status")
		done
		gs=$(awk '$1 == "BENCH-MEM" { print $2 "=" $7 }' "$nd/console.txt" | sort -u | tr '\n' ' ')
		notes+=("memory: Rss from /proc/PID/smaps_rollup, the guest RAM's Rss from /proc/PID/smaps (ember: the anonymous 2 MiB-aligned mapping of the guest's size; QEMU: its largest anonymous mapping; sizes in KiB: ${gs:-none}), read while the guest sleeps 3 s after boot and after the disk I/O (a 64 MiB raw file in the test host's tmpfs, \`iobench seqwrite\` + \`seqread\`); readings that ended after the guest's pause are left out")
	fi
	if [ "$do_io" = 1 ]; then
		for l in blk-ember blk-emberb blk-qemu net-ember net-emberb net-qemu; do
			b=$(awk -v l="$l" '$1 == "BENCH" && $2 == l && $9 != 0' "$nd/console.txt" | wc -l)
			[ "$b" = 0 ] || notes+=("$l: $b of $(awk -v l="$l" '$1 == "BENCH" && $2 == l' "$nd/console.txt" | wc -l) runs ended with a non-zero status (the test host lines above say how)")
		done
		# io LABEL KIND SCALE: per-run figures (count/us*SCALE) of one kind.
		io() { awk -v l="$1" -v k="$2" -v s="$3" '$1 == "BENCH-IO" && $2 == l && $4 == k && $6 > 0 { printf("%.3f\n", $5 / $6 * s) }' "$nd/console.txt" | stats; }
		# gstat LABEL KEY SCALE: per-run guest counter deltas (after - before) / SCALE.
		gstat() { awk -v l="$1" -v k="$2" -v s="$3" '$1 == "BENCH-STAT" && $2 == l && $5 == k {
				if ($4 == "before") b[$3] = $6; else if ($4 == "after") a[$3] = $6 }
			END { for (r in a) if (r in b) printf("%.3f\n", (a[r] - b[r]) / s) }' "$nd/console.txt" | stats; }
		bv=("ember")
		[ -z "$ember_b" ] || bv+=("emberb")
		for spec in "blk|seqwrite|virtio-blk sequential 1 MiB O_DIRECT writes + fdatasync, $blk_mib MiB (MB/s)|1|1" \
			"blk|seqread|virtio-blk sequential 1 MiB O_DIRECT reads, $blk_mib MiB (MB/s)|1|1" \
			"blk|randread|virtio-blk random 4 KiB O_DIRECT reads, queue depth 1, ${rand_secs} s (IOPS)|1000000|0" \
			"net|tcprecv|TCP guest → test host over TAP + virtio-net, $net_mib MiB, received (MB/s)|1|1" \
			"net|irqs|virtio-net: guest interrupts per MiB sent (/proc/interrupts)|$net_mib|1" \
			"net|RetransSegs|TCP segments the guest retransmitted, per run|1|0" \
			"net|OutSegs|TCP segments the guest sent, per MiB (TSO: up to 64 KiB each)|$net_mib|1"; do
			IFS='|' read -r pt kind name scale d <<<"$spec"
			has_part "$pt" || continue
			for v in "${bv[@]}"; do
				case $kind in
				tcprecv) e=$(io "net-$v-recv" "$kind" "$scale"); q_=$(io net-qemu-recv "$kind" "$scale") ;;
				irqs|RetransSegs|OutSegs) e=$(gstat "net-$v" "$kind" "$scale"); q_=$(gstat net-qemu "$kind" "$scale") ;;
				*) e=$(io "blk-$v" "$kind" "$scale"); q_=$(io blk-qemu "$kind" "$scale") ;;
				esac
				n=$name
				[ "$v" = ember ] || n="$name — **ember-b** ($(basename "$ember_b"))"
				row "$n" "$(fmt "$e" 1 "$d" m)" "$(fmt "$q_" 1 "$d" m)" \
					"$(ratio "$(med "$e")" "$(med "$q_")")" "$(cnt "$e") / $(cnt "$q_")"
			done
		done
	fi
	notes+=("QEMU ran as \`qemu-system-x86_64 -M microvm,x-option-roms=off,isa-serial=on,rtc=off,acpi=off -accel kvm -cpu host -m 128 -smp 1 -nographic -no-reboot -nodefaults -serial stdio\` (acpi=off: the guest kernel has no ACPI, and only then does QEMU add virtio_mmio.device= to the command line), with \`console=ttyS0 reboot=t panic=-1\` before the test arguments; ember with its default command line (\`console=ttyS0 reboot=k panic=1\`) and the same test arguments")
	if [ -n "${BENCH_NESTED_LOG:-}" ]; then
		notes+=("nested figures from the earlier console log $BENCH_NESTED_LOG")
	else
		notes+=("test host: $((t1 - t0)) s for the whole boot; console log ${nd#"$root"/}/console.txt")
	fi
fi

# --- report ------------------------------------------------------------------------
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
{
	echo "# ember benchmarks"
	echo
	echo "Measured $started by \`bench/run.sh\` at commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo ?)" \
		"on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))," \
		"Linux $(uname -r). Load average at start $load_start, at end $load_end."
	echo
	echo "Figures are medians with their spread in brackets (p10–p90 for the many host runs, min–max"
	echo "for the few nested ones); N is the number of runs (ember / QEMU). Times: ember/QEMU < 1 means"
	echo "ember is faster; throughput: > 1 means ember is faster. MB = 10^6 bytes. The machine has 2"
	echo "cores shared with other builds and tests: the figures are noisy. In the nested test host"
	echo "everything (both VMMs, the guests) runs under QEMU's TCG emulation of the test host, so"
	echo "absolute figures are far below native; compare ember and QEMU with each other only."
	for r in "${rows[@]}"; do echo "$r"; done
	if [ ${#notes[@]} -gt 0 ]; then
		echo
		echo "Notes:"
		for n in "${notes[@]}"; do echo "- $n"; done
	fi
} | tee "$results"
