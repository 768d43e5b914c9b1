/* SPDX-License-Identifier: Apache-2.0 */
#include "virtio.h"

#define MMIO_TOKEN "virtio_mmio.device="

/* Calls fn for each virtio_mmio.device= value; stops when fn returns nonzero. */
static int for_each_token(const char *cl, int (*fn)(const char *v, size_t len, void *ctx),
			  void *ctx)
{
	const size_t klen = sizeof(MMIO_TOKEN) - 1;
	const char *p = cl;

	while (*p) {
		while (*p == ' ')
			p++;
		const char *tok = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - tok) >= klen && memcmp(tok, MMIO_TOKEN, klen) == 0) {
			int r = fn(tok + klen, (size_t)(p - tok) - klen, ctx);
			if (r)
				return r;
		}
	}
	return 0;
}

static int count_one(const char *v, size_t len, void *ctx)
{
	(void)v;
	(void)len;
	(*(unsigned *)ctx)++;
	return 0;
}

unsigned virtio_count(const char *cmdline)
{
	unsigned n = 0;

	for_each_token(cmdline, count_one, &n);
	return n;
}

struct find_ctx {
	uint32_t id;
	unsigned nth;
	struct vdev *d;
};

/* "4K@0xADDR:GSI", exactly as ember writes it. */
static int find_one(const char *v, size_t len, void *arg)
{
	struct find_ctx *f = arg;
	size_t at = 0, colon;
	uint64_t base, gsi;

	while (at < len && v[at] != '@')
		at++;
	colon = at;
	while (colon < len && v[colon] != ':')
		colon++;
	if (at != 2 || memcmp(v, "4K", 2) != 0 || colon >= len ||
	    parse_u64(v + at + 1, colon - at - 1, &base) != 0 ||
	    parse_u64(v + colon + 1, len - colon - 1, &gsi) != 0 ||
	    base < 0xd0000000ULL || base >= 0x100000000ULL || base % 0x1000 || gsi > 23) {
		char tok[64];
		size_t n = len < sizeof(tok) - 1 ? len : sizeof(tok) - 1;
		memcpy(tok, v, n);
		tok[n] = '\0';
		fail("malformed \"" MMIO_TOKEN "%s\" on the command line", tok);
		return -1;
	}
	struct vdev d = { .base = base, .gsi = (unsigned)gsi };
	uint32_t magic = vr32(&d, VM_MAGIC), version = vr32(&d, VM_VERSION);
	if (magic != VIRTIO_MMIO_MAGIC || version != 2) {
		fail("virtio-mmio device at 0x%lx: magic 0x%x version %u, want 0x%x and 2",
		     base, magic, version, VIRTIO_MMIO_MAGIC);
		return -1;
	}
	d.device_id = vr32(&d, VM_DEVICE_ID);
	if (d.device_id != f->id)
		return 0;
	if (f->nth--)
		return 0;
	*f->d = d;
	return 1;
}

int virtio_find(const char *cmdline, uint32_t device_id, unsigned nth, struct vdev *d)
{
	struct find_ctx f = { device_id, nth, d };

	return for_each_token(cmdline, find_one, &f) == 1 ? 0 : -1;
}

int virtio_reset(struct vdev *d)
{
	vw32(d, VM_STATUS, 0);
	uint32_t s = vr32(d, VM_STATUS);
	if (s != 0) {
		fail("device at 0x%lx: Status reads 0x%x after a reset, want 0", d->base, s);
		return -1;
	}
	return 0;
}

int virtio_negotiate(struct vdev *d, uint64_t want)
{
	uint32_t s;

	if (virtio_reset(d) < 0)
		return -1;
	vw32(d, VM_STATUS, ST_ACKNOWLEDGE);
	vw32(d, VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER);
	vw32(d, VM_DEV_FEATURES_SEL, 0);
	d->offered = vr32(d, VM_DEV_FEATURES);
	vw32(d, VM_DEV_FEATURES_SEL, 1);
	d->offered |= (uint64_t)vr32(d, VM_DEV_FEATURES) << 32;
	if ((want & d->offered) != want) {
		fail("device at 0x%lx offers features 0x%lx, without 0x%lx", d->base,
		     d->offered, want & ~d->offered);
		vw32(d, VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER | ST_FAILED);
		return -1;
	}
	vw32(d, VM_DRV_FEATURES_SEL, 0);
	vw32(d, VM_DRV_FEATURES, (uint32_t)want);
	vw32(d, VM_DRV_FEATURES_SEL, 1);
	vw32(d, VM_DRV_FEATURES, (uint32_t)(want >> 32));
	d->accepted = want;
	vw32(d, VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK);
	s = vr32(d, VM_STATUS);
	if (s != (ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK)) {
		fail("device at 0x%lx: Status 0x%x after FEATURES_OK with features 0x%lx",
		     d->base, s, want);
		return -1;
	}
	return 0;
}

int vq_setup(struct vdev *d, unsigned index, struct vq *q, struct vq_rings *r)
{
	uint64_t desc = (uintptr_t)r->desc, avail = (uintptr_t)&r->avail,
		 used = (uintptr_t)&r->used;

	memset(r, 0, sizeof(*r));
	q->dev = d;
	q->index = index;
	q->r = r;
	q->avail_idx = q->used_seen = 0;
	vw32(d, VM_QUEUE_SEL, index);
	if (vr32(d, VM_QUEUE_READY) != 0) {
		fail("device at 0x%lx queue %u: QueueReady is set before set-up", d->base, index);
		return -1;
	}
	uint32_t max = vr32(d, VM_QUEUE_NUM_MAX);
	if (max < VQ_SIZE) {
		fail("device at 0x%lx queue %u: QueueNumMax %u < %u", d->base, index, max, VQ_SIZE);
		return -1;
	}
	vw32(d, VM_QUEUE_NUM, VQ_SIZE);
	vw32(d, VM_QUEUE_DESC_LO, (uint32_t)desc);
	vw32(d, VM_QUEUE_DESC_HI, (uint32_t)(desc >> 32));
	vw32(d, VM_QUEUE_AVAIL_LO, (uint32_t)avail);
	vw32(d, VM_QUEUE_AVAIL_HI, (uint32_t)(avail >> 32));
	vw32(d, VM_QUEUE_USED_LO, (uint32_t)used);
	vw32(d, VM_QUEUE_USED_HI, (uint32_t)(used >> 32));
	vw32(d, VM_QUEUE_READY, 1);
	if (vr32(d, VM_QUEUE_READY) != 1) {
		fail("device at 0x%lx queue %u: QueueReady does not read back 1", d->base, index);
		return -1;
	}
	return 0;
}

int virtio_driver_ok(struct vdev *d)
{
	const uint32_t want = ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK;

	vw32(d, VM_STATUS, want);
	uint32_t s = vr32(d, VM_STATUS);
	if (s != want) {
		fail("device at 0x%lx: Status 0x%x after DRIVER_OK, want 0x%x", d->base, s, want);
		return -1;
	}
	return 0;
}

void vq_desc(struct vq *q, unsigned i, const volatile void *addr, uint32_t len,
	     uint16_t flags, uint16_t next)
{
	volatile struct vq_desc *d = &q->r->desc[i];

	d->addr = (uintptr_t)addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

void vq_post(struct vq *q, uint16_t head)
{
	volatile struct vq_rings *r = q->r;

	r->avail.ring[q->avail_idx % VQ_SIZE] = head;
	barrier();
	r->avail.idx = ++q->avail_idx;
	barrier();
}

int vq_wait(struct vq *q, unsigned long polls, uint32_t *id, uint32_t *len, uint32_t *status)
{
	volatile struct vq_rings *r = q->r;

	for (unsigned long i = 0; i < polls; i++) {
		uint32_t s = vr32(q->dev, VM_STATUS);
		if (status)
			*status = s;
		if (r->used.idx != q->used_seen) {
			barrier();
			volatile struct vq_used_elem *e = &r->used.ring[q->used_seen % VQ_SIZE];
			*id = e->id;
			*len = e->len;
			q->used_seen++;
			return 1;
		}
		if (s & (ST_NEEDS_RESET | ST_FAILED))
			return -1;
	}
	return 0;
}

uint64_t e820_low_ram_end(const uint8_t *zp)
{
	unsigned n = rd8(zp + BP_E820_ENTRIES);
	uint64_t end = 0;

	for (unsigned i = 0; i < n && i < BP_E820_MAX; i++) {
		const uint8_t *e = zp + BP_E820_TABLE + 20 * i;
		uint64_t a = rd64(e), s = rd64(e + 8);
		if (rd32(e + 16) == 1 && a < 0x100000000ULL && a + s > end)
			end = a + s;
	}
	return end;
}

/* Request memory: one request at a time, so one header and status suffice. */
static struct blk_hdr req_hdr __attribute__((aligned(16)));
static volatile uint8_t req_status;

int blk_request(struct vq *q, uint32_t type, uint64_t sector, const struct blk_seg *seg,
		unsigned nseg, uint32_t *used_len, const char *what)
{
	uint16_t dflag = (type == BLK_T_IN || type == BLK_T_GET_ID) ? VRING_DESC_F_WRITE : 0;
	uint32_t id, len, st;
	unsigned i;

	if (nseg > VQ_SIZE - 2) {
		fail("%s: %u segments, at most %u", what, nseg, VQ_SIZE - 2);
		return -1;
	}
	req_hdr.type = type;
	req_hdr.reserved = 0;
	req_hdr.sector = sector;
	req_status = 0xee; /* no device status has this value */
	vq_desc(q, 0, &req_hdr, sizeof(req_hdr), VRING_DESC_F_NEXT, 1);
	for (i = 0; i < nseg; i++)
		vq_desc(q, 1 + i, seg[i].addr, seg[i].len, dflag | VRING_DESC_F_NEXT,
			(uint16_t)(2 + i));
	vq_desc(q, 1 + i, &req_status, 1, VRING_DESC_F_WRITE, 0);
	vq_post(q, 0);
	vq_kick(q);
	int r = vq_wait(q, POLLS_DONE, &id, &len, &st);
	if (r == 0) {
		fail("%s: no answer after %lu polls (Status 0x%x)", what, POLLS_DONE, st);
		return -1;
	}
	if (r < 0) {
		fail("%s: device Status 0x%x (needs reset or failed)", what, st);
		return -1;
	}
	if (id != 0) {
		fail("%s: used id %u, want head 0", what, id);
		return -1;
	}
	*used_len = len;
	return req_status;
}
