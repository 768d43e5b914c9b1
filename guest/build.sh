#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# guest/build.sh OUTDIR: the ember guest image.
#
#   OUTDIR/vmlinux          guest kernel, ELF with a PVH entry (guest/kernel.sh)
#   OUTDIR/bzImage          the same kernel, bzImage format
#   OUTDIR/initrd.cpio.gz   busybox initramfs, /init = guest/init
#   OUTDIR/rootfs.ext4      the same tree as a 64 MiB ext4 disk image
#                           (boot with root=/dev/vda; /sbin/init = guest/init)
#   OUTDIR/ember-fill       guest/fill.c, static; in both as /bin/ember-fill
#
# Needs no root: the initramfs is packed by the kernel's gen_init_cpio (which
# writes /dev/console from a list), the disk by `mke2fs -d`.
# BUSYBOX=path overrides the static busybox (default /bin/busybox).
set -euo pipefail

die() { echo "guest: $*" >&2; exit 1; }

if [ $# -ne 1 ] || [ -z "$1" ]; then die "usage: $0 OUTDIR"; fi
out=$(realpath -m -- "$1")
here=$(cd "$(dirname "$0")" && pwd)
busybox=${BUSYBOX:-/bin/busybox}
init=$here/init

"$here/kernel.sh" "$out"

# One image build at a time per OUTDIR.
exec 8>"$out/.image.lock"
flock 8

[ -x "$busybox" ] || die "missing $busybox (install busybox-static: make deps-guest)"
if readelf -l "$busybox" 2>/dev/null | grep -q 'program interpreter'; then
	die "$busybox is dynamically linked; a static one is needed (busybox-static)"
fi
[ -r "$init" ] || die "missing $init"
command -v mke2fs >/dev/null || die "missing mke2fs (install e2fsprogs: make deps-guest)"

# musl: a few KiB where glibc's static stdio would add 700 to the initramfs.
command -v musl-gcc >/dev/null || die "missing musl-gcc (install musl-tools: make deps-guest)"
musl-gcc -std=gnu11 -Wall -Wextra -Werror -Os -static -s -o "$out/ember-fill" "$here/fill.c" ||
	die "cannot build guest/fill.c"

# Fixed timestamp for directories, symlinks and nodes: the archive depends
# only on its inputs.
epoch=${SOURCE_DATE_EPOCH:-$(stat -c %Y "$init")}

# The tree, described once: "dir PATH MODE", "file PATH SOURCE MODE",
# "slink PATH TARGET", "nod PATH MODE TYPE MAJ MIN", "text PATH MODE" (the
# content on stdin lines up to a line "EOT"). Both images are made from it.
gen_tree() {
	local d
	for d in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp /etc /root /mnt /run; do
		case "$d" in
		/tmp) echo "dir $d 1777" ;;
		/root) echo "dir $d 0700" ;;
		*) echo "dir $d 0755" ;;
		esac
	done
	echo "nod /dev/console 0600 c 5 1"
	echo "file /bin/busybox $busybox 0755"
	echo "file /init $init 0755"
	echo "file /bin/ember-fill $out/ember-fill 0755"
	echo "file /sbin/init $init 0755"
	# Every applet as a symbolic link to /bin/busybox (usr/bin/[ ...).
	local a
	"$busybox" --list-full | sort | while read -r a; do
		case "$a" in
		*/*) ;;
		*) continue ;; # linuxrc
		esac
		case "/$a" in
		/bin/busybox | /sbin/init) continue ;;
		esac
		echo "slink /$a /bin/busybox"
	done
	echo "text /etc/passwd 0644"
	echo "root:x:0:0:root:/root:/bin/sh"
	echo "EOT"
	echo "text /etc/group 0644"
	echo "root:x:0:"
	echo "EOT"
	echo "text /etc/hostname 0644"
	echo "ember"
	echo "EOT"
	echo "text /etc/profile 0644"
	echo "export PATH=/bin:/sbin:/usr/bin:/usr/sbin"
	echo "export HOME=/root"
	echo "PS1='ember:\\w# '"
	echo "cd /root 2>/dev/null"
	echo "EOT"
}

work=$out/.image-work
rm -rf "$work"
mkdir -p "$work/text"
gen_tree >"$work/tree"

# --- initramfs: a gen_init_cpio list --------------------------------------
{
	ntext=0
	while read -r kind path a b c d; do
		case "$kind" in
		dir) echo "dir $path $a 0 0" ;;
		nod) echo "nod $path $a 0 0 $b $c $d" ;;
		file) echo "file $path $a $b 0 0" ;;
		slink) echo "slink $path $a 0777 0 0" ;;
		text)
			ntext=$((ntext + 1))
			f=$work/text/$ntext
			: >"$f"
			while IFS= read -r line && [ "$line" != EOT ]; do
				printf '%s\n' "$line" >>"$f"
			done
			touch -d "@$epoch" "$f"
			echo "file $path $f $a 0 0"
			;;
		*) die "internal: bad tree entry '$kind'" ;;
		esac
	done
} <"$work/tree" >"$work/initrd.list"

"$out/gen_init_cpio" -t "$epoch" "$work/initrd.list" >"$work/initrd.cpio" ||
	die "gen_init_cpio failed"
gzip -9 -n <"$work/initrd.cpio" >"$work/initrd.cpio.gz"
mv -f "$work/initrd.cpio.gz" "$out/initrd.cpio.gz"

# --- rootfs.ext4: the same tree, staged as files --------------------------
# Device nodes are left out (mknod needs root): the kernel mounts devtmpfs
# on /dev before starting /sbin/init (CONFIG_DEVTMPFS_MOUNT).
stage=$work/rootfs
mkdir -p "$stage"
while read -r kind path a b c d; do
	case "$kind" in
	dir) mkdir -p "$stage$path" && chmod "$a" "$stage$path" ;;
	nod) ;;
	file) cp "$a" "$stage$path" && chmod "$b" "$stage$path" ;;
	slink) ln -s "$a" "$stage$path" ;;
	text)
		: >"$stage$path"
		while IFS= read -r line && [ "$line" != EOT ]; do
			printf '%s\n' "$line" >>"$stage$path"
		done
		chmod "$a" "$stage$path"
		;;
	esac
done <"$work/tree"
truncate -s 64M "$work/rootfs.ext4"
E2FSPROGS_FAKE_TIME=$epoch mke2fs -q -F -t ext4 -L ember-root \
	-U 6d626572-0000-4000-8000-000000000001 -E root_owner=0:0,hash_seed=6d626572-0000-4000-8000-000000000002 \
	-d "$stage" "$work/rootfs.ext4" || die "mke2fs failed"
mv -f "$work/rootfs.ext4" "$out/rootfs.ext4"
rm -rf "$work"

size() { du -h --apparent-size "$1" | cut -f1; }
echo "guest: $out: vmlinux $(size "$out/vmlinux"), bzImage $(size "$out/bzImage")," \
	"initrd.cpio.gz $(size "$out/initrd.cpio.gz"), rootfs.ext4 $(size "$out/rootfs.ext4")"
