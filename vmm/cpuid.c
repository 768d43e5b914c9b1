/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-vCPU CPUID: KVM's supported set, with the topology rewritten so that
 * the guest sees one package of n/t cores of t threads (t = 1, or 2 with
 * SMT), vCPU id = APIC id (thread = its low bit with SMT), and the
 * hypervisor bit set; KVM's hypervisor leaves extended by the timing leaf
 * 0x40000010 (TSC and local APIC timer frequencies) when the TSC's is known;
 * the TSC-deadline mode of the local APIC timer where KVM emulates it.
 */
#include "vmm/vm.h"

#define CPUID_HYPERVISOR   (1u << 31) /* leaf 1 ECX */
#define CPUID_HTT          (1u << 28) /* leaf 1 EDX */
#define CPUID_CMP_LEGACY   (1u << 1)  /* leaf 0x80000001 ECX (AMD) */
#define CPUID_TSC_DEADLINE (1u << 24) /* leaf 1 ECX */
#define CPUID_XSAVE        (1u << 26) /* leaf 1 ECX */
/* The XSAVE components a kernel enables at boot: x87 SSE AVX, MPX's two,
 * AVX-512's three, PKRU (not the supervisor ones, nor AMX, given on request). */
#define XCR0_BOOT_MASK     0x2ffull

static unsigned int order(int n)
{
	unsigned int s = 0;

	while ((1 << s) < n)
		s++;
	return s;
}

void cpuid_add_topology_levels(struct kvm_cpuid2 *c, unsigned int max)
{
	static const uint32_t leaves[] = { 0xb, 0x1f };

	for (unsigned int l = 0; l < sizeof(leaves) / sizeof(leaves[0]); l++) {
		struct kvm_cpuid_entry2 *level0 = NULL;
		bool has1 = false;

		for (unsigned int i = 0; i < c->nent; i++) {
			if (c->entries[i].function != leaves[l])
				continue;
			if (c->entries[i].index == 0)
				level0 = &c->entries[i];
			has1 |= c->entries[i].index == 1;
		}
		/* KVM lists only index 0 of these: the core level would read as absent */
		if (level0 && !has1 && c->nent < max) {
			c->entries[c->nent] = *level0;
			c->entries[c->nent].index = 1;
			c->entries[c->nent].flags |= KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
			c->nent++;
		}
	}
}

uint64_t cpuid_boot_xcr0(const struct kvm_cpuid2 *c)
{
	const struct kvm_cpuid_entry2 *l1 = NULL, *xsave = NULL;

	for (unsigned int i = 0; i < c->nent; i++) {
		if (c->entries[i].function == 1)
			l1 = &c->entries[i];
		else if (c->entries[i].function == 0xd && c->entries[i].index == 0)
			xsave = &c->entries[i];
	}
	if (!l1 || !(l1->ecx & CPUID_XSAVE) || !xsave)
		return 0;
	return ((uint64_t)xsave->edx << 32 | xsave->eax) & XCR0_BOOT_MASK;
}

void cpuid_set_tsc_deadline(struct kvm_cpuid2 *c)
{
	for (unsigned int i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1)
			c->entries[i].ecx |= CPUID_TSC_DEADLINE;
}

void cpuid_add_timing_leaf(struct kvm_cpuid2 *c, unsigned int max, uint32_t tsc_khz)
{
	struct kvm_cpuid_entry2 *base = NULL, *timing = NULL;

	for (unsigned int i = 0; i < c->nent; i++) {
		if (c->entries[i].function == CPUID_KVM_BASE)
			base = &c->entries[i];
		else if (c->entries[i].function == CPUID_KVM_TIMING)
			timing = &c->entries[i];
	}
	/* Only under KVM's own signature, whose range this leaf extends. */
	if (!base || !tsc_khz)
		return;
	if (!timing) {
		if (c->nent >= max)
			return;
		timing = &c->entries[c->nent++];
	}
	*timing = (struct kvm_cpuid_entry2){
		.function = CPUID_KVM_TIMING,
		.eax = tsc_khz,
		.ebx = CPUID_KVM_APIC_BUS_KHZ,
	};
	if (base->eax < CPUID_KVM_TIMING)
		base->eax = CPUID_KVM_TIMING;
}

void cpuid_normalise(struct kvm_cpuid2 *c, int id, int n, int t)
{
	int cores = n / t;

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
			/* cores per package; L1/L2 shared by a core's threads, above by all */
			uint32_t level = (e->eax >> 5) & 7;
			uint32_t sharing = level > 2 ? (uint32_t)n - 1 : (uint32_t)t - 1;

			e->eax &= 0x3fff;
			e->eax |= ((uint32_t)cores - 1) << 26 | (sharing & 0xfff) << 14;
			break;
		}
		case 0xb:
		case 0x1f:
			/* x2APIC topology: level 0 threads (t per core), level 1 cores */
			e->edx = id;
			if (e->index == 0) {
				e->eax = order(t);
				e->ebx = t;
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
			/* AMD: extended APIC id, core id, threads per core - 1 */
			e->eax = id;
			e->ebx = ((uint32_t)(id >> order(t)) & 0xff) | ((uint32_t)t - 1) << 8;
			e->ecx = 0;
			break;
		}
	}
}
