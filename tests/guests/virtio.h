/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny polled virtio-mmio (register layout version 2) driver for ember's
 * test guests: find devices from "virtio_mmio.device=4K@ADDR:GSI" on the
 * command line, negotiate features, set up split virtqueues of VQ_SIZE
 * entries in caller-provided memory, post chains and poll the used ring.
 * No interrupts: every wait reads the device's Status register (an MMIO
 * exit, which paces the loop whether or not the CPU is emulated) and gives
 * up after a bounded number of polls.
 *
 * Guest-physical == guest-virtual (ember identity-maps the low 4 GiB), so a
 * pointer is a descriptor address.
 */
#ifndef EMBER_TEST_GUEST_VIRTIO_H
#define EMBER_TEST_GUEST_VIRTIO_H

#include "lib.h"

/* virtio-mmio registers */
#define VM_MAGIC            0x000
#define VM_VERSION          0x004
#define VM_DEVICE_ID        0x008
#define VM_VENDOR_ID        0x00c
#define VM_DEV_FEATURES     0x010
#define VM_DEV_FEATURES_SEL 0x014
#define VM_DRV_FEATURES     0x020
#define VM_DRV_FEATURES_SEL 0x024
#define VM_QUEUE_SEL        0x030
#define VM_QUEUE_NUM_MAX    0x034
#define VM_QUEUE_NUM        0x038
#define VM_QUEUE_READY      0x044
#define VM_QUEUE_NOTIFY     0x050
#define VM_INT_STATUS       0x060
#define VM_INT_ACK          0x064
#define VM_STATUS           0x070
#define VM_QUEUE_DESC_LO    0x080
#define VM_QUEUE_DESC_HI    0x084
#define VM_QUEUE_AVAIL_LO   0x090
#define VM_QUEUE_AVAIL_HI   0x094
#define VM_QUEUE_USED_LO    0x0a0
#define VM_QUEUE_USED_HI    0x0a4
#define VM_CONFIG_GEN       0x0fc
#define VM_CONFIG           0x100

#define VIRTIO_MMIO_MAGIC   0x74726976 /* "virt" */

#define VIRTIO_ID_NET       1
#define VIRTIO_ID_BLOCK     2

#define VIRTIO_F_INDIRECT   (1ULL << 28)
#define VIRTIO_F_EVENT_IDX  (1ULL << 29)
#define VIRTIO_F_VERSION_1  (1ULL << 32)

#define ST_ACKNOWLEDGE      1
#define ST_DRIVER           2
#define ST_DRIVER_OK        4
#define ST_FEATURES_OK      8
#define ST_NEEDS_RESET      64
#define ST_FAILED           128

#define VRING_DESC_F_NEXT   1
#define VRING_DESC_F_WRITE  2
#define VRING_DESC_F_INDIRECT 4

/* Entries per queue: small, so that rings stay a few hundred bytes. */
#define VQ_SIZE 16

/*
 * Poll budgets. Each poll is one MMIO read, a VM exit to ember: a few us on
 * a hardware KVM, 12 to 25 us on an emulating one (measured there: 20,000
 * polls take 0.25 to 0.5 s, 300,000 polls 4 to 7 s).
 */
#define POLLS_DONE   300000UL /* a request that must complete */
#define POLLS_QUIET   20000UL /* a request that must NOT complete */

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vq_used_elem {
	uint32_t id;
	uint32_t len;
};

/* The memory of one split virtqueue (caller-provided, e.g. static). */
struct vq_rings {
	struct vq_desc desc[VQ_SIZE];
	struct {
		uint16_t flags, idx, ring[VQ_SIZE], used_event;
	} avail;
	struct {
		uint16_t flags, idx;
		struct vq_used_elem ring[VQ_SIZE];
		uint16_t avail_event;
	} used __attribute__((aligned(4)));
} __attribute__((aligned(16)));

struct vdev {
	uint64_t base;      /* MMIO base */
	unsigned gsi;
	uint32_t device_id;
	uint64_t offered;   /* device features */
	uint64_t accepted;  /* what the driver wrote */
};

struct vq {
	struct vdev *dev;
	unsigned index;
	struct vq_rings *r;
	uint16_t avail_idx; /* next avail->idx to publish */
	uint16_t used_seen; /* used entries consumed */
};

static inline uint32_t vr32(const struct vdev *d, uint32_t off)
{
	return *(volatile uint32_t *)(uintptr_t)(d->base + off);
}

static inline void vw32(const struct vdev *d, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(d->base + off) = v;
}

static inline uint8_t vcfg8(const struct vdev *d, uint32_t off)
{
	return *(volatile uint8_t *)(uintptr_t)(d->base + VM_CONFIG + off);
}

/* Compiler barrier: x86 keeps stores (and loads) in order by itself. */
#define barrier() __asm__ volatile("" ::: "memory")

/*
 * The nth (from 0) virtio-mmio device with device_id announced on the
 * command line. Checks each announcement's syntax and the magic/version of
 * the device behind it (fail()s on a malformed one). 0, or -1 if none.
 */
int virtio_find(const char *cmdline, uint32_t device_id, unsigned nth, struct vdev *d);

/* Number of "virtio_mmio.device=" tokens on the command line. */
unsigned virtio_count(const char *cmdline);

/* Write 0 to Status and check it reads back 0. 0 or -1 (fail()ed). */
int virtio_reset(struct vdev *d);

/*
 * Reset, ACKNOWLEDGE, DRIVER, read the offered features (into d->offered),
 * accept want (which must be offered, or fail()), FEATURES_OK and check it
 * stuck. 0 or -1 (fail()ed).
 */
int virtio_negotiate(struct vdev *d, uint64_t want);

/* Set up queue index in r (zeroed here) with VQ_SIZE entries. 0 or -1. */
int vq_setup(struct vdev *d, unsigned index, struct vq *q, struct vq_rings *r);

/* Set DRIVER_OK and check the device took it. 0 or -1. */
int virtio_driver_ok(struct vdev *d);

/* Fill descriptor i. */
void vq_desc(struct vq *q, unsigned i, const volatile void *addr, uint32_t len,
	     uint16_t flags, uint16_t next);

/* Put head on the avail ring and publish it (no notification). */
void vq_post(struct vq *q, uint16_t head);

/* Notify the device about queue q. */
static inline void vq_kick(struct vq *q)
{
	vw32(q->dev, VM_QUEUE_NOTIFY, q->index);
}

/*
 * Wait up to polls for the next used entry. 1: *id, *len filled in;
 * 0: none in time; -1: Status shows NEEDS_RESET or FAILED (in *status if
 * not NULL, in every case).
 */
int vq_wait(struct vq *q, unsigned long polls, uint32_t *id, uint32_t *len, uint32_t *status);

/* Highest end of an e820 RAM range below 4 GiB (from the zero page). */
uint64_t e820_low_ram_end(const uint8_t *zp);

/* --- virtio-blk requests ------------------------------------------------ */
#define BLK_T_IN      0
#define BLK_T_OUT     1
#define BLK_T_FLUSH   4
#define BLK_T_GET_ID  8
#define BLK_S_OK      0
#define BLK_S_IOERR   1
#define BLK_S_UNSUPP  2
#define BLK_F_RO      (1ULL << 5)
#define BLK_F_FLUSH   (1ULL << 9)

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* One data buffer of a request. */
struct blk_seg {
	void *addr;
	uint32_t len;
};

/*
 * A synchronous request on q: header, nseg data buffers (device-writable
 * for IN and GET_ID, readable otherwise), status byte; at most VQ_SIZE - 2
 * segments. Returns the status byte (0..255), or -1 if the device did not
 * answer (fail()ed, naming what). *used_len gets the used length.
 */
int blk_request(struct vq *q, uint32_t type, uint64_t sector, const struct blk_seg *seg,
		unsigned nseg, uint32_t *used_len, const char *what);

#endif
