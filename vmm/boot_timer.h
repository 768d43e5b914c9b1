/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The boot timer, Firecracker's pseudo device (devices/pseudo/boot_timer.rs):
 * a guest writes the byte 123 at offset 0 of its MMIO page when it has
 * booted (e.g. `devmem 0xd1000000 8 123` from init), and the VMM logs at
 * Info level
 *
 *   Guest-boot-time =  12345 us 12 ms,   6789 CPU us 6 CPU ms
 *
 * measured from start_ns (CLOCK_MONOTONIC at InstanceStart) and, for CPU
 * time, from the process CPU time at boot_timer_init(). The times also go
 * to the metrics (vmm.guest_boot_time_us, vmm.guest_boot_time_cpu_us).
 * Other accesses are ignored; reads return zeros.
 *
 * Address: Firecracker's x86 boot timer sits at 0xc0000000 (the start of its
 * 32-bit MMIO area), which is guest RAM in ember when the guest has more
 * than 3 GiB (ember's RAM runs up to MMIO_GAP_START, 0xd0000000). ember
 * puts it 16 MiB into its MMIO gap instead, clear of the virtio-mmio slots
 * (0xd0000000 + n * 4 KiB, n < 16), the IOAPIC, the LAPIC and KVM's pages.
 */
#ifndef EMBER_BOOT_TIMER_H
#define EMBER_BOOT_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/layout.h" /* BOOT_TIMER_ADDR */

#define BOOT_TIMER_SIZE  0x1000ULL
#define BOOT_TIMER_MAGIC 123

struct vm;

/* CLOCK_MONOTONIC now, in ns: what start_ns is taken from. */
uint64_t boot_timer_now_ns(void);

/*
 * Map the device on vm->mmio; call it at InstanceStart, right after taking
 * start_ns. 0, or -1 when the range is taken (or the bus is full).
 */
int boot_timer_init(struct vm *vm, uint64_t start_ns);

/* The last boot time measured: false while the guest has not written 123. */
bool boot_timer_result(uint64_t *us, uint64_t *cpu_us);

#endif
