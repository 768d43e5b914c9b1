#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# debsrc.sh NAME VERSION DESTDIR
#
# Fetch Debian source package NAME at exactly VERSION (e.g. cjson
# 1.7.15-1+deb12u4) with apt-get, verified by apt against the mirror's signed
# Release files, keep it in a cache, and unpack it (Debian patches applied)
# into DESTDIR. Idempotent: an unpacked DESTDIR (DESTDIR/.ember-debsrc) is
# left alone. Adds deb-src entries mirroring the deb ones when there are
# none, and installs dpkg-dev when dpkg-source is missing.
#
# Cache: ${EMBER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ember}/src/
set -euo pipefail

die() { echo "debsrc: $*" >&2; exit 1; }

[ $# -eq 3 ] || die "usage: debsrc.sh NAME VERSION DESTDIR"
name=$1 version=$2 dest=$3
[[ $name =~ ^[a-z0-9][a-z0-9.+-]+$ ]] || die "bad package name '$name'"
[[ $version =~ ^[A-Za-z0-9.+~:-]+$ ]] || die "bad version '$version'"
case $dest in ''|/|.|..) die "bad destination '$dest'" ;; esac

stamp="$dest/.ember-debsrc"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$name $version" ]; then
	exit 0
fi

if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
cache=${EMBER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ember}/src
mkdir -p "$cache"
# One apt/dpkg-source user of the cache at a time (make -j).
exec 9>"$cache/.lock"
flock 9

# The .dsc's file name drops the epoch.
dsc="$cache/${name}_${version#*:}.dsc"

have_debsrc() {
	grep -Eqs '^[[:space:]]*(Types:.*deb-src|deb-src[[:space:]])' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources
}

add_debsrc() {
	local f=/etc/apt/sources.list.d/ember-deb-src.sources
	local l=/etc/apt/sources.list.d/ember-deb-src.list
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		# Same URIs/Suites/Components/Signed-By, Types: deb-src.
		sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
			$SUDO tee "$f" >/dev/null
	elif [ -f /etc/apt/sources.list ] && grep -Eq '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list; then
		sed -nE 's/^[[:space:]]*deb([[:space:]])/deb-src\1/p' /etc/apt/sources.list |
			$SUDO tee "$l" >/dev/null
	else
		die "no Debian apt sources found to derive deb-src entries from"
	fi
	echo "debsrc: added deb-src apt sources ($f)" >&2
}

fetch() {
	(cd "$cache" && $SUDO apt-get source -q --download-only "$name=$version") \
		>"$cache/.apt-source.log" 2>&1
}

if [ ! -f "$dsc" ]; then
	updated=0
	if ! have_debsrc; then
		add_debsrc
		$SUDO apt-get update -q >/dev/null 2>&1 || die "apt-get update failed"
		updated=1
	fi
	if ! fetch; then
		if [ $updated = 0 ]; then
			$SUDO apt-get update -q >/dev/null 2>&1 || die "apt-get update failed"
		fi
		fetch || die "source package $name=$version is not on the Debian mirror (see $cache/.apt-source.log); update the pinned version"
	fi
	[ -f "$dsc" ] || die "apt-get source did not produce $dsc"
	# apt-get as root in a user's cache: give the files back.
	[ -n "${SUDO_UID:-}" ] && chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$cache"/* 2>/dev/null || true
fi

command -v dpkg-source >/dev/null || {
	echo "installing Debian packages: dpkg-dev" >&2
	$SUDO apt-get update -q >/dev/null 2>&1
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends dpkg-dev >/dev/null ||
		die "cannot install dpkg-dev"
}

rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
dpkg-source --no-check -x "$dsc" "$dest" >"$cache/.dpkg-source.log" 2>&1 ||
	die "dpkg-source -x $dsc failed (see $cache/.dpkg-source.log)"
echo "$name $version" >"$stamp"
