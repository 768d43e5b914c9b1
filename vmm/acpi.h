/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hardware-reduced ACPI tables for kernels that find their machine through
 * ACPI (a stock distribution kernel): RSDP, XSDT, FADT, MADT and a DSDT in
 * AML, written by our own code below 1 MiB (reserved in the e820 map, where
 * Linux also scans for the RSDP; boot_params.acpi_rsdp_addr names it too).
 *
 *   FADT  HW_REDUCED_ACPI; sleep control, sleep status and reset registers
 *         on I/O ports of ours (ACPI_SLEEP_CONTROL...); no legacy PM blocks
 *   MADT  one local APIC per vCPU (ids 0..n-1), the IOAPIC (id n, GSI 0),
 *         no PCAT_COMPAT (no 8259s): the same machine as the MP table,
 *         which stays for other kernels
 *   DSDT  COM1 (PNP0501), the i8042 (PNP0303), one LNRO0005 device per
 *         virtio-mmio slot (its page and interrupt), _S5 for poweroff,
 *         and the VM generation ID: VGEN (_CID "VM_GEN_COUNTER", its
 *         16 bytes at ACPI_VMGENID_ADDR named by ADDR) with a Generic
 *         Event Device (ACPI0013) whose interrupt, ACPI_GED_GSI, makes
 *         the guest re-read them (Notify (VGEN, 0x80))
 *
 * A guest's poweroff writes SLP_TYP 5 with SLP_EN to the sleep control
 * register, its reboot the reset value to the reset register:
 * acpi_pm_init() turns both into the end of the VM (status 0).
 *
 * The generation ID is random at boot and new at every snapshot restore
 * (acpi_vmgenid_new), then the GED's interrupt: a Linux guest with
 * CONFIG_VMGENID reseeds its random number generator from it, so that
 * clones of one snapshot do not share their randomness.
 */
#ifndef EMBER_VMM_ACPI_H
#define EMBER_VMM_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/layout.h"

#define ACPI_START          0xe0000ULL /* RSDP, then the tables */
#define ACPI_MAX_SIZE       0x10000ULL /* reserved in the e820 map: up to 0xeffff */
#define ACPI_TABLES_MAX     (ACPI_MAX_SIZE - 0x1000) /* the last page: the generation ID */
#define ACPI_VMGENID_ADDR   (ACPI_START + ACPI_TABLES_MAX)
#define ACPI_VMGENID_SIZE   16
#define ACPI_GED_GSI        GSI_GED    /* before the virtio-mmio slots' (core/layout.h) */
#define ACPI_SLEEP_CONTROL  0x600      /* I/O ports (byte registers) */
#define ACPI_SLEEP_STATUS   0x601
#define ACPI_RESET          0x602
#define ACPI_RESET_VALUE    0x01
#define ACPI_S5_TYPE        5          /* _S5's SLP_TYP */
#define ACPI_MAX_DEVS       16

/* A virtio-mmio slot for the DSDT. */
struct acpi_mmio_dev {
	uint64_t base, size;
	uint32_t gsi;
};

struct acpi_machine {
	int ncpus;
	const struct acpi_mmio_dev *devs;
	int ndevs;                  /* at most ACPI_MAX_DEVS */
};

/*
 * Build the tables into buf (cap bytes), as they go at guest address
 * ACPI_START (the RSDP first): their length, or 0 when they do not fit.
 */
size_t acpi_build(uint8_t *buf, size_t cap, const struct acpi_machine *m);

struct vm;
/*
 * Write the tables into the VM's memory and register the sleep and reset
 * ports. 0, or -1 with a reason.
 */
int acpi_setup(struct vm *vm, const struct acpi_machine *m, char *err, size_t errlen);
/*
 * Only the sleep and reset ports (a VM restored from a snapshot, whose
 * tables are in its memory already). 0, or -1 with a reason.
 */
int acpi_pm_init(struct vm *vm, char *err, size_t errlen);
/*
 * A restored VM: if its memory holds our ACPI tables, a new random
 * generation ID there (the page marked dirty for Diff snapshots) and true:
 * the caller then pulses ACPI_GED_GSI once the IOAPIC's state is in.
 * false for a guest without them (--no-acpi).
 */
bool acpi_vmgenid_new(struct vm *vm);

#endif
