#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# shellcheck disable=SC2086 # $QEMU is split into words on purpose
# bench/run.sh's payload: runs inside ONE boot of the nested test host
# (busybox sh), in /payload, next to ember, qemu-system-x86_64 and its
# libraries and firmware, vmlinux, initrd.cpio.gz, bench-initrd.cpio.gz (the
# same initrd plus /bench/init and /bench/iobench), vmmtime, iobench, tun.ko
# and params.sh. ember and QEMU runs alternate. Console lines for bench/run.sh:
#   BENCH LABEL RUN READY_US EOF_US EXIT_US USER_US SYS_US STATUS   (vmmtime)
#   BENCH-IO LABEL RUN KIND COUNT US       (an IOBENCH line of that run)
#   BENCH-STAT LABEL RUN WHEN KEY VALUE    (a guest counter, before/after)
#   BENCH-OUT LABEL TEXT                   (the tail of a failed run's output)
#   BENCH-INFO TEXT, BENCH-ERROR TEXT
# Every VMM run is bounded by vmmtime -t; the payload always exits 0 once it
# has started, so that every figure it got is reported.
# params.sh: the sizes, PARTS (which of boot, blk, net run) and QEMU_RUNS
# (0: ember only). When ./ember-b is there, its blk and net runs join the
# rounds as blk-emberb and net-emberb (an A/B comparison of two ember builds
# in the same boot). I/O rounds run the VMMs in turn, in the reverse order
# every other round.

RUNS=8 IO_ROUNDS=4 BLK_MIB=256 RAND_SECS=5 NET_MIB=128 TMO=90 DO_IO=1 PARTS="boot blk net"
# shellcheck disable=SC1091
. ./params.sh

info() { echo "BENCH-INFO $*"; }
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
emberb=0
[ -x ./ember-b ] && emberb=1
# order: the VMMs of I/O round $i (ember, ember-b if any, QEMU if it runs),
# reversed in odd rounds.
order() {
	o="ember"
	[ "$emberb" = 1 ] && o="$o emberb"
	[ "$qemu_ok" = 1 ] && o="$o qemu"
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
info "test host: $(grep -c ^processor /proc/cpuinfo) CPUs, uptime $(cut -d' ' -f1 /proc/uptime) s"

# run LABEL RUN MARKER VMM-ARGS...: one timed run; its output in /tmp/LABEL.out.
run() {
	label=$1 i=$2 marker=$3
	shift 3
	line=$(./vmmtime -n 1 -t "$TMO" -l "$label" -m "$marker" -o "/tmp/$label.out" -- "$@")
	# shellcheck disable=SC2086
	set -- $line
	if [ $# -ne 8 ]; then
		error "$label: vmmtime failed: $line"
		return 0
	fi
	echo "BENCH $1 $i $3 $4 $5 $6 $7 $8"
	st=${line##* }
	if [ "$st" != 0 ] || ! grep -q "$marker" "/tmp/$label.out"; then
		grep -v '^BENCH-GUEST-STAT ' "/tmp/$label.out" | tail -n 12 | tr -d '\r' |
			sed "s/^/BENCH-OUT $label /"
	fi
	grep '^IOBENCH ' "/tmp/$label.out" | tr -d '\r' | sed "s/^IOBENCH /BENCH-IO $label $i /"
	grep 'BENCH-GUEST-ERROR' "/tmp/$label.out" | tr -d '\r' | sed "s/^/BENCH-OUT $label /"
	grep '^BENCH-GUEST-STAT ' "/tmp/$label.out" | tr -d '\r' |
		sed "s/^BENCH-GUEST-STAT /BENCH-STAT $label $i /"
	return 0
}

QEMU_M=microvm,x-option-roms=off,isa-serial=on,rtc=off,acpi=off
# -nodefaults drops the default serial that -nographic would put on stdio.
# (No spaces inside: used unquoted, as separate words.)
QEMU="./qemu-system-x86_64 -L /payload -M $QEMU_M -accel kvm -cpu host -m 128 -smp 1
	-nographic -no-reboot -nodefaults -serial stdio"
QCMD="console=ttyS0 reboot=t panic=-1"

# --- boot to the readiness marker and to the VMM's exit ------------------
part boot && for variant in quiet console; do
	extra=
	[ "$variant" = quiet ] && extra=" quiet"
	i=0
	while [ "$i" -lt "$RUNS" ]; do
		run "boot-$variant-ember" "$i" EMBER-GUEST-READY ./ember --kernel ./vmlinux \
			--initrd ./initrd.cpio.gz --mem-mib 128 --vcpus 1 --cmdline "ember.test=reboot$extra"
		[ "$qemu_ok" = 1 ] && run "boot-$variant-qemu" "$i" EMBER-GUEST-READY $QEMU \
			-kernel ./vmlinux -initrd ./initrd.cpio.gz -append "$QCMD ember.test=reboot$extra"
		i=$((i + 1))
	done
done
info "boot runs done, uptime $(cut -d' ' -f1 /proc/uptime) s"
[ "$DO_IO" = 1 ] || exit 0

# --- virtio-blk: a raw file in the test host's tmpfs ----------------------
disk=/tmp/bench-disk.img
if ! part blk; then
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
if ! part net; then
	:
elif [ -c /dev/net/tun ] || insmod ./tun.ko; then
	[ -c /dev/net/tun ] || { mkdir -p /dev/net; mknod /dev/net/tun c 10 200; }
	ip link set lo up
	# net_run LABEL RUN VMM-ARGS...: the VMM makes tap0; give it its address.
	net_run() {
		nl=$1 ni=$2
		shift 2
		./iobench tcprecv 5001 "$TMO" >/tmp/recv.out 2>&1 &
		rpid=$!
		run "$nl" "$ni" EMBER-GUEST-READY "$@" &
		vpid=$!
		n=0
		while [ ! -e /sys/class/net/tap0 ] && [ "$n" -lt 400 ]; do
			sleep 0.05
			n=$((n + 1))
		done
		if [ -e /sys/class/net/tap0 ]; then
			ip addr add 169.254.100.1/16 dev tap0 && ip link set tap0 up ||
				error "$nl: cannot configure tap0"
		else
			error "$nl: no tap0 after 20 s"
		fi
		wait "$vpid"
		# The receiver ends at EOF, or at its own timeout if no sender came.
		kill "$rpid" 2>/dev/null
		wait "$rpid" 2>/dev/null
		sed -n "s/^IOBENCH /BENCH-IO $nl-recv $ni /p" /tmp/recv.out
		grep '^iobench:' /tmp/recv.out | sed "s/^/BENCH-OUT $nl-recv /"
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
			esac
		done
		i=$((i + 1))
	done
else
	error "no /dev/net/tun (insmod tun.ko failed)"
fi
info "net runs done, uptime $(cut -d' ' -f1 /proc/uptime) s"
exit 0
