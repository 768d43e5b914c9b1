#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# shellcheck disable=SC2086 # $QEMU is split into words on purpose
# bench/run.sh's payload: runs inside ONE boot of the nested test host
# (busybox sh), in /payload, next to ember, qemu-system-x86_64 and its
# libraries and firmware, vmlinux, initrd.cpio.gz, bench-initrd.cpio.gz (the
# same initrd plus /bench/init, /bench/iobench and /bench/ready), vmmtime,
# density, iobench, tun.ko and params.sh. ember and QEMU runs alternate.
# Readiness (boot and density): the guest's /bench/ready writes one byte to
# ember's boot-timer page (ember --boot-timer logs "Guest-boot-time" to its
# --log-path, /proc/self/fd/3) or to QEMU's isa-debugcon port 0x402 (a
# chardev file on /proc/self/fd/3); vmmtime -M and density time the marker
# on that pipe. EMBER-GUEST-READY on the console is checked after the run.
# Console lines for bench/run.sh:
#   BENCH LABEL RUN READY_US EOF_US EXIT_US USER_US SYS_US STATUS   (vmmtime)
#   BENCH-DENS LABEL ROUND vm N START_US READY_US STATE        (density)
#   BENCH-DENS LABEL ROUND sum READY STARTED FAILED NOCON STOP MINAVAIL_MIB
#   BENCH-IO LABEL RUN KIND COUNT US       (an IOBENCH line of that run)
#   BENCH-STAT LABEL RUN WHEN KEY VALUE    (a guest counter, before/after)
#   BENCH-KVM LABEL RUN NAME=VALUE...      (the host KVM's counters at READY)
#   BENCH-EXITS LABEL REASON=COUNT...      (kvm:kvm_exit until READY, traced run)
#   BENCH-MEM LABEL RUN WHEN RSS_KB GUEST_RSS_KB GUEST_SIZE_KB THREADS FDS
#   BENCH-OUT LABEL TEXT                   (the tail of a failed run's output)
#   BENCH-SNAP VMM NAME median M ...       (snapbench --linux / --qemu)
#   BENCH-INFO TEXT, BENCH-ERROR TEXT
# Every VMM run is bounded by vmmtime -t; the payload always exits 0 once it
# has started, so that every figure it got is reported.
# params.sh: the sizes, PARTS (which of boot, density, mem, blk, net, exits run) and QEMU_RUNS
# (0: ember only). ./stock-vmlinuz is Debian's cloud kernel (the stock-*
# boot runs). When ./firecracker is there (bench/run.sh's FIRECRACKER=),
# it joins the boot, mem, blk and net runs as boot-*-fc, mem-fc, blk-fc and
# net-fc, with Firecracker's config file (--no-api --config-file) for the
# same guest and kernel command line as ember's, its boot timer for the
# readiness marker. When ./ember-b is there, its blk and net runs join the
# rounds as mem-emberb, blk-emberb and net-emberb (an A/B comparison of two ember builds
# in the same boot). I/O rounds run the VMMs in turn, in the reverse order
# every other round.

RUNS=8 IO_ROUNDS=4 BLK_MIB=256 RAND_SECS=5 NET_MIB=128 TMO=90 DO_IO=1
PARTS="boot density mem blk net exits snap" SNAP_RUNS=10 SNAP_RUNS_512=5
MEM_RUNS=3 MEM_MIB=64 MEM_SECS=3 EXIT_RUNS=3
DENS_ROUNDS=2 DENS_SECS=10 DENS_PAR=4 DENS_CAP=64 DENS_MIN_MIB=256
# shellcheck disable=SC1091
. ./params.sh

info() { echo "BENCH-INFO $*"; }
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
emberb=0
[ -x ./ember-b ] && emberb=1
fc=0
[ -x ./firecracker ] && fc=1
# order: the VMMs of I/O round $i (ember, ember-b if any, QEMU if it runs),
# reversed in odd rounds.
order() {
	o="ember"
	[ "$emberb" = 1 ] && o="$o emberb"
	[ "$qemu_ok" = 1 ] && o="$o qemu"
	[ "$fc" = 1 ] && o="$o fc"
	[ $((i % 2)) = 0 ] && { echo "$o"; return; }
	r=
	for x in $o; do r="$x $r"; done
	echo "$r"
}
error() { echo "BENCH-ERROR $*"; }

# QEMU is dynamically linked: its loader where PT_INTERP says, libraries here.
mkdir -p /lib64
ln -sf /payload/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2
export LD_LIBRARY_PATH=/payload
qemu_ok=1
v=$(./qemu-system-x86_64 --version 2>&1 | head -n 1)
case "$v" in
QEMU*) info "qemu: $v" ;;
*) qemu_ok=0; error "qemu does not run: $v" ;;
esac
[ "${QEMU_RUNS:-1}" = 1 ] || qemu_ok=0
if [ "$fc" = 1 ]; then
	v=$(./firecracker --version 2>&1 | head -n 1)
	case "$v" in
	Firecracker*) info "firecracker: $v" ;;
	*) fc=0; error "firecracker does not run: $v" ;;
	esac
fi
info "test host: $(grep -c ^processor /proc/cpuinfo) CPUs, uptime $(cut -d' ' -f1 /proc/uptime) s"
info "test host THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo none)"
# For the exits part only: the test host's KVM statistics per VM (vmmtime
# -k, debugfs), and the kvm:kvm_exit tracepoint for the exit reasons of one
# more traced run per VMM of the quiet boot variants (vmmtime -T stops the
# trace at the marker).
KSTAT=0 KTRACE=0 TR=/sys/kernel/tracing
if part exits; then
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	if [ -r /sys/kernel/debug/kvm/exits ]; then
		KSTAT=1
	else
		error "no KVM statistics (debugfs /sys/kernel/debug/kvm): no exit counts"
	fi
	mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
	[ -e "$TR/events/kvm/kvm_exit/enable" ] || TR=/sys/kernel/debug/tracing
	if [ "$KSTAT" = 1 ] && [ -e "$TR/events/kvm/kvm_exit/enable" ] && echo 8192 >"$TR/buffer_size_kb"; then
		KTRACE=1
	else
		error "no kvm:kvm_exit tracepoint (tracefs): no exit reasons"
	fi
fi
# The counters BENCH-KVM lines carry (sums over the VM's vCPUs).
KKEYS="exits pf_fixed pf_taken io_exits mmio_exits halt_exits irq_exits irq_window_exits
	request_irq_exits signal_exits insn_emulation hypercalls pages_4k pages_2m"

# run LABEL RUN MARKER VMM-ARGS...: one timed run; its output in /tmp/LABEL.out.
# MARKER is looked for on the console; with MARKER_FD=STRING set, READY is
# STRING on the VMM's fd 3 (vmmtime -M) and MARKER on the console is checked
# after the run (a run without it counts as failed: READY_US -1). With
# KVM_AT_READY=1 (and debugfs), a good run's KVM counters at READY follow
# as "BENCH-KVM LABEL RUN NAME=VALUE..."; with TRACE_EXITS=1 too, its exit
# reasons until READY as "BENCH-EXITS LABEL REASON=COUNT...".
run() {
	label=$1 i=$2 marker=$3
	shift 3
	kf= tf=
	[ "${KVM_AT_READY:-0}" = 1 ] && [ "$KSTAT" = 1 ] && kf="-k /tmp/$label.kvm"
	if [ -n "$kf" ] && [ "${TRACE_EXITS:-0}" = 1 ]; then
		echo 0 >"$TR/tracing_on" && echo >"$TR/trace" &&
			echo 1 >"$TR/events/kvm/kvm_exit/enable" && echo 1 >"$TR/tracing_on" &&
			tf="-T $TR/tracing_on"
	fi
	rm -f "/tmp/$label.kvm"
	if [ -n "${MARKER_FD:-}" ]; then
		line=$(./vmmtime -n 1 -t "$TMO" -l "$label" -M "$MARKER_FD" -o "/tmp/$label.out" $kf $tf -- "$@")
	else
		line=$(./vmmtime -n 1 -t "$TMO" -l "$label" -m "$marker" -o "/tmp/$label.out" $kf $tf -- "$@")
	fi
	if [ -n "$tf" ]; then
		echo 0 >"$TR/tracing_on"
		echo 0 >"$TR/events/kvm/kvm_exit/enable"
		echo "BENCH-EXITS $label $(grep -o 'reason [A-Za-z_0-9]*' "$TR/trace" | sort | uniq -c |
			sort -rn | awk '{ printf("%s=%s ", $3, $1) }')"
		echo >"$TR/trace"
	fi
	# shellcheck disable=SC2086
	set -- $line
	if [ $# -ne 8 ]; then
		error "$label: vmmtime failed: $line"
		return 0
	fi
	rdy=$3
	if [ -n "${MARKER_FD:-}" ] && [ "$rdy" -ge 0 ] && ! grep -q "$marker" "/tmp/$label.out"; then
		error "$label: run $i: the marker on fd 3 but no $marker on the console"
		rdy=-1
	fi
	[ -n "${MARKER_FD:-}" ] && [ "$3" -lt 0 ] && error "$label: run $i: no '$MARKER_FD' on fd 3"
	echo "BENCH $1 $i $rdy $4 $5 $6 $7 $8"
	st=${line##* }
	if [ -n "$kf" ] && [ "$st" = 0 ] && [ "$rdy" -ge 0 ]; then
		if [ -s "/tmp/$label.kvm" ]; then
			echo "BENCH-KVM $label $i $(awk -v keys="$KKEYS" 'BEGIN { n = split(keys, k) }
				{ v[$1] = $2 } END { for (j = 1; j <= n; j++) if (k[j] in v) printf("%s=%s ", k[j], v[k[j]]) }' \
				"/tmp/$label.kvm")"
		else
			error "$label: run $i: no KVM counters of its VM in debugfs"
		fi
	fi
	if [ "$st" != 0 ] || [ "$rdy" -lt 0 ] || ! grep -q "$marker" "/tmp/$label.out"; then
		grep -v '^BENCH-GUEST-STAT \|^vmmtime-diag: ' "/tmp/$label.out" | tail -n 12 |
			tr -d '\r' | sed "s/^/BENCH-OUT $label /"
		grep '^vmmtime-diag: ' "/tmp/$label.out" | sed "s/^/BENCH-OUT $label /"
	fi
	grep '^IOBENCH ' "/tmp/$label.out" | tr -d '\r' | sed "s/^IOBENCH /BENCH-IO $label $i /"
	grep 'BENCH-GUEST-ERROR' "/tmp/$label.out" | tr -d '\r' | sed "s/^/BENCH-OUT $label /"
	grep '^BENCH-GUEST-STAT ' "/tmp/$label.out" | tr -d '\r' |
		sed "s/^BENCH-GUEST-STAT /BENCH-STAT $label $i /"
	return 0
}

QEMU_M=microvm,x-option-roms=off,isa-serial=on,rtc=off,acpi=off
# For the stock kernel (no MP table parsing, CONFIG_X86_MPPARSE off): ACPI.
QEMU_M_ACPI=microvm,x-option-roms=off,isa-serial=on,rtc=off,acpi=on
# -nodefaults drops the default serial that -nographic would put on stdio.
# (No spaces inside: used unquoted, as separate words.)
QEMU_OPTS="-accel kvm -cpu host -nographic -no-reboot -nodefaults -serial stdio"
QEMU_BASE="./qemu-system-x86_64 -L /payload -M $QEMU_M $QEMU_OPTS"
QEMU_ACPI="./qemu-system-x86_64 -L /payload -M $QEMU_M_ACPI $QEMU_OPTS"
QEMU="$QEMU_BASE -m 128 -smp 1"
QCMD="console=ttyS0 reboot=t panic=-1"
# The readiness marker: what each VMM writes to fd 3 when the guest's
# /bench/ready has written its byte (123, "{").
EMARK="Guest-boot-time"
ERDY="--boot-timer --log-path /proc/self/fd/3"
QMARK="{"
QRDY="-chardev file,id=rdy,path=/proc/self/fd/3 -device isa-debugcon,iobase=0x402,chardev=rdy"

# Firecracker: the kernel command line ember starts from (its default,
# which --cmdline appends to), its boot timer's page, and
# fc_conf FILE VCPUS MIB ARGS [DRIVE [NET]]: its config file for the bench
# guest (DRIVE: a file for a virtio-blk drive; NET: 1 for tap0).
FCMD="console=ttyS0 reboot=k panic=1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"
FRDY="--boot-timer --log-path /proc/self/fd/3 --level Info"
FC_TIMER=0xc0000000
fc_conf() {
	drv= net=
	[ -z "${5:-}" ] || drv="{ \"drive_id\": \"d0\", \"path_on_host\": \"$5\", \"is_root_device\": false, \"is_read_only\": false }"
	[ "${6:-}" != 1 ] || net="{ \"iface_id\": \"eth0\", \"guest_mac\": \"52:54:00:12:34:56\", \"host_dev_name\": \"tap0\" }"
	cat >"$1" <<EOF
{
  "boot-source": { "kernel_image_path": "/payload/vmlinux",
    "initrd_path": "/payload/bench-initrd.cpio.gz", "boot_args": "$FCMD $4" },
  "drives": [ $drv ],
  "network-interfaces": [ $net ],
  "machine-config": { "vcpu_count": $2, "mem_size_mib": $3 }
}
EOF
}

# --- boot to the readiness marker and to the VMM's exit ------------------
# Variants: NAME:VCPUS:MIB:KERNEL:KERNEL-ARGS (quiet: the kernel log off the
# console). KERNEL: guest (ours, vmlinux), or stock (Debian's cloud kernel,
# the test host's own bzImage, which finds its CPUs through ACPI only: QEMU
# with acpi=on; no Firecracker run).
# These timed runs read nothing of the test host's KVM: the exits part does.
BOOT_VARIANTS="quiet-1-128:1:128:guest:quiet quiet-2-512:2:512:guest:quiet
	console-1-128:1:128:guest: stock-quiet-2-256:2:256:stock:quiet"
# boot_variant SPEC: sets variant vcpus mib kern bcmd kimg qbase; 1 if it
# cannot run here.
boot_variant() {
	variant=${1%%:*} rest=${1#*:}
	vcpus=${rest%%:*} rest=${rest#*:}
	mib=${rest%%:*} rest=${rest#*:}
	kern=${rest%%:*} extra=${rest#*:}
	bcmd="rdinit=/bench/init bench.mode=boot${extra:+ $extra}"
	if [ "$kern" = stock ]; then
		kimg=./stock-vmlinuz qbase=$QEMU_ACPI
		[ -s "$kimg" ] || { error "no stock kernel: no $variant runs"; return 1; }
	else
		kimg=./vmlinux qbase=$QEMU_BASE
	fi
	return 0
}
# boot_round PREFIX I: one run of each VMM for the current variant, labels
# PREFIX-VARIANT-VMM.
boot_round() {
	MARKER_FD=$EMARK run "$1-$variant-ember" "$2" EMBER-GUEST-READY ./ember \
		--kernel "$kimg" --initrd ./bench-initrd.cpio.gz --mem-mib "$mib" \
		--vcpus "$vcpus" $ERDY --cmdline "$bcmd bench.ready=mmio"
	[ "$qemu_ok" = 1 ] && MARKER_FD=$QMARK run "$1-$variant-qemu" "$2" EMBER-GUEST-READY \
		$qbase -m "$mib" -smp "$vcpus" $QRDY -kernel "$kimg" \
		-initrd ./bench-initrd.cpio.gz -append "$QCMD $bcmd bench.ready=port"
	if [ "$fc" = 1 ] && [ "$kern" = guest ]; then
		fc_conf /tmp/fc-boot.json "$vcpus" "$mib" "$bcmd bench.ready=mmio@$FC_TIMER"
		MARKER_FD=$EMARK run "$1-$variant-fc" "$2" EMBER-GUEST-READY ./firecracker \
			--no-api --config-file /tmp/fc-boot.json $FRDY
	fi
	return 0
}
# boot_rounds PREFIX N [PATTERN]: N rounds (boot_round) of every variant
# whose spec matches PATTERN (default all).
boot_rounds() {
	for spec in $BOOT_VARIANTS; do
		case $spec in ${3:-*}) ;; *) continue ;; esac
		boot_variant "$spec" || continue
		i=0
		while [ "$i" -lt "$2" ]; do
			boot_round "$1" "$i"
			i=$((i + 1))
		done
	done
}
part boot && boot_rounds boot "$RUNS"
part boot && info "boot runs done, uptime $(cut -d' ' -f1 /proc/uptime) s"

# --- density: 128 MiB microVMs ready within DENS_SECS ----------------------
# One after another (-p 1) and DENS_PAR booting at once; every VM stays
# alive, idle (bench.mode=idle), until density kills them all after the
# window. Rounds alternate the VMMs, in the reverse order every other round.
# Runs last: many nested guests at once are what most often freezes the
# test host (then bench/run.sh keeps the figures of the parts before).
# dens_one VMM PAR ROUND
dens_one() {
	dl="dens-$1-p$2"
	rm -rf /tmp/dens
	mkdir -p /tmp/dens
	dcmd="rdinit=/bench/init bench.mode=idle quiet"
	case $1 in
	ember)
		./density -w "$DENS_SECS" -p "$2" -c "$DENS_CAP" -a "$DENS_MIN_MIB" -M "$EMARK" \
			-m EMBER-GUEST-READY -l "$dl" -d /tmp/dens -- ./ember --kernel ./vmlinux \
			--initrd ./bench-initrd.cpio.gz --mem-mib 128 --vcpus 1 $ERDY \
			--cmdline "$dcmd bench.ready=mmio" >/tmp/dens.txt 2>&1 ;;
	qemu)
		./density -w "$DENS_SECS" -p "$2" -c "$DENS_CAP" -a "$DENS_MIN_MIB" -M "$QMARK" \
			-m EMBER-GUEST-READY -l "$dl" -d /tmp/dens -- $QEMU $QRDY -kernel ./vmlinux \
			-initrd ./bench-initrd.cpio.gz -append "$QCMD $dcmd bench.ready=port" \
			>/tmp/dens.txt 2>&1 ;;
	esac
	rc=$?
	[ "$rc" = 0 ] || error "$dl: round $3: density exited $rc: $(grep -v " vm \| sum " /tmp/dens.txt | head -n 3)"
	sed -n "s/^$dl \(vm\|sum\) /BENCH-DENS $dl $3 \1 /p" /tmp/dens.txt
	# The console of each VM that failed or lacks the console marker.
	awk -v l="$dl" '$1 == l && $2 == "vm" && ($6 == "failed" || $6 ~ /nocon/) { print $3 }' /tmp/dens.txt |
		head -n 3 | while read -r n; do
			tail -n 6 "/tmp/dens/$dl-$n.out" | tr -d '\r' | sed "s/^/BENCH-OUT $dl-$n /"
		done
	rm -rf /tmp/dens
	# Let the test host reclaim the memory before the next window.
	sleep 1
}

# --- the network of the mem and net parts: a TAP (link-local only) --------
# net_ready: /dev/net/tun (loading tun.ko once) and lo up; says why not.
net_ready() {
	if [ ! -c /dev/net/tun ]; then
		[ -d /sys/module/tun ] || insmod ./tun.ko ||
			{ error "no /dev/net/tun (insmod tun.ko failed)"; return 1; }
		[ -c /dev/net/tun ] || { mkdir -p /dev/net && mknod /dev/net/tun c 10 200; } ||
			{ error "no /dev/net/tun (mknod failed)"; return 1; }
	fi
	ip link set lo up
}
# tap_up LABEL: wait for the VMM's tap0 and give it the test host's address.
tap_up() {
	n=0
	while [ ! -e /sys/class/net/tap0 ] && [ "$n" -lt 400 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	if [ -e /sys/class/net/tap0 ]; then
		ip addr add 169.254.100.1/16 dev tap0 && ip link set tap0 up ||
			error "$1: cannot configure tap0"
	else
		error "$1: no tap0 after 20 s"
	fi
}
# recv_start, then recv_end LABEL RUN: a TCP receiver on port 5001 for one
# guest run; recv_end prints its figures as BENCH-IO LABEL-recv RUN.
recv_start() {
	./iobench tcprecv 5001 "$TMO" >/tmp/recv.out 2>&1 &
	rpid=$!
}
recv_end() {
	# The receiver ends at EOF, or at its own timeout if no sender came.
	kill "$rpid" 2>/dev/null
	wait "$rpid" 2>/dev/null
	sed -n "s/^IOBENCH /BENCH-IO $1-recv $2 /p" /tmp/recv.out
	grep '^iobench:' /tmp/recv.out | sed "s/^/BENCH-OUT $1-recv /"
}

# --- memory overhead, threads and open fds of the VMM, guest idle ---------
# The guest (bench.mode=mem) says BENCH-MEM-IDLE after boot and BENCH-MEM-IO
# after MEM_MIB MiB of disk writes and reads and MEM_MIB MiB sent over TCP to
# the test host (a TAP, as in the net part), each time staying idle MEM_SECS
# seconds; meanwhile one line per reading:
#   BENCH-MEM LABEL RUN WHEN RSS_KB GUEST_RSS_KB GUEST_SIZE_KB THREADS FDS
# RSS_KB: the VMM's Rss (smaps_rollup); GUEST_*: the Rss and size of its
# guest RAM mapping (smaps): the anonymous mapping of exactly the guest's
# size if there is one only (ember), else the largest anonymous mapping if it
# is at least that large (QEMU).
GUEST_KB=$((128 * 1024))
# mem_pid COMM: the pid of the running process named COMM (one VMM at a time).
mem_pid() {
	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = "$1" ] && { echo "${d#/proc/}"; return 0; }
	done
	return 1
}
# mem_read LABEL RUN WHEN PID: one BENCH-MEM line.
mem_read() {
	rss=$(awk '$1 == "Rss:" { print $2; exit }' "/proc/$4/smaps_rollup" 2>/dev/null)
	# shellcheck disable=SC2016 # awk text
	g=$(awk -v want="$GUEST_KB" '
		function end_map() {
			if (!anon) return
			if (size == want) { n++; er = rss }
			if (size > ls) { ls = size; lr = rss }
		}
		$1 ~ /^[0-9a-f]+-[0-9a-f]+$/ {
			end_map()
			anon = ($5 == "0" && (NF == 5 || $6 ~ /^\[anon/))
			size = 0; rss = 0
			next
		}
		$1 == "Size:" { size = $2 }
		$1 == "Rss:" { rss = $2 }
		END {
			end_map()
			if (n == 1) print er, want
			else if (ls >= want) print lr, ls
			else print "none", n + 0
		}' "/proc/$4/smaps" 2>/dev/null)
	thr=$(ls "/proc/$4/task" 2>/dev/null | wc -l)
	fds=$(ls "/proc/$4/fd" 2>/dev/null | wc -l)
	case "$rss $g" in
	*none* | " "* | *" ")
		error "$1: run $2 $3: no single guest RAM mapping in /proc/$4/smaps (rss '$rss', found '$g')"
		return 0 ;;
	esac
	echo "BENCH-MEM $1 $2 $3 $rss $g $thr $fds"
}
# mem_one VMM RUN: one run of VMM (ember, emberb, qemu, fc), read at both pauses.
mem_one() {
	ml="mem-$1"
	rm -f "/tmp/$ml.out"
	mcmd="rdinit=/bench/init bench.mode=mem bench.mib=$MEM_MIB bench.secs=$MEM_SECS quiet"
	recv_start
	case $1 in
	ember | emberb)
		mb=ember
		[ "$1" = ember ] || mb=ember-b
		mcomm=$mb
		run "$ml" "$2" EMBER-GUEST-READY "./$mb" --kernel ./vmlinux \
			--initrd ./bench-initrd.cpio.gz --mem-mib 128 --vcpus 1 \
			--drive "path=$mdisk" --net tap=tap0,mac=52:54:00:12:34:56 --cmdline "$mcmd" &
		;;
	qemu)
		mcomm=qemu-system-x86 # comm: the first 15 characters
		run "$ml" "$2" EMBER-GUEST-READY $QEMU \
			-kernel ./vmlinux -initrd ./bench-initrd.cpio.gz -append "$QCMD $mcmd" \
			-drive "file=$mdisk,format=raw,if=none,id=d0" -device virtio-blk-device,drive=d0 \
			-netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
			-device virtio-net-device,netdev=n0,mac=52:54:00:12:34:56 &
		;;
	fc)
		mcomm=firecracker
		fc_conf /tmp/fc-mem.json 1 128 "$mcmd" "$mdisk" 1
		run "$ml" "$2" EMBER-GUEST-READY ./firecracker --no-api --config-file /tmp/fc-mem.json &
		;;
	esac
	vpid=$!
	tap_up "$ml"
	for step in 1:BENCH-MEM-IDLE:boot 2:BENCH-MEM-IO:io; do
		sn=${step%%:*} sm=${step#*:}
		sw=${sm#*:} sm=${sm%:*}
		n=0
		while ! grep -q "^$sm" "/tmp/$ml.out" 2>/dev/null && kill -0 "$vpid" 2>/dev/null &&
			[ "$n" -lt $((TMO * 10)) ]; do
			sleep 0.1
			n=$((n + 1))
		done
		grep -q "^$sm" "/tmp/$ml.out" 2>/dev/null || { error "$ml: run $2: no $sm"; break; }
		if ! p=$(mem_pid "$mcomm"); then
			error "$ml: run $2: no process named $mcomm"
			break
		fi
		line=$(mem_read "$ml" "$2" "$sw" "$p")
		# A reading that ended after the pause did is not of an idle guest.
		if grep -q "^BENCH-MEM-WAKE $sn" "/tmp/$ml.out"; then
			error "$ml: run $2: $sw reading too late (the guest's pause was over)"
		else
			echo "$line"
		fi
	done
	wait "$vpid"
	recv_end "$ml" "$2"
}
mdisk=/tmp/bench-mem.img
if ! part mem; then
	:
elif ! net_ready; then
	:
elif truncate -s "${MEM_MIB}M" "$mdisk" 2>/dev/null || dd if=/dev/zero of="$mdisk" bs=1M count=0 seek="$MEM_MIB" 2>/dev/null; then
	i=0
	while [ "$i" -lt "$MEM_RUNS" ]; do
		for v in $(order); do
			mem_one "$v" "$i"
		done
		i=$((i + 1))
	done
	rm -f "$mdisk"
else
	error "cannot create $mdisk"
fi
info "mem runs done, uptime $(cut -d' ' -f1 /proc/uptime) s"

# --- virtio-blk: a raw file in the test host's tmpfs ----------------------
disk=/tmp/bench-disk.img
if [ "$DO_IO" != 1 ] || ! part blk; then
	:
elif truncate -s "${BLK_MIB}M" "$disk" 2>/dev/null || dd if=/dev/zero of="$disk" bs=1M count=0 seek="$BLK_MIB" 2>/dev/null; then
	icmd="rdinit=/bench/init bench.mode=blk bench.mib=$BLK_MIB bench.secs=$RAND_SECS quiet"
	blk_one() {
		case $1 in
		ember | emberb)
			[ "$1" = ember ] || [ "$emberb" = 1 ] || return 0
			run "blk-$1" "$i" EMBER-GUEST-READY "./$2" --kernel ./vmlinux \
				--initrd ./bench-initrd.cpio.gz --mem-mib 128 --vcpus 1 \
				--drive "path=$disk" --cmdline "$icmd" ;;
		qemu)
			[ "$qemu_ok" = 1 ] || return 0
			run blk-qemu "$i" EMBER-GUEST-READY $QEMU \
				-kernel ./vmlinux -initrd ./bench-initrd.cpio.gz -append "$QCMD $icmd" \
				-drive "file=$disk,format=raw,if=none,id=d0" -device virtio-blk-device,drive=d0 ;;
		fc)
			fc_conf /tmp/fc-blk.json 1 128 "$icmd" "$disk"
			run blk-fc "$i" EMBER-GUEST-READY ./firecracker --no-api --config-file /tmp/fc-blk.json ;;
		esac
	}
	i=0
	while [ "$i" -lt "$IO_ROUNDS" ]; do
		# Odd rounds in the reverse order: a drift in the machine's load
		# then weighs on every VMM alike.
		for v in $(order); do
			case $v in
			ember) blk_one ember ember ;;
			emberb) blk_one emberb ember-b ;;
			qemu) blk_one qemu ;;
			fc) blk_one fc ;;
			esac
		done
		i=$((i + 1))
	done
	rm -f "$disk"
else
	error "cannot create $disk"
fi
info "blk runs done, uptime $(cut -d' ' -f1 /proc/uptime) s"

# --- virtio-net: TCP guest -> test host over a TAP (link-local only) -------
if [ "$DO_IO" != 1 ] || ! part net; then
	:
elif net_ready; then
	# net_run LABEL RUN VMM-ARGS...: the VMM makes tap0; give it its address.
	# The guest sends first (the test host receives, recv_*), then says
	# BENCH-NET-LISTEN and receives as much from the test host (its
	# IOBENCH tcprecv line is the guest's; our sender's status goes to
	# BENCH-OUT only when it failed).
	net_run() {
		nl=$1 ni=$2
		shift 2
		recv_start
		rm -f /tmp/send.out
		run "$nl" "$ni" EMBER-GUEST-READY "$@" &
		vpid=$!
		tap_up "$nl"
		(
			n=0
			while ! grep -q '^BENCH-NET-LISTEN' "/tmp/$nl.out" 2>/dev/null &&
				kill -0 "$vpid" 2>/dev/null && [ "$n" -lt $((TMO * 10)) ]; do
				sleep 0.1
				n=$((n + 1))
			done
			grep -q '^BENCH-NET-LISTEN' "/tmp/$nl.out" 2>/dev/null &&
				./iobench tcpsend 169.254.100.2 5002 "$NET_MIB" >/tmp/send.out 2>&1
		) &
		spid=$!
		wait "$vpid"
		kill "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
		recv_end "$nl" "$ni"
		grep '^iobench:' /tmp/send.out 2>/dev/null | sed "s/^/BENCH-OUT $nl-send /"
	}
	ncmd="rdinit=/bench/init bench.mode=net bench.mib=$NET_MIB quiet"
	i=0
	while [ "$i" -lt "$IO_ROUNDS" ]; do
		for v in $(order); do
			case $v in
			ember | emberb)
				b=ember
				[ "$v" = ember ] || b=ember-b
				net_run "net-$v" "$i" "./$b" --kernel ./vmlinux \
					--initrd ./bench-initrd.cpio.gz --mem-mib 128 --vcpus 1 \
					--net tap=tap0,mac=52:54:00:12:34:56 --cmdline "$ncmd" ;;
			qemu)
				net_run net-qemu "$i" $QEMU \
					-kernel ./vmlinux -initrd ./bench-initrd.cpio.gz -append "$QCMD $ncmd" \
					-netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
					-device virtio-net-device,netdev=n0,mac=52:54:00:12:34:56 ;;
			fc)
				fc_conf /tmp/fc-net.json 1 128 "$ncmd" "" 1
				net_run net-fc "$i" ./firecracker --no-api --config-file /tmp/fc-net.json ;;
			esac
		done
		i=$((i + 1))
	done
fi
info "net runs done, uptime $(cut -d' ' -f1 /proc/uptime) s"

if part density; then
	info "density: MemAvailable $(awk '$1 == "MemAvailable:" { print int($2 / 1024) }' /proc/meminfo) MiB before"
	i=0
	while [ "$i" -lt "$DENS_ROUNDS" ]; do
		for par in 1 "$DENS_PAR"; do
			for v in $(order); do
				case $v in
				ember | qemu) dens_one "$v" "$par" "$i" ;;
				esac
			done
		done
		i=$((i + 1))
	done
	info "density runs done, uptime $(cut -d' ' -f1 /proc/uptime) s"
fi

# --- snapshots: save, restore, 4 clones (ember and QEMU) -----------------
# snapbench (bench/snapbench.c) with the guest ticking every 20 ms, 128 MiB,
# 1 vCPU: ember's Full snapshot and loads against QEMU's migration to a
# file and -incoming from it; then the same at 512 MiB, SNAP_RUNS_512
# restores and no clones (4 QEMUs of 512 MiB and the file would not fit in
# the test host's 2 GiB), labelled ember-512 and qemu-512.
if part snap; then
	scmd="rdinit=/bench/init bench.mode=tick quiet"
	./snapbench --linux "$SNAP_RUNS" ./ember ./vmlinux ./bench-initrd.cpio.gz 128 /tmp \
		"console=ttyS0 reboot=k panic=1 $scmd" 2>&1 | sed 's/^/BENCH-SNAP ember /'
	if [ "$qemu_ok" = 1 ]; then
		./snapbench --qemu "$SNAP_RUNS" /tmp -- $QEMU -kernel ./vmlinux \
			-initrd ./bench-initrd.cpio.gz -append "$QCMD $scmd" 2>&1 |
			sed 's/^/BENCH-SNAP qemu /'
	fi
	./snapbench --linux --no-clones "$SNAP_RUNS_512" ./ember ./vmlinux ./bench-initrd.cpio.gz 512 /tmp \
		"console=ttyS0 reboot=k panic=1 $scmd" 2>&1 | sed 's/^/BENCH-SNAP ember-512 /'
	if [ "$qemu_ok" = 1 ]; then
		./snapbench --qemu --no-clones "$SNAP_RUNS_512" /tmp -- $QEMU_BASE -m 512 -smp 1 -kernel ./vmlinux \
			-initrd ./bench-initrd.cpio.gz -append "$QCMD $scmd" 2>&1 |
			sed 's/^/BENCH-SNAP qemu-512 /'
	fi
	info "snap runs done, uptime $(cut -d' ' -f1 /proc/uptime) s"
fi

# --- VM exits: the test host's KVM counters and exit reasons -------------
# EXIT_RUNS boots per VMM and variant whose KVM counters are read at the
# marker (labels exits-*), then one traced boot per VMM of the quiet
# variants: the kvm:kvm_exit events until the marker (labels trace-*).
# Last, on its own, apart from the timed runs: looking into the test host's
# KVM has frozen it (a traced console-log boot with tens of thousands of
# port I/O exits did; so did a loop of traced boots; and test hosts froze
# more often while the boot part read the counters), and then only this
# part is lost.
if part exits; then
	if [ "$KSTAT" = 1 ]; then
		KVM_AT_READY=1
		boot_rounds exits "$EXIT_RUNS"
		if [ "$KTRACE" = 1 ]; then
			TRACE_EXITS=1
			boot_rounds trace 1 'quiet-*'
			TRACE_EXITS=0
		fi
		KVM_AT_READY=0
	fi
	info "exits runs done, uptime $(cut -d' ' -f1 /proc/uptime) s"
fi
exit 0
