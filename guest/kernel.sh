#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# guest/kernel.sh OUTDIR: the ember guest kernel, cached.
#
# Builds OUTDIR/vmlinux (ELF, PVH entry), OUTDIR/bzImage, OUTDIR/kernel.config
# and OUTDIR/gen_init_cpio (the kernel's initramfs packer, a host tool) from
# Debian's linux-source-6.1: `make tinyconfig`, then guest/microvm.config
# merged on top, then a check that every option of the fragment survived.
#
# The result is keyed by a hash of the fragment, this script, the source
# package version and the compiler version. It is kept in OUTDIR (with the
# source tree in OUTDIR/src and the objects in OUTDIR/kobj, so that a changed
# key rebuilds incrementally) and in
#   ${EMBER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ember}/guest-<key>/
# so that another checkout on the same machine does not rebuild.
set -euo pipefail

die() { echo "guest kernel: $*" >&2; exit 1; }

if [ $# -ne 1 ] || [ -z "$1" ]; then die "usage: $0 OUTDIR"; fi
out=$(realpath -m -- "$1")
here=$(cd "$(dirname "$0")" && pwd)
frag=$here/microvm.config
pkg=linux-source-6.1
tarball=/usr/src/$pkg.tar.xz
artifacts="vmlinux bzImage kernel.config gen_init_cpio"

[ -r "$frag" ] || die "missing config fragment $frag"
[ -r "$tarball" ] || die "missing $tarball (install $pkg: make deps-guest)"
pkgver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) ||
	die "package $pkg is not installed (make deps-guest)"
for tool in make gcc flex bison bc xz gzip perl; do
	command -v "$tool" >/dev/null || die "missing tool '$tool' (make deps-guest)"
done

key=$( {
	echo "pkg $pkg $pkgver"
	gcc --version | head -n1
	cat "$frag" "$0"
} | sha256sum | cut -c1-16)
cache_root=${EMBER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ember}
cache=$cache_root/guest-$key

have_all() {
	local f
	for f in $artifacts; do [ -s "$1/$f" ] || return 1; done
}

# Copy the artifacts from $1 to $2, each through a temporary name.
copy_all() {
	local f
	mkdir -p "$2"
	for f in $artifacts; do
		cp -f "$1/$f" "$2/.$f.tmp"
		mv -f "$2/.$f.tmp" "$2/$f"
	done
}

mkdir -p "$out"
exec 9>"$out/.kernel.lock"
flock 9

if [ "$(cat "$out/kernel.key" 2>/dev/null)" = "$key" ] && have_all "$out"; then
	echo "guest kernel: up to date ($key)"
	exit 0
fi
rm -f "$out/kernel.key"

if have_all "$cache"; then
	copy_all "$cache" "$out"
	echo "$key" >"$out/kernel.key"
	echo "guest kernel: from cache $cache"
	exit 0
fi

src_parent=$out/src
src=$src_parent/$pkg
obj=$out/kobj
log=$out/kernel-build.log

# Source tree: extracted once per source package version. A new version
# also drops the objects (tar keeps the old mtimes, make would not notice).
if [ "$(cat "$src_parent/.version" 2>/dev/null)" != "$pkgver" ] || [ ! -f "$src/Makefile" ]; then
	echo "guest kernel: extracting $tarball"
	rm -rf "$src_parent" "$obj"
	mkdir -p "$src_parent"
	tar -xf "$tarball" -C "$src_parent" || die "cannot extract $tarball"
	[ -f "$src/Makefile" ] || die "$tarball has no $pkg/Makefile"
	echo "$pkgver" >"$src_parent/.version"
fi

jobs=$(nproc)
kmake() {
	make -C "$src" O="$obj" ARCH=x86_64 \
		KBUILD_BUILD_USER=ember KBUILD_BUILD_HOST=ember "$@" >>"$log" 2>&1
}
fail() {
	echo "guest kernel: $* failed; last lines of $log:" >&2
	tail -n 40 "$log" >&2
	exit 1
}

echo "guest kernel: building $key with $jobs jobs (log: $log)"
start=$(date +%s)
mkdir -p "$obj"
: >"$log"
kmake tinyconfig || fail "make tinyconfig"
"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$frag" >>"$log" 2>&1 ||
	fail "merge_config.sh"
kmake olddefconfig || fail "make olddefconfig"

# Kconfig silently drops options whose dependencies are not met: every line
# of the fragment must be found, as written, in the final configuration.
bad=0
while read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qxF -- "$line" "$obj/.config" || {
			echo "guest kernel: config wants $line, got:" \
				"$(grep -E "^(# )?${line%%=*}[= ]" "$obj/.config" || echo 'absent')" >&2
			bad=1
		}
		;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }
		opt=${opt%% *}
		if grep -qE "^$opt=" "$obj/.config"; then
			echo "guest kernel: config wants $opt off, got: $(grep -E "^$opt=" "$obj/.config")" >&2
			bad=1
		fi
		;;
	"" | "#"*) ;;
	*)
		echo "guest kernel: bad line in $frag: $line" >&2
		bad=1
		;;
	esac
done <"$frag"
[ "$bad" = 0 ] || die "configuration check failed (fragment: $frag)"

kmake -j"$jobs" vmlinux bzImage || fail "kernel build"
gcc -O2 -o "$obj/gen_init_cpio" "$src/usr/gen_init_cpio.c" >>"$log" 2>&1 ||
	fail "building gen_init_cpio"

stage=$out/.kernel-stage
rm -rf "$stage"
mkdir -p "$stage"
cp "$obj/vmlinux" "$stage/vmlinux"
cp "$obj/arch/x86/boot/bzImage" "$stage/bzImage"
cp "$obj/.config" "$stage/kernel.config"
cp "$obj/gen_init_cpio" "$stage/gen_init_cpio"
have_all "$stage" || die "build produced empty artifacts"

# Publish to the shared cache (atomically: a partial directory is never
# visible under its final name), then to OUTDIR.
if mkdir -p "$cache_root" 2>/dev/null; then
	tmp=$(mktemp -d "$cache_root/.guest-$key.XXXXXX")
	copy_all "$stage" "$tmp"
	rm -rf "$cache"
	mv -T "$tmp" "$cache" 2>/dev/null || rm -rf "$tmp"
else
	echo "guest kernel: warning: cannot create cache $cache_root" >&2
fi
copy_all "$stage" "$out"
rm -rf "$stage"
echo "$key" >"$out/kernel.key"
echo "guest kernel: built in $(($(date +%s) - start)) s"
