/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueues (virtio 1.x), device side. The guest is the attacker:
 * every descriptor is copied out of guest memory once, then checked (index,
 * address and length inside guest RAM, chain length, loops, nested indirect
 * tables, device-readable after device-writable); any violation marks the
 * queue broken and it serves nothing more until the driver resets the
 * device. Rings are reached only through pointers that gm_ptr() validated
 * for their full size when the queue was made ready.
 */
#ifndef EMBER_VIRTQUEUE_H
#define EMBER_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/guest_mem.h"

#define VIRTQ_MAX_SIZE 256
/* The longest chain a device accepts (direct or through one indirect table). */
#define VIRTQ_MAX_CHAIN 1024

#define VRING_DESC_F_NEXT     1
#define VRING_DESC_F_WRITE    2
#define VRING_DESC_F_INDIRECT 4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY     1

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq {
	/* set by the driver through the transport */
	uint32_t size;           /* as written by the driver; checked at activation */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool ready;
	/* device state */
	bool broken;
	bool event_idx;          /* VIRTIO_F_RING_EVENT_IDX negotiated */
	uint16_t last_avail;     /* next avail entry to take */
	uint16_t used_idx;       /* our copy of used->idx */
	uint16_t signalled_used; /* used->idx at the last interrupt */
	bool signalled_valid;
	/* host views of the rings, valid while ready && !broken */
	struct vring_desc *desc;
	uint16_t *avail;         /* flags, idx, ring[size], used_event */
	uint16_t *used;          /* flags, idx, ring (as elems), avail_event */
	const char *name;        /* for messages, e.g. "virtio-blk vda queue 0" */
};

/* One buffer of a popped chain. */
struct virtq_buf {
	void *host;
	uint32_t len;
	bool write;              /* device-writable */
};

struct virtq_chain {
	uint16_t head;
	int nread, nwrite;       /* readable buffers come first, then writable */
	uint64_t read_len, write_len;
	struct virtq_buf buf[VIRTQ_MAX_CHAIN];
};

/* Forget everything (device reset). */
void virtq_reset(struct virtq *q);

/*
 * Validate the ring addresses and size and map the rings; on failure the
 * queue is marked broken with a warning. Returns 0 or -1.
 */
int virtq_activate(struct virtq *q, const struct guest_mem *gm);

/*
 * Take the next available chain. 1: *c filled in; 0: nothing available;
 * -1: the guest broke the queue (a warning says how; nothing was written).
 */
int virtq_pop(struct virtq *q, const struct guest_mem *gm, struct virtq_chain *c);

/* Return a chain to the driver with len bytes written into it. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);
/* Return n chains at once (e.g. the buffers of one merged RX frame). */
void virtq_push_batch(struct virtq *q, const struct vring_used_elem *e, int n);

/* Whether the driver wants an interrupt for what was pushed since the last one. */
bool virtq_needs_interrupt(struct virtq *q);

/*
 * Ask the driver to notify us when it adds buffers (EVENT_IDX: at the next
 * one). Returns true if buffers arrived meanwhile (check again).
 */
bool virtq_enable_notify(struct virtq *q);

/* Whether chains are available now (false for a broken or unready queue). */
bool virtq_has_avail(struct virtq *q);

/* Copy between a chain's buffers and a flat host buffer. */
size_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *dst, size_t len);
size_t virtq_chain_write(const struct virtq_chain *c, uint64_t off, const void *src, size_t len);

#endif
