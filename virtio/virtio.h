/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A virtio device as its transport sees it, and the transport as the device
 * sees it: a device never knows which transport carries it (it calls
 * virtio_dev_used()/virtio_dev_config_changed()), and the transport never
 * knows which device it carries (it calls the ops).
 *
 * Threads: register accesses arrive on vCPU threads, queue notifications
 * and backend I/O on the VMM thread's event loop; both hold dev->lock.
 */
#ifndef EMBER_VIRTIO_H
#define EMBER_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/evloop.h"
#include "core/guest_mem.h"
#include "virtio/virtqueue.h"

#define VIRTIO_ID_NET    1
#define VIRTIO_ID_BLOCK  2

#define VIRTIO_F_RING_INDIRECT_DESC (1ULL << 28)
#define VIRTIO_F_RING_EVENT_IDX     (1ULL << 29)
#define VIRTIO_F_VERSION_1          (1ULL << 32)

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED      128

/* Interrupt reasons (the InterruptStatus bits of virtio-mmio). */
#define VIRTIO_INT_VRING  1
#define VIRTIO_INT_CONFIG 2

#define VIRTIO_MAX_QUEUES 8 /* vsock needs 3, a balloon up to 5 */

struct virtio_dev;

struct virtio_dev_ops {
	/* Read len bytes of the device config space at off (already bounds-checked). */
	void (*config_read)(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len);
	/* The driver set DRIVER_OK: start serving. -1 sets NEEDS_RESET. */
	int (*activate)(struct virtio_dev *d);
	/* The driver made buffers available on queue q (event-loop thread). */
	void (*notify)(struct virtio_dev *d, int q);
	/* The driver reset the device: stop serving (queues are reset after). */
	void (*reset)(struct virtio_dev *d);
};

struct virtio_dev {
	/* filled in by the device */
	const struct virtio_dev_ops *ops;
	void *priv;
	const char *name;         /* e.g. "virtio-blk rootfs" */
	uint32_t device_id;
	uint64_t host_features;
	uint32_t config_len;
	int nqueues;
	uint16_t queue_max;
	/* negotiated state (the transport writes, the device reads) */
	pthread_mutex_t lock;
	uint64_t driver_features;
	uint8_t status;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	char qname[VIRTIO_MAX_QUEUES][96];
	const struct guest_mem *mem;
	struct evloop *loop;
	/* filled in by the transport */
	void (*signal)(struct virtio_dev *d, uint32_t why);
	/* Call notify(d, q) again from the event loop, after the others. */
	void (*reschedule)(struct virtio_dev *d, int q);
	void *transport;
};

/* Common set-up for a device: name, id, queues, lock. */
void virtio_dev_init(struct virtio_dev *d, const char *name, uint32_t device_id,
		     int nqueues, uint16_t queue_max, const struct guest_mem *mem,
		     struct evloop *loop);

/*
 * virtq_pop() on queue q; when the guest broke the queue, the device also
 * sets DEVICE_NEEDS_RESET and tells the driver (a config interrupt).
 */
int virtio_dev_pop(struct virtio_dev *d, int q, struct virtq_chain *c);

/* Tell the driver about buffers pushed on queue q, if it wants to know. */
void virtio_dev_used(struct virtio_dev *d, int q);

/*
 * The device spent its budget on queue q with work left: the transport calls
 * notify(d, q) again once the event loop has served its other sources, so a
 * guest that keeps a queue full cannot hold the VMM thread.
 */
void virtio_dev_reschedule(struct virtio_dev *d, int q);
/* The config space changed (e.g. a new backing file). */
void virtio_dev_config_changed(struct virtio_dev *d);

/* Whether the driver accepted a feature bit. */
static inline bool virtio_has(const struct virtio_dev *d, uint64_t feature)
{
	return d->driver_features & feature;
}

/* The device gives up until reset (a backend failure it cannot report). */
void virtio_dev_needs_reset(struct virtio_dev *d);

#endif
