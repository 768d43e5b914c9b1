/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ports Linux probes on a PC that no emulated device owns, answered as
 * "no device here" so that the guest moves on quietly (COM2-4, the VGA
 * registers, PCI config space, the 8259 PICs and the PIT, which KVM's split
 * irqchip leaves out, the CMOS/RTC, the POST/delay ports). The i8042 is in
 * i8042.c.
 */
#ifndef EMBER_LEGACY_H
#define EMBER_LEGACY_H

#include "vmm/vm.h"

void legacy_init(struct vm *vm);

#endif
