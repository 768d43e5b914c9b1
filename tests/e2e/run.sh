#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/e2e/run.sh BUILD_DIR: end-to-end tests of ember with a real Linux
# guest, in ONE boot of the nested test host (tests/nested/testhost.sh).
# Inside the test host, BUILD_DIR/ember boots BUILD_DIR/guest/{vmlinux,
# bzImage, initrd.cpio.gz, rootfs.ext4}:
#   vmlinux-1vcpu ... bzImage-2vcpus: initrd, to EMBER-GUEST-READY and back
#     out (exit 0), with 1 and 2 vCPUs;
#   disk-write, disk-read: rootfs.ext4 (a copy in the test host's tmpfs) as
#     the root drive, no initrd; the first boot writes a random token to
#     /persist.txt, the second reads it back;
#   disk-ro: a second drive given read-only: the guest sees ro=1 and the id
#     as serial, reads the payload's random data back, cannot write;
#   net: virtio-net on a TAP of the test host (link-local 169.254.100.0/24):
#     the test host pings the guest, then 64 MiB go over TCP (busybox nc) in
#     each direction, checksums compared; transfer times are printed, never
#     asserted.
#   api-getting-started: Firecracker's getting-started sequence with curl
#     --unix-socket (tests/e2e/api-getting-started.sh --attach): PUT /logger,
#     /boot-source (boot_args replace the command line), /drives/rootfs,
#     /network-interfaces/eth0 (the TAP), /machine-config (2 vCPUs, 256 MiB),
#     /actions InstanceStart, each 204; GET / Running; the guest (root on
#     the ext4 copy) shows the command line, CPUs, memory and MAC asked for;
#     the test host pings it, 1 MiB goes each way; the guest reboots, ember
#     exits 0 and removes its socket;
#   config-file: the same VM from Firecracker's JSON with --no-api
#     --config-file;
#   mmds: Firecracker's config file with mmds-config V2 on eth0 (a TAP) and
#     --metadata: the guest (ember.test=mmds, initramfs) asks the MMDS over
#     busybox nc and wget: no token, a token, values, the listing, JSON,
#     a bad token, a bad TTL, POST, two requests on one connection, a
#     request with a body (refused at once), one over 2500 bytes (reset,
#     the MMDS serves on), a 3000-byte value over several segments, and a
#     ping nobody answers; each answer must be Firecracker's (check_mmds).
#   mmds-v1: the same with V1: GETs without a token or with a bad one.
#   stock-kernel: Debian's cloud kernel (linux-image-cloud-amd64, the test
#     host's own: no MP table support, finds its machine through ACPI) with
#     the initramfs and 2 vCPUs: it must see both CPUs (MADT) and the ACPI
#     tables, and its `poweroff -f` must end ember with status 0 through the
#     FADT's sleep control register (ember logs "ACPI S5"); the serial
#     port's interrupts arrive.
#   stock-kernel-virtio: the same kernel, 2 vCPUs, with the root disk
#     (read-only) and a NIC on a TAP: its initramfs (ours, with the
#     kernel's virtio_mmio, virtio_blk and virtio_net modules appended)
#     loads them; they find the devices through the DSDT alone (the
#     kernel has no virtio_mmio.device= support): it mounts /dev/vda, pings
#     the test host 3 times over eth0 and powers off (status 0).
#   stock-kernel-reboot: the same kernel, told to reboot through ACPI
#     (/sys/kernel/reboot/type acpi, as reboot=a): its reboot -f ends ember
#     with status 0 through the FADT's reset register.
#   pause-resume: the same requests (no NIC) for the guest's shell, which
#     gets a loop printing a line every 150 ms typed on ember's console
#     input; PATCH /vm Paused: no line for 2 s; Resumed: lines again; then
#     SendCtrlAltDel: the guest restarts, ember exits 0.
#   snapshot: the same requests for the guest's shell (2 vCPUs, 256 MiB,
#     the root disk a copy, a NIC on tap0): a loop ticking in the
#     background, a file written, 32 MiB of its memory filled from the
#     seeded generator ember-fill (guest/fill.c; this run's seed, whose md5
#     this script computes beforehand), eth0 up; then, with a dd to the disk and
#     a ping flood from the test host in flight, PATCH /vm Paused, PUT
#     /snapshot/create, that ember killed; a new ember loads the snapshot
#     (resume_vm, network_overrides: the NIC on tap1, which replaced
#     tap0): the ticks go on from the next number at their pace and the
#     guest's uptime with them, the dd ends without an I/O error, the test
#     host pings the guest over tap1, the MMDS (V2 on that NIC, configured
#     before the boot) answers the guest with data put after the load, the
#     32 MiB have the md5 computed here, the
#     shell reads the file back and
#     writes another, SendCtrlAltDel ends it with status 0
#     (api-getting-started.sh's END=snapshot).
#   snapshot-clones: Debian's generic kernel (linux-image-amd64 of the test
#     host's version: ACPI and CONFIG_VMGENID; its vmlinuz and virtio
#     modules) from the initramfs with those modules appended,
#     ember.test=vmgenid:GUEST: the vmgenid driver binds ember's VM
#     generation ID device; eth0 on tap0 answers pings; once it has drawn
#     random numbers: paused for 60 s, snapshotted, that ember killed; 20 s
#     later `ember --clones 4` from the snapshot (128 MiB), consoles in
#     files, clone i's NIC on tap i (--net-override eth0=tap%d; the TAPs have the
#     same address and MAC): each clone's kernel says "crng reseeded due to
#     virtual machine fork", its numbers go on from the snapshot's with its
#     uptime moved by at most 1 s (plus the longest step before, or the
#     first after the load: the clones share 2 CPUs) across the
#     80 s, no "soft lockup" within 15 s, the 16 bytes of /dev/urandom each
#     draws after the reseed differ from every other clone's, and each
#     answers 3 pings the test host sends over its own TAP (ping -I tapI),
#     and each runs until the SIGTERM that ends them;
#     then one more load of the snapshot with the Uffd backend, served by
#     build/uffd-handler: the guest goes on and reseeds, on far fewer pages
#     than its memory (payload.sh's api_clones).
#   jailed-api: ember-jailer (cgroup v2, mounted by the payload) runs ember
#     as uid/gid 1000 in /srv/jailer/ember/e2e-jailed/root, with memory.max
#     256 MiB and pids.max 64; the getting-started requests go to the
#     default /run/firecracker.socket inside the jail and name the kernel
#     and the rootfs copy placed there; the guest's shell comes up; the test
#     host checks the running ember's ids, capability sets (all 0),
#     no_new_privs, root and cgroup; SendCtrlAltDel ends it (exit 0).
#   jailed-memory-limit: the same jail with memory.max 64 MiB and a config
#     file asking for 128 MiB: ember refuses to boot with one line naming
#     both, exit status 2.
# Prints `ok NAME` or `FAIL NAME: why` per case, timings, and last `N passed,
# N failed`. Exits non-zero on any failure, or if the test host itself failed
# or timed out.
#
# Environment: E2E_CASE_TIMEOUT (seconds per case inside the test host,
# default 60), E2E_NET_TIMEOUT (the same for the net case, default 240),
# E2E_RETRIES (how many more times a case may run, in a new test host, when
# a test host died before the case ended; 0 to 6, default 4), E2E_CASES
# (space-separated names, to run a subset; disk-read brings disk-write; an
# unknown name is refused), TH_VERBOSE=1 (stream the test host's console).

set -euo pipefail
# Byte-wise text tools: a guest's console may print anything.
export LC_ALL=C
t_start=$(date +%s%N)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:-build}"
case_tmo="${E2E_CASE_TIMEOUT:-60}"
net_tmo="${E2E_NET_TIMEOUT:-240}"
for v in "$case_tmo" "$net_tmo"; do
	[[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -gt 0 ] ||
		{ echo "e2e: E2E_CASE_TIMEOUT and E2E_NET_TIMEOUT must be positive numbers of seconds" >&2; exit 1; }
done
[[ "${E2E_RETRIES:-4}" =~ ^[0-6]$ ]] || { echo "e2e: E2E_RETRIES must be 0 to 6" >&2; exit 1; }

# shellcheck source=../nested/testhost.sh
. "$here/../nested/testhost.sh"

ember="$build/ember"
jailer="$build/ember-jailer"
uffd_handler="$build/uffd-handler"
vmlinux="$build/guest/vmlinux"
bzimage="$build/guest/bzImage"
initrd="$build/guest/initrd.cpio.gz"
rootfs="$build/guest/rootfs.ext4"
for f in "$ember" "$jailer" "$uffd_handler" "$vmlinux" "$bzimage" "$initrd" "$rootfs"; do
	[ -r "$f" ] || { echo "e2e: $f is missing (run make $build/ember $build/ember-jailer $build/uffd-handler guest)" >&2; exit 1; }
done
for f in "$ember" "$jailer" "$uffd_handler"; do
	if command -v readelf >/dev/null &&
		readelf -l "$f" 2>/dev/null | grep -q 'program interpreter'; then
		echo "e2e: $f is dynamically linked; the test host needs a static binary" >&2
		exit 1
	fi
done

# Link-local addresses only (169.254.0.0/16): the TAP lives inside the test
# host, which has no network at all.
net_host=169.254.100.1
net_guest=169.254.100.2
net_mib=64
# The API and config-file cases' guests: a ping and 1 MiB each way.
api_mib=1
data_kib=4096
token=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
# The snapshot case's guest fills 32 MiB from the seeded generator
# ember-fill (guest/fill.c) with this run's token as the seed: their md5.
fill_sum=$("$build/guest/ember-fill" "0x$token" 32 | md5sum | cut -d' ' -f1)
[[ "$fill_sum" =~ ^[0-9a-f]{32}$ ]] || { echo "e2e: $build/guest/ember-fill failed (run make guest)" >&2; exit 1; }
disk_args="--kernel ./vmlinux --drive path=/tmp/root.img,root"
# The jailed cases: ember-jailer in the test host (cgroup v2, where the
# memory controller is), ember as uid/gid 1000 in /srv/jailer/ember/ID/root
# with the guest's files (payload.sh's jail_setup).
jail_args="--exec-file /payload/ember --uid 1000 --gid 1000 --cgroup-version 2"

# NAME TIMEOUT SETUP PEER EXPECT ARGS...
#   TIMEOUT: seconds for ember inside the test host, `-` for E2E_CASE_TIMEOUT
#   SETUP, PEER: hooks of payload.sh (FUNCTION[,ARG]...) or `-`
#   EXPECT: a line the guest must print (`_` for spaces), or `-`; cases with
#   more to check have a check_NAME function below.
all_cases=(
	"vmlinux-1vcpu - - - - --kernel ./vmlinux --initrd ./initrd.cpio.gz --vcpus 1 --cmdline ember.test=reboot"
	"vmlinux-2vcpus - - - EMBER-CPUS_2 --kernel ./vmlinux --initrd ./initrd.cpio.gz --vcpus 2 --pvh --cmdline ember.test=cpus"
	"bzImage-1vcpu - - - - --kernel ./bzImage --initrd ./initrd.cpio.gz --vcpus 1 --cmdline ember.test=reboot"
	"bzImage-2vcpus - - - EMBER-CPUS_2 --kernel ./bzImage --initrd ./initrd.cpio.gz --vcpus 2 --cmdline ember.test=cpus"
	"disk-write - disk_copy,/tmp/root.img - EMBER-WROTE_$token $disk_args --cmdline ember.test=write:$token"
	"disk-read - - - EMBER-READ_$token $disk_args --cmdline ember.test=read"
	"disk-ro - disk_ro_setup,/tmp/root-ro.img,/tmp/data.img,$data_kib - - --kernel ./vmlinux --drive path=/tmp/root-ro.img,root --drive path=/tmp/data.img,id=data,ro --cmdline ember.test=blkro:vdb"
	"net $net_tmo net_setup,tap0,$net_host/24,$net_mib net_peer,$net_guest - --kernel ./vmlinux --initrd ./initrd.cpio.gz --mem-mib $((net_mib * 2 + 128)) --net tap=tap0,mac=02:00:00:00:00:01 --cmdline ember.test=net:$net_guest/24,$net_host,$net_mib"
	"api-getting-started - vm_setup,tap0,$net_host/24,$api_mib api_net,tap0,$net_guest,$net_host,$api_mib - --api-sock /tmp/ember.sock"
	"config-file - config_setup,tap0,$net_host,$net_guest,$api_mib net_peer,$net_guest - --no-api --config-file /tmp/vm.json"
	"mmds - mmds_setup,tap0,$net_host/24,$net_guest/24 - EMBER-MMDS-DONE --no-api --config-file /tmp/vm-mmds.json --metadata /tmp/mmds.json"
	"mmds-v1 - mmds_setup,tap0,$net_host/24,$net_guest/24,V1 - EMBER-MMDS-DONE --no-api --config-file /tmp/vm-mmds.json --metadata /tmp/mmds.json"
	"stock-kernel - - - EMBER-CPUS_2 --kernel ./stock-vmlinuz --initrd ./initrd.cpio.gz --vcpus 2 --cmdline ember.test=cpus-poweroff"
	"stock-kernel-virtio - net_setup,tap0,$net_host/24,1 - EMBER-STOCK-PING_3/3 --kernel ./stock-vmlinuz --initrd ./stock-initrd.img --vcpus 2 --mem-mib 256 --drive path=./rootfs.ext4,root,ro --net tap=tap0,mac=02:00:00:00:00:05 --cmdline ember.test=stock:$net_guest/24,$net_host"
	"stock-kernel-reboot - - - EMBER-REBOOT-TYPE_acpi --kernel ./stock-vmlinuz --initrd ./initrd.cpio.gz --cmdline ember.test=reboot-acpi"
	"pause-resume - disk_copy,/tmp/root-api.img api_pause - --api-sock /tmp/ember.sock"
	"snapshot 150 snap_setup,/tmp/root-api.img,tap0,$net_host/24 api_snapshot,tap0,$net_guest,$net_host,tap1,0x$token,$fill_sum - --api-sock /tmp/ember.sock"
	"snapshot-clones 300 - api_clones,4,generic-vmlinuz,generic-initrd.img,$net_guest,$net_host - --api-sock /tmp/ember.sock"
	"jailed-api - jail_setup api_jail - jailer $jail_args --id e2e-jailed --cgroup memory.max=$((256 << 20)) --cgroup pids.max=64"
	"jailed-memory-limit - jail_setup - - jailer $jail_args --id e2e-jailed-mem --cgroup memory.max=$((64 << 20)) -- --no-api --config-file /vm.json"
)
# Cases that must end with another exit status than 0 (and need no
# EMBER-GUEST-READY).
# snapshot: the snapshotted ember is killed (SIGKILL, as a timeout would:
# the API client's steps tell a hang apart); the one that loads the
# snapshot is the API client's to check.
declare -A want_rc=([jailed-memory-limit]=2 [snapshot]=137 [snapshot-clones]=137)
# disk-read reads what disk-write wrote.
if [ -n "${E2E_CASES:-}" ] && [[ " $E2E_CASES " == *" disk-read "* ]]; then
	E2E_CASES="disk-write $E2E_CASES"
fi
declare -A expect=() tmo_of=() line_of=()
names=()
for c in "${all_cases[@]}"; do
	read -r name tmo setup peer exp args <<<"$c"
	if [ -n "${E2E_CASES:-}" ] && [[ " $E2E_CASES " != *" $name "* ]]; then
		continue
	fi
	[ "$tmo" != - ] || tmo=$case_tmo
	names+=("$name")
	expect[$name]="${exp//_/ }"
	tmo_of[$name]=$tmo
	line_of[$name]="$name $tmo $setup $peer $args"
done
for name in ${E2E_CASES:-}; do
	[ -n "${line_of[$name]:-}" ] ||
		{ echo "e2e: E2E_CASES: no case '$name' (cases:$(for c in "${all_cases[@]}"; do printf ' %s' "${c%% *}"; done))" >&2; exit 1; }
done
[ ${#names[@]} -gt 0 ] || { echo "e2e: E2E_CASES selects no case" >&2; exit 1; }
work="$build/nested/e2e"
mkdir -p "$work"
# One run at a time per build directory: a second one would rewrite the
# initramfs and cases files under the first (and two test hosts on two cores
# make both slow).
exec 9>"$work/.lock"
if ! flock -n 9; then
	echo "e2e: another e2e run is using $work; waiting for it (at most 20 min)" >&2
	flock -w 1200 9 || { echo "e2e: $work is still locked after 20 min" >&2; exit 1; }
fi
rm -f "$work"/console*.log "$work"/console*.log.txt "$work"/cases*.txt

# curl for the API cases, in the test host's payload: the binary, every
# library ldd lists for it (by the name the loader looks for) and the
# loader, all in /payload/curl/ (payload.sh runs it through the loader).
# Prints FILE:curl/NAME specs for th_initramfs.
e2e_curl_files() {
	local bin line name path
	command -v curl >/dev/null || th_need_pkgs curl
	bin=$(command -v curl) || th_die "no curl after installing it"
	echo "$bin:curl/curl"
	ldd "$bin" >"$work/curl.ldd" 2>&1 || th_die "ldd $bin failed: $(head -n 1 "$work/curl.ldd")"
	while read -r line; do
		case "$line" in
		*"not found"*) th_die "ldd $bin: $line" ;;
		linux-vdso* | "") continue ;;
		*" => "*) name=${line%% =>*}; path=${line#*=> }; path=${path%% (*} ;;
		/*) path=${line%% (*}; name=${path##*/} ;;
		*) th_die "ldd $bin: unexpected line: $line" ;;
		esac
		[ -r "$path" ] || th_die "ldd $bin: $path not readable"
		echo "$path:curl/$name"
	done <"$work/curl.ldd"
}

# stock_initrd OUT KDIR: the initramfs and, appended (the kernel reads both
# archives), /lib/modules/stock/ with TH_STOCK_GUEST_MODULES from KDIR (the
# test-host kernel's, or the generic kernel's).
stock_initrd() {
	local d="$work/stock-modules" m
	rm -rf "$d"
	mkdir -p "$d/lib/modules/stock"
	for m in $TH_STOCK_GUEST_MODULES; do
		cp "$2/${m##*/}.ko" "$d/lib/modules/stock/" || th_die "no ${m##*/}.ko in $2"
	done
	cp "$initrd" "$1"
	(cd "$d" && find lib | cpio -o -H newc --quiet | gzip -9) >>"$1" || th_die "cannot append the modules to $1"
}

# generic_kernel: GENERIC_KDIR, with the vmlinuz of linux-image-VERSION-amd64
# (the test host's cloud kernel's version; built in: ACPI, CONFIG_VMGENID)
# and its TH_STOCK_GUEST_MODULES, fetched once into the test-host cache.
generic_kernel() {
	local pkg ver gpkg tmp deb
	read -r pkg ver <"$TH_KDIR/package" || th_die "no $TH_KDIR/package"
	gpkg=${pkg/-cloud-amd64/-amd64}
	GENERIC_KDIR="$TH_CACHE/${gpkg}_${ver}"
	[ ! -s "$GENERIC_KDIR/vmlinuz" ] || ! th_have_modules "$GENERIC_KDIR" $TH_STOCK_GUEST_MODULES || return 0
	th_log "fetching $gpkg $ver (its vmlinuz and virtio modules)"
	tmp=$(mktemp -d "$TH_CACHE/.fetch.XXXXXX") || th_die "mktemp failed in $TH_CACHE"
	(
		trap 'rm -rf "$tmp"' EXIT
		deb=$(th_deb "$gpkg" "$ver" "$tmp") || exit 1
		th_unpack_kernel "$deb" "$tmp/out" $TH_STOCK_GUEST_MODULES
		rm -rf "$GENERIC_KDIR"
		mv -T "$tmp/out" "$GENERIC_KDIR" || th_die "cannot store $GENERIC_KDIR"
	) || exit 1
}

# A hung test host (seen under heavy load: its console falls silent, the
# payload's own timeouts never fire) would hold the run for all of its
# timeout. th_watch stops it once one step outlasts its own limit: the boot
# 90 s, a case its timeout + 60 s (setup, peer), anything else 60 s.
E2E_PROGRESS='^(E2E-PAYLOAD-START|E2E-CASE|E2E-DONE|E2E-PAYLOAD-END)'
step_limit() {
	case "$1" in
	"") echo 90 ;;
	"E2E-CASE "*) echo $((${tmo_of[${1#E2E-CASE }]:-$case_tmo} + 60)) ;;
	*) echo 60 ;;
	esac
}

# attempt N NAME...: one boot of the test host running these cases. Sets
# a_status[N] (th_decode_status, or timeout), a_why[N] (one line when the
# test host failed), a_log[N], a_ms[N]; log_of[NAME] for every case that
# finished (E2E-DONE), att_of[NAME] = N.
declare -A a_status=() a_why=() a_log=() a_ms=() log_of=() att_of=()
attempt() {
	local n=$1 name tmo=60 need_rootfs=0 need_curl=0 files log runpid q=0 t1 t2 crash
	shift
	local cases="$work/cases-$n.txt"
	log="$work/console-$n.log"
	: >"$cases"
	for name; do
		echo "${line_of[$name]}" >>"$cases"
		att_of[$name]=$n
		tmo=$((tmo + ${tmo_of[$name]} + 10)) # the test host's boot, plus every case at its limit
		[[ ! "${line_of[$name]}" =~ rootfs|\ (disk_|vm_setup|config_setup|jail_setup|snap_setup) ]] || need_rootfs=1
		[[ "${line_of[$name]}" != *" api_"* ]] || need_curl=1
	done
	files=("$ember:ember" "$jailer:ember-jailer" "$uffd_handler:uffd-handler" "$vmlinux:vmlinux" "$bzimage:bzImage"
		"$initrd:initrd.cpio.gz" "$cases:cases.txt")
	# Debian's cloud kernel, the test host's own, as a stock guest kernel
	if grep -q stock-vmlinuz "$cases"; then
		th_kernel
		files+=("$TH_VMLINUZ:stock-vmlinuz")
	fi
	# ... and its modules for ember's devices, in an archive appended to the initramfs
	if grep -q stock-initrd "$cases"; then
		stock_initrd "$work/stock-initrd.img" "$TH_KDIR"
		files+=("$work/stock-initrd.img:stock-initrd.img")
	fi
	# Debian's generic kernel of the same version (VMGenID), and the same
	# initramfs with its modules
	if grep -q generic-vmlinuz "$cases"; then
		th_kernel
		generic_kernel
		stock_initrd "$work/generic-initrd.img" "$GENERIC_KDIR"
		files+=("$GENERIC_KDIR/vmlinuz:generic-vmlinuz" "$work/generic-initrd.img:generic-initrd.img")
	fi
	[ "$need_rootfs" = 0 ] || files+=("$rootfs:rootfs.ext4")
	if [ "$need_curl" = 1 ]; then
		mapfile -t curl_files < <(e2e_curl_files)
		[ ${#curl_files[@]} -gt 2 ] || exit 1
		files+=("$here/api-getting-started.sh:api-getting-started.sh" "${curl_files[@]}")
	fi
	th_initramfs "$work/initramfs.cpio" "$here/payload.sh" "${files[@]}"
	t1=$(date +%s%N)
	: >"$log"
	th_run "$work/initramfs.cpio" "$tmo" "$log" &
	runpid=$!
	watchdog=$(th_watch "$runpid" "$log" 90 "$E2E_PROGRESS" step_limit)
	wait "$runpid" || q=$?
	t2=$(date +%s%N)
	a_ms[$n]=$(((t2 - t1) / 1000000))
	a_status[$n]=$(th_decode_status "$q")
	[ -z "$watchdog" ] || a_status[$n]=timeout
	tr -d '\r\000' <"$log" >"$log.txt"
	a_log[$n]="$log.txt"
	for name; do
		! grep -q "^E2E-DONE $name\$" "$log.txt" || log_of[$name]="$log.txt"
	done
	case "${a_status[$n]}" in
	0) a_why[$n]= ;;
	timeout) a_why[$n]=${watchdog:-"the test host timed out after $tmo s"} ;;
	kvm-setup) a_why[$n]="the test host could not set up KVM: $(grep -m1 TESTHOST-ERROR "$log.txt" || true)" ;;
	*) a_why[$n]=$(th_explain "${a_status[$n]}") ;;
	esac
	# The test host's own kernel may say why it died (oops, panic).
	crash=$(grep -v '^E2E-' "$log.txt" | grep -m1 -E "$TH_CRASH_RE" |
		sed 's/^\[[ 0-9.]*\] //' || true)
	[ -z "$crash" ] || [ -z "${a_why[$n]}" ] || [[ "${a_why[$n]}" == *"$crash"* ]] ||
		a_why[$n]+=": $crash"
}

th_init "$build"
th_prepare
# The test host under TCG sometimes dies by itself (a hang, or a kernel oops
# in kvm_amd's VM entry/exit path: QEMU-TCG's known failures,
# tests/nested/README.md). The cases it left without a result run again in a
# new test host, said so: a case runs at most E2E_RETRIES + 1 times, and at
# most 3 * (E2E_RETRIES + 1) test hosts boot. A case that finished is never
# run again (except disk-write, which disk-read needs): a guest's triple
# fault or hang fails its case.
retries="${E2E_RETRIES:-4}"
max_runs=$((retries + 1))
max_hosts=$((3 * max_runs))
declare -A runs_of=()
attempt 1 "${names[@]}"
n_att=1
while :; do
	last=$n_att
	for name in "${names[@]}"; do
		[ "${att_of[$name]:-}" = "$last" ] || continue
		! grep -q "^E2E-CASE $name\$" "${a_log[$last]}" || runs_of[$name]=$((${runs_of[$name]:-0} + 1))
	done
	if [ "${a_status[$last]}" = 0 ] || [ "${a_status[$last]}" = kvm-setup ]; then
		break
	fi
	again=() spent=()
	for name in "${names[@]}"; do
		if [ -z "${log_of[$name]:-}" ] ||
			{ [ "$name" = disk-write ] && [ -n "${line_of[disk-read]:-}" ] && [ -z "${log_of[disk-read]:-}" ]; }; then
			if [ "${runs_of[$name]:-0}" -ge "$max_runs" ]; then
				spent+=("$name")
			else
				again+=("$name")
			fi
		fi
	done
	[ ${#spent[@]} = 0 ] || echo "e2e: ${spent[*]}: ran $max_runs times, not again"
	[ ${#again[@]} -gt 0 ] || break
	if [ "$n_att" -ge "$max_hosts" ]; then
		echo "e2e: $n_att test hosts booted; ${again[*]} not run again"
		break
	fi
	if [ "${a_status[$last]}" != 0 ]; then
		echo "e2e: the test host failed (${a_why[$last]}); running ${again[*]} in a new test host"
	else
		echo "e2e: note: running ${again[*]} in a new test host"
	fi
	n_att=$((n_att + 1))
	attempt "$n_att" "${again[@]}"
done

# ts stamps "SECS SS.MICROS" -> milliseconds since the epoch.
to_ms() {
	local s=$1 f=${2#*.}
	f=${f:0:3}
	echo $((s * 1000 + 10#$f))
}

# Checks beyond EXPECT: check_NAME (with `_` for `-`) reads $text (the guest's console) and
# $host (the payload's hook output), sets $why on failure and may add to $info.
# field WORD TEXT: the words after the first line that starts with WORD.
field() { sed -n "s/^$1 //p" <<<"$2" | head -n 1; }

# ioapic_check N: the guest's kernel found ember's IOAPIC with N pins (GSIs
# 0..N-1: 6, and one more per virtio-mmio slot) and no 8259 PIC.
ioapic_check() {
	if ! grep -Eq "IOAPIC\[0\]: apic_id [0-9]+, version 17, address 0xfec00000, GSI 0-$(($1 - 1))([^0-9]|\$)" <<<"$text"; then
		why="the kernel did not find a $1-pin IOAPIC: $(grep -m1 -o 'IOAPIC\[0\]:.*' <<<"$text" || echo 'no IOAPIC line')"
	elif ! grep -q 'preallocated irqs: 0' <<<"$text"; then
		# (a kernel finds the PIC missing by probing, or assumes it with ACPI's hardware-reduced mode)
		why="the kernel reserved legacy IRQs (it found an 8259 PIC): $(grep -m1 -o 'NR_IRQS:.*' <<<"$text" || echo 'no NR_IRQS line')"
	fi
}

# Our vmlinux has Xen's PVH note: entered at its 64-bit entry by default, at
# the PVH entry with --pvh (vmlinux-2vcpus). Its IOAPIC from the MP table.
check_vmlinux_1vcpu() {
	if grep -q 'kernel ./vmlinux: 64-bit entry at 0x' <<<"$text" && ! grep -q ': PVH entry at 0x' <<<"$text"; then
		ioapic_check 6
	else
		why="ember did not enter vmlinux at its 64-bit entry"
	fi
}
check_vmlinux_2vcpus() {
	grep -q 'kernel ./vmlinux: PVH entry at 0x' <<<"$text" ||
		why="ember did not enter vmlinux at its PVH entry (--pvh)"
}

check_disk_ro() {
	local data sum size ro serial wr after
	data=$(field HOST-DATA "$host")
	read -r sum size <<<"$data"
	ro=$(field EMBER-BLK-RO "$text")
	serial=$(field EMBER-BLK-SERIAL "$text")
	wr=$(field EMBER-BLK-WRITE "$text")
	after=$(field EMBER-BLK-SUM-AFTER "$text")
	if [ -z "$sum" ]; then
		why="the payload did not make data.img"
	elif [ "$ro" != 1 ]; then
		why="/sys/block/vdb/ro is '$ro', expected 1"
	elif [ "$serial" != data ]; then
		why="/sys/block/vdb/serial is '$serial', expected 'data'"
	elif [ "$(field EMBER-BLK-SIZE "$text")" != "$size" ]; then
		why="the guest sees $(field EMBER-BLK-SIZE "$text") bytes, data.img has $size"
	elif [ "$(field EMBER-BLK-SUM "$text")" != "$sum" ]; then
		why="the guest read md5 '$(field EMBER-BLK-SUM "$text")', data.img has $sum"
	elif [[ -z "$wr" || "$wr" == "rc=0 "* ]]; then
		why="writing to the read-only /dev/vdb did not fail: '$wr'"
	elif [ "$after" != "$sum" ]; then
		why="/dev/vdb changed after the refused write: md5 '$after', expected $sum"
	else
		ioapic_check 8 # two drives: slots 0 and 1, GSIs 6 and 7
	fi
	info="write refused: ${wr#rc=* }"
}

# rate MIB MILLISECONDS: MIB MiB in that time, in MiB/s.
rate() {
	if [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -gt 0 ]; then
		echo "$(($1 * 1000 / $2)) MiB/s"
	else
		echo "?"
	fi
}

# net_checks MIB: the guest of ember.test=net:...,MIB and net_peer.
net_checks() {
	local mib=$1 h2g ping hsum hbytes rsum rbytes tsum tbytes tms gsum gbytes
	local want=$((mib * 1048576)) err
	err=$(field HOST-ERROR "$host")
	ping=$(field HOST-PING "$host")
	read -r hsum hbytes <<<"$(field HOST-H2G-DATA "$host")"
	read -r rsum rbytes <<<"$(field EMBER-NET-RX "$text")"
	read -r tsum tbytes tms _ <<<"$(field EMBER-NET-TX "$text")"
	read -r gsum gbytes _ <<<"$(field HOST-G2H "$host")"
	h2g=$(field HOST-H2G "$host")
	if [ -z "$(field EMBER-NET-UP "$text")" ]; then
		why="the guest did not configure eth0"
	elif [ "$ping" != 3/3 ]; then
		why="ping: '${ping:-no reply}' replies${err:+; $err}"
	elif [ "$hbytes" != "$want" ]; then
		why="the payload made ${hbytes:-no} bytes to send, expected $want${err:+; $err}"
	elif [ -z "$h2g" ] || [ "$rbytes" != "$want" ] || [ "$rsum" != "$hsum" ]; then
		why="host->guest: the guest got ${rbytes:-no} bytes, md5 ${rsum:-?}, expected $want, $hsum${err:+; $err}"
	elif [ "$tbytes" != "$want" ]; then
		why="the guest made ${tbytes:-no} bytes to send, expected $want"
		why+="$(field EMBER-NET-TX-ERROR "$text" | sed 's/^./: &/')"
	elif [ "$gbytes" != "$want" ] || [ "$gsum" != "$tsum" ]; then
		why="guest->host: the host got ${gbytes:-no} bytes, md5 ${gsum:-?}, expected $want, $tsum${err:+; $err}"
	elif [ -n "$err" ]; then
		why="$err"
	fi
	# Informative only: MiB/s over the sender's whole nc run.
	local hms=${h2g#* }
	hms=${hms%% *}
	info="ping $(field HOST-PING-RTT "$host" | sed 's/^round-trip //'); $mib MiB host->guest ${hms:-?} ms"
	info+=" ($(rate "$mib" "$hms")), guest->host ${tms:-?} ms ($(rate "$mib" "$tms"))"
}

check_net() { net_checks "$net_mib"; }

# api_checks: the output of api-getting-started.sh --attach (ok/FAIL lines
# and its summary) and the API socket's removal.
api_checks() {
	local f sum left
	f=$(grep -m1 '^FAIL ' <<<"$host" || true)
	sum=$(grep -m1 -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$host" || true)
	left=$(field HOST-API-SOCKET-LEFT "$host")
	if [ -n "$f" ]; then
		why="API client: ${f#FAIL }"
	elif [ -z "$sum" ]; then
		why="the API client did not finish: $(tail -n 1 <<<"$host")"
	elif [ -n "$left" ]; then
		why="$left"
	fi
	info="API: ${sum%%,*} steps"
}

# vm_checks: the VM of the API and config-file cases (payload.sh's VM_*):
# the guide's boot_args with ember's root= and virtio_mmio.device= entries
# after them, 2 vCPUs, 256 MiB, the root drive, the guide's MAC.
vm_checks() {
	local cmd mem mac
	cmd=$(grep -m1 'Kernel command line: ' <<<"$text" | sed 's/.*Kernel command line: //')
	mem=$(grep -m1 -o 'Memory: [0-9]*K/[0-9]*K available' <<<"$text" | sed 's/.*K\/\([0-9]*\)K.*/\1/')
	mac=$(field EMBER-NET-UP "$text" | cut -d' ' -f1)
	if [[ "$cmd" != "console=ttyS0 reboot=k panic=1 ember.test=net:"* ]]; then
		why="the guest's command line does not start with boot_args: '$cmd'"
	elif [[ "$cmd" != *"root=/dev/vda rw"* ]] || [[ "$cmd" != *"virtio_mmio.device="*"virtio_mmio.device="* ]]; then
		why="ember did not add root=/dev/vda rw and two virtio_mmio.device= entries: '$cmd'"
	elif ! grep -q 'smp: Brought up 1 node, 2 CPUs' <<<"$text"; then
		why="the guest did not bring up 2 CPUs ($(grep -m1 -o 'smp: Brought up.*' <<<"$text" || echo 'no smp line'))"
	elif ! [[ "$mem" =~ ^[0-9]+$ ]] || [ "$mem" -gt 262144 ] || [ "$mem" -lt 250000 ]; then
		why="the guest's memory is '${mem:-?}K', expected 256 MiB"
	elif [ "$mac" != 06:00:ac:10:00:02 ]; then
		why="eth0's MAC is '${mac:-?}', expected guest_mac 06:00:AC:10:00:02"
	elif ! grep -q 'EXT4-fs (vda): mounted' <<<"$text"; then
		why="no 'EXT4-fs (vda): mounted' on the console"
	fi
}

check_api_getting_started() {
	local ainfo
	api_checks
	[ -z "$why" ] || return 0
	ainfo="$info, $(sed -n 's/^ok guest-ready (\(.*\))$/ready \1/p' <<<"$host")"
	vm_checks
	[ -z "$why" ] || return 0
	net_checks "$api_mib"
	info="$ainfo; $info"
}

check_config_file() {
	vm_checks
	[ -z "$why" ] || return 0
	net_checks "$api_mib"
}

# The MMDS from the guest (guest/init's mmds_test), V2, against Firecracker's
# answers (src/vmm/src/mmds/mod.rs; test_mmds.py's test_mmds_v2_negative,
# test_larger_than_mss_payloads).
check_mmds() {
	local k want got big
	big=$(head -c 3000 /dev/zero | tr '\0' m)
	local -A exp=(
		[no-token]='HTTP/1.1 401  | No MMDS token provided. Use `X-metadata-token` or `X-aws-ec2-metadata-token` header to specify the session token.'
		[token-length]='48'
		[ami-id]='HTTP/1.1 200  | ami-12345678'
		[listing]='HTTP/1.0 200  | ami-id|big|local-hostname|placement/'
		[json]="HTTP/1.1 200  | {\"ami-id\":\"ami-12345678\",\"big\":\"$big\",\"local-hostname\":\"ember\",\"placement\":{\"zone\":\"z1\"}}"
		[bad-token]='HTTP/1.1 401  | MMDS token not valid.'
		[ttl-0]='HTTP/1.1 400  | Invalid time to live value provided for token: 0. Please provide a value between 1 and 21600.'
		[post]='HTTP/1.1 501  | Unsupported HTTP method.'
		[pipelined-count]='2'
		[content-length]='HTTP/1.1 400  | Invalid request.'
		[oversized]='0 bytes'
		[after-oversized]='HTTP/1.1 200  | ami-12345678'
		[big]="3000 $(field HOST-MMDS-BIG "$host" | cut -d' ' -f2)"
		[ping]='unanswered'
	)
	for k in no-token token-length ami-id listing json bad-token ttl-0 post pipelined-count \
		content-length oversized after-oversized big ping; do
		want=${exp[$k]}
		got=$(field "EMBER-MMDS $k" "$text")
		if [ "$got" != "$want" ]; then
			why="MMDS $k: got '${got:0:160}', expected '${want:0:160}'"
			return 0
		fi
	done
	if grep -q 'EMBER-MMDS-NC-ERROR' <<<"$text"; then
		why="$(grep -m1 'EMBER-MMDS-NC-ERROR' <<<"$text")"
		return 0
	fi
	info="14 answers as Firecracker's"
}

check_mmds_v1() {
	local k got
	for k in no-token bad-token; do
		got=$(field "EMBER-MMDS $k" "$text")
		if [ "$got" != 'HTTP/1.1 200  | ami-12345678' ]; then
			why="MMDS V1 $k: got '${got:0:160}', expected 'HTTP/1.1 200  | ami-12345678'"
			return 0
		fi
	done
	info="V1: no token needed"
}

check_stock_kernel() {
	ioapic_check 6
	if [ -n "$why" ]; then
		:
	elif ! grep -q 'ACPI: FACP 0x' <<<"$text" || ! grep -q 'ACPI: APIC 0x' <<<"$text"; then
		why="the kernel did not list ember's FACP and APIC tables"
	elif ! grep -q 'ACPI: Using ACPI (MADT) for SMP configuration' <<<"$text" &&
		! grep -q 'ACPI: LAPIC' <<<"$text"; then
		why="the kernel did not take its CPUs from the MADT"
	elif ! grep -q 'EMBER-ACPI .*DSDT' <<<"$text"; then
		why="no DSDT in /sys/firmware/acpi/tables: $(field EMBER-ACPI "$text")"
	elif ! grep -q 'the guest powered off (ACPI S5)' <<<"$text"; then
		why="ember did not see an ACPI power-off"
	elif ! sed -n 's/.*EMBER-IRQ *[0-9]*: *\(.*IO-APIC  *4-edge  *ttyS0\)/\1/p' <<<"$text" |
		awk '{ for (i = 1; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i } END { exit !(n > 0) }'; then
		# (on any CPU: which one takes it depends on the kernel's IRQ numbering)
		why="no serial interrupts on IOAPIC pin 4: $(grep 'EMBER-IRQ.*ttyS0' <<<"$text" || field EMBER-IRQ "$text")"
	fi
	info="$(grep -m1 -o 'ACPI: Using ACPI (MADT)[^|]*' <<<"$text" || true)"
}

check_stock_kernel_virtio() {
	if [ "$(field EMBER-CPUS "$text")" != 2 ]; then
		why="the guest saw $(field EMBER-CPUS "$text") CPUs, expected 2"
	elif [ "$(field EMBER-STOCK-DRIVERS "$text")" != 2 ]; then
		why="$(field EMBER-STOCK-DRIVERS "$text") LNRO0005 devices bound to virtio-mmio, expected 2"
	elif [[ "$(field EMBER-STOCK-ROOT "$text")" != "ember /mnt/sbin/init" ]]; then
		why="the root disk: '$(field EMBER-STOCK-ROOT "$text")'"
	elif ! grep -q 'the guest powered off (ACPI S5)' <<<"$text"; then
		why="ember did not see an ACPI power-off"
	fi
	info="2 CPUs, vda mounted, 3/3 pings, poweroff"
}

check_stock_kernel_reboot() {
	grep -q 'the guest reset itself (ACPI reset register)' <<<"$text" ||
		why="ember did not see the ACPI reset register written"
}

# api_details STEP...: api_checks, then each STEP's detail ("ok STEP (detail)") in info.
api_details() {
	local s
	api_checks
	for s; do
		info+=", $s: $(sed -n "s/^ok $s (\(.*\))\$/\1/p" <<<"$host")"
	done
}

check_pause_resume() {
	api_details no-output-while-paused output-after-resume ember-ended
}

check_snapshot() {
	api_details snapshot-files load-time ticks-after-restore mmds-after-load \
		memory-after-restore restored-ember-ended
}

check_snapshot_clones() {
	api_details vmgenid-bound ping-before clones-reseeded clones-go-on clones-clock \
		no-soft-lockup clones-differ clones-ping clones-ran uffd-load
}

# The jailed ember, seen from the test host while its guest ran: uid/gid
# 1000, no capability in any set, no_new_privs, its root the jail, in the
# cgroup /ember/ID with the limits asked for; the guest booted from the
# rootfs inside the jail.
check_jailed_api() {
	local caps
	api_checks
	[ -z "$why" ] || return 0
	caps=$(field HOST-JAILED-CAPS "$host")
	if [ "$(field HOST-JAILED-IDS "$host")" != "1000 1000" ]; then
		why="the jailed ember's uid/gid are '$(field HOST-JAILED-IDS "$host")', expected 1000 1000$(field HOST-ERROR "$host" | sed 's/^./; &/')"
	elif [ "$caps" != "CapInh:0000000000000000 CapPrm:0000000000000000 CapEff:0000000000000000 CapBnd:0000000000000000 CapAmb:0000000000000000 " ]; then
		why="the jailed ember's capabilities: $caps"
	elif [ "$(field HOST-JAILED-NNP "$host")" != 1 ]; then
		why="the jailed ember's NoNewPrivs is '$(field HOST-JAILED-NNP "$host")'"
	elif [ "$(field HOST-JAILED-ROOT "$host")" != "jail: dev ember firecracker.log rootfs.ext4 run vm.json vmlinux " ]; then
		why="the jailed ember's root is '$(field HOST-JAILED-ROOT "$host")'"
	elif [ "$(field HOST-JAILED-CGROUP "$host")" != "/ember/e2e-jailed $((256 << 20)) 64" ]; then
		why="the jailed ember's cgroup, memory.max, pids.max: '$(field HOST-JAILED-CGROUP "$host")'"
	elif ! grep -q 'EXT4-fs (vda): mounted' <<<"$text"; then
		why="no 'EXT4-fs (vda): mounted' on the console"
	fi
	info="uid/gid 1000, caps 0, no_new_privs, root and cgroup as asked"
}

# A memory.max below the guest's memory: one line from ember, exit status 2,
# the guest never started.
check_jailed_memory_limit() {
	local err
	err=$(grep -v '^E2E-EXIT' <<<"$text" || true)
	if [ "$(wc -l <<<"$err")" != 1 ] || [[ "$err" != "ember: "* ]]; then
		why="expected one 'ember: ' line, got: $(tr '\n' '|' <<<"$err")"
	elif [[ "$err" != *"128 MiB"* ]] || [[ "$err" != *"64 MiB"* ]] || [[ "$err" != *memory* ]]; then
		why="the error does not name the guest's 128 MiB and the 64 MiB memory limit: $err"
	fi
	info="$err"
}

passed=0
failed=0
for name in "${names[@]}"; do
	n=${att_of[$name]}
	log=${log_of[$name]:-${a_log[$n]}}
	host=$(sed -n "s/^E2E-HOST $name //p" "$log")
	info=
	out=$(sed -n "s/^E2E-OUT $name //p" "$log")
	start=$(awk -v n="$name" '$1 == "E2E-START" && $2 == n { print $3, $4; exit }' "$log")
	done_=$(grep -c "^E2E-DONE $name\$" "$log" || true)
	# Output lines are "SECS SS.MICROS TEXT".
	text=$(cut -d' ' -f3- <<<"$out")
	# (A guest's last line may lack its newline: E2E-EXIT then ends it.)
	rc=$(sed -n 's/.*E2E-EXIT \([0-9a-z-]*\)$/\1/p' <<<"$text" | tail -n 1)
	ready=$(grep -m1 'EMBER-GUEST-READY' <<<"$out" | cut -d' ' -f1,2 || true)
	last=$(grep -m1 'E2E-EXIT' <<<"$out" | cut -d' ' -f1,2 || true)
	why=
	if [ "$done_" = 0 ] && grep -q "^E2E-CASE $name\$" "$log"; then
		why="no result: the test host stopped during this case (${a_why[$n]})"
	elif [ "$done_" = 0 ]; then
		why="not run: the test host stopped before it (${a_why[$n]})"
	elif [ "$rc" = setup-failed ]; then
		why="the payload's setup failed: $(tail -n 1 <<<"$host")"
	elif [ "$rc" = 137 ] && [ "${want_rc[$name]:-}" != 137 ]; then
		why="ember timed out after ${tmo_of[$name]} s"
	elif [ "$rc" != "${want_rc[$name]:-0}" ]; then
		why="ember exited with status $rc${want_rc[$name]:+, expected ${want_rc[$name]}}"
	elif [ -z "${want_rc[$name]:-}" ] && [ -z "$ready" ]; then
		why="no EMBER-GUEST-READY"
	elif grep -q 'EMBER-GUEST-ERROR' <<<"$text"; then
		why="$(grep -m1 'EMBER-GUEST-ERROR' <<<"$text")"
	elif [ "${expect[$name]}" != - ] && ! grep -qE -- "${expect[$name]}([^0-9A-Za-z]|\$)" <<<"$text"; then
		why="no '${expect[$name]}' ($(grep -o 'EMBER-[A-Z]* [0-9a-z]*' <<<"$text" | tail -n 1 || true))"
	elif declare -F "check_${name//-/_}" >/dev/null; then
		"check_${name//-/_}"
	fi
	timing=
	if [ -n "$start" ]; then
		s_ms=$(to_ms $start)
		[ -n "$ready" ] && timing="ready $(($(to_ms $ready) - s_ms)) ms"
		[ -n "$last" ] && timing="${timing:+$timing, }exit $(($(to_ms $last) - s_ms)) ms"
	fi
	if [ -z "$why" ]; then
		passed=$((passed + 1))
		echo "ok $name${timing:+ ($timing)}${info:+; $info}"
	else
		failed=$((failed + 1))
		echo "FAIL $name: $why${timing:+ ($timing)}; last output:"
		{ grep -v '^E2E-EXIT' <<<"$text" || true; } | tail -n 12 | sed 's/^/    | /'
		[ -z "$host" ] || { echo "    test host side:"; tail -n 8 <<<"$host" | sed 's/^/    | /'; }
	fi
done

ready_up=$(sed -n 's/.*TESTHOST-KVM-READY uptime=\([0-9.]*\).*/\1/p' "${a_log[1]}" | head -n 1)
runs="${a_ms[1]} ms"
for ((n = 2; n <= n_att; n++)); do runs+=" + ${a_ms[$n]} ms (#$n)"; done
echo "e2e: test host ${TH_SMP} CPUs: kvm_amd ready at ${ready_up:-?} s uptime;" \
	"test host run $runs, e2e total $((($(date +%s%N) - t_start) / 1000000)) ms" \
	"(console log: ${a_log[$n_att]}${a_log[2]:+, first: ${a_log[1]}})"
host_ok=1
for n in $(seq 1 "$n_att"); do
	[ "${a_status[$n]}" != 0 ] || continue
	# A failed test host is forgiven only if the last one finished.
	if [ "$n" -lt "$n_att" ] && [ "${a_status[$n_att]}" = 0 ]; then
		echo "e2e: note: test host #$n failed (${a_why[$n]}), its unfinished cases were run again"
		continue
	fi
	host_ok=0
	echo "e2e: FAIL ${a_why[$n]}; its last output:"
	grep -v '^E2E-' "${a_log[$n]}" | tail -n 8 | sed 's/^/    | /'
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$host_ok" = 1 ]
