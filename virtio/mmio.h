/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-mmio transport (register layout version 2). Queue
 * notifications arrive through ioeventfds and interrupts leave through an
 * irqfd, so a vCPU never exits to user space to kick a queue.
 */
#ifndef EMBER_VIRTIO_MMIO_H
#define EMBER_VIRTIO_MMIO_H

#include <stddef.h>

#include "core/layout.h"
#include "core/snapfile.h"
#include "virtio/virtio.h"
#include "vmm/vm.h"

#define VIRTIO_MMIO_SIZE      0x1000
#define VIRTIO_MMIO_BASE      0xd0000000ULL /* MMIO_GAP_START: devices one page apart */
#define VIRTIO_MMIO_FIRST_GSI GSI_VIRTIO_FIRST
#define VIRTIO_MMIO_MAX_DEVS  16            /* GSIs 6..21 */
_Static_assert(VIRTIO_MMIO_FIRST_GSI + VIRTIO_MMIO_MAX_DEVS <= IOAPIC_MAX_PINS,
	       "every slot needs an IOAPIC pin");

struct virtio_mmio {
	struct virtio_dev *dev;
	struct vm *vm;
	uint64_t base;
	int gsi;
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	uint32_t int_status;         /* atomics only: read and acked without dev->lock */
	uint32_t config_generation;
	int irqfd;
	int notify_fd[VIRTIO_MAX_QUEUES];
	bool warned_status;          /* a bad status write was reported (until reset) */
};

/*
 * The kernel parameter that announces the device in slot n (0 to
 * VIRTIO_MMIO_MAX_DEVS - 1; the VM's device table hands them out):
 * "virtio_mmio.device=4K@ADDR:GSI". -1 if n is not a valid slot.
 */
int virtio_mmio_param(int n, char *buf, size_t size);

/*
 * Put dev on slot n: register it on the MMIO bus and wire its ioeventfds
 * and irqfd. Dies on failure (a host error, or a slot taken twice).
 */
void virtio_mmio_add(struct vm *vm, int n, struct virtio_dev *dev);

/*
 * The transport without KVM (virtio_mmio_add() calls it, then wires the
 * irqfd, the ioeventfds and the bus): m serves dev's registers on slot n
 * through virtio_mmio_access(), the bus handler. irqfd and notify_fd[]
 * start at -1. -1 if n is not a valid slot. For tests: tests/unit.
 */
int virtio_mmio_init(struct virtio_mmio *m, struct vm *vm, int n, struct virtio_dev *dev);
void virtio_mmio_access(void *m, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

/*
 * A device's transport registers and queues into a snapshot, and back into
 * the same device on the same slot of a new VM (its rings checked against
 * guest memory as the driver's writes are; activated again if the driver
 * had started it). 0, or -1 with a reason.
 */
void virtio_mmio_save(struct virtio_dev *d, struct snap_writer *w);
int virtio_mmio_restore(struct virtio_dev *d, const struct snap_section *sec, char *err,
			size_t errlen);

#endif
