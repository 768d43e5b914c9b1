#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The nested test host: QEMU's TCG emulates an AMD CPU with SVM, running
# Debian's cloud kernel with kvm_amd. A VMM inside it gets a /dev/kvm that runs
# Linux guests natively (this machine's own /dev/kvm cannot; see
# ../shared/KVM-ON-THESE-MACHINES.md).
#
# As a command:
#   tests/nested/testhost.sh [options] PAYLOAD.sh [FILE[:NAME]]...
#       Boots the test host with PAYLOAD.sh and the FILEs copied into
#       /payload/ (as NAME, default the file's base name; NAME may have
#       directories: lib/libfoo.so), runs
#       `sh /payload/run.sh` (PAYLOAD.sh) in /payload, then powers off.
#       Exits with the payload's exit status (0..125), 124 if the test host
#       timed out, 126 if the test host could not set up KVM, 1 on other
#       errors. Options:
#         --build DIR        build directory (default: build)
#         --name NAME        work directory build/nested/NAME (default: run)
#         --timeout SECS     hard limit for QEMU (default: 300)
#         --log FILE         also keep the console output in FILE
#         --interactive      attach the terminal to the test host's console
#   tests/nested/testhost.sh --prepare [--build DIR]
#       Only fetch the kernel and build the cached base initramfs.
#
# As a library (source it): th_init BUILD_DIR, th_prepare, th_initramfs,
# th_run, th_decode_status, th_filter. Set TH_VERBOSE=1 to stream the
# console while a non-interactive run is going on.
#
# Environment: EMBER_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/ember)
# holds the downloaded kernel; TH_SMP overrides the number of emulated CPUs.

TH_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TH_PKG_META=linux-image-cloud-amd64
# The KVM modules (loaded in this order; the test host fails without them)
# and the TAP driver (loaded too; tests with a TAP need it).
TH_MODULES="virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd drivers/net/tun"
# Two emulated CPUs: QEMU runs them on two host threads (MTTCG), and a guest
# with 2 vCPUs inside needs them. Measured: see tests/nested/README.md.
TH_SMP="${TH_SMP:-2}"
TH_APPEND="console=ttyS0 panic=-1 quiet"
# Warnings QEMU prints for EPYC features TCG does not emulate: harmless.
# (osvw, topoext, nrip-save, xsavec, rdseed, sha-ni, ... depending on QEMU).
TH_NOISE="warning: (TCG|host) doesn't support requested feature: "

th_die() {
	echo "testhost: $*" >&2
	exit 1
}

th_log() {
	[ "${TH_QUIET:-0}" = 1 ] || echo "testhost: $*" >&2
}

# Remove QEMU's harmless warnings from a stream.
th_filter() {
	grep -Ev --line-buffered -- "$TH_NOISE" || true
}

# th_need_pkgs PKG...: install missing Debian packages (fresh machines).
th_need_pkgs() {
	local p missing=() sudo=
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || sudo=sudo
	th_log "installing Debian packages: ${missing[*]}"
	$sudo apt-get update -q >/dev/null 2>&1 || th_die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
		--no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
		th_die "apt-get install ${missing[*]} failed"
}

th_init() {
	TH_BUILD="${1:-build}"
	TH_OUT="$TH_BUILD/nested"
	TH_CACHE="${EMBER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ember}/testhost"
	mkdir -p "$TH_OUT" "$TH_CACHE" || th_die "cannot create $TH_OUT or $TH_CACHE"
}

# Resolve linux-image-cloud-amd64 to its concrete package and version.
# Prints "PKG VERSION", or nothing when apt does not know them.
th_resolve_kernel_pkg() {
	local pkg ver
	pkg=$(apt-cache depends "$TH_PKG_META" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }') || true
	[ -n "$pkg" ] || return 0
	ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null |
		awk '$1 == "Version:" { print $2; exit }') || true
	[ -z "$ver" ] || echo "$pkg $ver"
}

# th_have_modules DIR: every module of TH_MODULES is in DIR.
th_have_modules() {
	local m
	for m in $TH_MODULES; do
		[ -s "$1/${m##*/}.ko" ] || return 1
	done
}

# th_kernel: make sure the test-host kernel and its KVM modules are in the
# cache; sets TH_KDIR (vmlinuz + *.ko), TH_VMLINUZ.
th_kernel() {
	local r pkg ver dir tmp
	r=$(th_resolve_kernel_pkg)
	if [ -z "$r" ]; then
		th_log "updating apt package lists to find $TH_PKG_META"
		if [ "$(id -u)" = 0 ]; then apt-get update -q >/dev/null 2>&1 || true
		else sudo apt-get update -q >/dev/null 2>&1 || true; fi
		r=$(th_resolve_kernel_pkg)
	fi
	if [ -z "$r" ]; then
		# Offline: fall back to the newest kernel already in the cache.
		dir=$(ls -d "$TH_CACHE"/linux-image-*/ 2>/dev/null | sort -V | tail -n 1) || true
		[ -n "$dir" ] && [ -e "$dir/.complete" ] && th_have_modules "$dir" ||
			th_die "cannot resolve $TH_PKG_META (apt-cache depends) and no kernel with all modules ($TH_MODULES) in $TH_CACHE"
		TH_KDIR="${dir%/}"
		TH_VMLINUZ="$TH_KDIR/vmlinuz"
		return 0
	fi
	read -r pkg ver <<<"$r"
	dir="$TH_CACHE/${pkg}_${ver}"
	if [ ! -e "$dir/.complete" ] || ! th_have_modules "$dir"; then
		th_log "fetching the test-host kernel $pkg $ver"
		command -v dpkg-deb >/dev/null || th_die "dpkg-deb is missing"
		tmp=$(mktemp -d "$TH_CACHE/.fetch.XXXXXX") || th_die "mktemp failed in $TH_CACHE"
		# A subshell, so that its EXIT trap cleans up without touching the caller's.
		(
			trap 'rm -rf "$tmp"' EXIT
			(cd "$tmp" && apt-get download "$pkg=$ver" >download.log 2>&1) || {
				sed -n '$p' "$tmp/download.log" >&2
				th_die "apt-get download $pkg=$ver failed"
			}
			deb=$(ls "$tmp"/*.deb 2>/dev/null | head -n 1) || true
			[ -n "$deb" ] || th_die "apt-get download $pkg=$ver produced no .deb"
			dpkg-deb -x "$deb" "$tmp/x" || th_die "dpkg-deb -x $deb failed"
			mkdir -p "$tmp/out"
			f=$(ls "$tmp"/x/boot/vmlinuz-* 2>/dev/null | head -n 1) || true
			[ -n "$f" ] || th_die "$pkg has no boot/vmlinuz-*"
			cp "$f" "$tmp/out/vmlinuz"
			for m in $TH_MODULES; do
				f=$(ls -d "$tmp"/x/lib/modules/*/kernel/"$m".ko* 2>/dev/null | head -n 1) || true
				[ -n "$f" ] || th_die "$pkg has no module kernel/$m.ko"
				case "$f" in
				*.ko) cp "$f" "$tmp/out/" ;;
				*.ko.xz) xz -dc "$f" >"$tmp/out/$(basename "$f" .xz)" || th_die "cannot decompress $f" ;;
				*.ko.zst) zstd -qdc "$f" >"$tmp/out/$(basename "$f" .zst)" || th_die "cannot decompress $f" ;;
				*.ko.gz) gzip -dc "$f" >"$tmp/out/$(basename "$f" .gz)" || th_die "cannot decompress $f" ;;
				*) th_die "unknown module format: $f" ;;
				esac
			done
			echo "$pkg $ver" >"$tmp/out/package"
			touch "$tmp/out/.complete"
			if [ -e "$dir/.complete" ]; then
				# A cache from before a module was added to TH_MODULES:
				# add the missing ones, file by file.
				for f in "$tmp"/out/*.ko; do
					[ -e "$dir/${f##*/}" ] || mv -f "$f" "$dir/" ||
						th_die "cannot store ${f##*/} in $dir"
				done
			else
				mv -T "$tmp/out" "$dir" 2>/dev/null || [ -e "$dir/.complete" ] ||
					th_die "cannot store the kernel in $dir"
			fi
		) || exit 1
	fi
	TH_KDIR="$dir"
	TH_VMLINUZ="$dir/vmlinuz"
}

# The test host's /init. Markers on the console: TESTHOST-KVM-READY,
# TESTHOST-ERROR, TESTHOST-PAYLOAD-EXIT.
th_write_init() {
	cat >"$1" <<'EOF'
#!/bin/sh
# /init of the ember nested test host (written by tests/nested/testhost.sh).
export PATH=/bin:/sbin HOME=/ TERM=${TERM:-linux}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /tmp
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs tmpfs /tmp

quiet=0
grep -q 'testhost.quiet' /proc/cmdline && quiet=1
[ "$quiet" = 1 ] && dmesg -n 1
say() { [ "$quiet" = 1 ] || echo "$@"; }

# Leave with a status: QEMU exits with (($1 + 1) << 1) | 1.
leave() {
	s=$1
	[ "$s" -ge 0 ] 2>/dev/null || s=125
	[ "$s" -gt 125 ] && s=125
	/bin/debugexit $((s + 1)) 2>/dev/null
	poweroff -f
	sleep 10
}
fail() {
	echo "TESTHOST-ERROR $*"
	/bin/debugexit 127 2>/dev/null
	poweroff -f
	sleep 10
}

for m in irqbypass kvm kvm-amd; do
	insmod /lib/modules/$m.ko || fail "insmod $m.ko failed"
done
# The TAP driver (/dev/net/tun, made by devtmpfs), for tests with a network.
insmod /lib/modules/tun.ko || echo "TESTHOST-WARNING insmod tun.ko failed"
if [ ! -c /dev/kvm ]; then
	[ -r /sys/class/misc/kvm/dev ] || fail "kvm_amd loaded but no /sys/class/misc/kvm (no SVM?)"
	IFS=: read -r major minor </sys/class/misc/kvm/dev
	mknod /dev/kvm c "$major" "$minor" || fail "mknod /dev/kvm failed"
fi
[ -c /dev/kvm ] || fail "no /dev/kvm"
say "TESTHOST-KVM-READY uptime=$(cut -d' ' -f1 /proc/uptime)"

cd /payload || fail "no /payload"
sh ./run.sh
rc=$?
say "TESTHOST-PAYLOAD-EXIT $rc"
leave $rc
EOF
	chmod 755 "$1"
}

th_debugexit() {
	local out="$TH_OUT/debugexit" src="$TH_SRC_DIR/debugexit.c"
	if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
		command -v gcc >/dev/null || th_need_pkgs gcc
		gcc -static -nostdlib -ffreestanding -fno-stack-protector -fno-pie -no-pie \
			-O2 -Wall -Wextra -Werror -s -o "$out.$$" "$src" ||
			th_die "cannot build $out"
		mv -f "$out.$$" "$out"
	fi
}

# th_prepare: kernel, tools and the cached base initramfs (busybox, modules,
# /init). Sets TH_BASE.
th_prepare() {
	local key stage m a
	command -v qemu-system-x86_64 >/dev/null &&
		[ -x /bin/busybox ] && command -v cpio >/dev/null ||
		th_need_pkgs qemu-system-x86 busybox-static cpio kmod
	busybox ls >/dev/null 2>&1 || th_die "/bin/busybox does not run"
	th_kernel
	th_debugexit
	stage="$TH_OUT/base.stage.$$"
	rm -rf "$stage"
	mkdir -p "$stage"/{bin,sbin,lib/modules,proc,sys,dev,tmp,payload}
	th_write_init "$stage/init"
	key=$( (cat "$TH_KDIR/package" "$stage/init"; echo "$TH_MODULES"
		sha256sum /bin/busybox "$TH_OUT/debugexit") |
		sha256sum | cut -c1-16)
	TH_BASE="$TH_OUT/base-$key.cpio"
	if [ -s "$TH_BASE" ]; then
		rm -rf "$stage"
		return 0
	fi
	th_log "building the test-host base initramfs"
	cp /bin/busybox "$stage/bin/busybox"
	for a in $(busybox --list); do
		[ "$a" = busybox ] || ln -s busybox "$stage/bin/$a"
	done
	cp "$TH_OUT/debugexit" "$stage/bin/debugexit"
	for m in $TH_MODULES; do
		cp "$TH_KDIR/${m##*/}.ko" "$stage/lib/modules/" || th_die "missing ${m##*/}.ko in $TH_KDIR"
	done
	# Uncompressed: under TCG, unpacking gzip costs more than copying.
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --quiet) >"$TH_BASE.$$" ||
		th_die "cpio failed for the base initramfs"
	mv -f "$TH_BASE.$$" "$TH_BASE"
	rm -rf "$stage"
	# Old base images of other keys are stale.
	for a in "$TH_OUT"/base-*.cpio; do
		[ "$a" = "$TH_BASE" ] || rm -f "$a"
	done
}

# th_initramfs OUT PAYLOAD.sh [FILE[:NAME]]...: OUT = base + a payload cpio
# with /payload/run.sh and the files. Needs th_prepare first.
th_initramfs() {
	local out="$1" script="$2" stage spec src name
	shift 2
	[ -r "$script" ] || th_die "payload script $script not readable"
	stage="$out.stage"
	rm -rf "$stage"
	mkdir -p "$stage/payload"
	cp "$script" "$stage/payload/run.sh"
	chmod 755 "$stage/payload/run.sh"
	for spec in "$@"; do
		src="${spec%%:*}"
		name="${spec#*:}"
		[ "$name" = "$spec" ] && name="$(basename "$src")"
		[ -r "$src" ] || th_die "payload file $src not readable"
		# NAME may be in a subdirectory of /payload (lib/libfoo.so).
		case "$name" in */*) mkdir -p "$stage/payload/${name%/*}" ;; esac
		# Symlinks, dereferenced by cpio -L: no copy of large kernels.
		ln -sfn "$(realpath "$src")" "$stage/payload/$name"
	done
	cp "$TH_BASE" "$out.tmp"
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -L -R 0:0 --quiet) >>"$out.tmp" ||
		th_die "cpio failed for the payload"
	mv -f "$out.tmp" "$out"
	rm -rf "$stage"
}

# th_run INITRAMFS TIMEOUT LOG [interactive [APPEND_EXTRA]]: boot the test host.
# Non-interactive: console to LOG (and stdout when TH_VERBOSE=1), stdin
# /dev/null. Interactive: the terminal is the test host's ttyS0.
# Returns QEMU's status (124 on timeout); see th_decode_status.
th_run() {
	local initrd="$1" tmo="$2" log="$3" mode="${4:-}" extra="${5:-}" rc tty='' errexit=''
	# qboot (from qemu-system-data) boots as well as SeaBIOS and, unlike
	# SeaBIOS's serial console, sends no terminal-reset sequences (ESC c,
	# clear screen) to the user's terminal.
	local bios=()
	[ ! -r /usr/share/qemu/qboot.rom ] || bios=(-bios /usr/share/qemu/qboot.rom)
	# shellcheck disable=SC2054 # the commas are QEMU's
	local cmd=(qemu-system-x86_64 -M q35 -accel tcg -cpu EPYC,+svm,+npt
		-m 2048 -smp "$TH_SMP" -nographic -no-reboot -nic none
		"${bios[@]}"
		-device isa-debug-exit,iobase=0xf4,iosize=0x01
		-kernel "$TH_VMLINUZ" -initrd "$initrd"
		-append "$TH_APPEND${extra:+ $extra}")
	[[ $- == *e* ]] && errexit=1
	set +e
	if [ "$mode" = interactive ]; then
		[ -t 0 ] && tty=$(stty -g 2>/dev/null)
		timeout --foreground -k 10 "$tmo" "${cmd[@]}" 2> >(th_filter >&2)
		rc=$?
		[ -n "$tty" ] && stty "$tty" 2>/dev/null
	elif [ "${TH_VERBOSE:-0}" = 1 ]; then
		timeout -k 10 "$tmo" "${cmd[@]}" </dev/null 2>&1 | th_filter | tee "$log"
		rc=${PIPESTATUS[0]}
	else
		timeout -k 10 "$tmo" "${cmd[@]}" </dev/null 2>&1 | th_filter >"$log"
		rc=${PIPESTATUS[0]}
	fi
	[ -n "$errexit" ] && set -e
	return "$rc"
}

# th_decode_status QEMU_STATUS: print the payload's exit status, or one of
# "timeout", "kvm-setup", "qemu-error:N" (poweroff without debugexit is N=0).
th_decode_status() {
	local q=$1
	if [ "$q" = 124 ] || [ "$q" = 137 ]; then
		echo timeout
	elif [ "$q" = 255 ]; then
		echo kvm-setup
	elif [ "$q" -ge 3 ] && [ $((q % 2)) = 1 ]; then
		echo $(((q - 3) / 2))
	else
		echo "qemu-error:$q"
	fi
}

# th_explain STATUS (from th_decode_status, not a number): one line of text.
th_explain() {
	case "$1" in
	timeout) echo "the test host timed out" ;;
	kvm-setup) echo "the test host could not set up KVM" ;;
	qemu-error:0) echo "the test host powered off without reporting a status" ;;
	qemu-error:*) echo "QEMU failed (status ${1#qemu-error:})" ;;
	*) echo "the test host ended with status $1" ;;
	esac
}

th_main() {
	set -euo pipefail
	local build=build name=run tmo=300 log='' interactive='' prepare='' s q=0
	while [ $# -gt 0 ]; do
		case "$1" in
		--build) build="${2:?--build needs a directory}"; shift 2 ;;
		--name) name="${2:?--name needs a name}"; shift 2 ;;
		--timeout) tmo="${2:?--timeout needs seconds}"; shift 2 ;;
		--log) log="${2:?--log needs a file}"; shift 2 ;;
		--interactive) interactive=interactive; shift ;;
		--prepare) prepare=1; shift ;;
		-h | --help) sed -n '/^# The nested/,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
		-*) th_die "unknown option $1 (see --help)" ;;
		*) break ;;
		esac
	done
	[[ "$tmo" =~ ^[0-9]+$ ]] && [ "$tmo" -gt 0 ] || th_die "--timeout must be a positive number of seconds"
	[[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || th_die "--name must be a plain name"
	th_init "$build"
	th_prepare
	[ -n "$prepare" ] && { echo "$TH_VMLINUZ"; echo "$TH_BASE"; exit 0; }
	[ $# -ge 1 ] || th_die "usage: testhost.sh [options] PAYLOAD.sh [FILE[:NAME]]..."
	mkdir -p "$TH_OUT/$name"
	th_initramfs "$TH_OUT/$name/initramfs.cpio" "$@"
	[ -n "$log" ] || log="$TH_OUT/$name/console.log"
	if [ -n "$interactive" ]; then
		th_run "$TH_OUT/$name/initramfs.cpio" "$tmo" "$log" interactive testhost.quiet || q=$?
	else
		TH_VERBOSE=1 th_run "$TH_OUT/$name/initramfs.cpio" "$tmo" "$log" || q=$?
	fi
	s=$(th_decode_status "$q")
	case "$s" in
	timeout) echo "testhost: the test host timed out after $tmo s" >&2; exit 124 ;;
	kvm-setup) echo "testhost: the test host could not set up KVM" >&2; exit 126 ;;
	qemu-error:*) th_die "$(th_explain "$s")" ;;
	*) exit "$s" ;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	th_main "$@"
fi
