/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM's devices as table entries: each kind of device says how many the
 * configuration asks for, how to open one (its files, its TAP: bad input
 * is refused here, before KVM is touched), the kernel parameters it adds
 * beside its virtio-mmio slot, its metrics and how to close it. main/vmm.c
 * walks the table; it knows no kind but through it. The kinds' order is
 * the slot order (virtio-blk first: the root drive is /dev/vda).
 *
 * Adding a virtio device: its code in virtio/, one entry here, its field in
 * the configuration model (api-socket/vm_config.h) and how the command
 * line, the API and the config file fill that field.
 */
#ifndef EMBER_MAIN_DEVICES_H
#define EMBER_MAIN_DEVICES_H

#include <stddef.h>

#include "api-socket/vm_config.h"
#include "core/evloop.h"
#include "core/guest_mem.h"
#include "virtio/virtio.h"

struct device_kind;

/* One device of the VM: a slot of the per-VM table in struct vmm. */
struct vm_device {
	const struct device_kind *kind;
	void *obj;                /* the kind's own object (struct virtio_blk *, ...) */
	struct virtio_dev *dev;   /* what the transport serves */
	void *metrics_obj;        /* what kind->metrics->read() reads */
	char id[FIELD_ID_MAX + 1]; /* the drive or interface id: "block_<id>" */
	int slot;                 /* its virtio-mmio slot (main/vmm.c hands them out) */
};

struct device_kind {
	const char *name;
	const struct metrics_kind *metrics;
	/* How many devices of this kind c asks for. */
	int (*count)(const struct vm_config *c);
	/*
	 * Open the host side of the kind's device i (0..count-1, in slot
	 * order) into d (kind and slot aside). 0, or -1 with a one-line reason
	 * (bad input: a missing file, a TAP that cannot be had).
	 */
	int (*open)(struct vm_device *d, const struct vm_config *c, int i,
		    const struct guest_mem *mem, struct evloop *loop, char *err, size_t errlen);
	/* Kernel parameters after the device's own ("root=/dev/vda rw"), or NULL. */
	const char *(*cmdline)(const struct vm_device *d, const struct vm_config *c, int i);
	/* Give back what open took (a failed boot is retried from the API). */
	void (*close)(struct vm_device *d);
};

/* The kinds, in slot order; NULL-terminated. */
extern const struct device_kind *const device_kinds[];
/* virtio-blk's entry (PATCH /drives swaps its backing file). */
extern const struct device_kind device_virtio_blk;

#endif
