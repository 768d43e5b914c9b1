/* SPDX-License-Identifier: Apache-2.0 */
/* vm_state_check(): a snapshot's KVM sections are checked whole before any is applied. */
#include "tests/unit/unit.h"
#include "vmm/vmstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

/* A VCPU section's bytes for vCPU id (counts as given), its length in *len. */
static uint8_t *vcpu_sec(uint32_t id, uint32_t nmsrs, uint32_t ncpuid, uint32_t xlen, size_t *len)
{
	struct vm_state_vcpu r = { .id = id, .nmsrs = nmsrs, .ncpuid = ncpuid, .xsave_len = xlen };
	uint8_t *b;

	*len = sizeof(r) + xlen + nmsrs * sizeof(struct kvm_msr_entry) +
	       ncpuid * sizeof(struct kvm_cpuid_entry2);
	b = calloc(1, *len);
	if (b)
		memcpy(b, &r, sizeof(r));
	return b;
}

static int check2(struct snap_section *s, unsigned int n, int nvcpus, const char *want)
{
	err[0] = '\0';
	if (vm_state_check(s, n, nvcpus, err, sizeof(err)) == 0)
		return 0;
	CHECK(strchr(err, '\n') == NULL && err[0]);
	if (want && !strstr(err, want)) {
		fprintf(stderr, "refusal '%s' lacks '%s'\n", err, want);
		CHECK(0);
	}
	return -1;
}

static void test_check(void)
{
	static struct vm_state_vm vmrec;
	struct snap_section s[4];
	size_t l0, l1;
	uint8_t *v0 = vcpu_sec(0, 40, 30, VM_STATE_XSAVE_MIN, &l0);
	uint8_t *v1 = vcpu_sec(1, 0, 1, 8192, &l1);

	CHECK(v0 && v1);
	if (!v0 || !v1)
		goto out;
	vmrec.ioapic.npins = IOAPIC_MIN_PINS;
	s[0] = (struct snap_section){ SNAP_TAG_VM, sizeof(vmrec), (const uint8_t *)&vmrec };
	s[1] = (struct snap_section){ SNAP_TAG_CONFIG, 2, (const uint8_t *)"{}" };
	s[2] = (struct snap_section){ SNAP_TAG_VCPU, l0, v0 };
	s[3] = (struct snap_section){ SNAP_TAG_VCPU, l1, v1 };
	CHECK_EQ(check2(s, 4, 2, NULL), 0);
	CHECK_EQ(check2(s, 4, 1, "more vCPU states"), -1);
	CHECK_EQ(check2(s, 4, 3, "2 vCPU states for 3"), -1);
	CHECK_EQ(check2(s + 1, 3, 2, "no VM state"), -1);
	/* Lengths that disagree with the counts, either way */
	s[2].len = l0 - 1;
	CHECK_EQ(check2(s, 4, 2, "its counts say"), -1);
	s[2].len = l0 + 16;
	CHECK_EQ(check2(s, 4, 2, "its counts say"), -1);
	s[2].len = 10;
	CHECK_EQ(check2(s, 4, 2, "too short"), -1);
	s[2].len = l0;
	s[0].len = sizeof(vmrec) - 8;
	CHECK_EQ(check2(s, 4, 2, "VM state is"), -1);
	s[0].len = sizeof(vmrec);
	/* the IOAPIC's state in range */
	vmrec.ioapic.npins = IOAPIC_MAX_PINS + 1;
	CHECK_EQ(check2(s, 4, 2, "IOAPIC has 25 pins, not 6..24"), -1);
	vmrec.ioapic.npins = IOAPIC_MIN_PINS;
	vmrec.ioapic.rte[IOAPIC_MIN_PINS] = IOAPIC_RTE_MASKED;
	CHECK_EQ(check2(s, 4, 2, "pin 6 has reserved bits"), -1);
	vmrec.ioapic.rte[IOAPIC_MIN_PINS] = 0;
	vmrec.ioapic.rte[0] = 1ULL << 14; /* remote IRR: never set here */
	CHECK_EQ(check2(s, 4, 2, "pin 0 has reserved bits"), -1);
	vmrec.ioapic.rte[0] = IOAPIC_RTE_MASKED;
	CHECK_EQ(check2(s, 4, 2, NULL), 0);
	/* vCPUs out of order, counts out of range */
	s[2].data = v1, s[3].data = v0, s[2].len = l1, s[3].len = l0;
	CHECK_EQ(check2(s, 4, 2, "says vcpu 1"), -1);
	s[2].data = v0, s[3].data = v1, s[2].len = l0, s[3].len = l1;
	for (int i = 0; i < 4; i++) {
		static const uint32_t bad[4][3] = {
			{ VM_STATE_MAX_MSRS + 1, 1, VM_STATE_XSAVE_MIN }, { 0, 0, VM_STATE_XSAVE_MIN },
			{ 0, 1, VM_STATE_XSAVE_MIN - 64 }, { 0, 1, VM_STATE_XSAVE_MIN + 1 },
		};
		size_t l;
		uint8_t *b = vcpu_sec(1, bad[i][0], bad[i][1], bad[i][2], &l);

		CHECK(b != NULL);
		if (!b)
			continue;
		s[3] = (struct snap_section){ SNAP_TAG_VCPU, l, b };
		CHECK_EQ(check2(s, 4, 2, "bad count"), -1);
		free(b);
	}
out:
	free(v0);
	free(v1);
}

UNIT_MAIN(TEST(test_check))
