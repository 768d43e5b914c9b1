#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The layers of ember's tree (README, Layout), checked on the sources: every
# `#include "folder/file.h"` of ours must name a folder at or below the
# including file's own layer, and the folders' include graph must have no
# cycle. Prints each offending include and "layers: ok" or "layers: FAILED".
# Usage: tests/layers/check.sh [--graph]   (--graph: print the folder edges)
set -u
cd "$(dirname "$0")/../.." || exit 1

# What each folder may include besides itself (ember's layers, bottom up).
declare -A MAY=(
	[core]=""
	[kernel-loader]="core"
	[vmm]="core"
	[virtio]="core vmm"
	[mmds]="core"
	[api-socket]="core kernel-loader vmm virtio mmds"
	[main]="core kernel-loader vmm virtio mmds api-socket"
	[jailer]="core"
)

bad=0
declare -A EDGES=()
for dir in "${!MAY[@]}"; do
	for f in "$dir"/*.[ch]; do
		[ -e "$f" ] || continue
		while IFS= read -r line; do
			inc=${line#*\"}
			inc=${inc%%\"*}
			case $inc in
			*/*) to=${inc%%/*} ;;
			*) # a generated header (seccomp_bpf.h) or a bare name: must not be ours
				if [ -e "$dir/$inc" ]; then
					echo "layers: $f: #include \"$inc\" does not name its folder"
					bad=1
				fi
				continue ;;
			esac
			[ -e "$inc" ] || { echo "layers: $f: #include \"$inc\": no such file"; bad=1; continue; }
			[ "$to" = "$dir" ] && continue
			EDGES["$dir $to"]=1
			if [[ " ${MAY[$dir]} " != *" $to "* ]]; then
				echo "layers: $f: #include \"$inc\": $dir may not use $to (may: ${MAY[$dir]:-nothing})"
				bad=1
			fi
		done < <(grep -h '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f")
	done
done

# No cycle in the edges actually used (tsort reports one on stderr).
edges=$(printf '%s\n' "${!EDGES[@]}" | sort)
[ "${1:-}" = --graph ] && printf '%s\n' "$edges" | sed 's/ / -> /'
if ! printf '%s\n' "$edges" | tsort >/dev/null 2>"${TMPDIR:-/tmp}/layers.$$"; then
	echo "layers: a cycle between folders: $(tr '\n' ' ' <"${TMPDIR:-/tmp}/layers.$$")"
	bad=1
fi
rm -f "${TMPDIR:-/tmp}/layers.$$"
if [ "$bad" = 0 ]; then echo "layers: ok"; else echo "layers: FAILED"; fi
exit "$bad"
