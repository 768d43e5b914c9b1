/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-blk backed by a raw file (or block device). */
#ifndef EMBER_VIRTIO_BLK_H
#define EMBER_VIRTIO_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/virtio.h"

#define VIRTIO_BLK_ID_BYTES 20
/*
 * Served per notification, whichever comes first: requests, or bytes the
 * chains carry; then the event loop serves its other sources.
 */
#define VIRTIO_BLK_BUDGET 128
#define VIRTIO_BLK_BYTE_BUDGET (8u << 20)
#define DRIVE_ID_MAX 64

struct drive_spec {
	char path[4096];
	char id[DRIVE_ID_MAX + 1];
	bool read_only;
	bool root;
};

struct virtio_blk_stats {
	uint64_t read_bytes, write_bytes, reads, writes, flushes, errors;
};

/* Firecracker's "block" metrics; a device is its struct virtio_blk_stats. */
struct metrics_kind;
extern const struct metrics_kind virtio_blk_metrics;

struct virtio_blk {
	struct virtio_dev dev;
	struct drive_spec spec;
	int fd;
	uint64_t capacity;        /* in 512-byte sectors */
	struct virtio_blk_stats stats;
	struct virtq_chain chain; /* scratch for the request being served */
	char name[DRIVE_ID_MAX + 16];
};

/* Open the backing file and set up the device; -1 with a reason in err. */
int virtio_blk_create(struct virtio_blk *b, const struct drive_spec *s,
		      const struct guest_mem *mem, struct evloop *loop,
		      char *err, size_t errlen);

/*
 * Swap the backing file (same read-only mode) while the guest runs: the
 * new capacity is announced with a config-change interrupt. In-flight
 * requests are served from one file or the other, never both. -1 with a
 * reason in err leaves the old file in place.
 */
int virtio_blk_set_backing(struct virtio_blk *b, const char *path, char *err, size_t errlen);

#endif
