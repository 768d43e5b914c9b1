/* SPDX-License-Identifier: Apache-2.0 */
/* The KVM virtual machine and its vCPUs. */
#ifndef EMBER_VM_H
#define EMBER_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "core/bus.h"
#include "core/guest_mem.h"
#include "vmm/ioapic.h"

struct vm;

struct vcpu {
	struct vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
};

struct vm {
	int kvm_fd;
	int vm_fd;
	int run_size;
	struct guest_mem mem;
	struct kvm_cpuid2 *cpuid;  /* KVM_GET_SUPPORTED_CPUID, shared template */
	int nvcpus;
	int threads_per_core;      /* 1, or 2 with SMT (machine-config smt) */
	struct vcpu *vcpus;
	struct bus pio;
	struct bus mmio;
	struct ioapic ioapic;      /* ember's (vm_add_ioapic); the local APICs are KVM's */
	/* pause: vCPUs park outside KVM_RUN while pause_req is set */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	bool pause_req;
	int parked;
	/* KVM's clock when the vCPUs last parked (a snapshot's, so the pause before it does not show) */
	struct kvm_clock_data pause_clock;
	bool pause_clock_valid;
};

/*
 * Open /dev/kvm, create the VM with KVM's local APICs only (a split
 * irqchip: no PIC, no PIT, the IOAPIC is vm_add_ioapic's), and register
 * vm->mem (allocated and loaded by the caller) as its memory.
 */
void vm_create(struct vm *vm, int nvcpus);
/*
 * The IOAPIC of npins pins (IOAPIC_MIN_PINS.., as many as the devices'
 * GSIs need), APIC id nvcpus (as the MP table and the MADT say), on the
 * MMIO bus (the absent 8259s' and PIT's ports are legacy_init's). Dies on
 * failure.
 */
void vm_add_ioapic(struct vm *vm, int npins);
/* Create the vCPUs: CPUID, MSRs, LAPIC LINTs; the BSP in long mode at entry. */
/*
 * The vCPUs; the first starts at entry: in 64-bit mode (boot_params in
 * %rsi), or with pvh_start_info non-zero at a PVH entry in 32-bit mode.
 */
void vm_create_vcpus(struct vm *vm, uint64_t entry, uint64_t pvh_start_info);
/* The vCPUs without any state of ours (a snapshot's is applied next). */
void vm_create_vcpus_bare(struct vm *vm);
/* Write the boot GDT and identity page tables into guest memory. */
void vm_write_boot_tables(struct vm *vm);
/* Start one thread per vCPU. */
void vm_start_vcpus(struct vm *vm);
/* Kick every vCPU out of the guest and wait for its thread to end. */
void vm_stop_vcpus(struct vm *vm);
/* Park every vCPU outside the guest and wait until they all are; -1 if stopping. */
int vm_pause_vcpus(struct vm *vm);
/* Tell the guest's kvmclock that its vCPUs were stopped (KVM_KVMCLOCK_CTRL). */
void vm_clock_paused(struct vm *vm);
/* Let parked vCPUs run again. */
void vm_resume_vcpus(struct vm *vm);
/*
 * With dirty tracking (vm->mem.dirty, set before vm_create): the pages
 * written since the last call, the guest's (KVM's log) and ember's, into
 * bitmap (GM_BITMAP_WORDS words); both logs start over. 0, or -1.
 */
int vm_dirty_pages(struct vm *vm, uint64_t *bitmap);
/* Pulse an edge-triggered interrupt line (ISA IRQ / GSI). */
void vm_irq_pulse(struct vm *vm, int gsi);

/*
 * Give the x2APIC topology leaves (0xB, 0x1F) their core level (index 1)
 * where KVM lists only index 0; c has room for max entries (cpuid.c).
 */
void cpuid_add_topology_levels(struct kvm_cpuid2 *c, unsigned int max);
/*
 * Announce the local APIC timer's TSC-deadline mode (leaf 1 ECX bit 24),
 * which KVM emulates but leaves out of KVM_GET_SUPPORTED_CPUID: a Linux guest
 * then needs neither the PIT nor a calibration of the APIC timer (cpuid.c).
 */
void cpuid_set_tsc_deadline(struct kvm_cpuid2 *c);
/*
 * The XCR0 a kernel sets at boot for the XSAVE components c offers (leaf 0xD
 * index 0; x87 SSE AVX MPX AVX-512 PKRU at most), 0 without XSAVE
 * (cpuid.c).
 */
uint64_t cpuid_boot_xcr0(const struct kvm_cpuid2 *c);
/* The hypervisor's leaves, KVM's signature at the first of them. */
#define CPUID_KVM_BASE          0x40000000u
/* The timing leaf (VMware's, given under KVM too): EAX TSC kHz, EBX bus kHz. */
#define CPUID_KVM_TIMING        0x40000010u
/* KVM's local APIC timer counts at 1 GHz (one bus cycle a nanosecond). */
#define CPUID_KVM_APIC_BUS_KHZ  1000000u
/*
 * Add the timing leaf for a TSC of tsc_khz (nothing if 0, or if c has no
 * KVM leaves), raising the hypervisor range's maximum to it (cpuid.c).
 */
void cpuid_add_timing_leaf(struct kvm_cpuid2 *c, unsigned int max, uint32_t tsc_khz);
/*
 * CPUID for vcpu id of n, t threads per core (1, or 2 with n even): one
 * package of n/t cores (cpuid.c).
 */
void cpuid_normalise(struct kvm_cpuid2 *c, int id, int n, int t);

#endif
