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
# th_run, th_stop, th_decode_status, th_explain, th_filter,
# TH_CRASH_RE. Set TH_VERBOSE=1 to stream the
# console while a non-interactive run is going on.
#
# Environment: EMBER_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/ember)
# holds the downloaded kernel; TH_SMP overrides the number of emulated CPUs;
# TH_KVM_AMD=P=V[,P=V...] loads kvm_amd with those parameters; unset, it is
# npt=0 (shadow paging, under which the guests' triple faults seen with the
# emulated nested paging have not been seen: tests/nested/README.md); empty,
# kvm_amd's own defaults (nested paging).
# TH_HOSTROOT=1 shares this machine's / with the test host (virtiofsd,
# read-only there): /init then makes /newroot, an overlay of it with a
# writable tmpfs, with its own /proc, /sys, /dev, /tmp, /run and cgroups (the
# same v1/v2 layout as this machine's), for a payload that chroots into it
# (tests/nested/level.sh).

TH_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TH_PKG_META=linux-image-cloud-amd64
# The KVM modules (loaded in this order; the test host fails without them)
# and the TAP driver (loaded too; tests with a TAP need it).
TH_KVM_MODULES="virt/lib/irqbypass arch/x86/kvm/kvm arch/x86/kvm/kvm-amd drivers/net/tun"
# What the host root needs (TH_HOSTROOT=1; loaded in this order): virtio-pci,
# virtiofs (the cloud kernel has no 9p) and overlayfs.
TH_HOSTROOT_MODULES="drivers/virtio/virtio_ring drivers/virtio/virtio
	drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev
	drivers/virtio/virtio_pci fs/fuse/fuse fs/fuse/virtiofs fs/overlayfs/overlay"
# What a stock guest of the same kernel needs for ember's devices (e2e's
# stock-kernel-virtio; loaded in this order): virtio-mmio, -blk, -net.
TH_STOCK_GUEST_MODULES="drivers/virtio/virtio_ring drivers/virtio/virtio
	drivers/virtio/virtio_mmio drivers/block/virtio_blk net/core/failover
	drivers/net/net_failover drivers/net/virtio_net"
TH_MODULES="$TH_KVM_MODULES $TH_HOSTROOT_MODULES $TH_STOCK_GUEST_MODULES"
# QEMU's virtiofsd (package qemu-system-common), for TH_HOSTROOT=1.
TH_VIRTIOFSD=/usr/lib/qemu/virtiofsd
# Two emulated CPUs: QEMU runs them on two host threads (MTTCG), and a guest
# with 2 vCPUs inside needs them. Measured: see tests/nested/README.md.
TH_SMP="${TH_SMP:-2}"
# Its RAM (MiB).
TH_MEM_MIB=2048
TH_APPEND="console=ttyS0 panic=-1 quiet"
# Warnings QEMU prints for EPYC features TCG does not emulate: harmless.
# (osvw, topoext, nrip-save, xsavec, rdseed, sha-ni, ... depending on QEMU).
TH_NOISE="warning: (TCG|host) doesn't support requested feature: "

# The test host's own kernel in trouble (a hang it noticed, an oops, a
# panic): a kernel log line, with its time stamp.
# shellcheck disable=SC2034 # used by the scripts that source this one
TH_CRASH_RE='\[ *[0-9]+\.[0-9]+\] .*(BUG:|Oops|general protection|Kernel panic)'

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
	# kvm_amd's parameters for every th_run (TH_KVM_AMD, default npt=0),
	# checked once here: a bad value fails before any test host boots.
	TH_KVM_AMD_PARAMS=${TH_KVM_AMD-npt=0}
	[ -z "$TH_KVM_AMD_PARAMS" ] ||
		[[ "$TH_KVM_AMD_PARAMS" =~ ^[a-z_]+=[0-9A-Za-z_]+(,[a-z_]+=[0-9A-Za-z_]+)*$ ]] ||
		th_die "TH_KVM_AMD must be P=V[,P=V...], not '$TH_KVM_AMD_PARAMS'"
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

# th_have_modules DIR [MODULE...]: every MODULE (default: TH_MODULES) is in
# DIR as NAME.ko.
th_have_modules() {
	local d=$1 m
	shift
	[ $# -gt 0 ] || set -- $TH_MODULES
	for m; do
		[ -s "$d/${m##*/}.ko" ] || return 1
	done
}

# th_deb PKG VER DIR: apt-get download PKG=VER into DIR; prints the .deb's
# path. On failure: apt's last line and th_die (in a command substitution,
# the caller's `|| exit 1` ends it).
th_deb() {
	local deb
	(cd "$3" && apt-get download "$1=$2" >download.log 2>&1) || {
		sed -n '$p' "$3/download.log" >&2
		th_die "apt-get download $1=$2 failed"
	}
	deb=$(ls "$3"/*.deb 2>/dev/null | head -n 1) || true
	[ -n "$deb" ] || th_die "apt-get download $1=$2 produced no .deb"
	echo "$deb"
}

# th_unpack_kernel DEB OUT MODULE...: DEB's boot/vmlinuz-* as OUT/vmlinuz
# and each MODULE (a path under kernel/, without .ko) as OUT/NAME.ko,
# decompressed. th_die when one is missing.
th_unpack_kernel() {
	local deb=$1 out=$2 x=$2.x f m
	shift 2
	rm -rf "$x"
	dpkg-deb -x "$deb" "$x" || th_die "dpkg-deb -x $deb failed"
	mkdir -p "$out"
	f=$(ls "$x"/boot/vmlinuz-* 2>/dev/null | head -n 1) || true
	[ -n "$f" ] || th_die "${deb##*/} has no boot/vmlinuz-*"
	cp "$f" "$out/vmlinuz" || th_die "cannot copy $f"
	for m; do
		f=$(ls -d "$x"/lib/modules/*/kernel/"$m".ko* 2>/dev/null | head -n 1) || true
		[ -n "$f" ] || th_die "${deb##*/} has no module kernel/$m.ko"
		case "$f" in
		*.ko) cp "$f" "$out/" ;;
		*.ko.xz) xz -dc "$f" >"$out/$(basename "$f" .xz)" ;;
		*.ko.zst) zstd -qdc "$f" >"$out/$(basename "$f" .zst)" ;;
		*.ko.gz) gzip -dc "$f" >"$out/$(basename "$f" .gz)" ;;
		*) th_die "unknown module format: $f" ;;
		esac || th_die "cannot copy or decompress $f"
	done
	rm -rf "$x"
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
			deb=$(th_deb "$pkg" "$ver" "$tmp") || exit 1
			th_unpack_kernel "$deb" "$tmp/out" $TH_MODULES
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

# testhost.kvm_amd=P=V,P=V: kvm_amd's parameters (TH_KVM_AMD).
kvm_amd_params=$(sed -n 's/.*testhost\.kvm_amd=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' ')
for m in irqbypass kvm; do
	insmod /lib/modules/$m.ko || fail "insmod $m.ko failed"
done
# shellcheck disable=SC2086 # one word per parameter
insmod /lib/modules/kvm-amd.ko $kvm_amd_params || fail "insmod kvm-amd.ko $kvm_amd_params failed"
[ -z "$kvm_amd_params" ] || say "TESTHOST-KVM-AMD $(cd /sys/module/kvm_amd/parameters && grep -H . * | tr '\n' ' ')"
# The TAP driver (/dev/net/tun, made by devtmpfs), for tests with a network.
insmod /lib/modules/tun.ko || echo "TESTHOST-WARNING insmod tun.ko failed"
if [ ! -c /dev/kvm ]; then
	[ -r /sys/class/misc/kvm/dev ] || fail "kvm_amd loaded but no /sys/class/misc/kvm (no SVM?)"
	IFS=: read -r major minor </sys/class/misc/kvm/dev
	mknod /dev/kvm c "$major" "$minor" || fail "mknod /dev/kvm failed"
fi
[ -c /dev/kvm ] || fail "no /dev/kvm"
# One VM open for the test host's whole life: see tests/nested/kvmhold.c.
/bin/kvmhold || fail "kvmhold could not keep a VM open"
say "TESTHOST-KVM-READY uptime=$(cut -d' ' -f1 /proc/uptime)"

# testhost.hostroot=CGROUPS: the machine's / (virtiofs, read-only) under a
# tmpfs overlay at /newroot, with the test host's own proc, sys, dev, tmp,
# run, and cgroups laid out as CGROUPS says: "v2", or "hybrid:C1,C2,..."
# (v1 hierarchies of these controllers, `+` between two hierarchies, cgroup2
# at /sys/fs/cgroup/unified).
hostroot=$(sed -n 's/.*testhost\.hostroot=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$hostroot" ]; then
	# Kernel messages would break the payload's output lines.
	dmesg -n 1
	for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
		fuse virtiofs overlay; do
		insmod /lib/modules/$m.ko || fail "insmod $m.ko failed"
	done
	R=/newroot
	mkdir -p /host /ovl $R
	mount -t virtiofs -o ro hostroot /host || fail "cannot mount the host root (virtiofs)"
	mount -t tmpfs -o mode=755 tmpfs /ovl && mkdir -p /ovl/upper /ovl/work &&
		mount -t overlay overlay -o lowerdir=/host,upperdir=/ovl/upper,workdir=/ovl/work $R ||
		fail "cannot mount the overlay of the host root"
	mount -t proc proc $R/proc && mount -t sysfs sysfs $R/sys &&
		mount -t devtmpfs devtmpfs $R/dev && mkdir -p $R/dev/pts $R/dev/shm &&
		mount -t devpts devpts $R/dev/pts && mount -t tmpfs tmpfs $R/dev/shm &&
		mount -t tmpfs -o mode=1777 tmpfs $R/tmp && mount -t tmpfs -o mode=755 tmpfs $R/run ||
		fail "cannot mount proc, sys, dev, tmp, run in the host root"
	cg=$R/sys/fs/cgroup
	case "$hostroot" in
	v2) mount -t cgroup2 cgroup2 $cg || fail "cannot mount cgroup2" ;;
	hybrid:*)
		mount -t tmpfs -o mode=755 tmpfs $cg || fail "cannot mount $cg"
		for c in $(echo "${hostroot#hybrid:}" | tr '+' ' '); do
			mkdir -p $cg/$c && mount -t cgroup -o $c cgroup $cg/$c ||
				fail "cannot mount the cgroup v1 hierarchy $c"
		done
		mkdir -p $cg/unified && mount -t cgroup2 cgroup2 $cg/unified || fail "cannot mount cgroup2"
		;;
	*) fail "testhost.hostroot=$hostroot: want v2 or hybrid:CONTROLLERS" ;;
	esac
	say "TESTHOST-HOSTROOT-READY uptime=$(cut -d' ' -f1 /proc/uptime)"
fi

cd /payload || fail "no /payload"
sh ./run.sh
rc=$?
say "TESTHOST-PAYLOAD-EXIT $rc"
leave $rc
EOF
	chmod 755 "$1"
}

# th_helpers: build the test host's freestanding helpers (debugexit,
# kvmhold) from their sources next to this script.
th_helpers() {
	local h out src
	for h in debugexit kvmhold; do
		out="$TH_OUT/$h" src="$TH_SRC_DIR/$h.c"
		[ ! -x "$out" ] || [ "$src" -nt "$out" ] || [ "$TH_SRC_DIR/sys.h" -nt "$out" ] || continue
		command -v gcc >/dev/null || th_need_pkgs gcc
		gcc -static -nostdlib -ffreestanding -fno-stack-protector -fno-pie -no-pie \
			-O2 -Wall -Wextra -Werror -s -o "$out.$$" "$src" ||
			th_die "cannot build $out"
		mv -f "$out.$$" "$out"
	done
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
	th_helpers
	stage="$TH_OUT/base.stage.$$"
	rm -rf "$stage"
	mkdir -p "$stage"/{bin,sbin,lib/modules,proc,sys,dev,tmp,payload}
	th_write_init "$stage/init"
	key=$( (cat "$TH_KDIR/package" "$stage/init"; echo "$TH_MODULES"
		sha256sum /bin/busybox "$TH_OUT/debugexit" "$TH_OUT/kvmhold") |
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
	cp "$TH_OUT/debugexit" "$TH_OUT/kvmhold" "$stage/bin/"
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

# th_cgroup_layout: this machine's cgroup layout for testhost.hostroot=:
# "v2" (cgroup2 at /sys/fs/cgroup), or "hybrid:" and its v1 hierarchies under
# /sys/fs/cgroup (`+` between them), e.g. hybrid:cpu,cpuacct+memory+pids.
th_cgroup_layout() {
	local mnt type opts h=() o c k
	if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
		echo v2
		return 0
	fi
	while read -r _ mnt type opts _; do
		[ "$type" = cgroup ] && [ "${mnt%/*}" = /sys/fs/cgroup ] || continue
		k=()
		for o in ${opts//,/ }; do
			for c in cpu cpuacct cpuset memory devices freezer blkio pids net_cls net_prio perf_event hugetlb rdma misc; do
				[ "$o" != "$c" ] || k+=("$c")
			done
		done
		[ ${#k[@]} = 0 ] || h+=("$(IFS=,; echo "${k[*]}")")
	done </proc/mounts
	(IFS=+; echo "hybrid:${h[*]}")
}

# th_virtiofsd SOCKET LOG: QEMU's virtiofsd serving / on SOCKET (the test
# host mounts it read-only); sets TH_VFSD_PID once the socket is there.
th_virtiofsd() {
	local sock="$1"
	[ -x "$TH_VIRTIOFSD" ] || th_need_pkgs qemu-system-common
	[ -x "$TH_VIRTIOFSD" ] || th_die "$TH_VIRTIOFSD is missing (package qemu-system-common)"
	rm -f "$sock"
	# sandbox=chroot: pivot_root cannot move /, the directory it serves.
	"$TH_VIRTIOFSD" --socket-path="$sock" -o source=/ -o cache=always \
		-o sandbox=chroot </dev/null >"$2" 2>&1 &
	TH_VFSD_PID=$!
	for _ in $(seq 100); do
		[ -S "$sock" ] && return 0
		kill -0 "$TH_VFSD_PID" 2>/dev/null || break
		sleep 0.05
	done
	th_die "virtiofsd did not start: $(tail -n 1 "$2")"
}

# th_run INITRAMFS TIMEOUT LOG [interactive [APPEND_EXTRA]]: boot the test host.
# Non-interactive: console to LOG (and stdout when TH_VERBOSE=1), stdin
# /dev/null. Interactive: the terminal is the test host's ttyS0.
# TH_HOSTROOT=1: this machine's / is shared with it (see the top).
# Returns QEMU's status (124 on timeout); see th_decode_status.
th_run() {
	local initrd="$1" tmo="$2" log="$3" mode="${4:-}" extra="${5:-}" rc tty='' errexit=''
	local share=() sock
	[ -z "${TH_KVM_AMD_PARAMS:-}" ] || extra="testhost.kvm_amd=$TH_KVM_AMD_PARAMS${extra:+ $extra}"
	TH_VFSD_PID=
	if [ "${TH_HOSTROOT:-0}" = 1 ]; then
		sock="$TH_OUT/virtiofsd-$$.sock"
		th_virtiofsd "$sock" "$TH_OUT/virtiofsd-$$.log"
		# vhost-user needs the guest's RAM in shared memory.
		# shellcheck disable=SC2054 # the commas are QEMU's
		share=(-object "memory-backend-memfd,id=mem,size=${TH_MEM_MIB}M,share=on" -numa node,memdev=mem
			-chardev "socket,id=hostroot,path=$sock"
			-device vhost-user-fs-pci,chardev=hostroot,tag=hostroot)
		extra="testhost.hostroot=$(th_cgroup_layout)${extra:+ $extra}"
	fi
	# qboot (from qemu-system-data) boots as well as SeaBIOS and, unlike
	# SeaBIOS's serial console, sends no terminal-reset sequences (ESC c,
	# clear screen) to the user's terminal.
	local bios=() mon=()
	[ ! -r /usr/share/qemu/qboot.rom ] || bios=(-bios /usr/share/qemu/qboot.rom)
	# TH_MONITOR=SOCKET: QEMU's monitor on that Unix socket, to look into a
	# test host that froze (info registers -a, info cpus; for debugging).
	[ -z "${TH_MONITOR:-}" ] || mon=(-monitor "unix:$TH_MONITOR,server=on,wait=off")
	# shellcheck disable=SC2054 # the commas are QEMU's
	local cmd=(qemu-system-x86_64 -M q35 -accel tcg -cpu EPYC,+svm,+npt
		-m "$TH_MEM_MIB" -smp "$TH_SMP" -nographic -no-reboot -nic none
		"${bios[@]}" "${mon[@]}"
		-device isa-debug-exit,iobase=0xf4,iosize=0x01
		"${share[@]}" -kernel "$TH_VMLINUZ" -initrd "$initrd"
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
	if [ -n "$TH_VFSD_PID" ]; then
		kill "$TH_VFSD_PID" 2>/dev/null
		wait "$TH_VFSD_PID" 2>/dev/null
		rm -f "$sock" "$TH_OUT/virtiofsd-$$.log"
	fi
	[ -n "$errexit" ] && set -e
	return "$rc"
}

# th_stop RUNPID: stop the test host that `th_run ... &` (RUNPID) started:
# signal its `timeout`, which passes the signal on to QEMU.
th_stop() {
	local p pid comm ppid
	for p in /proc/[0-9]*/stat; do
		read -r pid comm _ ppid _ <"$p" 2>/dev/null || continue
		[ "$ppid" != "$1" ] || [ "$comm" != "(timeout)" ] || kill "$pid" 2>/dev/null || true
	done
}

# th_watch PID LOG STALL [PROGRESS_RE [LIMIT_FN]]: watch the test host PID
# (th_run in the background) writing LOG and stop it (th_stop) when its own
# kernel fails (TH_CRASH_RE on a line that is not a payload's marker line,
# such as E2E-OUT) or when it makes no progress for STALL seconds. Progress
# is a new line matching PROGRESS_RE, or without one any new output;
# LIMIT_FN LINE, when given, prints the limit that holds after the progress
# line LINE instead of STALL. Prints one line saying why it stopped the
# test host, nothing when it did not. Used by tests/nested/level.sh,
# tests/e2e/run.sh and bench/run.sh: one watcher for every nested run.
th_watch() {
	local pid=$1 log=$2 stall=$3 re=${4:-} limit_fn=${5:-}
	local cur= mark size=-1 now since=$SECONDS limit=$3 crash
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		now=$(stat -c %s "$log" 2>/dev/null || echo 0)
		if [ "$now" != "$size" ]; then
			size=$now
			crash=$(tr -d '\r' <"$log" | grep -avE '^[A-Z][A-Z0-9]*-' |
				grep -aE -m1 "$TH_CRASH_RE" | sed 's/^\[[ 0-9.]*\] //') || true
			if [ -n "$crash" ]; then
				echo "the test host's kernel failed: $crash"
				th_stop "$pid"
				return
			fi
		fi
		if [ -n "$re" ]; then
			mark=$(grep -aE "$re" "$log" 2>/dev/null | tail -n 1 | tr -d '\r') || true
		else
			mark=$now
		fi
		if [ "$mark" != "$cur" ]; then
			cur=$mark since=$SECONDS limit=$stall
			[ -z "$limit_fn" ] || limit=$("$limit_fn" "$cur")
		elif [ $((SECONDS - since)) -gt "$limit" ]; then
			if [ -n "$re" ]; then
				echo "the test host made no progress for $limit s after '${cur:-its start}'"
			else
				echo "the test host was silent for $limit s"
			fi
			th_stop "$pid"
			return
		fi
	done
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
