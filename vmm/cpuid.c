/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-vCPU CPUID: KVM's supported set, with the topology rewritten so that
 * the guest sees one package of n single-threaded cores, vCPU id = APIC id,
 * and the hypervisor bit set.
 */
#include "vmm/vm.h"

#define CPUID_HYPERVISOR   (1u << 31) /* leaf 1 ECX */
#define CPUID_HTT          (1u << 28) /* leaf 1 EDX */
#define CPUID_CMP_LEGACY   (1u << 1)  /* leaf 0x80000001 ECX (AMD) */

static unsigned int order(int n)
{
	unsigned int s = 0;

	while ((1 << s) < n)
		s++;
	return s;
}

void cpuid_normalise(struct kvm_cpuid2 *c, int id, int n)
{
	for (unsigned int i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			/* APIC id, logical processor count, CLFLUSH size 64 */
			e->ebx = (uint32_t)id << 24 | (uint32_t)n << 16 | 8 << 8;
			e->ecx |= CPUID_HYPERVISOR;
			if (n > 1)
				e->edx |= CPUID_HTT;
			else
				e->edx &= ~CPUID_HTT;
			break;
		case 4: {
			/* cores per package; caches above L2 are shared by all */
			uint32_t level = (e->eax >> 5) & 7;
			uint32_t sharing = level > 2 ? (uint32_t)n - 1 : 0;

			e->eax &= 0x3fff;
			e->eax |= ((uint32_t)n - 1) << 26 | (sharing & 0xfff) << 14;
			break;
		}
		case 0xb:
		case 0x1f:
			/* x2APIC topology: level 0 threads (1 each), level 1 cores */
			e->edx = id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = 1 << 8;
			} else if (e->index == 1) {
				e->eax = order(n);
				e->ebx = n;
				e->ecx = 2 << 8 | 1;
			} else {
				e->eax = 0;
				e->ebx = 0;
				e->ecx = e->index & 0xff;
			}
			break;
		case 0x80000001:
			if (n > 1)
				e->ecx |= CPUID_CMP_LEGACY;
			else
				e->ecx &= ~CPUID_CMP_LEGACY;
			break;
		case 0x80000008:
			/* AMD: ApicIdCoreIdSize and number of cores - 1 */
			e->ecx = (e->ecx & ~0xf0ffu) | order(n) << 12 | ((uint32_t)n - 1);
			break;
		case 0x8000001e:
			/* AMD: extended APIC id, core id, one thread per core */
			e->eax = id;
			e->ebx = id & 0xff;
			e->ecx = 0;
			break;
		}
	}
}
