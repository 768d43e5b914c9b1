/* SPDX-License-Identifier: Apache-2.0 */
/*
 * blkflood: a guest that keeps ember's virtio-blk busy for good. It keeps
 * the queue full of 4 MiB reads (one chain, made available again as soon as
 * there is room), faster than the device serves them, so a device without a
 * budget would never leave its notification handler and the VMM thread
 * would serve nothing else (tests/api: flood_blk times GET / meanwhile).
 *
 * Command line: rounds=N (default 1000000) times the ring is topped up;
 * then it resets the device and the VM. Prints "BLKFLOOD start" once the
 * first requests were served, "BLKFLOOD done N" at the end, "FAIL
 * blkflood: ..." when the device does not serve.
 */
#include "virtio.h"

const char guest_name[] = "blkflood";

#define CHUNK (4u << 20)

static struct vq_rings rings;
static uint8_t data[CHUNK] __attribute__((aligned(4096)));
static struct blk_hdr hdr __attribute__((aligned(16)));
static uint8_t status;

void guest_main(const uint8_t *zp)
{
	const char *cl = (const char *)phys(rd32(zp + BP_CMD_LINE_PTR));
	volatile struct vq_rings *r = &rings;
	struct vdev dev;
	struct vq q;
	uint64_t rounds, served = 0;
	uint32_t id, len, st;

	if (cmdline_u64(cl, "rounds", 1000000, &rounds)) {
		fail("bad rounds= on the command line");
		return;
	}
	if (virtio_find(cl, VIRTIO_ID_BLOCK, 0, &dev) < 0) {
		fail("no virtio-blk device announced: \"%s\"", cl);
		return;
	}
	if (virtio_negotiate(&dev, VIRTIO_F_VERSION_1) < 0 || vq_setup(&dev, 0, &q, &rings) < 0 ||
	    virtio_driver_ok(&dev) < 0)
		return;
	hdr.type = BLK_T_IN;
	hdr.sector = 0;
	vq_desc(&q, 0, &hdr, sizeof(hdr), VRING_DESC_F_NEXT, 1);
	vq_desc(&q, 1, data, CHUNK, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	vq_desc(&q, 2, &status, 1, VRING_DESC_F_WRITE, 0);
	vq_post(&q, 0);
	vq_kick(&q);
	if (vq_wait(&q, POLLS_DONE, &id, &len, &st) != 1) {
		fail("the first read was not served (status 0x%x)", st);
		return;
	}
	print("BLKFLOOD start\n");
	for (uint64_t i = 0; i < rounds; i++) {
		/* Top the ring up: the same chain, as often as there is room. */
		while ((uint16_t)(q.avail_idx - r->used.idx) < VQ_SIZE)
			vq_post(&q, 0);
		vq_kick(&q);
	}
	served = r->used.idx;
	virtio_reset(&dev);
	print("BLKFLOOD done %lu\n", served);
}
