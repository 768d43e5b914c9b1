#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/clients/go.sh ARG...: the go command for tests/clients, whose go.mod
# needs Go 1.19 or later: the `go` on PATH, else /usr/local/go/bin/go (where
# the project's machines keep theirs), else Debian's golang-go (1.19 on
# Debian 12), installed here. Modules come from the Go module proxy, checked
# against go.sum (-mod=readonly: nothing is upgraded behind the pins); the
# binaries are static (CGO_ENABLED=0) so that the nested test host runs them.
set -euo pipefail

# go_ok GO: GO runs and is 1.19 or later.
go_ok() {
	local v
	v=$("$1" env GOVERSION 2>/dev/null) || return 1
	v=${v#go}
	[[ "$v" =~ ^1\.([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge 19 ] && return 0
	[[ "$v" =~ ^[2-9] ]]
}

go=
for g in "$(command -v go || true)" /usr/local/go/bin/go /usr/lib/go/bin/go; do
	if [ -n "$g" ] && [ -x "$g" ] && go_ok "$g"; then
		go=$g
		break
	fi
done
if [ -z "$go" ]; then
	echo "tests/clients: no Go 1.19 or later here; installing Debian's golang-go" >&2
	if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
	$SUDO apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends golang-go ca-certificates >/dev/null
	go=/usr/lib/go/bin/go
	go_ok "$go" || { echo "tests/clients: Debian's golang-go is older than Go 1.19" >&2; exit 1; }
fi
export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=local
exec "$go" "$@"
