/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for a snapshot's KVM sections (vmm/vmstate.c's
 * vm_state_check): the file is input. The input is a state file (its CRC
 * made right first, so that mutations reach the sections); its first
 * section's first byte picks 1 to 4 vCPUs. What vm_state_check accepts must
 * be one VM state of its size and that many VCPU sections, in order, whose
 * counts are in range and add up to their lengths; what it refuses, it
 * refuses in one line.
 */
#include "core/fuzz.h"
#include "core/snapfile.h"
#include "vmm/vmstate.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SECS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_section s[MAX_SECS];
	unsigned int n, nvm = 0;
	int nvcpus, seen = 0;
	uint8_t *buf;
	char err[256];

	if (size < SNAP_HDR_SIZE + SNAP_CRC_SIZE)
		return 0;
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	{
		uint64_t crc = crc64_xz(0, buf, size - SNAP_CRC_SIZE);

		for (int i = 0; i < 8; i++)
			buf[size - SNAP_CRC_SIZE + i] = (uint8_t)(crc >> (8 * i));
	}
	if (snap_parse(buf, size, s, MAX_SECS, &n, err, sizeof(err)) < 0 || n == 0) {
		free(buf);
		return 0;
	}
	nvcpus = 1 + (s[0].len ? s[0].data[0] % 4 : 0);
	if (vm_state_check(s, n, nvcpus, err, sizeof(err)) < 0) {
		ASSERT(err[0] && strlen(err) < sizeof(err) && !strchr(err, '\n'));
		free(buf);
		return 0;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct vm_state_vcpu r;

		if (s[i].tag == SNAP_TAG_VM) {
			ASSERT(s[i].len == sizeof(struct vm_state_vm));
			nvm++;
		}
		if (s[i].tag != SNAP_TAG_VCPU)
			continue;
		ASSERT(s[i].len >= sizeof(r));
		memcpy(&r, s[i].data, sizeof(r));
		ASSERT(r.id == (uint32_t)seen++);
		ASSERT(r.nmsrs <= VM_STATE_MAX_MSRS && r.ncpuid >= 1 &&
		       r.ncpuid <= VM_STATE_MAX_CPUID);
		ASSERT(r.xsave_len >= VM_STATE_XSAVE_MIN && r.xsave_len <= VM_STATE_XSAVE_MAX);
		ASSERT(s[i].len == sizeof(r) + r.xsave_len +
				   r.nmsrs * sizeof(struct kvm_msr_entry) +
				   r.ncpuid * sizeof(struct kvm_cpuid_entry2));
	}
	ASSERT(nvm == 1 && seen == nvcpus);
	free(buf);
	return 0;
}
