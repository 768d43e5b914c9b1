#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs ember's freestanding test guests on this machine's /dev/kvm and
# ember's bad-input cases. Usage: tests/guests/run.sh [BUILD]   (default build)
# Needs $BUILD/ember and what tests/guests/guests.mk builds under
# $BUILD/tests/guests (use `make test-guests`). EMBER=path overrides the VMM.
# Prints "ok <case>" or "FAIL <case>: <why>" per case, then "N passed, N failed";
# exits 1 if any case failed.
set -u

B=${1:-build}
EMBER=${EMBER:-$B/ember}
G=$B/tests/guests
TIMEOUT=60
DEFAULT_CMDLINE="console=ttyS0 reboot=k panic=1"

T=$(mktemp -d /tmp/ember-guests.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT

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
	timeout "$TIMEOUT" "$EMBER" "$@" >"$T/out" 2>"$T/err" </dev/null
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
for f in "$EMBER" "$G"/{boot,triplefault,badport,kvmprobe,exitloop}.elf "$G/boot.bzImage" \
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

	run_ember "${args[@]}" --cmdline "$user"
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
boot_case boot-bzimage-cmdline-2047 "$G/boot.bzImage" 64 1 0 expect_bzimage=1 2047

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

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
