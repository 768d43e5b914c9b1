/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Legacy PC devices that are not in KVM: the i8042 (only what Linux uses to
 * reset the machine: a 0xFE command on port 0x64 ends the VM cleanly), and
 * the ports Linux probes on a PC, answered as "no device here" so that the
 * guest moves on quietly (COM2-4, the VGA registers, PCI config space, the
 * CMOS/RTC, the POST/delay ports).
 */
#ifndef EMBER_LEGACY_H
#define EMBER_LEGACY_H

#include "vm.h"

void legacy_init(struct vm *vm);

#endif
