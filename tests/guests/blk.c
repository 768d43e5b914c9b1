/* SPDX-License-Identifier: Apache-2.0 */
/*
 * blk: drives ember's virtio-blk as a minimal polled driver would.
 *
 * Command line (all required but drives):
 *   sectors=N   the disk's size in 512-byte sectors (N >= 16)
 *   id=ID       the drive's id (GET_ID must return it)
 *   ro=0|1      whether the drive is read-only
 *   wsector=W   the sector the guest writes (8 <= W < N - 1)
 *   drives=D    how many devices ember announces (default 1); the guest
 *               drives the first, /dev/vda to Linux
 * The disk must hold the pattern disk_byte(s, j) = (7j + 13s + 3) & 0xff
 * (byte j of sector s); the guest writes wr_byte(j) = (11j + 0x5a) & 0xff
 * to sector W (on a read-only drive the write must fail with IOERR).
 * Nothing else may be written: tests/guests/run.sh checks the file.
 *
 * Also checked: FEATURES_OK refused for a legacy driver or an unoffered
 * feature; capacity; used lengths; InterruptStatus/ACK and NO_INTERRUPT;
 * scattered buffers; a batch of requests under one notification; GET_ID;
 * FLUSH; reads and writes at or across the end (and at sectors whose byte
 * offset overflows 64 bits) fail with IOERR; an unknown type is UNSUPP.
 *
 * Prints "FAIL blk: ..." per failed check, "PASS blk" if none, resets.
 */
#include "virtio.h"

const char guest_name[] = "blk";

#define SECTOR 512

static struct vq_rings rings;
static uint8_t buf[8 * SECTOR] __attribute__((aligned(16)));
static uint8_t wbuf[SECTOR] __attribute__((aligned(16)));

static uint8_t disk_byte(uint64_t s, unsigned j)
{
	return (uint8_t)(7 * j + 13 * s + 3);
}

static uint8_t wr_byte(unsigned j)
{
	return (uint8_t)(11 * j + 0x5a);
}

/* 0 if buf[0..n) holds sectors first.. of the disk pattern; else fail(). */
static int check_pattern(const uint8_t *p, uint64_t first, unsigned nsect, const char *what)
{
	for (unsigned s = 0; s < nsect; s++)
		for (unsigned j = 0; j < SECTOR; j++)
			if (p[s * SECTOR + j] != disk_byte(first + s, j)) {
				fail("%s: sector %lu byte %u is 0x%x, want 0x%x", what, first + s, j,
				     p[s * SECTOR + j], disk_byte(first + s, j));
				return -1;
			}
	return 0;
}

/* Issue a request and check its status (and used length unless ~0u). */
static int expect(struct vq *q, uint32_t type, uint64_t sector, const struct blk_seg *seg,
		  unsigned nseg, int want_status, uint32_t want_len, const char *what)
{
	uint32_t len;
	int st = blk_request(q, type, sector, seg, nseg, &len, what);

	if (st < 0)
		return -1;
	if (st != want_status) {
		fail("%s: status %d, want %d", what, st, want_status);
		return -1;
	}
	if (want_len != ~0u && len != want_len) {
		fail("%s: used length %u, want %u", what, len, want_len);
		return -1;
	}
	return 0;
}

/* Offer features and check that FEATURES_OK does not stick. */
static void refused_features(struct vdev *d, uint64_t f, const char *what)
{
	virtio_reset(d);
	vw32(d, VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER);
	vw32(d, VM_DRV_FEATURES_SEL, 0);
	vw32(d, VM_DRV_FEATURES, (uint32_t)f);
	vw32(d, VM_DRV_FEATURES_SEL, 1);
	vw32(d, VM_DRV_FEATURES, (uint32_t)(f >> 32));
	vw32(d, VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK);
	uint32_t st = vr32(d, VM_STATUS);
	if (st & ST_FEATURES_OK)
		fail("features 0x%lx (%s): FEATURES_OK accepted (Status 0x%x)", f, what, st);
	virtio_reset(d);
}

#define BATCH 4
#define BATCH_FIRST 10
static struct blk_hdr bhdr[BATCH] __attribute__((aligned(16)));
static volatile uint8_t bstatus[BATCH];

/* Requests i = 0..BATCH-1 read sector BATCH_FIRST + i into buf + i * SECTOR. */
static void batch_reads(struct vq *q)
{
	unsigned done = 0, seen[BATCH] = { 0 };

	memset(buf, 0, BATCH * SECTOR);
	for (unsigned i = 0; i < BATCH; i++) {
		uint16_t h = (uint16_t)(3 * i);

		bhdr[i] = (struct blk_hdr){ BLK_T_IN, 0, BATCH_FIRST + i };
		bstatus[i] = 0xee;
		vq_desc(q, h, &bhdr[i], sizeof(bhdr[i]), VRING_DESC_F_NEXT, h + 1);
		vq_desc(q, h + 1u, buf + i * SECTOR, SECTOR, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
			h + 2);
		vq_desc(q, h + 2u, &bstatus[i], 1, VRING_DESC_F_WRITE, 0);
		vq_post(q, h);
	}
	vq_kick(q);
	while (done < BATCH) {
		uint32_t id, len, st;
		int r = vq_wait(q, POLLS_DONE, &id, &len, &st);

		if (r != 1) {
			fail("batch: %u of %u reads answered (Status 0x%x)", done, BATCH, st);
			return;
		}
		if (id % 3 || id / 3 >= BATCH || seen[id / 3]++) {
			fail("batch: used id %u is not an outstanding head", id);
			return;
		}
		if (len != SECTOR + 1 || bstatus[id / 3] != BLK_S_OK)
			fail("batch: read %u: used length %u status %u, want %u and 0", id / 3, len,
			     bstatus[id / 3], SECTOR + 1);
		done++;
	}
	check_pattern(buf, BATCH_FIRST, BATCH, "batch of reads");
}

void guest_main(const uint8_t *zp)
{
	const char *cl = (const char *)phys(rd32(zp + BP_CMD_LINE_PTR));
	uint64_t sectors, ro, w, ndrives;
	size_t idlen;
	const char *id = cmdline_get(cl, "id", &idlen);
	struct vdev dev;
	struct vq q;

	if (cmdline_u64(cl, "sectors", 0, &sectors) || cmdline_u64(cl, "ro", 2, &ro) ||
	    cmdline_u64(cl, "wsector", 0, &w) || !id || idlen == 0 || idlen > 20 ||
	    sectors < 16 || ro > 1 || w < 8 || w >= sectors - 1) {
		fail("need sectors=N (>= 16) id=ID (1..20 chars) ro=0|1 wsector=W "
		     "(8 <= W < N-1) on the command line: \"%s\"", cl);
		return;
	}
	if (cmdline_u64(cl, "drives", 1, &ndrives) || virtio_count(cl) != ndrives) {
		fail("%u virtio_mmio.device= announcements, want drives=%lu: \"%s\"",
		     virtio_count(cl), ndrives, cl);
		return;
	}
	if (virtio_find(cl, VIRTIO_ID_BLOCK, 0, &dev) < 0) {
		fail("no virtio-blk device (id 2) announced: \"%s\"", cl);
		return;
	}
	print("blk: virtio-blk at 0x%lx gsi %u\n", dev.base, dev.gsi);

	/* FEATURES_OK must not stick without VERSION_1 or with a feature not offered. */
	refused_features(&dev, 0, "no features (legacy interface)");
	refused_features(&dev, VIRTIO_F_VERSION_1 | (1ULL << 31), "feature bit 31, never offered");

	/* Features: modern only; the device must offer FLUSH, and RO iff ro. */
	if (virtio_negotiate(&dev, VIRTIO_F_VERSION_1) < 0)
		return;
	print("blk: device features 0x%lx\n", dev.offered);
	if (!(dev.offered & BLK_F_FLUSH))
		fail("device does not offer FLUSH (bit 9)");
	if (!!(dev.offered & BLK_F_RO) != (ro == 1))
		fail("RO feature (bit 5) %s, but ro=%lu", dev.offered & BLK_F_RO ? "offered" :
		     "not offered", ro);

	/* Capacity: config offset 0, little-endian u64, byte by byte. */
	uint64_t cap = 0;
	for (int i = 7; i >= 0; i--)
		cap = cap << 8 | vcfg8(&dev, (uint32_t)i);
	if (cap != sectors)
		fail("capacity %lu sectors, want %lu", cap, sectors);

	if (vq_setup(&dev, 0, &q, &rings) < 0 || virtio_driver_ok(&dev) < 0)
		return;

	/* Sectors 0..7 in one buffer. */
	struct blk_seg seg = { buf, sizeof(buf) };
	memset(buf, 0, sizeof(buf));
	if (expect(&q, BLK_T_IN, 0, &seg, 1, BLK_S_OK, sizeof(buf) + 1, "read sectors 0-7") == 0)
		check_pattern(buf, 0, 8, "read sectors 0-7");

	/* That completion raised a used-buffer interrupt (bit 0); ACK clears it. */
	uint32_t isr = 0;
	for (unsigned long i = 0; i < POLLS_QUIET && !isr; i++)
		isr = vr32(&dev, VM_INT_STATUS);
	if (isr != 1)
		fail("InterruptStatus 0x%x after a request, want 0x1", isr);
	vw32(&dev, VM_INT_ACK, isr);
	if ((isr = vr32(&dev, VM_INT_STATUS)) != 0)
		fail("InterruptStatus 0x%x after InterruptACK, want 0", isr);
	/* With VRING_AVAIL_F_NO_INTERRUPT, no interrupt. */
	((volatile struct vq_rings *)q.r)->avail.flags = 1;
	if (expect(&q, BLK_T_IN, 1, &seg, 1, BLK_S_OK, sizeof(buf) + 1, "read sectors 1-8") == 0)
		check_pattern(buf, 1, 8, "read sectors 1-8");
	for (unsigned i = 0; i < 200 && !isr; i++)
		isr = vr32(&dev, VM_INT_STATUS);
	if (isr != 0)
		fail("InterruptStatus 0x%x after a request with NO_INTERRUPT, want 0", isr);
	((volatile struct vq_rings *)q.r)->avail.flags = 0;

	/* The last sector, scattered over three buffers of 100, 300, 112 bytes. */
	struct blk_seg three[3] = { { buf, 100 }, { buf + 1000, 300 }, { buf + 2000, 112 } };
	memset(buf, 0, sizeof(buf));
	if (expect(&q, BLK_T_IN, sectors - 1, three, 3, BLK_S_OK, SECTOR + 1,
		   "read the last sector in 3 pieces") == 0) {
		memcpy(buf + 100, buf + 1000, 300);
		memcpy(buf + 400, buf + 2000, 112);
		check_pattern(buf, sectors - 1, 1, "read the last sector in 3 pieces");
	}

	/* A batch: BATCH reads posted together, one notification. */
	batch_reads(&q);

	/* GET_ID: 20 bytes, the id NUL-padded. */
	struct blk_seg idseg = { buf, 20 };
	memset(buf, 0xff, 32);
	if (expect(&q, BLK_T_GET_ID, 0, &idseg, 1, BLK_S_OK, ~0u, "GET_ID") == 0) {
		for (unsigned i = 0; i < 20; i++) {
			uint8_t want = i < idlen ? (uint8_t)id[i] : 0;
			if (buf[i] != want) {
				buf[20] = 0;
				fail("GET_ID byte %u is 0x%x, want 0x%x (got \"%s\")", i, buf[i],
				     want, (const char *)buf);
				break;
			}
		}
		if (buf[20] != 0xff)
			fail("GET_ID wrote past its 20-byte buffer");
	}

	/* Write sector W (IOERR when read-only), flush, read it back. */
	for (unsigned j = 0; j < SECTOR; j++)
		wbuf[j] = wr_byte(j);
	struct blk_seg wseg = { wbuf, SECTOR };
	expect(&q, BLK_T_OUT, w, &wseg, 1, ro ? BLK_S_IOERR : BLK_S_OK, ~0u,
	       ro ? "write to a read-only drive" : "write one sector");
	expect(&q, BLK_T_FLUSH, 0, NULL, 0, BLK_S_OK, ~0u, "flush");
	struct blk_seg rseg = { buf, SECTOR };
	memset(buf, 0, SECTOR);
	if (expect(&q, BLK_T_IN, w, &rseg, 1, BLK_S_OK, SECTOR + 1, "read back") == 0) {
		if (ro) {
			check_pattern(buf, w, 1, "read back after a refused write");
		} else if (memcmp(buf, wbuf, SECTOR) != 0) {
			for (unsigned j = 0; j < SECTOR; j++)
				if (buf[j] != wbuf[j]) {
					fail("read back: byte %u is 0x%x, wrote 0x%x", j, buf[j], wbuf[j]);
					break;
				}
		}
	}

	/* Beyond the end: IOERR, and nothing read or written. */
	struct blk_seg two = { buf, 2 * SECTOR };
	expect(&q, BLK_T_IN, sectors, &rseg, 1, BLK_S_IOERR, ~0u, "read at sector N");
	expect(&q, BLK_T_IN, sectors - 1, &two, 1, BLK_S_IOERR, ~0u,
	       "read across the end (sector N-1, 2 sectors)");
	expect(&q, BLK_T_IN, 1ULL << 55, &rseg, 1, BLK_S_IOERR, ~0u, "read at sector 2^55");
	expect(&q, BLK_T_IN, ~0ULL, &rseg, 1, BLK_S_IOERR, ~0u, "read at sector 2^64-1");
	expect(&q, BLK_T_OUT, sectors, &wseg, 1, BLK_S_IOERR, ~0u, "write at sector N");
	expect(&q, BLK_T_OUT, 0x80000000000000ULL, &wseg, 1, BLK_S_IOERR, ~0u,
	       "write at sector 2^55");

	/* An unknown request type. */
	expect(&q, 0x77, 0, &rseg, 1, BLK_S_UNSUPP, ~0u, "request type 0x77");

	/* The device still serves after the errors. */
	memset(buf, 0, SECTOR);
	if (expect(&q, BLK_T_IN, 3, &rseg, 1, BLK_S_OK, SECTOR + 1, "read sector 3") == 0)
		check_pattern(buf, 3, 1, "read sector 3");

	virtio_reset(&dev);
	if (failures == 0)
		print("PASS blk\n");
}
