/* SPDX-License-Identifier: Apache-2.0 */
#include "vmm/vm.h"
#include "core/ember.h"
#include "core/layout.h"
#include "core/logger.h"
#include "core/metrics.h"
#include "vmm/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define KVM_API_VERSION_EXPECTED 12
#define CPUID_MAX_ENTRIES 256

/* CR0/CR4/EFER bits and page-table entry flags used at boot. */
#define X86_CR0_PE   0x1ULL
#define X86_CR0_ET   0x10ULL
#define X86_CR0_NE   0x20ULL
#define X86_CR0_PG   0x80000000ULL
#define X86_CR4_PAE  0x20ULL
#define EFER_LME     0x100ULL
#define EFER_LMA     0x400ULL
#define PTE_P_RW     0x3ULL
#define PTE_PS       0x80ULL

/* MSRs set on every vCPU before it runs. */
#define MSR_IA32_SYSENTER_CS   0x174
#define MSR_IA32_SYSENTER_ESP  0x175
#define MSR_IA32_SYSENTER_EIP  0x176
#define MSR_IA32_MISC_ENABLE   0x1a0
#define MSR_MTRR_DEF_TYPE      0x2ff
#define MSR_STAR               0xc0000081
#define MSR_LSTAR              0xc0000082
#define MSR_CSTAR              0xc0000083
#define MSR_SYSCALL_MASK       0xc0000084
#define MSR_KERNEL_GS_BASE     0xc0000102
#define MISC_ENABLE_FAST_STRING 0x1ULL
#define MTRR_ENABLE_WB         (0x800ULL | 6)

/* LAPIC register offsets and LVT delivery modes. */
#define APIC_LVT_LINT0  0x350
#define APIC_LVT_LINT1  0x360
#define APIC_MODE_NMI    (4u << 8)
#define APIC_MODE_EXTINT (7u << 8)

static int kvm_ioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r;
}

#define KVM_OR_DIE(fd, req, arg)                                            \
	do {                                                                \
		if (kvm_ioctl(fd, req, arg) < 0)                            \
			die(EMBER_EXIT_HOST_ERROR, "%s failed: %s", #req,  \
			    strerror(errno));                               \
	} while (0)

void vm_create(struct vm *vm, int nvcpus)
{
	struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP,
					.args = { IOAPIC_MAX_PINS } };
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
	int r;

	vm->nvcpus = nvcpus;
	vm->pio.name = "I/O port";
	vm->mmio.name = "MMIO address";
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		die(EMBER_EXIT_HOST_ERROR, "cannot open /dev/kvm: %s", strerror(errno));
	r = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION_EXPECTED)
		die(EMBER_EXIT_HOST_ERROR, "KVM API version %d, need %d", r,
		    KVM_API_VERSION_EXPECTED);
	for (const int *cap = (const int[]){ KVM_CAP_SPLIT_IRQCHIP, KVM_CAP_IRQ_ROUTING,
			KVM_CAP_USER_MEMORY, KVM_CAP_SET_TSS_ADDR, KVM_CAP_EXT_CPUID, 0 };
	     *cap; cap++)
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, *cap) <= 0)
			die(EMBER_EXIT_HOST_ERROR, "KVM lacks capability %d", *cap);
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size < (int)sizeof(struct kvm_run))
		die(EMBER_EXIT_HOST_ERROR, "KVM_GET_VCPU_MMAP_SIZE failed");

	do
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0)
		die(EMBER_EXIT_HOST_ERROR, "KVM_CREATE_VM failed: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
		die(EMBER_EXIT_HOST_ERROR, "KVM_SET_TSS_ADDR failed: %s", strerror(errno));
	KVM_OR_DIE(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);

	for (int i = 0; i < vm->mem.nregions; i++) {
		struct kvm_userspace_memory_region mr = {
			.slot = i,
			.guest_phys_addr = vm->mem.region[i].gpa,
			.memory_size = vm->mem.region[i].size,
			.userspace_addr = (uintptr_t)vm->mem.region[i].host,
			.flags = vm->mem.dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		};
		KVM_OR_DIE(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr);
	}
	/*
	 * The irqchip comes after the memory: registering memory in a VM that
	 * already has one waits for KVM's SRCU grace periods (milliseconds).
	 * Its routes for the IOAPIC's pins (GSIs 0..IOAPIC_MAX_PINS-1) are
	 * vm_add_ioapic's.
	 */
	KVM_OR_DIE(vm->vm_fd, KVM_ENABLE_CAP, &split);

	vm->cpuid = calloc(1, sizeof(*vm->cpuid) +
			   CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (!vm->cpuid)
		die(EMBER_EXIT_HOST_ERROR, "out of memory");
	vm->cpuid->nent = CPUID_MAX_ENTRIES;
	KVM_OR_DIE(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, vm->cpuid);
	cpuid_add_topology_levels(vm->cpuid, CPUID_MAX_ENTRIES);
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0)
		cpuid_set_tsc_deadline(vm->cpuid);
}

void vm_write_boot_tables(struct vm *vm)
{
	const uint64_t gdt[6] = {
		0,
		0,
		0x00af9b000000ffffULL,  /* 0x10: 64-bit code, DPL 0 */
		0x00cf93000000ffffULL,  /* 0x18: flat data */
		0x00008b0000000067ULL,  /* 0x20: busy 64-bit TSS at 0 (low half) */
		0,                      /*       (high half) */
	};
	uint64_t pml4e = PDPT_START | PTE_P_RW;
	uint64_t idt = 0;
	int ok = 0;

	ok |= gm_write(&vm->mem, BOOT_GDT_START, gdt, sizeof(gdt));
	ok |= gm_write(&vm->mem, BOOT_IDT_START, &idt, sizeof(idt));
	ok |= gm_write(&vm->mem, PML4_START, &pml4e, sizeof(pml4e));
	/* Identity-map the low 4 GiB with 2 MiB pages: 4 PDs of 512 entries. */
	for (uint64_t i = 0; i < 4; i++) {
		uint64_t pdpte = (PD_START + i * 0x1000) | PTE_P_RW;

		ok |= gm_write(&vm->mem, PDPT_START + i * 8, &pdpte, 8);
		for (uint64_t j = 0; j < 512; j++) {
			uint64_t pde = (i << 30 | j << 21) | PTE_P_RW | PTE_PS;

			ok |= gm_write(&vm->mem, PD_START + i * 0x1000 + j * 8, &pde, 8);
		}
	}
	if (ok)
		die(EMBER_EXIT_HOST_ERROR, "guest memory too small for the boot tables");
}

static void set_long_mode(struct vcpu *c, uint64_t entry)
{
	struct kvm_sregs s;
	struct kvm_regs r = {
		.rflags = 0x2,
		.rip = entry,
		.rsp = BOOT_STACK_POINTER,
		.rbp = BOOT_STACK_POINTER,
		.rsi = ZERO_PAGE_START,
	};
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = BOOT_CS_SELECTOR,
		.type = 0xb, .present = 1, .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = code;
	struct kvm_segment tss = {
		.base = 0, .limit = 0x67, .selector = BOOT_TSS_SELECTOR,
		.type = 0xb, .present = 1, .s = 0,
	};

	data.selector = BOOT_DS_SELECTOR;
	data.type = 0x3;
	data.l = 0;
	data.db = 1;

	KVM_OR_DIE(c->fd, KVM_GET_SREGS, &s);
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = tss;
	s.gdt.base = BOOT_GDT_START;
	s.gdt.limit = 6 * 8 - 1;
	s.idt.base = BOOT_IDT_START;
	s.idt.limit = 0;
	s.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
	s.cr3 = PML4_START;
	s.cr4 = X86_CR4_PAE;
	s.efer = EFER_LME | EFER_LMA;
	KVM_OR_DIE(c->fd, KVM_SET_SREGS, &s);
	KVM_OR_DIE(c->fd, KVM_SET_REGS, &r);
}

/*
 * Xen's PVH entry: 32-bit protected mode, flat segments, no paging,
 * %ebx = the hvm_start_info (Linux's pvh_start_xen sets up the rest).
 */
static void set_pvh_mode(struct vcpu *c, uint64_t entry, uint64_t start_info)
{
	struct kvm_sregs s;
	struct kvm_regs r = { .rflags = 0x2, .rip = entry, .rbx = start_info };
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = BOOT_CS_SELECTOR,
		.type = 0xb, .present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
	};
	struct kvm_segment data = code;
	struct kvm_segment tss = {
		.base = 0, .limit = 0x67, .selector = BOOT_TSS_SELECTOR,
		.type = 0xb, .present = 1, .s = 0,
	};

	data.selector = BOOT_DS_SELECTOR;
	data.type = 0x3;
	KVM_OR_DIE(c->fd, KVM_GET_SREGS, &s);
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = tss;
	s.gdt.base = BOOT_GDT_START;
	s.gdt.limit = 6 * 8 - 1;
	s.idt.base = BOOT_IDT_START;
	s.idt.limit = 0;
	s.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
	s.cr3 = 0;
	s.cr4 = 0;
	s.efer = 0;
	KVM_OR_DIE(c->fd, KVM_SET_SREGS, &s);
	KVM_OR_DIE(c->fd, KVM_SET_REGS, &r);
}

static void set_fpu_msrs_lapic(struct vcpu *c)
{
	static const uint32_t zero_msrs[] = {
		MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
		MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK, MSR_KERNEL_GS_BASE,
	};
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[ARRAY_SIZE(zero_msrs) + 2];
	} msrs = { .h.nmsrs = ARRAY_SIZE(zero_msrs) + 2 };
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	struct kvm_lapic_state lapic;
	uint32_t *lint0, *lint1;
	int n;

	for (unsigned int i = 0; i < ARRAY_SIZE(zero_msrs); i++)
		msrs.e[i].index = zero_msrs[i];
	msrs.e[ARRAY_SIZE(zero_msrs)] = (struct kvm_msr_entry){
		.index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING };
	msrs.e[ARRAY_SIZE(zero_msrs) + 1] = (struct kvm_msr_entry){
		.index = MSR_MTRR_DEF_TYPE, .data = MTRR_ENABLE_WB };
	n = ioctl(c->fd, KVM_SET_MSRS, &msrs);
	if (n < 0 || n != (int)msrs.h.nmsrs)
		die(EMBER_EXIT_HOST_ERROR, "KVM_SET_MSRS failed at MSR 0x%x",
		    n < 0 ? 0 : msrs.e[n].index);

	KVM_OR_DIE(c->fd, KVM_SET_FPU, &fpu);

	/* Virtual wire mode: LINT0 = ExtINT (the PIC), LINT1 = NMI. */
	KVM_OR_DIE(c->fd, KVM_GET_LAPIC, &lapic);
	lint0 = (uint32_t *)&lapic.regs[APIC_LVT_LINT0];
	lint1 = (uint32_t *)&lapic.regs[APIC_LVT_LINT1];
	*lint0 = (*lint0 & ~0x700u) | APIC_MODE_EXTINT;
	*lint1 = (*lint1 & ~0x700u) | APIC_MODE_NMI;
	KVM_OR_DIE(c->fd, KVM_SET_LAPIC, &lapic);
}

/*
 * XCR0 as the guest's kernel will set it, before it runs. The guest sees no
 * difference (XCR0 means nothing until it sets CR4.OSXSAVE, and firmware
 * leaves it anything), but KVM's copy then matches the guest's even where a
 * nested hypervisor lets the guest's XSETBV through unseen (QEMU's TCG as
 * the nested test host's AMD-V): KVM would answer CPUID leaf 0xD with the
 * sizes for x87 alone, Linux would find its XSAVE sizes inconsistent and
 * crash, and KVM would load its stale XCR0 at every entry.
 */
static void set_boot_xcr0(struct vcpu *c, const struct kvm_cpuid2 *cpuid)
{
	struct kvm_xcrs xcrs = { .nr_xcrs = 1, .xcrs[0] = { .xcr = 0, .value = cpuid_boot_xcr0(cpuid) } };

	if (xcrs.xcrs[0].value)
		KVM_OR_DIE(c->fd, KVM_SET_XCRS, &xcrs);
}

int vm_dirty_pages(struct vm *vm, uint64_t *bitmap)
{
	struct guest_mem *gm = &vm->mem;
	uint64_t words = GM_BITMAP_WORDS(gm);

	if (!gm->dirty)
		return -1;
	memset(bitmap, 0, words * sizeof(uint64_t));
	for (int i = 0; i < gm->nregions; i++) {
		/* Region starts are 2 MiB-aligned in the mapping: whole words. */
		uint64_t first = (uint64_t)(gm->region[i].host - gm->host) / GM_PAGE_SIZE / 64;
		struct kvm_dirty_log log = { .slot = (uint32_t)i, .dirty_bitmap = bitmap + first };

		if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
			return -1;
	}
	for (uint64_t w = 0; w < words; w++)
		bitmap[w] |= __atomic_exchange_n(&gm->dirty[w], 0, __ATOMIC_RELAXED);
	return 0;
}

/* vCPU i's file descriptor and kvm_run mapping. */
static void vcpu_open(struct vm *vm, int i)
{
	struct vcpu *c = &vm->vcpus[i];

	c->vm = vm;
	c->id = i;
	do
		c->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
	while (c->fd < 0 && errno == EINTR);
	if (c->fd < 0)
		die(EMBER_EXIT_HOST_ERROR, "KVM_CREATE_VCPU %d failed: %s", i, strerror(errno));
	c->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (c->run == MAP_FAILED)
		die(EMBER_EXIT_HOST_ERROR, "cannot map vcpu %d: %s", i, strerror(errno));
}

void vm_create_vcpus_bare(struct vm *vm)
{
	vm->vcpus = calloc(vm->nvcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		die(EMBER_EXIT_HOST_ERROR, "out of memory");
	for (int i = 0; i < vm->nvcpus; i++)
		vcpu_open(vm, i);
}

void vm_create_vcpus(struct vm *vm, uint64_t entry, uint64_t pvh_start_info)
{
	size_t cpuid_size = sizeof(*vm->cpuid) +
			    CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *cpuid = malloc(cpuid_size);

	if (!cpuid)
		die(EMBER_EXIT_HOST_ERROR, "out of memory");
	vm_create_vcpus_bare(vm);
	for (int i = 0; i < vm->nvcpus; i++) {
		struct vcpu *c = &vm->vcpus[i];

		if (i == 0) {
			/* The TSC's frequency, so that the guest need not calibrate it. */
			int khz = ioctl(c->fd, KVM_GET_TSC_KHZ, 0);

			cpuid_add_timing_leaf(vm->cpuid, CPUID_MAX_ENTRIES, khz > 0 ? (uint32_t)khz : 0);
		}
		memcpy(cpuid, vm->cpuid, cpuid_size);
		cpuid_normalise(cpuid, i, vm->nvcpus, vm->threads_per_core ? vm->threads_per_core : 1);
		KVM_OR_DIE(c->fd, KVM_SET_CPUID2, cpuid);
		set_fpu_msrs_lapic(c);
		set_boot_xcr0(c, cpuid);
		/* Application processors wait for INIT/SIPI from the guest. */
		if (i == 0 && pvh_start_info)
			set_pvh_mode(c, entry, pvh_start_info);
		else if (i == 0)
			set_long_mode(c, entry);
	}
	free(cpuid);
}

void vm_add_ioapic(struct vm *vm, int npins)
{
	if (ioapic_init(&vm->ioapic, vm->vm_fd, npins, (uint8_t)vm->nvcpus) < 0)
		die(EMBER_EXIT_HOST_ERROR, "IOAPIC: %d pins, must be %d..%d", npins,
		    IOAPIC_MIN_PINS, IOAPIC_MAX_PINS);
	if (bus_register(&vm->mmio, IOAPIC_ADDR, IOAPIC_MMIO_SIZE, ioapic_access, &vm->ioapic) < 0)
		die(EMBER_EXIT_HOST_ERROR, "IOAPIC: its page is taken");
}

void vm_irq_pulse(struct vm *vm, int gsi)
{
	struct kvm_irq_level l = { .irq = gsi, .level = 1 };

	ioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
	l.level = 0;
	ioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
}

static const char *internal_suberror(uint32_t s)
{
	switch (s) {
	case KVM_INTERNAL_ERROR_EMULATION: return "emulation failure";
	case KVM_INTERNAL_ERROR_SIMUL_EX: return "exception during exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV: return "event delivery failed";
	default: return "unknown";
	}
}

static unsigned long long vcpu_rip(struct vcpu *c)
{
	struct kvm_regs r;

	return ioctl(c->fd, KVM_GET_REGS, &r) < 0 ? 0 : r.rip;
}

/* Handle one exit; false when the vCPU must stop running. */
static int handle_exit(struct vcpu *c)
{
	struct kvm_run *run = c->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		uint8_t *data = (uint8_t *)run + run->io.data_offset;

		if (run->io.data_offset + (uint64_t)run->io.size * run->io.count >
		    (uint64_t)c->vm->run_size) {
			vm_request_stop(EMBER_EXIT_HOST_ERROR, "bad KVM_EXIT_IO data");
			return 0;
		}
		if (run->io.direction == KVM_EXIT_IO_OUT)
			METRIC_INC(ember_metrics.vcpu.exit_io_out);
		else
			METRIC_INC(ember_metrics.vcpu.exit_io_in);
		for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
			bus_access(&c->vm->pio, run->io.port, data, run->io.size,
				   run->io.direction == KVM_EXIT_IO_OUT);
		return 1;
	}
	case KVM_EXIT_MMIO:
		if (run->mmio.len > sizeof(run->mmio.data)) {
			vm_request_stop(EMBER_EXIT_HOST_ERROR, "bad KVM_EXIT_MMIO length");
			return 0;
		}
		if (run->mmio.is_write)
			METRIC_INC(ember_metrics.vcpu.exit_mmio_write);
		else
			METRIC_INC(ember_metrics.vcpu.exit_mmio_read);
		bus_access(&c->vm->mmio, run->mmio.phys_addr, run->mmio.data,
			   run->mmio.len, run->mmio.is_write);
		return 1;
	case KVM_EXIT_INTR:
		return 1;
	case KVM_EXIT_IOAPIC_EOI:
		/* a level-triggered vector's EOI: none is (ioapic.h), nothing to do */
		return 1;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_CRASH)
			vm_request_stop(EMBER_EXIT_GUEST_CRASH, "guest reported a crash on vcpu %d",
					c->id);
		else
			vm_request_stop(EMBER_EXIT_OK, NULL);
		return 0;
	case KVM_EXIT_SHUTDOWN:
		METRIC_INC(ember_metrics.vcpu.failures);
		vm_request_stop(EMBER_EXIT_GUEST_CRASH,
				"guest triple fault (KVM_EXIT_SHUTDOWN) on vcpu %d at rip 0x%llx",
				c->id, vcpu_rip(c));
		return 0;
	case KVM_EXIT_INTERNAL_ERROR:
		METRIC_INC(ember_metrics.vcpu.failures);
		vm_request_stop(EMBER_EXIT_GUEST_CRASH,
				"KVM internal error (suberror %u: %s) on vcpu %d at rip 0x%llx",
				run->internal.suberror,
				internal_suberror(run->internal.suberror), c->id,
				vcpu_rip(c));
		return 0;
	case KVM_EXIT_FAIL_ENTRY:
		METRIC_INC(ember_metrics.vcpu.failures);
		vm_request_stop(EMBER_EXIT_GUEST_CRASH,
				"KVM entry failed (hardware reason 0x%llx) on vcpu %d",
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason,
				c->id);
		return 0;
	case KVM_EXIT_HLT:
		vm_request_stop(EMBER_EXIT_GUEST_CRASH, "vcpu %d halted", c->id);
		return 0;
	default:
		METRIC_INC(ember_metrics.vcpu.failures);
		vm_request_stop(EMBER_EXIT_GUEST_CRASH,
				"unexpected KVM exit reason %u on vcpu %d at rip 0x%llx",
				run->exit_reason, c->id, vcpu_rip(c));
		return 0;
	}
}

/* Wait outside the guest until resumed (or stopped). */
static void park(struct vcpu *c)
{
	struct vm *vm = c->vm;

	/*
	 * Let KVM finish the instruction of the last exit (an IN's result into
	 * RAX, RIP past an OUT or an MMIO access) without entering the guest:
	 * a snapshot taken now must not show it half done (it would run twice).
	 */
	__atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	/* A string I/O instruction may exit again for its next part: served too (bounded). */
	for (int i = 0; i < 64 && ioctl(c->fd, KVM_RUN, 0) == 0; i++)
		if (!handle_exit(c))
			break;

	pthread_mutex_lock(&vm->pause_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (vm->pause_req && !vm_stop_requested())
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->parked--;
	/* The kick that parked us must not cut the next KVM_RUN short. */
	__atomic_store_n(&c->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vm->pause_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *c = arg;
	char name[16];
	sigset_t set;

	snprintf(name, sizeof(name), "ember_vcpu%d", c->id);
	logger_set_thread_name(name);
	pthread_setname_np(pthread_self(), name);

	/* The VMM thread takes the termination signals; vCPUs only run. */
	sigemptyset(&set);
	for (const int *s = (const int[]){ SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, 0 }; *s; s++)
		sigaddset(&set, *s);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	seccomp_install(SECCOMP_VCPU, c->id); /* seccomp: before the first KVM_RUN */
	while (!vm_stop_requested()) {
		if (__atomic_load_n(&c->vm->pause_req, __ATOMIC_SEQ_CST)) {
			park(c);
			continue;
		}
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			METRIC_INC(ember_metrics.vcpu.failures);
			vm_request_stop(EMBER_EXIT_HOST_ERROR, "KVM_RUN on vcpu %d failed: %s",
					c->id, strerror(errno));
			break;
		}
		/* After a reset or a crash, no guest instruction runs again. */
		if (!handle_exit(c) || vm_stop_requested())
			break;
	}
	/* A pause waiting for this vCPU to park must see that it never will. */
	pthread_mutex_lock(&c->vm->pause_lock);
	pthread_cond_broadcast(&c->vm->pause_cond);
	pthread_mutex_unlock(&c->vm->pause_lock);
	return NULL;
}

static void on_kick(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

static void kick_all(struct vm *vm)
{
	for (int i = 0; i < vm->nvcpus; i++) {
		__atomic_store_n(&vm->vcpus[i].run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(vm->vcpus[i].thread, SIGUSR1);
	}
}

void vm_stop_vcpus(struct vm *vm)
{
	/* Parked vCPUs wake up, see the stop and end. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	kick_all(vm);
	for (int i = 0; i < vm->nvcpus; i++)
		pthread_join(vm->vcpus[i].thread, NULL);
}

int vm_pause_vcpus(struct vm *vm)
{
	int r = 0;

	pthread_mutex_lock(&vm->pause_lock);
	__atomic_store_n(&vm->pause_req, true, __ATOMIC_SEQ_CST);
	kick_all(vm);
	while (vm->parked < vm->nvcpus && !(r = vm_stop_requested()))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
	if (!r) {
		vm->pause_clock_valid = ioctl(vm->vm_fd, KVM_GET_CLOCK, &vm->pause_clock) == 0;
		vm_clock_paused(vm);
	}
	return r ? -1 : 0;
}

void vm_clock_paused(struct vm *vm)
{
	/*
	 * Tell a guest on kvmclock that it was stopped, so that its watchdogs
	 * do not take the pause for a lockup. EINVAL: it does not use kvmclock.
	 */
	for (int i = 0; i < vm->nvcpus; i++)
		(void)ioctl(vm->vcpus[i].fd, KVM_KVMCLOCK_CTRL, 0);
}

void vm_resume_vcpus(struct vm *vm)
{
	vm->pause_clock_valid = false;
	pthread_mutex_lock(&vm->pause_lock);
	__atomic_store_n(&vm->pause_req, false, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_start_vcpus(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = on_kick };

	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	for (int i = 0; i < vm->nvcpus; i++) {
		int e = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);

		if (e)
			die(EMBER_EXIT_HOST_ERROR, "cannot start vcpu %d thread: %s", i,
			    strerror(e));
	}
}
