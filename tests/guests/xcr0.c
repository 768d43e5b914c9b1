/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xcr0: what a Linux kernel checks of its FPU at boot. fpu__init_system_xstate
 * sets XCR0 to every user XSAVE component CPUID leaf 0xD offers, then
 * compares the size CPUID.(0xD,0).EBX reports for the enabled set with the
 * sum of the components' sizes; a mismatch disables XSAVE, and the kernel
 * dies soon after (a triple fault). ember enters the guest with XCR0 already
 * that set, so that KVM's copy of it (behind EBX) agrees with the guest's
 * even where the guest's XSETBV escapes KVM (the nested test host).
 * Checks EBX after XSETBV of that set, twice (not at entry: a KVM without
 * XSAVE in its own CPUID, as this project's instruction-emulating one, may
 * still let the guest run XSETBV, and ember then leaves XCR0 at x87; no
 * XGETBV either: that emulator has none). Prints
 * "PASS xcr0" or one FAIL line per mismatch, then resets.
 */
#include "lib.h"

const char guest_name[] = "xcr0";

#define CR4_OSXSAVE    (1UL << 18)
#define CPUID1_XSAVE   (1U << 26)
/* The user components a kernel enables (not the supervisor ones, not AMX,
 * given on request only): x87 SSE AVX, MPX's two, AVX-512's three, PKRU. */
#define XFEATURE_USER  0x2ffULL

static void xsetbv(uint64_t v)
{
	__asm__ volatile("xsetbv" : : "a"((uint32_t)v), "d"((uint32_t)(v >> 32)), "c"(0));
}

/* The standard-format XSAVE area size for the components of mask. */
static uint32_t xsave_size(uint64_t mask)
{
	uint32_t size = 512 + 64;

	for (unsigned i = 2; i < 64; i++) {
		if (!(mask & (1ULL << i)))
			continue;
		struct cpuid_regs r = cpuid(0xd, i);
		if (r.ebx + r.eax > size)
			size = r.ebx + r.eax;
	}
	return size;
}

void guest_main(const uint8_t *zp)
{
	uint64_t cr4, all;
	uint32_t want;

	(void)zp;
	if (!(cpuid(1, 0).ecx & CPUID1_XSAVE)) {
		print("XCR0 no XSAVE in CPUID: nothing to check\n");
		print("PASS xcr0\n");
		return;
	}
	struct cpuid_regs d = cpuid(0xd, 0);
	all = ((uint64_t)d.edx << 32 | d.eax) & XFEATURE_USER;
	want = xsave_size(all);
	print("XCR0 offered %lx: %u bytes\n", all, want);
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_OSXSAVE));
	for (int i = 0; i < 2; i++) {
		xsetbv(all);
		uint32_t ebx = cpuid(0xd, 0).ebx;

		if (ebx != want)
			fail("after XSETBV(%lx) #%d, CPUID.(0xD,0).EBX is %u, want %u", all, i + 1, ebx, want);
	}
	if (!failures)
		print("PASS xcr0\n");
}
