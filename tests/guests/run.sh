#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs ember's freestanding test guests on this machine's /dev/kvm and
# ember's bad-input cases. Usage: tests/guests/run.sh [BUILD]   (default build)
# Needs $BUILD/ember and what tests/guests/guests.mk builds under
# $BUILD/tests/guests (use `make test-guests`). EMBER=path overrides the VMM.
# Prints "ok <case>" or "FAIL <case>: <why>" per case, then "N passed, N failed";
# exits 1 if any case failed.
# The virtio-net case needs root (or CAP_NET_ADMIN) and /dev/net/tun: it makes
# a TAP "embt<pid>" (no addresses), runs netpeer.py (python3) on it, and
# deletes it on exit.
set -u

B=${1:-build}
EMBER=${EMBER:-$B/ember}
G=$B/tests/guests
TIMEOUT=60
DEFAULT_CMDLINE="console=ttyS0 reboot=k panic=1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"

SRC=$(dirname "$0")
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

T=$(mktemp -d /tmp/ember-guests.XXXXXX) || exit 1
NET_TAP=""   # the TAP the net case made, deleted on exit
EXTRA_ARGS=() # more ember arguments for boot_case
PEER_PID=""  # its host-side peer, killed on exit
cleanup() {
	[ -n "$PEER_PID" ] && kill "$PEER_PID" 2>/dev/null
	[ -n "$NET_TAP" ] && ip link del "$NET_TAP" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

passed=0
failed=0

ok() {
	echo "ok $1"
	passed=$((passed + 1))
}

# One line, whatever the guest or ember printed.
oneline() {
	head -c 400 "$1" | tr '\n\r\t' '|  ' | sed 's/|$//'
}

bad() {
	echo "FAIL $1: $2 [exit $rc; stdout: $(oneline "$T/out"); stderr: $(oneline "$T/err")]"
	failed=$((failed + 1))
}

# run_ember ARGS...: runs ember under a timeout; sets rc, leaves $T/out, $T/err.
run_ember() {
	timeout -k 5 "$TIMEOUT" "$EMBER" "$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
}

# has FILE TEXT: FILE contains TEXT (fixed string).
has() { grep -qF -- "$2" "$1"; }
# count FILE TEXT: lines of FILE containing TEXT.
count() { grep -cF -- "$2" "$1"; }

# guest_why PASS_TEXT: why the guest's stdout is not a pass (empty if it is).
guest_why() {
	local f
	f=$(grep -m1 -F "FAIL" "$T/out")
	if [ -n "$f" ]; then
		echo "guest said: $f"
	elif ! has "$T/out" "$1"; then
		echo "no \"$1\" on stdout"
	fi
}

status_why() { # WANT
	if [ "$rc" = 124 ]; then
		echo "timed out after ${TIMEOUT}s"
	else
		echo "exit status $rc, want $1"
	fi
}

# --- prerequisites -----------------------------------------------------------
rc=-
: >"$T/out"
: >"$T/err"
missing=""
for f in "$EMBER" "$G"/{boot,triplefault,badport,kvmprobe,exitloop,xcr0,pvh,pvh-linux,loopback,blk,blkhostile,net}.elf \
	"$G/boot.bzImage" "$SRC/netpeer.py" \
	"$G/fnv1a" "$G/bad-proto211.bzImage" "$G/bad-no64.bzImage" "$G/bad-lowload.elf"; do
	[ -e "$f" ] || missing="$missing $f"
done
if [ -n "$missing" ]; then
	bad setup "missing (run make test-guests):$missing"
	echo "$passed passed, $failed failed"
	exit 1
fi

# --- boot: what a Linux kernel would see -------------------------------------
# boot_case NAME KERNEL MEM_MIB VCPUS INITRD_BYTES(0: none) [EXTRA [FULL_LEN]]
# The user command line is "guest=boot expect_... EXTRA end=1"; with FULL_LEN
# a pad= token makes the whole command line exactly FULL_LEN characters.
boot_case() {
	local name=$1 kernel=$2 mem=$3 cpus=$4 isize=$5 extra=${6:-} full=${7:-}
	local user args=(--kernel "$kernel" --mem-mib "$mem" --vcpus "$cpus")
	rc=-
	local exp="expect_mem_mib=$mem expect_cpus=$cpus expect_initrd_size=$isize"

	if [ "$isize" != 0 ]; then
		head -c "$isize" /dev/urandom >"$T/initrd" || { bad "$name" "cannot make an initrd"; return; }
		exp="$exp expect_initrd_sum=$("$G/fnv1a" "$T/initrd")"
		args+=(--initrd "$T/initrd")
	fi
	[ -n "$extra" ] && exp="$exp $extra"
	user="guest=boot $exp expect_cmdline_len=0000 end=1"
	if [ -n "$full" ]; then
		local padlen=$((full - ${#DEFAULT_CMDLINE} - 1 - ${#user} - 5))
		user="guest=boot $exp expect_cmdline_len=0000 pad=$(head -c "$padlen" /dev/zero | tr '\0' x) end=1"
	fi
	local len=$((${#DEFAULT_CMDLINE} + 1 + ${#user}))
	user=${user/expect_cmdline_len=0000/expect_cmdline_len=$(printf %04d "$len")}
	[ -n "$full" ] && [ "$len" != "$full" ] && { bad "$name" "run.sh: padding gave $len chars, not $full"; return; }

	run_ember "${args[@]}" "${EXTRA_ARGS[@]}" --cmdline "$user"
	if [ "$rc" != 0 ]; then
		bad "$name" "$(status_why 0)"
	elif [ -n "$(guest_why "PASS boot")" ]; then
		bad "$name" "$(guest_why "PASS boot")"
	elif has "$T/err" "unhandled I/O port"; then
		bad "$name" "unexpected unhandled-port warning"
	else
		ok "$name"
	fi
}

boot_case boot-elf-64m "$G/boot.elf" 64 1 3000
boot_case boot-bzimage-128m-4cpus "$G/boot.bzImage" 128 4 5000 expect_bzimage=1
boot_case boot-elf-16m-2cpus-noinitrd "$G/boot.elf" 16 2 0
boot_case boot-elf-4096m-32cpus-highmem "$G/boot.elf" 4096 32 4097
boot_case boot-elf-3328m-gap-edge "$G/boot.elf" 3328 1 2048
boot_case boot-bzimage-4096m-highmem "$G/boot.bzImage" 4096 1 100 expect_bzimage=1
boot_case boot-elf-cmdline-2047 "$G/boot.elf" 64 1 0 "" 2047
# SMT (machine-config's smt): one package of 2 cores of 2 threads in CPUID
EXTRA_ARGS=(--smt)
boot_case boot-elf-4cpus-smt "$G/boot.elf" 64 4 0 expect_threads=2
EXTRA_ARGS=()
boot_case boot-bzimage-cmdline-2047 "$G/boot.bzImage" 64 1 0 expect_bzimage=1 2047

# --- guest memory in 2 MiB huge pages (hugetlbfs) ------------------------------
# 16 more pages in the pool: a 32 MiB guest boots on them; a 36 MiB one
# cannot have its pages and is refused at start (so the pool is what backs
# it), in one line. The pool is put back as it was.
hugetlb_cases() {
	local f=/proc/sys/vm/nr_hugepages old free
	old=$(cat "$f" 2>/dev/null) || { bad hugetlb-2m "cannot read $f"; return; }
	free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
	# exactly 16 free pages (the pool grows by what it lacks; never shrunk here)
	[ "$free" -ge 16 ] || echo $((old + 16 - free)) >"$f" 2>/dev/null
	free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
	if [ "$free" -lt 16 ]; then
		echo "$old" >"$f" 2>/dev/null
		bad hugetlb-2m "cannot have 16 free pages of 2 MiB in the pool ($f)"
		return
	fi
	EXTRA_ARGS=(--huge-pages 2M)
	boot_case boot-elf-32m-hugetlb-2m "$G/boot.elf" 32 1 0
	EXTRA_ARGS=()
	if [ "$free" -gt 17 ]; then
		echo "$old" >"$f" 2>/dev/null
		echo "ok hugetlb-2m-pool-too-small (not checked: the pool had $free free pages already)"
	else
		run_ember --kernel "$G/boot.elf" --mem-mib 36 --huge-pages 2M
		echo "$old" >"$f" 2>/dev/null
		if [ "$rc" != 1 ]; then
			bad hugetlb-2m-pool-too-small "$(status_why 1)"
		elif ! has "$T/err" "cannot map 36 MiB of guest memory in 2 MiB huge pages"; then
			bad hugetlb-2m-pool-too-small "no one-line refusal naming the pool"
		else
			ok hugetlb-2m-pool-too-small
		fi
	fi
	EXTRA_ARGS=(--huge-pages Transparent)
	boot_case boot-elf-64m-transparent-huge-pages "$G/boot.elf" 64 1 0
	EXTRA_ARGS=()
}
EXTRA_ARGS=()
hugetlb_cases

# --- triple fault ------------------------------------------------------------
run_ember --kernel "$G/triplefault.elf"
if [ "$rc" != 3 ]; then
	bad triplefault "$(status_why 3)"
elif ! has "$T/err" "triple fault"; then
	bad triplefault "no \"triple fault\" on stderr"
elif [ -n "$(guest_why "triplefault: ud2")" ]; then
	bad triplefault "$(guest_why "triplefault: ud2")"
else
	ok triplefault
fi

# --- unhandled I/O port --------------------------------------------------------
run_ember --kernel "$G/badport.elf"
if [ "$rc" != 0 ]; then
	bad badport "$(status_why 0)"
elif [ -n "$(guest_why "PASS badport")" ]; then
	bad badport "$(guest_why "PASS badport")"
elif [ "$(count "$T/err" "unhandled I/O port 0x1234")" != 1 ]; then
	bad badport "want exactly one \"unhandled I/O port 0x1234\" line on stderr (6 accesses)"
elif [ "$(count "$T/err" "unhandled I/O port")" != 1 ]; then
	bad badport "warnings about other ports"
else
	ok badport
fi

# --- exit loop -----------------------------------------------------------------
run_ember --kernel "$G/exitloop.elf" --cmdline "loops=3000"
if [ "$rc" != 0 ]; then
	bad exitloop "$(status_why 0)"
elif [ -n "$(guest_why "EXITLOOP done 3000")" ]; then
	bad exitloop "$(guest_why "EXITLOOP done 3000")"
elif [ "$(count "$T/err" "unhandled I/O port 0x510")" != 1 ]; then
	bad exitloop "want exactly one \"unhandled I/O port 0x510\" line on stderr"
else
	ok exitloop
fi

# --- XCR0 and CPUID leaf 0xD agree (what Linux checks of its FPU) --------------
run_ember --kernel "$G/xcr0.elf"
if [ "$rc" != 0 ]; then
	bad xcr0 "$(status_why 0)"
elif [ -n "$(guest_why "PASS xcr0")" ]; then
	bad xcr0 "$(guest_why "PASS xcr0")"
else
	ok xcr0
fi

# --- which entry of an ELF with Xen's PVH note --------------------------------
# pvh_case NAME ELF WANT-ENTRY [ARG...]: ember enters ELF at WANT-ENTRY (PVH:
# the guest's 32-bit code checks the hvm_start_info and the mode, and echoes
# the command line; 64-bit: the ELF's entry), says so in its log, and the
# guest passes.
pvh_case() {
	local name=$1 elf=$2 want=$3
	shift 3
	run_ember --kernel "$elf" "$@" --cmdline "pvh.token=$name"
	if [ "$rc" != 0 ]; then
		bad "$name" "$(status_why 0)"
	elif [ -n "$(guest_why "PASS pvh")" ]; then
		bad "$name" "$(guest_why "PASS pvh")"
	elif [ "$want" = PVH ] && ! { has "$T/out" "PVH-ENTRY cmdline=" &&
		has "$T/out" "pvh.token=$name" && has "$T/err" ": PVH entry at 0x"; }; then
		bad "$name" "not entered at the PVH entry with its command line: $(head -c 300 "$T/out")"
	elif [ "$want" = 64 ] && ! { has "$T/out" "PVH-64BIT-ENTRY" && has "$T/err" ": 64-bit entry at 0x"; }; then
		bad "$name" "not entered at the 64-bit entry: $(head -c 300 "$T/out")"
	else
		ok "$name"
	fi
}
pvh_case pvh-note "$G/pvh.elf" PVH
pvh_case pvh-linux "$G/pvh-linux.elf" 64
pvh_case pvh-linux-forced "$G/pvh-linux.elf" PVH --pvh

# --- console input survives a full receive FIFO -------------------------------
# loopback.c fills the FIFO itself through MCR loopback and says READY; only
# then does the host write a line to ember's input (a FIFO held open here).
# ember must keep that line until the guest drains, not take the full FIFO
# for the end of its input.
loopback_case() {
	local said=0
	rc=-
	: >"$T/out"
	: >"$T/err"
	rm -f "$T/in"
	mkfifo "$T/in" || { bad serial-loopback-full-fifo "cannot make a FIFO"; return; }
	timeout -k 5 "$TIMEOUT" "$EMBER" --kernel "$G/loopback.elf" --cmdline "wait=20000" \
		<"$T/in" >"$T/out" 2>"$T/err" &
	local pid=$!
	exec 7>"$T/in"
	for _ in $(seq 1200); do
		if has "$T/out" "LOOPBACK READY"; then
			printf 'HOSTINPUT\n' >&7
			said=1
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	wait "$pid"
	rc=$?
	exec 7>&-
	if [ "$said" != 1 ]; then
		bad serial-loopback-full-fifo "the guest never said LOOPBACK READY"
	elif [ "$rc" != 0 ]; then
		bad serial-loopback-full-fifo "$(status_why 0)"
	elif [ -n "$(guest_why "PASS loopback")" ]; then
		bad serial-loopback-full-fifo "$(guest_why "PASS loopback")"
	elif [ -s "$T/err" ]; then
		bad serial-loopback-full-fifo "unexpected output on stderr"
	else
		ok serial-loopback-full-fifo
	fi
}
loopback_case

# --- kvmprobe: either this KVM runs CPL0 natively, or it dies on a probe -------
run_ember --kernel "$G/kvmprobe.elf"
if [ "$rc" = 0 ]; then
	if [ -z "$(guest_why "KVMPROBE OK")" ]; then
		ok "kvmprobe (this KVM can run Linux guests)"
	else
		bad kvmprobe "$(guest_why "KVMPROBE OK")"
	fi
elif [ "$rc" = 3 ]; then
	rip=$(grep -F "KVM internal error" "$T/err" | grep -o 'rip 0x[0-9a-f]*' | head -n1)
	rip=$(echo "${rip#rip 0x}" | sed 's/^0*//')
	last=$(grep '^kvmprobe: ' "$T/out" | tail -n1)
	last=${last#kvmprobe: }
	last=${last#lock }
	sym=$(nm "$G/kvmprobe.elf" | awk -v s="kvmprobe_insn_$last" '$3 == s { print $1 }' | sed 's/^0*//')
	if [ -z "$rip" ]; then
		bad kvmprobe "exit status 3 without \"KVM internal error ... rip 0x<hex>\" on stderr"
	elif [ -z "$last" ] || [ -z "$sym" ]; then
		bad kvmprobe "died before a probe instruction (last line: \"$last\")"
	elif [ "$rip" != "$sym" ]; then
		bad kvmprobe "rip 0x$rip is not the $last instruction at 0x$sym"
	else
		ok "kvmprobe (emulating KVM: $last fails at rip 0x$rip; Linux cannot boot here)"
	fi
else
	bad kvmprobe "$(status_why "0 or 3")"
fi

# --- virtio-blk ----------------------------------------------------------------
# The disk pattern of tests/guests/blk.c: byte j of sector s is (7j + 13s + 3) & 0xff.
DISK_SECTORS=128

# mkdisk FILE: a DISK_SECTORS-sector disk holding the pattern.
mkdisk() {
	"$PY" - "$1" "$DISK_SECTORS" <<'EOF'
import sys
n = int(sys.argv[2])
with open(sys.argv[1], "wb") as f:
    f.write(bytes((7 * j + 13 * s + 3) & 0xff for s in range(n) for j in range(512)))
EOF
}

# disk_why FILE W: why FILE is not the pattern with sector W holding the
# guest's bytes (11j + 0x5a) & 0xff (W = -1: the pattern untouched); empty if it is.
disk_why() {
	"$PY" - "$1" "$DISK_SECTORS" "$2" <<'EOF'
import sys
path, n, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = open(path, "rb").read()
if len(data) != n * 512:
    print("disk is %d bytes, was %d" % (len(data), n * 512))
    sys.exit()
for s in range(n):
    for j in range(512):
        want = (11 * j + 0x5a) & 0xff if s == w else (7 * j + 13 * s + 3) & 0xff
        if data[s * 512 + j] != want:
            print("disk byte %d (sector %d) is 0x%02x, want 0x%02x%s"
                  % (s * 512 + j, s, data[s * 512 + j], want,
                     " (the guest's write)" if s == w else ""))
            sys.exit()
EOF
}

# blk_case NAME RO(0|1) [ROOT-SECOND]: read, GET_ID, write, flush,
# out-of-range requests. ROOT-SECOND=1: the drive is the root one, given
# after another drive: it must still be the first slot (/dev/vda), which
# the guest drives, and the other drive stays untouched.
blk_case() {
	local name=$1 ro=$2 id=testdisk opt="" w=37 why pre=() n=1
	rc=-
	if [ "$ro" = 1 ]; then
		id=rodisk
		opt=,ro
	fi
	if [ "${3:-0}" = 1 ]; then
		id=rootdisk
		opt=$opt,root
		head -c 65536 /dev/zero >"$T/other.img"
		pre=(--drive "path=$T/other.img,id=other")
		n=2
	fi
	mkdisk "$T/disk.img" || { bad "$name" "cannot make the disk image"; return; }
	run_ember --kernel "$G/blk.elf" "${pre[@]}" --drive "path=$T/disk.img,id=$id$opt" \
		--cmdline "guest=blk sectors=$DISK_SECTORS id=$id ro=$ro wsector=$w drives=$n"
	# (a file to compare with: the nested test host's /dev has no /dev/fd for <(...))
	if [ "${3:-0}" = 1 ] && ! { head -c 65536 /dev/zero >"$T/zero.img" &&
		cmp -s "$T/other.img" "$T/zero.img"; }; then
		bad "$name" "the drive given first (not root) was written"
		return
	fi
	[ "$ro" = 1 ] && w=-1
	why=$(disk_why "$T/disk.img" "$w")
	if [ "$rc" != 0 ]; then
		bad "$name" "$(status_why 0)"
	elif [ -n "$(guest_why "PASS blk")" ]; then
		bad "$name" "$(guest_why "PASS blk")"
	elif [ -s "$T/err" ]; then
		bad "$name" "unexpected output on stderr"
	elif [ -n "$why" ]; then
		bad "$name" "host check of the disk file: $why"
	else
		ok "$name"
	fi
}

blk_case virtio-blk 0
blk_case virtio-blk-ro 1
blk_case virtio-blk-root-given-second 0 1

# --- virtio-blk against a malicious driver -------------------------------------
# Every attack of blkhostile.c must cost exactly one warning, the VMM must
# live on, and a reset device must serve again; a status write that clears
# DRIVER_OK without a reset is ignored, with one warning.
HOSTILE_ATTACKS=22
STOPPED="queue is stopped until the device is reset"
rc=-
if ! mkdisk "$T/disk.img"; then
	bad virtio-blk-hostile "cannot make the disk image"
else
	run_ember --kernel "$G/blkhostile.elf" --mem-mib 32 \
		--drive "path=$T/disk.img,id=hostile" --cmdline "guest=blkhostile sectors=$DISK_SECTORS"
	attacks=$(grep -c '^blkhostile: attack ' "$T/out")
	warnings=$(count "$T/err" "$STOPPED")
	why=$(disk_why "$T/disk.img" -1)
	if [ "$rc" != 0 ]; then
		bad virtio-blk-hostile "$(status_why 0)"
	elif [ -n "$(guest_why "PASS blkhostile")" ]; then
		bad virtio-blk-hostile "$(guest_why "PASS blkhostile")"
	elif [ "$attacks" != "$HOSTILE_ATTACKS" ]; then
		bad virtio-blk-hostile "the guest made $attacks attacks, want $HOSTILE_ATTACKS"
	elif [ "$warnings" != "$attacks" ]; then
		bad virtio-blk-hostile "$warnings \"$STOPPED\" warnings for $attacks attacks"
	elif [ "$(count "$T/err" "without a reset; ignored")" != 1 ]; then
		bad virtio-blk-hostile "want one warning that clearing DRIVER_OK without a reset was ignored"
	elif [ "$(wc -l <"$T/err")" != "$((warnings + 1))" ]; then
		bad virtio-blk-hostile "other lines on stderr besides the $warnings warnings and the status one"
	elif [ -n "$why" ]; then
		bad virtio-blk-hostile "host check of the disk file: $why"
	else
		ok "virtio-blk-hostile ($attacks attacks, each warned and recovered from)"
	fi
fi

# --- virtio-net through a TAP --------------------------------------------------
# The guest sends a broadcast frame (ethertype 0x88b5) through a TAP made
# here; netpeer.py on the host side checks it and answers; the guest prints
# the answer. The TAP's name is per run, so that concurrent runs do not clash.
net_case() {
	local mac=02:00:00:00:00:01 tap="embt$$" prc ready=0
	rc=-
	: >"$T/out"
	: >"$T/err"
	: >"$T/peer"
	if [ ! -c /dev/net/tun ]; then
		bad virtio-net "/dev/net/tun is missing: cannot make a TAP"
		return
	fi
	if ! "$EMBER" --help 2>/dev/null | grep -q -- '--net'; then
		bad virtio-net "ember --help lists no --net option"
		return
	fi
	if ! ip tuntap add dev "$tap" mode tap 2>"$T/err"; then
		bad virtio-net "cannot create TAP $tap (ip tuntap add)"
		return
	fi
	NET_TAP=$tap
	# No IPv6 on the TAP: no router solicitations or MLD reports to the guest.
	echo 1 2>/dev/null >"/proc/sys/net/ipv6/conf/$tap/disable_ipv6"
	if ! ip link set "$tap" up 2>"$T/err"; then
		bad virtio-net "cannot bring TAP $tap up"
		return
	fi
	timeout 40 "$PY" "$SRC/netpeer.py" "$tap" "$mac" 30 >"$T/peer" 2>&1 &
	PEER_PID=$!
	for _ in $(seq 100); do
		has "$T/peer" READY && { ready=1; break; }
		kill -0 "$PEER_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ "$ready" != 1 ]; then
		bad virtio-net "netpeer.py did not start: $(oneline "$T/peer")"
		return
	fi
	run_ember --kernel "$G/net.elf" --net "tap=$tap,mac=$mac" --cmdline "guest=net mac=$mac"
	# The peer is done once it has answered; give it 3 s more at most.
	for _ in $(seq 60); do
		kill -0 "$PEER_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill "$PEER_PID" 2>/dev/null && echo "netpeer: killed: still waiting for the guest's frame" >>"$T/peer"
	wait "$PEER_PID"
	prc=$?
	PEER_PID=""
	ip link del "$tap" 2>/dev/null
	NET_TAP=""
	if [ "$rc" != 0 ]; then
		bad virtio-net "$(status_why 0); netpeer: $(oneline "$T/peer")"
	elif [ -n "$(guest_why "PASS net")" ]; then
		bad virtio-net "$(guest_why "PASS net"); netpeer: $(oneline "$T/peer")"
	elif [ "$prc" != 0 ]; then
		bad virtio-net "netpeer.py exit status $prc: $(oneline "$T/peer")"
	elif ! has "$T/out" 'net: payload "EMBER-NET-REPLY"'; then
		bad virtio-net "the guest did not print the reply's payload"
	elif [ -s "$T/err" ]; then
		bad virtio-net "unexpected output on stderr"
	else
		ok virtio-net
	fi
}
net_case

# --- bad input: status 2, one "ember: " line on stderr, nothing on stdout ------
# bad_input NAME ARGS...
bad_input() {
	local name=$1
	shift
	run_ember "$@"
	local lines
	lines=$(wc -l <"$T/err")
	if [ "$rc" != 2 ]; then
		bad "$name" "$(status_why 2)"
	elif [ "$lines" != 1 ] || [ -n "$(tail -c1 "$T/err")" ]; then
		bad "$name" "want exactly one line on stderr, got $lines newline(s)"
	elif [ "$(head -c 7 "$T/err")" != "ember: " ]; then
		bad "$name" "stderr line does not start with \"ember: \""
	elif [ -s "$T/out" ]; then
		bad "$name" "output on stdout"
	else
		ok "$name"
	fi
}

printf 'this is a text file, not a kernel\n%.0s' {1..64} >"$T/text-kernel"
head -c 100 "$G/boot.elf" >"$T/truncated.elf"
: >"$T/empty"
truncate -s 20M "$T/big-initrd"
long3000=$(head -c 3000 /dev/zero | tr '\0' a)
# ember's defaults, a space and this make exactly 2048 characters: one too many.
long2017=$(head -c $((2048 - ${#DEFAULT_CMDLINE} - 1)) /dev/zero | tr '\0' a)

bad_input bad-missing-kernel --kernel "$T/no-such-kernel"
bad_input bad-empty-kernel --kernel "$T/empty"
bad_input bad-text-kernel --kernel "$T/text-kernel"
bad_input bad-truncated-elf --kernel "$T/truncated.elf"
bad_input bad-elf-below-1m --kernel "$G/bad-lowload.elf"
bad_input bad-bzimage-protocol-2.11 --kernel "$G/bad-proto211.bzImage"
bad_input bad-bzimage-not-64bit --kernel "$G/bad-no64.bzImage"
bad_input bad-mem-mib-0 --kernel "$G/boot.elf" --mem-mib 0
bad_input bad-mem-mib-text --kernel "$G/boot.elf" --mem-mib lots
bad_input bad-vcpus-0 --kernel "$G/boot.elf" --vcpus 0
bad_input bad-vcpus-33 --kernel "$G/boot.elf" --vcpus 33
bad_input bad-missing-initrd --kernel "$G/boot.elf" --initrd "$T/no-such-initrd"
bad_input bad-initrd-too-big --kernel "$G/boot.elf" --mem-mib 16 --initrd "$T/big-initrd"
bad_input bad-cmdline-3000 --kernel "$G/boot.elf" --cmdline "$long3000"
bad_input bad-cmdline-2048 --kernel "$G/boot.elf" --cmdline "$long2017"
bad_input bad-unknown-flag --kernel "$G/boot.elf" --frobnicate
bad_input bad-pvh-with-value --kernel "$G/pvh-linux.elf" --pvh=1
truncate -s 1M "$T/disk.img"
bad_input bad-drive-missing-file --kernel "$G/boot.elf" --drive "path=$T/no-such-disk"
bad_input bad-drive-unknown-item --kernel "$G/boot.elf" --drive "path=$T/disk.img,bogus=1"
bad_input bad-drive-two-roots --kernel "$G/boot.elf" --drive "path=$T/disk.img,root" \
	--drive "path=$T/disk.img,id=b,root"
bad_input bad-net-bad-mac --kernel "$G/boot.elf" --net "tap=embbad0,mac=zz"
bad_input bad-net-no-tap --kernel "$G/boot.elf" --net "mac=02:00:00:00:00:01"
bad_input bad-net-not-a-tap --kernel "$G/boot.elf" --net "tap=lo"
# A FIFO (no writer) as kernel, initrd or drive would block ember's open()
# for good (then the case times out): refused in one line instead.
mkfifo "$T/fifo"
bad_input bad-kernel-fifo --kernel "$T/fifo"
bad_input bad-initrd-fifo --kernel "$G/boot.elf" --initrd "$T/fifo"
bad_input bad-drive-fifo --kernel "$G/boot.elf" --drive "path=$T/fifo"
bad_input bad-drive-fifo-ro --kernel "$G/boot.elf" --drive "path=$T/fifo,ro"
bad_input bad-drive-chardev --kernel "$G/boot.elf" --drive "path=/dev/null"

# A machine without /dev/kvm (here: a mount namespace whose /dev holds only
# null): status 1 and one line naming it, as on such a machine or in a jail
# made there.
timeout "$TIMEOUT" unshare -m sh -c 'mount -t tmpfs -o mode=755 nodev /dev &&
	mknod -m 666 /dev/null c 1 3 && exec "$@"' nodev "$EMBER" --kernel "$G/boot.elf" \
	>"$T/out" 2>"$T/err" </dev/null
rc=$?
if [ "$rc" != 1 ]; then
	bad no-dev-kvm "$(status_why 1)"
elif [ "$(cat "$T/err")" != "ember: cannot open /dev/kvm: No such file or directory" ]; then
	bad no-dev-kvm "want exactly the line 'ember: cannot open /dev/kvm: No such file or directory'"
else
	ok no-dev-kvm
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
