#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# End-to-end payload: runs inside the nested test host (busybox sh), in
# /payload, next to ember, the guest files (vmlinux, bzImage, initrd.cpio.gz,
# rootfs.ext4), cases.txt and, for the API cases, api-getting-started.sh and
# curl/ (curl, its libraries and their loader). For every case it runs an
# optional setup hook, then ember under a timeout with an optional peer hook
# running beside it. ember's standard input is /dev/null, or, when it serves
# the API (--api-sock), the FIFO /tmp/console.in held open (as a terminal
# would be; hooks may type on it); its output also goes, unbuffered, to
# /tmp/console.raw for the hooks to watch. The payload prints on the
# console, for tests/e2e/run.sh to parse:
#   E2E-CASE NAME
#   E2E-START NAME SECS SECS_IN_MINUTE.MICROS     (ts '%s %.S')
#   E2E-OUT NAME SECS SECS_IN_MINUTE.MICROS TEXT  (every output line of ember)
#   E2E-OUT NAME ... E2E-EXIT STATUS              (or E2E-EXIT setup-failed)
#   E2E-HOST NAME TEXT                            (output of the hooks)
#   E2E-DONE NAME
# cases.txt lines: NAME TIMEOUT_SECS SETUP PEER ARGS... (ARGS without spaces
# inside). SETUP and PEER are `-` or FUNCTION[,ARG]... naming a hook below.

stamp() { echo | ts '%s %.S' | cut -d' ' -f1,2; }
uptime_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
md5() { md5sum <"$1" | cut -d' ' -f1; }

# run_bounded SECS IN OUT CMD...: CMD with stdin IN (`hold`: a FIFO opened
# read-write, which never reaches EOF) and stdout OUT, stopped after SECS, or
# 2 s after ember ended. Returns CMD's status (143 when it was stopped).
run_bounded() {
	lim=$(($(uptime_ms) + $1 * 1000))
	in=$2 out=$3
	shift 3
	if [ "$in" = hold ]; then
		[ -p /tmp/hold ] || mkfifo /tmp/hold
		"$@" <>/tmp/hold >"$out" &
	else
		"$@" <"$in" >"$out" &
	fi
	pid=$!
	grace=
	while kill -0 "$pid" 2>/dev/null; do
		now=$(uptime_ms)
		if [ -e /tmp/ember.done ] && [ -z "$grace" ]; then
			grace=$((now + 2000))
		fi
		if [ "$now" -ge "$lim" ] || { [ -n "$grace" ] && [ "$now" -ge "$grace" ]; }; then
			kill "$pid" 2>/dev/null
			break
		fi
		sleep 0.1
	done
	wait "$pid"
}

# --- hooks (output goes to E2E-HOST lines) ----------------------------------

# disk_copy,FILE: a fresh copy of rootfs.ext4 in the test host's tmpfs.
disk_copy() {
	cp rootfs.ext4 "$1" || return 1
	echo "HOST-DISK $1 $(wc -c <"$1")"
}

# data_image,FILE,KIB: FILE with KIB KiB of random data; prints its checksum.
data_image() {
	dd if=/dev/urandom of="$1" bs=1k count="$2" 2>/dev/null || return 1
	echo "HOST-DATA $(md5 "$1") $(wc -c <"$1")"
}

# disk_ro_setup,ROOT,DATA,KIB: both of the above.
disk_ro_setup() {
	disk_copy "$1" && data_image "$2" "$3"
}

# net_setup,TAP,ADDR/PREFIX,MIB: the TAP device (the test host's /init
# loads tun.ko) and the MIB MiB of random data to send to the guest, in
# /tmp/h2g. Neighbours are forgotten: a guest of an earlier case may have
# had the same address and another MAC.
net_setup() {
	if [ ! -c /dev/net/tun ]; then
		echo "HOST-ERROR no /dev/net/tun (the test host did not load tun.ko)"
		return 1
	fi
	if [ ! -e "/sys/class/net/$1" ]; then
		tunctl -t "$1" >/dev/null || { echo "HOST-ERROR tunctl -t $1 failed"; return 1; }
	fi
	ip neigh flush dev "$1" >/dev/null 2>&1
	if ! ip addr flush dev "$1" || ! ip addr add "$2" dev "$1" || ! ip link set "$1" up; then
		echo "HOST-ERROR cannot configure $1"
		return 1
	fi
	dd if=/dev/urandom of=/tmp/h2g bs=1M count="$3" 2>/dev/null || return 1
	echo "HOST-H2G-DATA $(md5 /tmp/h2g) $(wc -c </tmp/h2g)"
}

# net_peer,GUEST: beside the guest of ember.test=net: waits until GUEST
# answers a ping (60 s at most), pings it 3 times, sends /tmp/h2g to its
# port 5000 (150 s per try, the connection retried for 60 s), then receives
# its data on port 5001 (90 s). Prints:
#   HOST-PING RECEIVED/3
#   HOST-H2G BYTES_SENT MILLISECONDS ATTEMPTS   (or HOST-ERROR ...)
#   HOST-G2H MD5 BYTES MILLISECONDS_LISTENING
net_peer() {
	g=$1
	end=$(($(uptime_ms) + 60000))
	until ping -c 1 -W 1 -w 2 "$g" >/dev/null 2>&1; do
		if [ -e /tmp/ember.done ] || [ "$(uptime_ms)" -ge "$end" ]; then
			echo "HOST-ERROR no ping reply from $g"
			return 1
		fi
		sleep 0.2
	done
	ping -c 3 -w 10 "$g" >/tmp/ping.out 2>&1
	echo "HOST-PING $(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' /tmp/ping.out)/3"
	sed -n 's/^round-trip/HOST-PING-RTT round-trip/p' /tmp/ping.out

	end=$(($(uptime_ms) + 60000))
	i=0
	while :; do
		i=$((i + 1))
		t0=$(uptime_ms)
		if run_bounded 150 /tmp/h2g /dev/null nc "$g" 5000 2>/tmp/nc.err; then
			echo "HOST-H2G $(wc -c </tmp/h2g) $(($(uptime_ms) - t0)) $i"
			break
		fi
		if [ -e /tmp/ember.done ] || [ "$(uptime_ms)" -ge "$end" ]; then
			echo "HOST-ERROR sending to $g:5000 failed after $i attempts: $(tail -n 1 /tmp/nc.err)"
			return 1
		fi
		sleep 0.2
	done

	t0=$(uptime_ms)
	run_bounded 90 hold /tmp/g2h nc -l -p 5001 2>/tmp/nc.err
	rc=$?
	echo "HOST-G2H $(md5 /tmp/g2h) $(wc -c </tmp/g2h) $(($(uptime_ms) - t0))"
	[ "$rc" = 0 ] || echo "HOST-ERROR receiving on port 5001: status $rc $(tail -n 1 /tmp/nc.err)"
	rm -f /tmp/g2h
}

# The VM of the API and config-file cases, as Firecracker's getting-started
# guide builds it: the root file system read-write (a copy), a NIC on a TAP
# with the guide's MAC, 2 vCPUs, 256 MiB; boot_args replace ember's whole
# command line (ember adds root= and the virtio_mmio.device= entries).
VM_ROOT=/tmp/root-api.img
VM_MAC=06:00:AC:10:00:02
VM_ARGS="console=ttyS0 reboot=k panic=1"

# vm_setup,TAP,HOST_ADDR/PREFIX,MIB: the root drive copy and net_setup.
vm_setup() {
	disk_copy "$VM_ROOT" && net_setup "$1" "$2" "$3"
}

# config_setup,TAP,HOST_ADDR,GUEST_ADDR,MIB: vm_setup, and /tmp/vm.json,
# Firecracker's configuration file for that VM running ember.test=net.
config_setup() {
	vm_setup "$1" "$2/24" "$4" || return 1
	cat >/tmp/vm.json <<EOF
{
  "boot-source": {
    "kernel_image_path": "/payload/vmlinux",
    "boot_args": "$VM_ARGS ember.test=net:$3/24,$2,$4"
  },
  "drives": [
    {
      "drive_id": "rootfs",
      "path_on_host": "$VM_ROOT",
      "is_root_device": true,
      "is_read_only": false
    }
  ],
  "network-interfaces": [
    {
      "iface_id": "eth0",
      "guest_mac": "$VM_MAC",
      "host_dev_name": "$1"
    }
  ],
  "machine-config": {
    "vcpu_count": 2,
    "mem_size_mib": 256
  }
}
EOF
	echo "HOST-CONFIG /tmp/vm.json $(wc -c </tmp/vm.json)"
}

# api_net,TAP,GUEST,HOST,MIB: beside `ember --api-sock /tmp/ember.sock`: the
# getting-started requests (api-getting-started.sh --attach) for a guest
# running ember.test=net, then net_peer.
api_net() {
	BOOT_ARGS="$VM_ARGS ember.test=net:$2/24,$3,$4" VCPUS=2 MEM_MIB=256 \
		IFACE_ID=eth0 GUEST_MAC=$VM_MAC END=guest STOP_FILE=/tmp/ember.done \
		sh ./api-getting-started.sh --attach /tmp/ember.sock /tmp/console.raw \
		/tmp/console.in /payload/vmlinux "$VM_ROOT" "$1" || return 1
	net_peer "$2"
}

# api_pause: beside `ember --api-sock /tmp/ember.sock`: the same requests
# without a NIC, for the guest's shell; pause/resume against a loop typed
# on the console, then SendCtrlAltDel.
api_pause() {
	BOOT_ARGS="$VM_ARGS" VCPUS=2 MEM_MIB=256 END=ctrl-alt-del TICKS=1 \
		STOP_FILE=/tmp/ember.done \
		sh ./api-getting-started.sh --attach /tmp/ember.sock /tmp/console.raw \
		/tmp/console.in /payload/vmlinux "$VM_ROOT"
}

# snap_setup,ROOT,TAP,HOST_ADDR/PREFIX: the root disk's copy and the TAP.
snap_setup() {
	disk_copy "$1" && net_setup "$2" "$3" 1
}

# api_snapshot,TAP,GUEST,HOST,TAP2,SEED,SUM: beside `ember --api-sock
# /tmp/ember.sock`: the same requests for the guest's shell with a NIC on
# TAP, then a snapshot, this ember killed and a new one loading it with the
# NIC moved to TAP2 (api-getting-started.sh's END=snapshot; the guest's 32
# MiB from ember-fill SEED must have the md5 SUM).
api_snapshot() {
	BOOT_ARGS="$VM_ARGS" VCPUS=2 MEM_MIB=256 END=snapshot EMBER_BIN=/payload/ember \
		SNAP_DIR=/tmp SNAP_GUEST=$2 SNAP_HOST=$3 SNAP_TAP2=$4 SNAP_SEED=$5 SNAP_SUM=$6 \
		sh ./api-getting-started.sh --attach /tmp/ember.sock /tmp/console.raw \
		/tmp/console.in /payload/vmlinux "$VM_ROOT" "$1"
}

# api_clones,N,KERNEL,INITRD,GUEST,HOST: beside `ember --api-sock
# /tmp/ember.sock`: KERNEL (ACPI, CONFIG_VMGENID, the soft-lockup detector)
# with INITRD (the initramfs and KERNEL's virtio modules), eth0 on tap0 as
# GUEST/24, and ember.test=vmgenid:GUEST/24. TAPs tap0 ... tap(N-1) all have
# HOST/24 and one MAC, as a platform gives every clone the same network. Once
# its vmgenid driver is bound, the test host has pinged it and it has drawn
# random numbers: paused for 60 s, snapshotted, that ember killed; 20 s
# later `ember --clones N` from the snapshot (consoles in /tmp/clone%d.out,
# clone i's NIC on tap i), kept 15 s after all have reseeded. Each clone's
# kernel must reseed from its new generation ID ("crng reseeded due to
# virtual machine fork"), its numbers go on from the snapshot's with its
# uptime (CLOCK_BOOTTIME) moved by at most 1 s (plus the longest step
# between two numbers before, or the first step after the load: the N
# clones share the test host's 2 CPUs) across the 80 s, no "soft lockup", the bytes
# it draws after the reseed differ from every other clone's, and it answers
# pings sent over its own TAP alone (ping -I tapI), and each must run until
# the SIGTERM that ends them. Then one more load with
# the Uffd backend (/payload/uffd-handler serving the memory file): the
# guest goes on and reseeds, the handler serving fewer than half of the
# memory's pages. Prints "ok STEP (detail)" / "FAIL STEP: why" and "N
# passed, N failed", as api-getting-started.sh.
api_clones() {
	n=$1 kern=$2 initrd=$3 guest=$4 host=$5 passed=0 failed=0 sock=/tmp/ember.sock
	IFS=' 	
' # run_hook's IFS=, would not split the lists below
	ok() { echo "ok $1${2:+ ($2)}"; passed=$((passed + 1)); }
	bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
	api() {
		: >/tmp/api.body
		code=$(curl -sS -m 20 -X "$1" --unix-socket $sock --data "$3" \
			-o /tmp/api.body -w '%{http_code}' "http://localhost$2" 2>&1)
		[ "$code" = 204 ] || { bad "$1 $2" "HTTP $code $(head -c 200 /tmp/api.body)"; return 1; }
	}
	# wait_for SECS CMD...: until CMD succeeds (every 100 ms), or SECS.
	wait_for() {
		w=$(($(uptime_ms) + $1 * 1000))
		shift
		until "$@"; do
			[ "$(uptime_ms)" -lt "$w" ] || return 1
			sleep 0.1
		done
	}
	# The summary; an ember still there (a step failed) is killed, as the steps would have.
	fin() {
		p=$(pidof ember) && kill -KILL $p && rm -f $sock
		echo "$passed passed, $failed failed"
	}
	# pings COUNT: sets p, how many clones answer 3 pings over their own TAP
	pings() {
		j=0 p=0
		while [ $j -lt "$1" ]; do
			ping -c 3 -w 10 -I tap$j "$guest" >/tmp/ping$j.out 2>&1
			r=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' /tmp/ping$j.out)
			echo "HOST-PING tap$j ${r:-?}/3"
			[ "$r" = 3 ] && p=$((p + 1))
			j=$((j + 1))
		done
	}
	i=0
	while [ $i -lt "$n" ]; do
		# (a TAP's address may change while it is up)
		net_setup tap$i "$host/24" 1 >/dev/null && ip link set tap$i address 02:00:00:00:01:01 &&
			echo 0 >/proc/sys/net/ipv4/conf/tap$i/rp_filter ||
			{ bad taps "cannot set up tap$i"; fin; return; }
		i=$((i + 1))
	done
	echo 0 >/proc/sys/net/ipv4/conf/all/rp_filter
	wait_for 10 test -S $sock || { bad api-socket "no $sock"; fin; return; }
	api PUT /boot-source "{\"kernel_image_path\": \"/payload/$kern\", \"initrd_path\": \"/payload/$initrd\", \"boot_args\": \"console=ttyS0 reboot=k panic=1 ember.test=vmgenid:$guest/24\"}" &&
		api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}' &&
		api PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "02:00:00:00:00:07"}' &&
		api PUT /actions '{"action_type": "InstanceStart"}' || { fin; return; }
	if ! wait_for 90 grep -q '^EMBER-RAND 5 ' /tmp/console.raw; then
		bad boot "no EMBER-RAND 5 on the console: $(tail -n 3 /tmp/console.raw | tr '\r\n' '  ')"
		fin
		return
	fi
	if grep -q '^EMBER-VMGENID-BOUND 1' /tmp/console.raw; then
		ok vmgenid-bound "the vmgenid driver has EMBRVGID:00"
	else
		bad vmgenid-bound "$(grep -a VMGENID /tmp/console.raw | tr -d '\r')"
	fi
	pings 1
	if [ "$p" = 1 ]; then ok ping-before "3 of 3 over tap0"
	else bad ping-before "$(grep -a -e EMBER-NET-UP -e EMBER-GUEST-ERROR /tmp/console.raw | tr -d '\r' | tr '\n' ' ')$(tail -n 2 /tmp/ping0.out | tr '\n' ' ')"; fi
	api PATCH /vm '{"state": "Paused"}' || { fin; return; }
	sleep 60
	api PUT /snapshot/create '{"snapshot_path": "/tmp/vg.state", "mem_file_path": "/tmp/vg.mem"}' ||
		{ fin; return; }
	tr -d '\r' </tmp/console.raw >/tmp/origin.txt
	last=$(sed -n 's/^EMBER-RAND \([0-9]*\) .*/\1/p' /tmp/origin.txt | tail -n 1)
	up_last=$(sed -n "s/^EMBER-RAND $last \([0-9.]*\) .*/\1/p" /tmp/origin.txt)
	step_max=$(sed -n 's/^EMBER-RAND [0-9]* \([0-9.]*\) .*/\1/p' /tmp/origin.txt |
		awk 'NR > 1 && $1 - p > m { m = $1 - p } { p = $1 } END { printf "%.2f\n", m }')
	pid1=$(pidof ember)
	kill -KILL $pid1
	wait_for 10 sh -c "! kill -0 $pid1 2>/dev/null" || bad kill "ember $pid1 lived on"
	rm -f $sock # a killed ember's socket stays
	rm -f /tmp/clone*.out
	sleep 20
	/payload/ember --restore /tmp/vg.state --restore-mem /tmp/vg.mem --resume --no-api \
		--clones "$n" --serial-out '/tmp/clone%d.out' --net-override 'eth0=tap%d' </dev/null 2>/tmp/clones.err &
	cpid=$!
	all_reseeded() {
		j=0
		while [ $j -lt "$n" ]; do
			i=$j j=$((j + 1))
			grep -q 'crng reseeded due to virtual machine fork' "/tmp/clone$i.out" 2>/dev/null || return 1
			[ "$(sed -n '/crng reseeded due to virtual machine fork/,$p' "/tmp/clone$i.out" |
				grep -c '^EMBER-RAND [0-9]')" -ge 2 ] || return 1
		done
	}
	wait_for 60 all_reseeded
	pings "$n"
	sleep 12 # the soft-lockup detector samples every 4 s
	kill -TERM $cpid
	wait $cpid
	echo "HOST-CLONES-EXIT $? $(grep '^ember: ' /tmp/clones.err | sort | uniq -c | tr '\n' ' ')"
	# Each clone ran until the SIGTERM: a clone that ended by itself (a
	# guest crash) is a failure, even after its checks below passed.
	if [ "$(grep -c '^ember: stopped by signal 15' /tmp/clones.err)" = "$n" ] &&
		[ "$(grep -c '^ember: ' /tmp/clones.err)" = "$n" ]; then
		ok clones-ran "all $n clones ran until the SIGTERM"
	else
		bad clones-ran "$(grep '^ember: ' /tmp/clones.err | grep -v 'stopped by signal 15' | head -n 1)"
	fi
	r=0 g=0 c=0 seen= gaps= lock=
	i=0
	while [ $i -lt "$n" ]; do
		o=/tmp/clone$i.out
		tr -d '\r' <"$o" >"$o.txt" 2>/dev/null
		first=$(sed -n 's/^EMBER-RAND \([0-9]*\) .*/\1/p' "$o.txt" | head -n 1)
		# the first bytes drawn after the reseed: printed after it, and not
		# the clone's first line (the snapshot may have come between that
		# draw and its echo: the same bytes in every clone)
		hex=$(sed -n '/crng reseeded due to virtual machine fork/,$p' "$o.txt" |
			awk -v f="$first" '$1 == "EMBER-RAND" && $2 != f && $4 ~ /^[0-9a-f]+$/ { print $4; exit }')
		up=$(sed -n "s/^EMBER-RAND $first \([0-9.]*\) .*/\1/p" "$o.txt")
		gap=$(awk -v a="$up_last" -v b="$up" 'BEGIN { if (a == "" || b == "") print "?"; else printf "%.2f\n", b - a }')
		# the loop's next step, after the load: N clones share the test
		# host's 2 CPUs, and a slow step is the guest running slowly, not its
		# clock jumping
		up2=$(sed -n "s/^EMBER-RAND $((first + 1)) \([0-9.]*\) .*/\1/p" "$o.txt")
		allow=$(awk -v a="$up" -v b="$up2" -v m="$step_max" 'BEGIN { s = (a == "" || b == "") ? 0 : b - a; if (s < m) s = m; printf "%.2f\n", s }')
		draw=$(sed -n "s/^EMBER-RAND $first [0-9.]* \([0-9a-f]*\)\$/\1/p" "$o.txt")
		echo "HOST-CLONE $i first=$first last-before=$last uptime-gap=$gap first-draw=$draw after-reseed=$hex"
		grep -q 'crng reseeded due to virtual machine fork' "$o.txt" && r=$((r + 1))
		[ "$first" = $((last + 1)) ] && g=$((g + 1))
		[ "$gap" != "?" ] && awk -v g="$gap" -v m="$allow" 'BEGIN { exit !(g >= 0 && g < 1 + m) }' &&
			c=$((c + 1))
		gaps="$gaps $gap (1 s + $allow)"
		grep -q 'soft lockup' "$o.txt" && lock="$lock clone $i: $(grep -m1 'soft lockup' "$o.txt");"
		[ -n "$hex" ] && seen="$seen $hex"
		i=$((i + 1))
	done
	if [ "$r" = "$n" ]; then ok clones-reseeded "$r of $n"; else bad clones-reseeded "$r of $n clones"; fi
	if [ "$g" = "$n" ]; then ok clones-go-on "each from EMBER-RAND $((last + 1))"
	else bad clones-go-on "$g of $n clones went on from EMBER-RAND $((last + 1))"; fi
	if [ "$c" = "$n" ]; then ok clones-clock "uptime moved by$gaps s across the 60 s pause and 20 s gap (allowed: 1 s + the loop's longest step before, or its first after the load)"
	else bad clones-clock "uptime moved by$gaps s (allowed: 1 s + the loop's longest step before, or its first after the load)"; fi
	if [ -z "$lock" ]; then ok no-soft-lockup "15 s after the reseed"
	else bad no-soft-lockup "$lock"; fi
	d=$(printf '%s\n' $seen | sort -u | grep -c .)
	if [ "$d" = "$n" ]; then ok clones-differ "$d different 16-byte draws"
	else bad clones-differ "$d different draws among $n clones:$seen"; fi
	if [ "$p" = "$n" ]; then ok clones-ping "each of the $n clones answered 3 of 3 pings over its own TAP"
	else bad clones-ping "$p of $n clones answered 3 of 3 pings over their own TAP"; fi
	# The same snapshot once more with the Uffd backend: our example
	# handler serves the memory file, page by page.
	rm -f /tmp/uffd.sock /tmp/uffd-vm.out
	/payload/uffd-handler /tmp/uffd.sock /tmp/vg.mem >/tmp/uffd.out 2>&1 &
	hpid=$!
	if wait_for 10 test -S /tmp/uffd.sock; then
		/payload/ember --restore /tmp/vg.state --restore-uffd /tmp/uffd.sock --resume --no-api \
			--serial-out /tmp/uffd-vm.out </dev/null 2>/tmp/uffd-vm.err &
		upid=$!
		uffd_ran() {
			[ "$(sed -n '/crng reseeded due to virtual machine fork/,$p' /tmp/uffd-vm.out 2>/dev/null |
				grep -c '^EMBER-RAND [0-9]')" -ge 2 ]
		}
		wait_for 60 uffd_ran
		kill -TERM $upid
		wait $upid
		wait $hpid
		tr -d '\r' </tmp/uffd-vm.out >/tmp/uffd-vm.txt
		first=$(sed -n 's/^EMBER-RAND \([0-9]*\) .*/\1/p' /tmp/uffd-vm.txt | head -n 1)
		served=$(sed -n 's/.*served \([0-9]*\) pages of \([0-9]*\).*/\1 of \2/p' /tmp/uffd.out)
		echo "HOST-UFFD first=$first served=$served $(grep '^ember: ' /tmp/uffd-vm.err | head -n 1)"
		if [ "$first" = $((last + 1)) ] && grep -q 'crng reseeded due to virtual machine fork' /tmp/uffd-vm.txt &&
			[ -n "$served" ] && [ "${served%% *}" -gt 0 ] && [ "${served%% *}" -lt $((${served##* } / 2)) ]; then
			ok uffd-load "the guest went on from EMBER-RAND $first and reseeded; the handler served $served pages"
		else
			bad uffd-load "first EMBER-RAND '$first' (want $((last + 1))), handler: $(tr '\n' ' ' </tmp/uffd.out), $(tail -c 200 /tmp/uffd-vm.txt | tr '\n' ' ')"
		fi
	else
		kill $hpid 2>/dev/null
		bad uffd-load "the handler made no socket: $(cat /tmp/uffd.out)"
	fi
	fin
}

# mmds_setup,TAP,HOST_ADDR/PREFIX,GUEST_ADDR/PREFIX[,VERSION]: the TAP
# (net_setup), and /tmp/vm-mmds.json, a VM with eth0 on it whose MMDS (V2 by
# default) serves /tmp/mmds.json (given with --metadata), for a guest running
# ember.test=mmds.
mmds_setup() {
	v=${4:-V2}
	net_setup "$1" "$2" 1 || return 1
	big=$(head -c 3000 /dev/zero | tr '\0' 'm')
	printf '{"latest":{"meta-data":{"ami-id":"ami-12345678","local-hostname":"ember",' >/tmp/mmds.json
	printf '"big":"%s","placement":{"zone":"z1"}}}}' "$big" >>/tmp/mmds.json
	echo "HOST-MMDS-BIG 3000 $(printf '%s' "$big" | md5sum | cut -d' ' -f1)"
	cat >/tmp/vm-mmds.json <<EOF
{
  "boot-source": {
    "kernel_image_path": "/payload/vmlinux",
    "initrd_path": "/payload/initrd.cpio.gz",
    "boot_args": "$VM_ARGS ember.test=mmds:$3,169.254.169.254,$v"
  },
  "drives": [],
  "network-interfaces": [
    { "iface_id": "eth0", "guest_mac": "$VM_MAC", "host_dev_name": "$1" }
  ],
  "mmds-config": { "version": "$v", "network_interfaces": ["eth0"] },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 128 }
}
EOF
}

# FUNCTION[,ARG]...
run_hook() {
	# shellcheck disable=SC2086
	(IFS=,; set -- $1; "$@") </dev/null 2>&1
}

# curl for the API hooks: the binary and its libraries are in curl/, with
# their loader (the test host has no /lib64).
if [ -x curl/curl ]; then
	mkdir -p /tmp/bin
	cat >/tmp/bin/curl <<'EOF'
#!/bin/sh
exec /payload/curl/ld-linux-x86-64.so.2 --library-path /payload/curl /payload/curl/curl "$@"
EOF
	chmod 755 /tmp/bin/curl
	PATH=/tmp/bin:$PATH
fi

# api_sock ARGS...: the path after --api-sock, if any. For a jailed ember
# (ARGS start with `jailer`): the socket as the test host sees it, the
# default /run/firecracker.socket inside the jail unless --no-api.
api_sock() {
	if [ "$1" = jailer ]; then
		s=/run/firecracker.socket
		while [ $# -gt 0 ]; do
			case "$1" in
			--api-sock) s=$2 ;;
			--no-api) s= ;;
			esac
			shift
		done
		[ -z "$s" ] || echo "$JAIL_ROOT$s"
		return
	fi
	while [ $# -gt 1 ]; do
		[ "$1" != --api-sock ] || { echo "$2"; return; }
		shift
	done
}

# jail_root ARGS...: <chroot-base-dir>/ember/<id>/root of a jailed case.
jail_root() {
	b=/srv/jailer i=
	while [ $# -gt 1 ]; do
		case "$1" in
		--chroot-base-dir) b=$2 ;;
		--id) i=$2 ;;
		--) break ;;
		esac
		shift
	done
	echo "$b/ember/$i/root"
}

# --- jailed cases: ember-jailer, cgroup v2 in the test host -----------------
JAIL_UID=1000
JAIL_CHROOT=/mnt/hostroot

# jail_setup: cgroup2 on /sys/fs/cgroup (the test host's /init mounts none),
# the jail's root with the guest's files in it (the jailer makes run/), owned by JAIL_UID as
# the jailed ember runs: vmlinux, a copy of rootfs.ext4, and vm.json
# (Firecracker's config file: 1 vCPU, 128 MiB, paths inside the jail).
jail_setup() {
	if ! grep -q '^[^ ]* /sys/fs/cgroup cgroup2 ' /proc/mounts; then
		mount -t cgroup2 none /sys/fs/cgroup || { echo "HOST-ERROR cannot mount cgroup2"; return 1; }
	fi
	echo "HOST-CGROUP-CONTROLLERS $(cat /sys/fs/cgroup/cgroup.controllers)"
	# The test host runs from its initramfs, the root of the mount tree,
	# which pivot_root(2) refuses to move (EINVAL) for any jailer. The jailer
	# runs chrooted into a bind mount of it (JAIL_CHROOT) instead: the same
	# files and mounts, as on a host booted from a disk.
	if ! grep -q " $JAIL_CHROOT " /proc/mounts; then
		mkdir -p "$JAIL_CHROOT" && mount --rbind / "$JAIL_CHROOT" ||
			{ echo "HOST-ERROR cannot bind / on $JAIL_CHROOT"; return 1; }
	fi
	mkdir -p "$JAIL_ROOT" || return 1
	cp vmlinux "$JAIL_ROOT/vmlinux" && cp rootfs.ext4 "$JAIL_ROOT/rootfs.ext4" || return 1
	cat >"$JAIL_ROOT/vm.json" <<EOF
{
  "boot-source": { "kernel_image_path": "/vmlinux", "boot_args": "$VM_ARGS ember.test=reboot" },
  "drives": [ { "drive_id": "rootfs", "path_on_host": "/rootfs.ext4",
                "is_root_device": true, "is_read_only": false } ],
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 128 }
}
EOF
	chown -R "$JAIL_UID:$JAIL_UID" "$JAIL_ROOT" || return 1
	echo "HOST-JAIL $JAIL_ROOT: $(ls "$JAIL_ROOT" | tr '\n' ' ')"
}

# jail_inspect: what the test host sees of the jailed ember while it runs:
# its uid and gid, capability sets, no_new_privs, root (the jail), cgroup
# and that cgroup's memory.max and pids.max.
jail_inspect() {
	pid=
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = ember ] || continue
		pid=${p#/proc/}
	done
	[ -n "$pid" ] || { echo "HOST-ERROR no ember process"; return 1; }
	st=/proc/$pid/status
	echo "HOST-JAILED-IDS $(awk '$1 == "Uid:" { u = $2 } $1 == "Gid:" { g = $2 } END { print u, g }' "$st")"
	echo "HOST-JAILED-CAPS $(awk '/^Cap(Inh|Prm|Eff|Bnd|Amb):/ { printf "%s%s ", $1, $2 }' "$st")"
	echo "HOST-JAILED-NNP $(awk '$1 == "NoNewPrivs:" { print $2 }' "$st")"
	# Its / is the jail's root (same device and inode), holding only what
	# the jail has.
	if [ "$(stat -L -c %d:%i "/proc/$pid/root/")" = "$(stat -c %d:%i "$JAIL_ROOT/")" ]; then
		echo "HOST-JAILED-ROOT jail: $(ls "/proc/$pid/root/" | tr '\n' ' ')"
	else
		echo "HOST-JAILED-ROOT not the jail: $(readlink "/proc/$pid/root")"
	fi
	cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
	echo "HOST-JAILED-CGROUP $cg $(cat "/sys/fs/cgroup$cg/memory.max" 2>/dev/null) $(cat "/sys/fs/cgroup$cg/pids.max" 2>/dev/null)"
}

# api_jail: beside a jailed ember serving /run/firecracker.socket in its
# jail: the getting-started requests with the jail's paths for the guest's
# shell, jail_inspect once the guest is ready, then SendCtrlAltDel ends it.
api_jail() {
	BOOT_ARGS="$VM_ARGS" VCPUS=1 MEM_MIB=128 END=ctrl-alt-del STOP_FILE=/tmp/ember.done \
		LOG_PATH=/firecracker.log LOG_FILE="$JAIL_ROOT/firecracker.log" \
		sh ./api-getting-started.sh --attach "$JAIL_ROOT/run/firecracker.socket" /tmp/console.raw \
		/tmp/console.in /vmlinux /rootfs.ext4 &
	gs=$!
	end=$(($(uptime_ms) + 90000))
	until grep -q EMBER-GUEST-READY /tmp/console.raw; do
		if [ -e /tmp/ember.done ] || [ "$(uptime_ms)" -ge "$end" ]; then
			break
		fi
		sleep 0.1
	done
	jail_inspect
	wait "$gs"
}

echo "E2E-PAYLOAD-START $(cut -d' ' -f1 /proc/uptime)"
while read -r name tmo setup peer args; do
	case "$name" in "" | "#"*) continue ;; esac
	echo "E2E-CASE $name"
	rm -f /tmp/out /tmp/host.out /tmp/ember.done /tmp/console.raw /tmp/console.in
	: >/tmp/host.out
	: >/tmp/console.raw
	# A jailed case: ARGS are `jailer`, the jailer's flags, `--`, ember's.
	exe=./ember JAIL_ROOT=
	case "$args" in
	"jailer "*)
		exe="chroot $JAIL_CHROOT /payload/ember-jailer"
		# shellcheck disable=SC2086
		JAIL_ROOT=$(jail_root $args)
		;;
	esac
	# shellcheck disable=SC2086
	sock=$(api_sock $args)
	args=${args#jailer }
	[ -z "$sock" ] || { rm -f "$sock"; mkfifo /tmp/console.in; }
	if [ "$setup" = - ] || run_hook "$setup" >>/tmp/host.out; then
		start=$(stamp)
		ppid=
		if [ "$peer" != - ]; then
			run_hook "$peer" >>/tmp/host.out &
			ppid=$!
		fi
		# shellcheck disable=SC2086
		{
			if [ -n "$sock" ]; then
				timeout -s KILL "$tmo" $exe $args <>/tmp/console.in 2>&1
			else
				timeout -s KILL "$tmo" $exe $args </dev/null 2>&1
			fi
			echo "E2E-EXIT $?"
		} | tee /tmp/console.raw | ts '%s %.S' >/tmp/out
		touch /tmp/ember.done
		# The peer's every step stops within 2 s once ember.done exists.
		[ -z "$ppid" ] || wait "$ppid"
		if [ -n "$sock" ] && [ -e "$sock" ]; then
			echo "HOST-API-SOCKET-LEFT $sock is left behind after ember's exit" >>/tmp/host.out
			rm -f "$sock"
		fi
	else
		start=$(stamp)
		echo "E2E-EXIT setup-failed" | ts '%s %.S' >/tmp/out
	fi
	echo "E2E-START $name $start"
	sed "s/^/E2E-OUT $name /" /tmp/out
	sed "s/^/E2E-HOST $name /" /tmp/host.out
	echo "E2E-DONE $name"
done <cases.txt
echo "E2E-PAYLOAD-END $(cut -d' ' -f1 /proc/uptime)"
