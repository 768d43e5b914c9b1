/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kvmprobe: can this host's KVM run a Linux guest kernel? Executes in CPL0
 * instructions Linux uses that an instruction-emulating KVM (kernel mode
 * run by KVM's emulator) cannot execute: popcnt, lock cmpxchg16b and clac,
 * each only if CPUID advertises it. Prints "kvmprobe: <insn>" before each
 * one, "KVMPROBE OK" if all ran correctly, then resets. On an emulating
 * KVM the VM dies instead with a KVM internal error whose rip is one of the
 * kvmprobe_insn_* symbols.
 */
#include "lib.h"

const char guest_name[] = "kvmprobe";

static struct { uint64_t lo, hi; } __attribute__((aligned(16))) slot16 = { 1, 2 };

void guest_main(const uint8_t *zp)
{
	(void)zp;
	struct cpuid_regs r1 = cpuid(1, 0);
	struct cpuid_regs r0 = cpuid(0, 0);
	unsigned tried = 0;

	if (r1.ecx & (1u << 23)) {
		uint64_t in = 0xf0f0000000000107ULL, out;
		print("kvmprobe: popcnt\n");
		__asm__ volatile(".globl kvmprobe_insn_popcnt\n"
				 "kvmprobe_insn_popcnt: popcnt %1, %0"
				 : "=r"(out) : "r"(in) : "cc");
		if (out != 12)
			fail("popcnt(0x%lx) = %lu, want 12", in, out);
		tried++;
	}
	if (r1.ecx & (1u << 13)) {
		uint64_t lo = 1, hi = 2;
		uint8_t ok;
		print("kvmprobe: lock cmpxchg16b\n");
		__asm__ volatile(".globl kvmprobe_insn_cmpxchg16b\n"
				 "kvmprobe_insn_cmpxchg16b: lock cmpxchg16b %1\n\t"
				 "sete %0"
				 : "=q"(ok), "+m"(slot16), "+a"(lo), "+d"(hi)
				 : "b"(3ULL), "c"(4ULL)
				 : "cc", "memory");
		if (!ok || slot16.lo != 3 || slot16.hi != 4)
			fail("lock cmpxchg16b did not swap (ok %u, now %lu:%lu)",
			     ok, slot16.hi, slot16.lo);
		tried++;
	}
	if (r0.eax >= 7 && (cpuid(7, 0).ebx & (1u << 20))) {
		print("kvmprobe: clac\n");
		__asm__ volatile(".globl kvmprobe_insn_clac\n"
				 "kvmprobe_insn_clac: clac" : : : "cc");
		tried++;
	}
	if (failures == 0)
		print("KVMPROBE OK (%u instructions probed)\n", tried);
}
