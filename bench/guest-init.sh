#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /bench/init: the guest side of bench/run.sh. bench/run.sh appends it,
# iobench and ready (as /bench/init, /bench/iobench, /bench/ready) to the
# ember guest's initrd; the VMM boots that with rdinit=/bench/init and
#   bench.ready=mmio|mmio@ADDR|port
#                    first signal readiness with /bench/ready (mmio: ember's
#                    boot-timer page, mmio@ADDR: Firecracker's; port: QEMU's
#                    isa-debugcon on 0x402),
#                    right before EMBER-GUEST-READY on the console
#   bench.mode=boot  then `reboot -f` at once (the boot figures)
#   bench.mode=idle  then stay idle until the VMM is killed (density)
#   bench.mode=tick  then print "BENCH-TICK N" every 20 ms until the VMM is
#                    killed (snapshots: the first tick after a restore)
#   bench.mode=blk   write, read and randomly read /dev/vda (iobench)
#   bench.mode=net   eth0 169.254.100.2/16, send bench.mib MiB over TCP to
#                    169.254.100.1:5001 (the test host's iobench tcprecv),
#                    then say BENCH-NET-LISTEN and receive bench.mib MiB on
#                    port 5002 (from the test host's iobench tcpsend)
#   bench.mode=mem   stay idle bench.secs seconds after "BENCH-MEM-IDLE",
#                    write and read back bench.mib MiB of /dev/vda, send as
#                    much over TCP as in the net mode, stay
#                    idle again after "BENCH-MEM-IO" (the test host reads the
#                    VMM's memory, threads and fds meanwhile); each pause
#                    ends with "BENCH-MEM-WAKE N" (a reading after it was
#                    late: the guest was no longer idle)
# bench.mib=N (default 256) and bench.secs=N (random reads or mem pauses,
# default 5).
# Prints EMBER-GUEST-READY (after the readiness marker, if any), the IOBENCH
# lines, BENCH-GUEST-STAT lines (net: the guest's counters before and after),
# BENCH-GUEST-ERROR on a failure, and ends with `reboot -f` (the VMM exits),
# except in the idle mode.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mode='' mib=256 secs=5 ready=''
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	bench.ready=*) ready=${arg#*=} ;;
	bench.mode=*) mode=${arg#*=} ;;
	bench.mib=*) mib=${arg#*=} ;;
	bench.secs=*) secs=${arg#*=} ;;
	esac
done
err() { echo "BENCH-GUEST-ERROR $*"; }
[ -z "$ready" ] || /bench/ready "$ready" || err "/bench/ready $ready failed"
echo "EMBER-GUEST-READY"
# net_stats WHEN: the guest's counters around the TCP send, as
# "BENCH-GUEST-STAT WHEN KEY VALUE": interrupts of the virtio devices (all
# lines of /proc/interrupts naming virtio), TCP segments sent and retransmitted.
net_stats() {
	awk -v w="$1" '/virtio/ { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; n += s }
		END { print "BENCH-GUEST-STAT " w " irqs " n + 0 }' /proc/interrupts
	awk -v w="$1" '$1 == "Tcp:" && !h { for (i = 2; i <= NF; i++) k[i] = $i; h = 1; next }
		$1 == "Tcp:" && h { for (i = 2; i <= NF; i++)
			if (k[i] == "OutSegs" || k[i] == "RetransSegs") print "BENCH-GUEST-STAT " w " " k[i] " " $i }' \
		/proc/net/snmp
}
case "$mode" in
boot) ;;
idle)
	# Idle until the VMM is killed; never reboot (density).
	while :; do sleep 3600; done
	;;
tick)
	i=0
	while :; do
		echo "BENCH-TICK $i"
		i=$((i + 1))
		sleep 0.02
	done
	;;
blk)
	if [ -b /dev/vda ]; then
		/bench/iobench seqwrite /dev/vda "$mib" || err "seqwrite failed"
		/bench/iobench seqread /dev/vda "$mib" || err "seqread failed"
		/bench/iobench randread /dev/vda "$secs" || err "randread failed"
	else
		err "no /dev/vda"
	fi
	;;
net)
	if [ -e /sys/class/net/eth0 ]; then
		if ! ip addr add 169.254.100.2/16 dev eth0 || ! ip link set eth0 up; then
			err "cannot configure eth0"
		fi
		net_stats before
		/bench/iobench tcpsend 169.254.100.1 5001 "$mib" || err "tcpsend failed"
		net_stats after
		echo BENCH-NET-LISTEN
		/bench/iobench tcprecv 5002 120 || err "tcprecv failed"
	else
		err "no eth0"
	fi
	;;
mem)
	# mem_pause N MARKER: say MARKER, stay idle, say the pause is over.
	mem_pause() {
		echo "$2"
		sleep "$secs"
		echo "BENCH-MEM-WAKE $1"
	}
	mem_pause 1 BENCH-MEM-IDLE
	# MIB MiB each: written to and read from the disk, sent over TCP; the
	# second reading only after all of it went well.
	ok=1
	if [ -b /dev/vda ]; then
		/bench/iobench seqwrite /dev/vda "$mib" >/dev/null || { err "seqwrite failed"; ok=0; }
		/bench/iobench seqread /dev/vda "$mib" >/dev/null || { err "seqread failed"; ok=0; }
	else
		err "no /dev/vda"
		ok=0
	fi
	if [ -e /sys/class/net/eth0 ]; then
		if ! ip addr add 169.254.100.2/16 dev eth0 || ! ip link set eth0 up ||
			! /bench/iobench tcpsend 169.254.100.1 5001 "$mib" >/dev/null; then
			err "tcpsend failed"
			ok=0
		fi
	else
		err "no eth0"
		ok=0
	fi
	[ "$ok" = 0 ] || mem_pause 2 BENCH-MEM-IO
	;;
*) err "unknown bench.mode '$mode'" ;;
esac
reboot -f
while :; do sleep 1; done
