/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel MultiProcessor Specification 1.4 tables, written at MPTABLE_START:
 * the floating pointer structure and a configuration table with one
 * processor entry per vCPU (APIC id = vCPU index, vCPU 0 the BSP), an ISA
 * bus, the IOAPIC (id = ncpus, at IOAPIC_ADDR), one I/O interrupt entry per
 * IOAPIC pin 0..npins-1 (ISA IRQ n -> pin n, edge/high), and local interrupt
 * entries ExtINT -> LINT0, NMI -> LINT1. Pure code over guest_mem.
 */
#ifndef EMBER_MPTABLE_H
#define EMBER_MPTABLE_H

#include <stddef.h>

#include "core/guest_mem.h"

/* 0 on success, -1 with a one-line reason in err (ncpus out of 1..32, npins
 * out of IOAPIC_MIN_PINS..IOAPIC_MAX_PINS, table outside guest memory). */
int mptable_write(const struct guest_mem *gm, int ncpus, int npins, char *err, size_t errlen);

#endif
