#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/nested/run.sh BUILD_DIR: `make run`. Boots BUILD_DIR/guest/vmlinux
# with BUILD_DIR/guest/initrd.cpio.gz under BUILD_DIR/ember, console attached.
# If this host's /dev/kvm cannot run a Linux guest (missing, or the
# BUILD_DIR/tests/guests/kvmprobe.elf test guest fails on it), it says so in
# one line and runs the same ember inside the nested test host (QEMU TCG +
# kvm_amd) with the terminal passed through to it. The exit status is
# ember's. EMBER_RUN_TIMEOUT (seconds, default 3600) bounds the nested run.

set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:-build}"
ember="$build/ember"
vmlinux="$build/guest/vmlinux"
initrd="$build/guest/initrd.cpio.gz"
probe="$build/tests/guests/kvmprobe.elf"
tmo="${EMBER_RUN_TIMEOUT:-3600}"

die() {
	echo "ember: $*" >&2
	exit 1
}

[[ "$tmo" =~ ^[0-9]+$ ]] && [ "$tmo" -gt 0 ] || die "EMBER_RUN_TIMEOUT must be a positive number of seconds"
for f in "$ember" "$vmlinux" "$initrd" "$probe"; do
	[ -r "$f" ] || die "$f is missing (make builds it)"
done

# Can this host's /dev/kvm run guest kernel code? (Empty reason: yes.)
reason=
if [ ! -e /dev/kvm ]; then
	reason="no /dev/kvm"
else
	pout=0
	out=$(timeout -k 5 30 "$ember" --kernel "$probe" </dev/null 2>&1) || pout=$?
	if [ "$pout" != 0 ]; then
		if grep -q 'KVM internal error' <<<"$out"; then
			reason="kvmprobe: KVM internal error, kernel-mode code is emulated"
		elif [ "$pout" = 124 ] || [ "$pout" = 137 ]; then
			reason="kvmprobe timed out after 30 s"
		else
			reason="kvmprobe exited with status $pout: $(tail -n 1 <<<"$out")"
		fi
	fi
fi

if [ -z "$reason" ]; then
	exec "$ember" --kernel "$vmlinux" --initrd "$initrd"
fi

echo "ember: this host's /dev/kvm cannot run a Linux guest ($reason); running it inside the nested test host (QEMU TCG + kvm_amd; Ctrl-A x quits QEMU)"

# shellcheck source=testhost.sh
. "$here/testhost.sh"
# shellcheck disable=SC2034 # read by testhost.sh
TH_QUIET=1
th_init "$build"
th_prepare
mkdir -p "$TH_OUT/run"
th_initramfs "$TH_OUT/run/initramfs.cpio" "$here/run-payload.sh" \
	"$ember:ember" "$vmlinux:vmlinux" "$initrd:initrd.cpio.gz"
q=0
th_run "$TH_OUT/run/initramfs.cpio" "$tmo" - interactive testhost.quiet || q=$?
s=$(th_decode_status "$q")
case "$s" in
timeout) die "the nested test host timed out after $tmo s (EMBER_RUN_TIMEOUT)" ;;
kvm-setup) die "the nested test host could not set up KVM" ;;
qemu-error:*) die "nested test host: $(th_explain "$s")" ;;
*) exit "$s" ;;
esac
