/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest-physical memory layout of an ember microVM (x86-64).
 *
 *   0x0000_0500  boot GDT (null, null, code64,  \
 *                data, 16-byte TSS descriptor)  |
 *   0x0000_0540  boot IDT (empty)               |
 *   0x0000_7000  boot_params (the zero page)    | written by the VMM
 *   0x0000_8ff0  initial stack pointer          |
 *   0x0000_9000  PML4, PDPT, 4 PDs: identity    |
 *                map of the low 4 GiB, 2 MiB    |
 *                pages (0x9000..0xefff)         |
 *   0x0002_0000  kernel command line           /
 *   0x0009_fc00  EBDA: MP table                  (e820: reserved up to 1 MiB)
 *   0x0010_0000  kernel (bzImage protected-mode part; vmlinux at its p_paddr)
 *   ...          initrd, at the top of low RAM
 *   0xd000_0000  32-bit MMIO gap (768 MiB): virtio-mmio, IOAPIC, LAPIC
 *   0x1_0000_0000 RAM above 4 GiB when the guest has more than 0xd0000000 bytes
 */
#ifndef EMBER_LAYOUT_H
#define EMBER_LAYOUT_H

#define BOOT_GDT_START      0x500ULL
#define BOOT_IDT_START      0x540ULL
#define ZERO_PAGE_START     0x7000ULL
#define BOOT_STACK_POINTER  0x8ff0ULL
#define PML4_START          0x9000ULL
#define PDPT_START          0xa000ULL
#define PD_START            0xb000ULL /* 4 pages: 0xb000..0xefff */
#define CMDLINE_START       0x20000ULL
#define CMDLINE_MAX_SIZE    2048ULL   /* Linux x86 COMMAND_LINE_SIZE, incl. NUL */
#define EBDA_START          0x9fc00ULL
#define MPTABLE_START       EBDA_START
#define HIMEM_START         0x100000ULL

#define MMIO_GAP_START      0xd0000000ULL
#define MMIO_GAP_SIZE       (768ULL << 20)
#define MMIO_GAP_END        (MMIO_GAP_START + MMIO_GAP_SIZE) /* 4 GiB */
#define FIRST_ADDR_PAST_32BITS (1ULL << 32)

/*
 * The boot-timer page (--boot-timer): a guest write of 123 logs the boot
 * time. Firecracker's 0xc0000000 is RAM here, so it sits 16 MiB into the gap,
 * past the virtio-mmio slots.
 */
#define BOOT_TIMER_ADDR     0xd1000000ULL

#define IOAPIC_ADDR         0xfec00000ULL
#define LAPIC_ADDR          0xfee00000ULL

/*
 * The IOAPIC's pins (GSIs), ember's own (vmm/ioapic.c): ISA IRQ 1 the i8042,
 * 4 COM1, then the ACPI Generic Event Device, then one pin per virtio-mmio
 * slot. The IOAPIC has as many pins as the VM's devices need (a Linux guest
 * reads and masks every pin at boot, a few MMIO exits each), 24 at most.
 */
#define GSI_GED             5
#define GSI_VIRTIO_FIRST    6
#define IOAPIC_MIN_PINS     GSI_VIRTIO_FIRST
#define IOAPIC_MAX_PINS     24

/* Boot GDT selectors (Linux's __BOOT_CS / __BOOT_DS). */
#define BOOT_CS_SELECTOR    0x10
#define BOOT_DS_SELECTOR    0x18
#define BOOT_TSS_SELECTOR   0x20

/* KVM's private pages (VMX real-mode TSS and identity map), top of the gap. */
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define KVM_TSS_ADDR          0xfffbd000ULL

/* Guest memory limits accepted on the command line. */
#define GUEST_MEM_MIN_MIB   8ULL
#define GUEST_MEM_MAX_MIB   (1ULL << 20) /* 1 TiB */
#define GUEST_VCPUS_MAX     32

#endif
