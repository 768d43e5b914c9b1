/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvmhold: run once by the nested test host's /init, keeps one KVM VM (with
 * an in-kernel irqchip and one vCPU that never runs) open until the test
 * host powers off.
 *
 * Why: the test host's kernel rewrites its own code whenever the first VM is
 * created or the last one destroyed (the static keys preempt_notifier_key in
 * the scheduler, apic_sw_disabled in kvm.ko), through text_poke_bp's int3
 * protocol. Under QEMU's TCG with two emulated CPUs that rewriting can wedge
 * both CPUs in an int3 loop in __schedule, so the whole test host freezes
 * (tests/nested/README.md). With this VM open the keys' counts never drop
 * to zero, so booting and ending VMs rewrites no code.
 *
 * Set-up in the foreground (so /init sees whether it worked), then a child
 * keeps the descriptors and sleeps; the parent exits 0.
 * Freestanding: no libc, built with `gcc -static -nostdlib`.
 */
#include <linux/kvm.h>

#include "sys.h"

#define O_RDWR    2
#define O_CLOEXEC 02000000

__attribute__((noreturn)) static void fail(const char *what)
{
	say("kvmhold: ");
	say(what);
	say(" failed\n");
	quit(1);
}

__attribute__((used, noreturn)) void kvmhold_main(void)
{
	long kvm, vm, pid;

	kvm = sys3(SYS_OPEN, (long)"/dev/kvm", O_RDWR | O_CLOEXEC, 0);
	if (kvm < 0)
		fail("open /dev/kvm");
	vm = sys3(SYS_IOCTL, kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		fail("KVM_CREATE_VM");
	if (sys3(SYS_IOCTL, vm, KVM_CREATE_IRQCHIP, 0) < 0)
		fail("KVM_CREATE_IRQCHIP");
	if (sys3(SYS_IOCTL, vm, KVM_CREATE_VCPU, 0) < 0)
		fail("KVM_CREATE_VCPU");
	pid = sys3(SYS_FORK, 0, 0, 0);
	if (pid < 0)
		fail("fork");
	if (pid > 0)
		quit(0);
	for (;;)
		sys3(SYS_PAUSE, 0, 0, 0);
}

asm(".globl _start\n"
    "_start:\n"
    "	and $-16, %rsp\n"
    "	call kvmhold_main\n"
    "	hlt\n");
