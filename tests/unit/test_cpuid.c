/* SPDX-License-Identifier: Apache-2.0 */
/* CPUID: the timing leaf 0x40000010, TSC-deadline, the topology, the boot XCR0 (vmm/cpuid.c). */
#include "tests/unit/unit.h"
#include "vmm/vm.h"

#include <stdlib.h>

#define MAX 8

static struct kvm_cpuid2 *table(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + MAX * sizeof(struct kvm_cpuid_entry2));

	if (!c)
		abort();
	/* What KVM_GET_SUPPORTED_CPUID lists: leaf 1 and KVM's two leaves. */
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 1 };
	c->entries[1] = (struct kvm_cpuid_entry2){ .function = CPUID_KVM_BASE, .eax = 0x40000001,
						   .ebx = 0x4b4d564b, .ecx = 0x564b4d56, .edx = 0x4d };
	c->entries[2] = (struct kvm_cpuid_entry2){ .function = 0x40000001, .eax = 0x1234 };
	c->nent = 3;
	return c;
}

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c, uint32_t fn)
{
	for (unsigned int i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn)
			return &c->entries[i];
	return NULL;
}

static void test_timing_leaf(void)
{
	struct kvm_cpuid2 *c = table();
	const struct kvm_cpuid_entry2 *t;

	cpuid_add_timing_leaf(c, MAX, 2999999);
	CHECK(c->nent == 4);
	t = find(c, CPUID_KVM_TIMING);
	CHECK(t && t->eax == 2999999 && t->ebx == 1000000 && !t->ecx && !t->edx);
	CHECK(find(c, CPUID_KVM_BASE)->eax == CPUID_KVM_TIMING);
	CHECK(find(c, 0x40000001)->eax == 0x1234);
	/* A second call replaces the leaf, never adds one */
	cpuid_add_timing_leaf(c, MAX, 1000000);
	CHECK(c->nent == 4 && find(c, CPUID_KVM_TIMING)->eax == 1000000);
	free(c);
}

static void test_timing_leaf_absent(void)
{
	struct kvm_cpuid2 *c = table();

	/* An unknown frequency: no leaf, and the range stays KVM's */
	cpuid_add_timing_leaf(c, MAX, 0);
	CHECK(c->nent == 3 && !find(c, CPUID_KVM_TIMING));
	CHECK(find(c, CPUID_KVM_BASE)->eax == 0x40000001);
	/* No room: the table is left as it is */
	cpuid_add_timing_leaf(c, 3, 3000000);
	CHECK(c->nent == 3 && find(c, CPUID_KVM_BASE)->eax == 0x40000001);
	/* Without KVM's leaves (another hypervisor's range): nothing */
	c->entries[1].function = 0x40000100;
	cpuid_add_timing_leaf(c, MAX, 3000000);
	CHECK(c->nent == 3 && !find(c, CPUID_KVM_TIMING));
	free(c);
}

static void test_topology(void)
{
	struct kvm_cpuid2 *c = table();

	c->entries[0].ebx = 0xffffffff;
	cpuid_normalise(c, 3, 4, 2);
	/* APIC id 3, 4 logical processors, CLFLUSH 64 bytes; hypervisor and HTT bits */
	CHECK(c->entries[0].ebx == (3u << 24 | 4u << 16 | 8u << 8));
	CHECK(c->entries[0].ecx & (1u << 31));
	CHECK(c->entries[0].edx & (1u << 28));
	free(c);
}

static void test_tsc_deadline(void)
{
	struct kvm_cpuid2 *c = table();

	c->entries[0].ecx = 1;
	cpuid_set_tsc_deadline(c);
	CHECK(c->entries[0].ecx == (1u | 1u << 24));
	CHECK(find(c, CPUID_KVM_BASE)->ecx == 0x564b4d56);
	free(c);
}

static void test_boot_xcr0(void)
{
	struct kvm_cpuid2 *c = table();

	/* No leaf 0xD: nothing to set */
	c->entries[0].ecx = 1u << 26;
	CHECK(cpuid_boot_xcr0(c) == 0);
	/* x87 SSE AVX, AVX-512, PKRU, AMX tiles (bits 17-18), a supervisor bit (CET, 11) */
	c->entries[c->nent++] = (struct kvm_cpuid_entry2){ .function = 0xd, .index = 0,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x600e7 | 1u << 9 | 1u << 11, .edx = 0 };
	c->entries[c->nent++] = (struct kvm_cpuid_entry2){ .function = 0xd, .index = 1,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0xf };
	CHECK(cpuid_boot_xcr0(c) == (0xe7 | 1u << 9));
	/* Without XSAVE in leaf 1, XCR0 means nothing to the guest */
	c->entries[0].ecx = 0;
	CHECK(cpuid_boot_xcr0(c) == 0);
	free(c);
}

UNIT_MAIN(TEST(test_timing_leaf), TEST(test_timing_leaf_absent), TEST(test_tsc_deadline),
	  TEST(test_topology), TEST(test_boot_xcr0))
