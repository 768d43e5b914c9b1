/* SPDX-License-Identifier: Apache-2.0 */
/*
 * blkhostile: a malicious virtio-blk driver. Each attack hands ember's
 * virtio-blk a broken queue: buffers, rings or indirect tables outside
 * guest RAM (far away, straddling the end of RAM, in the MMIO gap, wrapping
 * the address space), looping or overlong chains, bad heads and indexes,
 * bad ring set-ups. After each one the guest checks that the device served
 * nothing (a good read queued behind the bad chain must not complete), then
 * resets the device, sets it up again and checks that a good read works.
 *
 * ember must print one warning per attack, containing "the queue is stopped
 * until the device is reset", and keep running; tests/guests/run.sh counts
 * the warnings against the "blkhostile: attack" lines printed here.
 *
 * Command line: sectors=N (the disk holds the pattern of tests/guests/blk.c).
 * Prints "FAIL blkhostile: ..." per failed check, "PASS blkhostile", resets.
 */
#include "virtio.h"

const char guest_name[] = "blkhostile";

#define SECTOR 512
#define FAR_AWAY 0xfff00000000ULL /* 16 TiB: no guest of these tests has RAM there */

static struct vq_rings rings;
static uint8_t buf[SECTOR] __attribute__((aligned(16)));
static struct vq_desc itable[4] __attribute__((aligned(16)));
static struct vq_desc itable2[2] __attribute__((aligned(16)));
/* The bad chains' own header and status (descriptors 3..7). */
static struct blk_hdr bad_hdr __attribute__((aligned(16)));
static uint8_t bad_status;
/* The good read queued behind a bad chain (descriptors 0..2). */
static struct blk_hdr good_hdr __attribute__((aligned(16)));
static uint8_t good_status;

static struct vdev dev;
static struct vq q;
static uint64_t ram_end;
static unsigned attacks;

static uint8_t disk_byte(uint64_t s, unsigned j)
{
	return (uint8_t)(7 * j + 13 * s + 3);
}

static int setup(void)
{
	if (virtio_negotiate(&dev, VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT) < 0 ||
	    vq_setup(&dev, 0, &q, &rings) < 0 || virtio_driver_ok(&dev) < 0)
		return -1;
	return 0;
}

/* A read of sector 3 through blk_request: must succeed with the pattern. */
static int good_read(const char *what)
{
	struct blk_seg seg = { buf, SECTOR };
	uint32_t len;

	memset(buf, 0, sizeof(buf));
	int st = blk_request(&q, BLK_T_IN, 3, &seg, 1, &len, what);
	if (st < 0)
		return -1;
	if (st != BLK_S_OK || len != SECTOR + 1) {
		fail("%s: status %d used length %u, want 0 and %u", what, st, len, SECTOR + 1);
		return -1;
	}
	for (unsigned j = 0; j < SECTOR; j++)
		if (buf[j] != disk_byte(3, j)) {
			fail("%s: byte %u is 0x%x, want 0x%x", what, j, buf[j], disk_byte(3, j));
			return -1;
		}
	return 0;
}

/* The bad chain's header: a plain read of sector 0. */
static void bad_header(void)
{
	bad_hdr.type = BLK_T_IN;
	bad_hdr.reserved = 0;
	bad_hdr.sector = 0;
	vq_desc(&q, 3, &bad_hdr, sizeof(bad_hdr), VRING_DESC_F_NEXT, 4);
}

/* header, one data buffer at addr/len, status: head 3. */
static void chain_with_data(uint64_t addr, uint32_t len)
{
	bad_header();
	vq_desc(&q, 4, (const void *)(uintptr_t)addr, len,
		VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 5);
	vq_desc(&q, 5, &bad_status, 1, VRING_DESC_F_WRITE, 0);
	vq_post(&q, 3);
}

static void a_far(void) { chain_with_data(FAR_AWAY, SECTOR); }
static void a_past_end(void) { chain_with_data(ram_end - 256, SECTOR); }
static void a_mmio_gap(void) { chain_with_data(dev.base, SECTOR); }
static void a_wrap(void) { chain_with_data(0xffffffffffffff00ULL, 0x200); }
static void a_huge_len(void) { chain_with_data((uintptr_t)buf, 0xffffffffu); }

static void a_loop(void)
{
	bad_header();
	vq_desc(&q, 4, buf, SECTOR, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 5);
	vq_desc(&q, 5, &bad_status, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 4);
	vq_post(&q, 3);
}

static void a_self_loop(void)
{
	vq_desc(&q, 3, &bad_hdr, sizeof(bad_hdr), VRING_DESC_F_NEXT, 3);
	bad_hdr.type = BLK_T_IN;
	vq_post(&q, 3);
}

static void a_next_outside(void)
{
	bad_header();
	vq_desc(&q, 4, buf, SECTOR, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 200);
	vq_post(&q, 3);
}

static void a_read_after_write(void)
{
	bad_header();
	vq_desc(&q, 4, buf, SECTOR, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 5);
	vq_desc(&q, 5, &bad_status, 1, VRING_DESC_F_NEXT, 6); /* readable */
	vq_desc(&q, 6, &bad_status, 1, VRING_DESC_F_WRITE, 0);
	vq_post(&q, 3);
}

static void a_head_outside(void)
{
	vq_post(&q, VQ_SIZE); /* heads are 0..VQ_SIZE-1 */
}

static void a_avail_jump(void)
{
	volatile struct vq_rings *r = q.r;

	chain_with_data((uintptr_t)buf, SECTOR);
	/* Claim 100 more entries than a queue of VQ_SIZE can hold. */
	q.avail_idx += 100;
	r->avail.idx = q.avail_idx;
}

static void a_indirect_far(void)
{
	vq_desc(&q, 3, (const void *)(uintptr_t)FAR_AWAY, 3 * sizeof(struct vq_desc),
		VRING_DESC_F_INDIRECT, 0);
	vq_post(&q, 3);
}

static void a_indirect_nested(void)
{
	bad_hdr.type = BLK_T_IN;
	itable2[0] = (struct vq_desc){ (uintptr_t)&bad_hdr, sizeof(bad_hdr), 0, 0 };
	itable[0] = (struct vq_desc){ (uintptr_t)itable2, sizeof(itable2),
				      VRING_DESC_F_INDIRECT, 0 };
	vq_desc(&q, 3, itable, sizeof(itable), VRING_DESC_F_INDIRECT, 0);
	vq_post(&q, 3);
}

static void a_indirect_loop(void)
{
	bad_hdr.type = BLK_T_IN;
	itable[0] = (struct vq_desc){ (uintptr_t)&bad_hdr, sizeof(bad_hdr), VRING_DESC_F_NEXT, 1 };
	itable[1] = (struct vq_desc){ (uintptr_t)buf, SECTOR,
				      VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2 };
	itable[2] = (struct vq_desc){ (uintptr_t)&bad_status, 1,
				      VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1 };
	vq_desc(&q, 3, itable, 3 * sizeof(struct vq_desc), VRING_DESC_F_INDIRECT, 0);
	vq_post(&q, 3);
}

static void a_indirect_bad_len(void)
{
	vq_desc(&q, 3, itable, 20, VRING_DESC_F_INDIRECT, 0); /* not a multiple of 16 */
	vq_post(&q, 3);
}

struct attack {
	const char *name;
	void (*build)(void);
	int no_good_behind; /* the avail index itself is broken */
};

static const struct attack chain_attacks[] = {
	{ "data buffer at 16 TiB, far outside RAM", a_far, 0 },
	{ "data buffer straddling the end of RAM", a_past_end, 0 },
	{ "data buffer on the device's own MMIO page", a_mmio_gap, 0 },
	{ "data buffer wrapping the 64-bit address space", a_wrap, 0 },
	{ "data buffer of 4 GiB - 1 bytes", a_huge_len, 0 },
	{ "chain looping between two descriptors", a_loop, 0 },
	{ "descriptor chained to itself", a_self_loop, 0 },
	{ "next index 200, past the descriptor table", a_next_outside, 0 },
	{ "readable buffer after a writable one", a_read_after_write, 0 },
	{ "available head equal to the queue size", a_head_outside, 0 },
	{ "available index 100 ahead of the queue size", a_avail_jump, 1 },
	{ "indirect table at 16 TiB", a_indirect_far, 0 },
	{ "indirect table inside an indirect table", a_indirect_nested, 0 },
	{ "looping chain inside an indirect table", a_indirect_loop, 0 },
	{ "indirect table of 20 bytes", a_indirect_bad_len, 0 },
};

static void recover(const char *name)
{
	char what[96] = "good read after: ";
	size_t n = strlen(what), k = strlen(name);

	if (k > sizeof(what) - n - 1)
		k = sizeof(what) - n - 1;
	memcpy(what + n, name, k);
	what[n + k] = '\0';
	if (virtio_reset(&dev) == 0 && setup() == 0)
		good_read(what);
}

static void chain_attack(const struct attack *a)
{
	volatile struct vq_rings *r;
	uint32_t id, len, st = 0;

	print("blkhostile: attack %u: %s\n", ++attacks, a->name);
	if (setup() < 0)
		return;
	r = q.r;
	a->build();
	if (!a->no_good_behind) {
		/* A good read of sector 3 behind it: it must not be served either. */
		good_hdr = (struct blk_hdr){ BLK_T_IN, 0, 3 };
		vq_desc(&q, 0, &good_hdr, sizeof(good_hdr), VRING_DESC_F_NEXT, 1);
		vq_desc(&q, 1, buf, SECTOR, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
		vq_desc(&q, 2, &good_status, 1, VRING_DESC_F_WRITE, 0);
		vq_post(&q, 0);
	}
	vq_kick(&q);
	int got = vq_wait(&q, POLLS_QUIET, &id, &len, &st);
	if (got == 1)
		fail("%s: the device completed a chain (id %u, used length %u, used index %u) "
		     "instead of stopping the queue", a->name, id, len, r->used.idx);
	print("blkhostile: queue quiet, Status 0x%x\n", st);
	recover(a->name);
}

/*
 * Ring set-up attacks: QueueReady=1 with a bad ring must be refused at
 * once (QueueReady reads back 0) with the warning.
 */
struct ring_attack {
	const char *name;
	uint32_t num;
	uint64_t desc, avail, used; /* 0: the good address */
};

static void ring_attack(const struct ring_attack *a)
{
	uint64_t desc = a->desc ? a->desc : (uintptr_t)rings.desc;
	uint64_t avail = a->avail ? a->avail : (uintptr_t)&rings.avail;
	uint64_t used = a->used ? a->used : (uintptr_t)&rings.used;

	print("blkhostile: attack %u: %s\n", ++attacks, a->name);
	if (virtio_negotiate(&dev, VIRTIO_F_VERSION_1) < 0)
		return;
	vw32(&dev, VM_QUEUE_SEL, 0);
	vw32(&dev, VM_QUEUE_NUM, a->num);
	vw32(&dev, VM_QUEUE_DESC_LO, (uint32_t)desc);
	vw32(&dev, VM_QUEUE_DESC_HI, (uint32_t)(desc >> 32));
	vw32(&dev, VM_QUEUE_AVAIL_LO, (uint32_t)avail);
	vw32(&dev, VM_QUEUE_AVAIL_HI, (uint32_t)(avail >> 32));
	vw32(&dev, VM_QUEUE_USED_LO, (uint32_t)used);
	vw32(&dev, VM_QUEUE_USED_HI, (uint32_t)(used >> 32));
	vw32(&dev, VM_QUEUE_READY, 1);
	uint32_t ready = vr32(&dev, VM_QUEUE_READY);
	if (ready != 0)
		fail("%s: QueueReady reads %u, want 0 (refused)", a->name, ready);
	recover(a->name);
}

void guest_main(const uint8_t *zp)
{
	const char *cl = (const char *)phys(rd32(zp + BP_CMD_LINE_PTR));
	uint64_t sectors;

	if (cmdline_u64(cl, "sectors", 0, &sectors) || sectors < 8) {
		fail("need sectors=N (>= 8) on the command line: \"%s\"", cl);
		return;
	}
	ram_end = e820_low_ram_end(zp);
	if (ram_end < (2u << 20) || ram_end > 0xd0000000ULL) {
		fail("e820 low RAM ends at 0x%lx", ram_end);
		return;
	}
	if (virtio_find(cl, VIRTIO_ID_BLOCK, 0, &dev) < 0) {
		fail("no virtio-blk device (id 2) announced: \"%s\"", cl);
		return;
	}
	print("blkhostile: virtio-blk at 0x%lx, RAM ends at 0x%lx\n", dev.base, ram_end);
	if (setup() < 0 || good_read("first good read") < 0)
		return;

	for (unsigned i = 0; i < sizeof(chain_attacks) / sizeof(chain_attacks[0]); i++)
		chain_attack(&chain_attacks[i]);

	const struct ring_attack ring_attacks[] = {
		{ "descriptor table at 16 TiB", VQ_SIZE, FAR_AWAY, 0, 0 },
		{ "used ring straddling the end of RAM", VQ_SIZE, 0, 0, ram_end - 16 },
		{ "available ring on the MMIO page", VQ_SIZE, 0, dev.base, 0 },
		{ "misaligned descriptor table", VQ_SIZE, (uintptr_t)rings.desc + 8, 0, 0 },
		{ "queue size 6 (not a power of 2)", 6, 0, 0, 0 },
		{ "queue size 0", 0, 0, 0, 0 },
		{ "queue size 65536", 65536, 0, 0, 0 },
	};
	for (unsigned i = 0; i < sizeof(ring_attacks) / sizeof(ring_attacks[0]); i++)
		ring_attack(&ring_attacks[i]);

	/*
	 * Status bits are cleared only by a reset: a write without DRIVER_OK
	 * leaves the device live (and saying so) instead of half stopped.
	 */
	if (virtio_reset(&dev), setup() < 0)
		return;
	vw32(&dev, VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK);
	if (!(vr32(&dev, VM_STATUS) & ST_DRIVER_OK))
		fail("a status write without DRIVER_OK cleared it (status 0x%x)",
		     vr32(&dev, VM_STATUS));
	if (good_read("good read after a status write without DRIVER_OK") < 0)
		return;

	print("blkhostile: %u attacks\n", attacks);
	virtio_reset(&dev);
	if (failures == 0)
		print("PASS blkhostile\n");
}
