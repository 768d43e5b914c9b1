/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KVM state of a paused VM as snapshot sections (core/snapfile.h), and
 * back into a new VM of the same shape (issue 16):
 *
 *   KVMV  TSC kHz, the KVM clock, the IOAPIC (ember's: vmm/ioapic.h)
 *   VCPU  per vCPU: registers, special registers, XSAVE area, XCRs, debug
 *         registers, LAPIC, MP state, events, every MSR KVM lists that
 *         reads back, and its CPUID
 *
 * Restored in the order KVM needs: per vCPU CPUID, MP state, registers,
 * special registers, XSAVE, XCRs, debug registers, LAPIC (after the special
 * registers: APIC base), MSRs (after the LAPIC: TSC deadline), events last;
 * the KVM clock after every vCPU, so the guest's clock goes on from where
 * it stood however long the snapshot sat on disk.
 */
#ifndef EMBER_VMM_VMSTATE_H
#define EMBER_VMM_VMSTATE_H

#include <stddef.h>

#include "core/snapfile.h"
#include "vmm/vm.h"

/* The KVMV section (version 1 of the file: KVM's structures as they are). */
struct vm_state_vm {
	uint32_t tsc_khz, reserved;
	struct kvm_clock_data clock;
	struct ioapic_state ioapic; /* ember's (no PIC, no PIT: vmm/ioapic.h) */
};

/* A VCPU section: this, then xsave_len bytes, nmsrs MSR entries, ncpuid leaves. */
struct vm_state_vcpu {
	uint32_t id, nmsrs, ncpuid, xsave_len;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events events;
};

#define VM_STATE_MAX_MSRS   1024
#define VM_STATE_MAX_CPUID  256
#define VM_STATE_XSAVE_MIN  4096u       /* struct kvm_xsave */
#define VM_STATE_XSAVE_MAX  (64u << 10)

/* Append vm's sections to w; the vCPUs must be parked. 0, or -1 with a reason. */
int vm_state_save(struct vm *vm, struct snap_writer *w, char *err, size_t errlen);

/*
 * Check the sections of a parsed file against the VM they must fit (nvcpus;
 * every length and count): 0, or -1 with a one-line reason. Pure: no KVM.
 */
int vm_state_check(const struct snap_section *secs, unsigned int n, int nvcpus, char *err,
		   size_t errlen);

/*
 * Apply checked sections to vm, created by vm_create() and
 * vm_create_vcpus_bare() and not yet started. A TSC frequency other than
 * the snapshot's is scaled when KVM can (KVM_CAP_TSC_CONTROL), refused
 * otherwise. 0, or -1 with a reason.
 */
int vm_state_restore(struct vm *vm, const struct snap_section *secs, unsigned int n,
		     char *err, size_t errlen);

#endif
