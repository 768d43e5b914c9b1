/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueue, device side, driven by a fake driver over fake guest
 * memory (an exact-size heap buffer, so ASan catches any access outside it).
 * Good chains, index wrap-around, interrupt suppression, and a hostile guest:
 * every malformed ring must break the queue with a warning, write nothing to
 * guest memory and touch nothing outside it.
 */
#include "tests/unit/unit.h"
#include "core/ember.h"
#include "core/metrics.h"
#include "virtio/virtqueue.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define MEM       (1ULL << 20)
#define DESC_GPA  0x1000ULL  /* room for 256 descriptors */
#define AVAIL_GPA 0x2000ULL
#define USED_GPA  0x3000ULL
#define IND_GPA   0x8000ULL  /* indirect tables (up to 0x8000 bytes) */
#define DATA_GPA  0x10000ULL

struct drv {
	struct tmem t;
	struct virtq q;
	uint16_t avail_idx;   /* the driver's avail->idx */
};

static struct virtq_chain chain;
static uint8_t *snap;

/* ---- the fake driver ---- */

static void put_desc(struct drv *d, uint64_t table, uint32_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct vring_desc v = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(d->t.buf + table + 16ULL * i, &v, sizeof(v));
}

static void desc(struct drv *d, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	put_desc(d, DESC_GPA, i, addr, len, flags, next);
}

static void ind(struct drv *d, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags,
		uint16_t next)
{
	put_desc(d, IND_GPA, i, addr, len, flags, next);
}

static void wr16(struct drv *d, uint64_t gpa, uint16_t v)
{
	memcpy(d->t.buf + gpa, &v, 2);
}

static uint16_t rd16(struct drv *d, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, d->t.buf + gpa, 2);
	return v;
}

static uint32_t rd32(struct drv *d, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, d->t.buf + gpa, 4);
	return v;
}

/* Make head available (ring entry, then idx). */
static void avail_add(struct drv *d, uint16_t head)
{
	wr16(d, AVAIL_GPA + 4 + 2ULL * (d->avail_idx & (d->q.size - 1)), head);
	d->avail_idx++;
	wr16(d, AVAIL_GPA + 2, d->avail_idx);
}

static void set_avail_idx(struct drv *d, uint16_t idx)
{
	d->avail_idx = idx;
	wr16(d, AVAIL_GPA + 2, idx);
}

static uint16_t used_idx(struct drv *d)
{
	return rd16(d, USED_GPA + 2);
}

static uint32_t used_id(struct drv *d, uint16_t slot)
{
	return rd32(d, USED_GPA + 4 + 8ULL * (slot & (d->q.size - 1)));
}

static uint32_t used_len(struct drv *d, uint16_t slot)
{
	return rd32(d, USED_GPA + 8 + 8ULL * (slot & (d->q.size - 1)));
}

static void set_used_event(struct drv *d, uint16_t v)
{
	wr16(d, AVAIL_GPA + 4 + 2ULL * d->q.size, v);
}

static uint16_t avail_event(struct drv *d)
{
	return rd16(d, USED_GPA + 4 + 8ULL * d->q.size);
}

/* Set up and activate a ready queue of size n; 0 or -1. */
static int setup(struct drv *d, uint16_t n)
{
	memset(d, 0, sizeof(*d));
	if (tmem_init(&d->t, MEM))
		return -1;
	d->q.name = "test queue";
	d->q.size = n;
	d->q.desc_gpa = DESC_GPA;
	d->q.avail_gpa = AVAIL_GPA;
	d->q.used_gpa = USED_GPA;
	if (virtq_activate(&d->q, &d->t.gm)) {
		CHECK(!"virtq_activate failed");
		tmem_free(&d->t);
		return -1;
	}
	CHECK(!d->q.broken);
	d->q.ready = true;
	return 0;
}

static void teardown(struct drv *d)
{
	tmem_free(&d->t);
}

/* ---- stderr capture: the warning a broken queue must print ---- */

#define CHECKL(c) unit_check(!!(c), __FILE__, line, #c, NULL)

/* One warning line naming the queue and saying it stopped. */
static void check_warning(const char *w, const char *why, int line)
{
	const char *nl = strchr(w, '\n');

	unit_check(strstr(w, "test queue: ") && strstr(w, why) &&
		   strstr(w, "stopped until the device is reset") && nl && !nl[1],
		   __FILE__, line, "warning", "got \"%s\", expected \"%s\"", w, why);
}

/*
 * The next pop must fail on a hostile ring: -1, broken, a warning containing
 * why, nothing written anywhere in guest memory, last_avail not moved; and
 * the queue stays dead (pop -1 again, push ignored, no interrupt/notify).
 */
static void hostile(struct drv *d, const char *why, int line)
{
	char w[1024];
	uint16_t last = d->q.last_avail, uidx = d->q.used_idx;
	int r;

	memcpy(snap, d->t.buf, MEM);
	unit_capture_begin();
	r = virtq_pop(&d->q, &d->t.gm, &chain);
	unit_capture_end(w, sizeof(w));
	unit_check(r == -1, __FILE__, line, "virtq_pop() == -1", "returned %d", r);
	CHECKL(d->q.broken);
	check_warning(w, why, line);
	CHECKL(memcmp(snap, d->t.buf, MEM) == 0);
	CHECKL(d->q.last_avail == last);
	/* dead until reset */
	unit_capture_begin();
	r = virtq_pop(&d->q, &d->t.gm, &chain);
	virtq_push(&d->q, 0, 1);
	virtq_push(&d->q, 1, 100);
	CHECKL(!virtq_needs_interrupt(&d->q));
	CHECKL(!virtq_enable_notify(&d->q));
	CHECKL(!virtq_has_avail(&d->q));
	unit_capture_end(w, sizeof(w));
	CHECKL(r == -1);
	CHECKL(w[0] == '\0');   /* one warning per break, not per call */
	CHECKL(memcmp(snap, d->t.buf, MEM) == 0);
	CHECKL(d->q.used_idx == uidx);
}
#define HOSTILE(d, why) hostile((d), (why), __LINE__)

/* Activation must fail (with a warning) and the queue must serve nothing. */
static void bad_activate(uint16_t n, uint64_t desc_gpa, uint64_t avail_gpa,
			 uint64_t used_gpa, const char *why, int line)
{
	struct drv d;
	char w[1024];
	int r;

	memset(&d, 0, sizeof(d));
	if (tmem_init(&d.t, MEM))
		return;
	/* a plausible chain is waiting: it must not be served */
	d.q.size = 4;
	desc(&d, 0, DATA_GPA, 16, 0, 0);
	avail_add(&d, 0);
	d.q = (struct virtq){ .name = "test queue", .size = n, .desc_gpa = desc_gpa,
			      .avail_gpa = avail_gpa, .used_gpa = used_gpa };
	memcpy(snap, d.t.buf, MEM);
	unit_capture_begin();
	r = virtq_activate(&d.q, &d.t.gm);
	unit_capture_end(w, sizeof(w));
	unit_check(r == -1, __FILE__, line, "virtq_activate() == -1", "returned %d", r);
	CHECKL(d.q.broken);
	check_warning(w, why, line);
	/* even if a transport set it ready anyway, nothing is touched */
	d.q.ready = true;
	unit_capture_begin();
	r = virtq_pop(&d.q, &d.t.gm, &chain);
	virtq_push(&d.q, 0, 1);
	CHECKL(!virtq_needs_interrupt(&d.q));
	CHECKL(!virtq_enable_notify(&d.q));
	CHECKL(!virtq_has_avail(&d.q));
	unit_capture_end(w, sizeof(w));
	CHECKL(r == -1);
	CHECKL(memcmp(snap, d.t.buf, MEM) == 0);
	tmem_free(&d.t);
}
#define BAD_ACTIVATE(n, de, av, us, why) bad_activate((n), (de), (av), (us), (why), __LINE__)

static int good_activate(uint16_t n, uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa)
{
	struct drv d;
	int r;

	memset(&d, 0, sizeof(d));
	if (tmem_init(&d.t, MEM))
		return -2;
	d.q = (struct virtq){ .name = "test queue", .size = n, .desc_gpa = desc_gpa,
			      .avail_gpa = avail_gpa, .used_gpa = used_gpa };
	r = virtq_activate(&d.q, &d.t.gm);
	if (r == 0 && d.q.broken)
		r = -3;
	tmem_free(&d.t);
	return r;
}

/* ---- good chains ---- */

static void test_single_buffer(void)
{
	struct drv d;

	if (setup(&d, 16))
		return;
	/* not ready: nothing served even with a chain waiting */
	desc(&d, 5, DATA_GPA, 100, 0, 0);
	avail_add(&d, 5);
	d.q.ready = false;
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 0);
	CHECK(!virtq_has_avail(&d.q));
	d.q.ready = true;
	CHECK(virtq_has_avail(&d.q));

	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 1);
	CHECK_EQ(chain.head, 5);
	CHECK_EQ(chain.nread, 1);
	CHECK_EQ(chain.nwrite, 0);
	CHECK_EQ(chain.read_len, 100);
	CHECK_EQ(chain.write_len, 0);
	CHECK(chain.buf[0].host == d.t.buf + DATA_GPA);
	CHECK_EQ(chain.buf[0].len, 100);
	CHECK(!chain.buf[0].write);
	CHECK_EQ(d.q.last_avail, 1);
	CHECK(!virtq_has_avail(&d.q));
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 0);

	CHECK_EQ(used_idx(&d), 0);
	virtq_push(&d.q, 5, 42);
	CHECK_EQ(used_idx(&d), 1);
	CHECK_EQ(used_id(&d, 0), 5);
	CHECK_EQ(used_len(&d, 0), 42);

	/* a buffer ending exactly at the end of guest memory, and an empty one */
	desc(&d, 0, MEM - 10, 10, VRING_DESC_F_WRITE, 0);
	avail_add(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 1);
	CHECK(chain.buf[0].host == d.t.buf + MEM - 10);
	CHECK_EQ(chain.nwrite, 1);
	CHECK_EQ(chain.write_len, 10);
	CHECK(chain.buf[0].write);
	desc(&d, 1, DATA_GPA, 0, 0, 0);
	avail_add(&d, 1);
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 1);
	CHECK_EQ(chain.nread, 1);
	CHECK_EQ(chain.read_len, 0);
	CHECK(!d.q.broken);
	teardown(&d);
}

static void test_header_data_status(void)
{
	struct drv d;

	if (setup(&d, 16))
		return;
	desc(&d, 7, DATA_GPA, 16, VRING_DESC_F_NEXT, 3);
	desc(&d, 3, DATA_GPA + 0x1000, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 12);
	desc(&d, 12, DATA_GPA + 0x2000, 1, VRING_DESC_F_WRITE, 99 /* ignored: no NEXT */);
	avail_add(&d, 7);
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 1);
	CHECK_EQ(chain.head, 7);
	CHECK_EQ(chain.nread, 1);
	CHECK_EQ(chain.nwrite, 2);
	CHECK_EQ(chain.read_len, 16);
	CHECK_EQ(chain.write_len, 513);
	CHECK(chain.buf[0].host == d.t.buf + DATA_GPA && chain.buf[0].len == 16 &&
	      !chain.buf[0].write);
	CHECK(chain.buf[1].host == d.t.buf + DATA_GPA + 0x1000 && chain.buf[1].len == 512 &&
	      chain.buf[1].write);
	CHECK(chain.buf[2].host == d.t.buf + DATA_GPA + 0x2000 && chain.buf[2].len == 1 &&
	      chain.buf[2].write);
	virtq_push(&d.q, chain.head, 513);
	CHECK_EQ(used_idx(&d), 1);
	CHECK_EQ(used_id(&d, 0), 7);
	CHECK_EQ(used_len(&d, 0), 513);
	teardown(&d);
}

static void test_indirect(void)
{
	struct drv d;

	if (setup(&d, 8))
		return;
	/* the WRITE flag of the descriptor naming the table is ignored */
	desc(&d, 3, IND_GPA, 4 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	ind(&d, 0, DATA_GPA, 10, VRING_DESC_F_NEXT, 2);
	ind(&d, 2, DATA_GPA + 0x100, 6, VRING_DESC_F_NEXT, 1);
	ind(&d, 1, DATA_GPA + 0x200, 100, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	ind(&d, 3, DATA_GPA + 0x300, 1, VRING_DESC_F_WRITE, 0);
	avail_add(&d, 3);
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 1);
	CHECK_EQ(chain.head, 3);
	CHECK_EQ(chain.nread, 2);
	CHECK_EQ(chain.nwrite, 2);
	CHECK_EQ(chain.read_len, 16);
	CHECK_EQ(chain.write_len, 101);
	CHECK(chain.buf[0].host == d.t.buf + DATA_GPA && chain.buf[0].len == 10);
	CHECK(chain.buf[1].host == d.t.buf + DATA_GPA + 0x100 && chain.buf[1].len == 6);
	CHECK(chain.buf[2].host == d.t.buf + DATA_GPA + 0x200 && chain.buf[2].write);
	CHECK(chain.buf[3].host == d.t.buf + DATA_GPA + 0x300 && chain.buf[3].write);

	/* the largest table: 1024 entries, all used in one chain */
	for (uint32_t i = 0; i < VIRTQ_MAX_CHAIN; i++)
		ind(&d, i, DATA_GPA + i, 1, i + 1 < VIRTQ_MAX_CHAIN ? VRING_DESC_F_NEXT : 0,
		    (uint16_t)(i + 1));
	desc(&d, 0, IND_GPA, VIRTQ_MAX_CHAIN * 16, VRING_DESC_F_INDIRECT, 0);
	avail_add(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 1);
	CHECK_EQ(chain.nread, VIRTQ_MAX_CHAIN);
	CHECK_EQ(chain.read_len, VIRTQ_MAX_CHAIN);
	CHECK(chain.buf[VIRTQ_MAX_CHAIN - 1].host == d.t.buf + DATA_GPA + VIRTQ_MAX_CHAIN - 1);

	/* a table ending exactly at the end of guest memory */
	put_desc(&d, MEM - 32, 0, DATA_GPA, 4, VRING_DESC_F_NEXT, 1);
	put_desc(&d, MEM - 32, 1, DATA_GPA + 4, 4, VRING_DESC_F_WRITE, 0);
	desc(&d, 1, MEM - 32, 32, VRING_DESC_F_INDIRECT, 0);
	avail_add(&d, 1);
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 1);
	CHECK_EQ(chain.head, 1);
	CHECK_EQ(chain.nread, 1);
	CHECK_EQ(chain.nwrite, 1);
	CHECK(!d.q.broken);
	teardown(&d);
}

static void test_full_length_chain(void)
{
	static const uint16_t sizes[] = { 1, 2, 8, 256 };

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct drv d;
		uint16_t n = sizes[k];

		if (setup(&d, n))
			return;
		/* every descriptor once, in a scrambled order, ending at the head - 1 */
		for (uint32_t i = 0; i < n; i++) {
			uint16_t cur = (uint16_t)((i * 5 + 1) % n), nxt = (uint16_t)(((i + 1) * 5 + 1) % n);

			desc(&d, cur, DATA_GPA + 16 * i, 16,
			     (i + 1 < n ? VRING_DESC_F_NEXT : 0) | (i >= n / 2 ? VRING_DESC_F_WRITE : 0),
			     nxt);
		}
		avail_add(&d, (uint16_t)(1 % n));
		CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 1);
		CHECK_EQ(chain.nread + chain.nwrite, n);
		CHECK_EQ(chain.nread, n / 2);
		CHECK_EQ(chain.read_len + chain.write_len, 16ULL * n);
		CHECK(chain.buf[n - 1].host == d.t.buf + DATA_GPA + 16 * (n - 1));
		CHECK(!d.q.broken);
		teardown(&d);
	}
}

static void test_several_in_order(void)
{
	struct drv d;
	static const uint16_t heads[] = { 2, 0, 3 };

	if (setup(&d, 4))
		return;
	desc(&d, 0, DATA_GPA, 1, 0, 0);
	desc(&d, 1, DATA_GPA + 1, 2, VRING_DESC_F_WRITE, 0);
	desc(&d, 2, DATA_GPA + 3, 3, VRING_DESC_F_NEXT, 1);
	desc(&d, 3, DATA_GPA + 6, 4, 0, 0);
	for (int i = 0; i < 3; i++)
		avail_add(&d, heads[i]);
	CHECK(virtq_has_avail(&d.q));
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 1);
		CHECK_EQ(chain.head, heads[i]);
	}
	CHECK_EQ(chain.read_len, 4);
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 0);
	/* completed out of order: the used ring records push order */
	virtq_push(&d.q, 3, 30);
	CHECK_EQ(used_idx(&d), 1);
	virtq_push(&d.q, 2, 20);
	virtq_push(&d.q, 0, 0);
	CHECK_EQ(used_idx(&d), 3);
	CHECK_EQ(used_id(&d, 0), 3);
	CHECK_EQ(used_len(&d, 0), 30);
	CHECK_EQ(used_id(&d, 1), 2);
	CHECK_EQ(used_len(&d, 1), 20);
	CHECK_EQ(used_id(&d, 2), 0);
	CHECK_EQ(used_len(&d, 2), 0);
	/* a full ring: 4 outstanding (avail moved by exactly the size) */
	for (int i = 0; i < 4; i++)
		avail_add(&d, (uint16_t)i);
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 1);
		CHECK_EQ(chain.head, i);
	}
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 0);
	teardown(&d);
}

/*
 * 16-bit indices wrap: drive 70000 chains through a 4-entry queue, in full
 * batches, with EVENT_IDX, checking pops, the used ring and the interrupt
 * decision at every step (across 65535 -> 0 too).
 */
static void test_wrap_around(void)
{
	struct drv d;
	unsigned long bad_pop = 0, bad_used = 0, bad_irq = 0, bad_event = 0;
	uint16_t used = 0;

	if (setup(&d, 4))
		return;
	d.q.event_idx = true;
	for (int i = 0; i < 4; i++)
		desc(&d, (uint32_t)i, DATA_GPA + 64 * i, 64, VRING_DESC_F_WRITE, 0);
	CHECK(virtq_needs_interrupt(&d.q));   /* the first decision always signals */
	for (unsigned long batch = 0; batch < 70000 / 4; batch++) {
		uint16_t before = used;

		for (int i = 0; i < 4; i++)
			avail_add(&d, (uint16_t)((batch + i) % 4));
		for (int i = 0; i < 4; i++) {
			if (virtq_pop(&d.q, &d.t.gm, &chain) != 1 ||
			    chain.head != (batch + i) % 4)
				bad_pop++;
			virtq_push(&d.q, chain.head, (uint32_t)batch);
		}
		if (virtq_pop(&d.q, &d.t.gm, &chain) != 0)
			bad_pop++;
		used += 4;
		if (used_idx(&d) != used)
			bad_used++;
		for (int i = 0; i < 4; i++)
			if (used_id(&d, (uint16_t)(before + i)) != (batch + i) % 4 ||
			    used_len(&d, (uint16_t)(before + i)) != batch)
				bad_used++;
		/* odd batches: "signal me at the first of these"; even: not yet */
		set_used_event(&d, (uint16_t)(batch & 1 ? before : before + 10));
		if (virtq_needs_interrupt(&d.q) != (bool)(batch & 1))
			bad_irq++;
		if (virtq_enable_notify(&d.q) || avail_event(&d) != d.avail_idx)
			bad_event++;
	}
	CHECK_EQ(bad_pop, 0);
	CHECK_EQ(bad_used, 0);
	CHECK_EQ(bad_irq, 0);
	CHECK_EQ(bad_event, 0);
	CHECK_EQ(d.avail_idx, 70000 - 65536);  /* it did wrap */
	CHECK_EQ(d.q.last_avail, d.avail_idx);
	CHECK(!d.q.broken);
	teardown(&d);
}

/* A jump of exactly the queue size across the wrap is fine; one more is not. */
static void test_wrap_jump(void)
{
	struct drv d;

	if (setup(&d, 8))
		return;
	for (int i = 0; i < 8; i++)
		desc(&d, (uint32_t)i, DATA_GPA, 8, 0, 0);
	/* walk last_avail to 65533 the honest way */
	for (uint32_t n = 0; n < 65533; n++) {
		avail_add(&d, (uint16_t)(n % 8));
		if (virtq_pop(&d.q, &d.t.gm, &chain) != 1)
			break;
		virtq_push(&d.q, chain.head, 0);
	}
	CHECK_EQ(d.q.last_avail, 65533);
	for (int i = 0; i < 8; i++)
		avail_add(&d, (uint16_t)(7 - i));
	CHECK_EQ(d.avail_idx, 5);
	for (int i = 0; i < 8; i++) {
		CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 1);
		CHECK_EQ(chain.head, 7 - i);
		virtq_push(&d.q, chain.head, 0);
	}
	CHECK_EQ(d.q.last_avail, 5);
	CHECK_EQ(used_idx(&d), 5);
	/* then 9 at once */
	set_avail_idx(&d, (uint16_t)(d.avail_idx + 9));
	HOSTILE(&d, "available index moved by 9");
	teardown(&d);
}

static void test_chain_read_write(void)
{
	struct drv d;
	uint8_t out[64], pat[64];
	static const uint32_t rlens[] = { 3, 0, 5, 7 };
	static const uint32_t wlens[] = { 4, 6 };
	uint16_t idx = 0;

	if (setup(&d, 8))
		return;
	for (int i = 0; i < 64; i++)
		pat[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 4; i++, idx++)
		desc(&d, idx, DATA_GPA + 0x100 * i, rlens[i], VRING_DESC_F_NEXT, (uint16_t)(idx + 1));
	for (int i = 0; i < 2; i++, idx++)
		desc(&d, idx, DATA_GPA + 0x1000 + 0x100 * i, wlens[i],
		     VRING_DESC_F_WRITE | (i == 0 ? VRING_DESC_F_NEXT : 0), (uint16_t)(idx + 1));
	/* readable bytes: 0 1 2 | | 10 11 12 13 14 | 20 .. 26 */
	for (int i = 0; i < 4; i++)
		for (uint32_t j = 0; j < rlens[i]; j++)
			d.t.buf[DATA_GPA + 0x100 * i + j] = (uint8_t)(10 * i + j);
	memset(d.t.buf + DATA_GPA + 0x1000, 0xee, 0x200);
	avail_add(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 1);
	CHECK_EQ(chain.nread, 4);
	CHECK_EQ(chain.nwrite, 2);
	CHECK_EQ(chain.read_len, 15);
	CHECK_EQ(chain.write_len, 10);

	memset(out, 0, sizeof(out));
	CHECK_EQ(virtq_chain_read(&chain, 0, out, sizeof(out)), 15);
	{
		static const uint8_t want[15] = { 0, 1, 2, 20, 21, 22, 23, 24,
						  30, 31, 32, 33, 34, 35, 36 };

		CHECK(memcmp(out, want, 15) == 0);
		memset(out, 0, sizeof(out));
		CHECK_EQ(virtq_chain_read(&chain, 2, out, 4), 4);   /* crosses two buffers and an empty one */
		CHECK(memcmp(out, want + 2, 4) == 0);
		memset(out, 0, sizeof(out));
		CHECK_EQ(virtq_chain_read(&chain, 7, out, 2), 2);
		CHECK(memcmp(out, want + 7, 2) == 0);
		CHECK_EQ(virtq_chain_read(&chain, 14, out, 5), 1);
		CHECK_EQ(out[0], 36);
	}
	CHECK_EQ(virtq_chain_read(&chain, 15, out, 5), 0);
	CHECK_EQ(virtq_chain_read(&chain, UINT64_MAX, out, 5), 0);
	CHECK_EQ(virtq_chain_read(&chain, 3, out, 0), 0);

	/* writes go to the writable buffers only, at writable offsets */
	CHECK_EQ(virtq_chain_write(&chain, 2, pat, 5), 5);
	CHECK(memcmp(d.t.buf + DATA_GPA + 0x1000, "\xee\xee\xa0\xa1", 4) == 0);
	CHECK(memcmp(d.t.buf + DATA_GPA + 0x1100, "\xa2\xa3\xa4\xee", 4) == 0);
	CHECK_EQ(d.t.buf[DATA_GPA + 0x1004], 0xee);          /* past buffer 0's end */
	CHECK_EQ(virtq_chain_write(&chain, 8, pat, 10), 2);  /* clipped at the end */
	CHECK(memcmp(d.t.buf + DATA_GPA + 0x1104, "\xa0\xa1", 2) == 0);
	CHECK_EQ(d.t.buf[DATA_GPA + 0x1106], 0xee);
	CHECK_EQ(virtq_chain_write(&chain, 10, pat, 10), 0);
	CHECK_EQ(virtq_chain_write(&chain, 0, pat, 64), 10);
	CHECK(memcmp(d.t.buf + DATA_GPA + 0x1000, pat, 4) == 0);
	CHECK(memcmp(d.t.buf + DATA_GPA + 0x1100, pat + 4, 6) == 0);
	CHECK_EQ(d.t.buf[DATA_GPA], 0);                      /* readable data untouched */
	CHECK_EQ(d.t.buf[DATA_GPA + 0x300 + 6], 36);
	teardown(&d);
}

static void test_event_idx(void)
{
	struct drv d;

	if (setup(&d, 8))
		return;
	d.q.event_idx = true;
	virtq_push(&d.q, 0, 0);                       /* used 1 */
	CHECK(virtq_needs_interrupt(&d.q));           /* first one: always */
	CHECK(!virtq_needs_interrupt(&d.q));          /* nothing new */
	set_used_event(&d, 1);
	virtq_push(&d.q, 0, 0);                       /* used 2: crosses 1 */
	CHECK(virtq_needs_interrupt(&d.q));
	set_used_event(&d, 4);
	virtq_push(&d.q, 0, 0);                       /* used 3 */
	CHECK(!virtq_needs_interrupt(&d.q));
	virtq_push(&d.q, 0, 0);                       /* used 4 */
	CHECK(!virtq_needs_interrupt(&d.q));
	virtq_push(&d.q, 0, 0);                       /* used 5: crosses 4 */
	CHECK(virtq_needs_interrupt(&d.q));
	virtq_push(&d.q, 0, 0);                       /* used 6: event 4 is behind */
	CHECK(!virtq_needs_interrupt(&d.q));
	set_used_event(&d, 7);
	virtq_push(&d.q, 0, 0);
	virtq_push(&d.q, 0, 0);
	virtq_push(&d.q, 0, 0);                       /* used 9: 6 -> 9 crosses 7 */
	CHECK(virtq_needs_interrupt(&d.q));
	set_used_event(&d, 9);
	virtq_push(&d.q, 0, 0);                       /* used 10: crosses 9 */
	CHECK(virtq_needs_interrupt(&d.q));
	set_used_event(&d, 11);
	virtq_push(&d.q, 0, 0);                       /* used 11: not past 11 yet */
	CHECK(!virtq_needs_interrupt(&d.q));
	/* the NO_INTERRUPT flag means nothing with EVENT_IDX */
	wr16(&d, AVAIL_GPA, VRING_AVAIL_F_NO_INTERRUPT);
	virtq_push(&d.q, 0, 0);                       /* used 12: crosses 11 */
	CHECK(virtq_needs_interrupt(&d.q));
	CHECK_EQ(used_idx(&d), 12);

	/* without EVENT_IDX: the flag decides, used_event is ignored */
	d.q.event_idx = false;
	set_used_event(&d, 1000);
	virtq_push(&d.q, 0, 0);
	CHECK(!virtq_needs_interrupt(&d.q));
	wr16(&d, AVAIL_GPA, 0);
	CHECK(virtq_needs_interrupt(&d.q));
	set_used_event(&d, 12);
	wr16(&d, AVAIL_GPA, VRING_AVAIL_F_NO_INTERRUPT);
	virtq_push(&d.q, 0, 0);
	CHECK(!virtq_needs_interrupt(&d.q));
	/* not ready: never */
	wr16(&d, AVAIL_GPA, 0);
	d.q.ready = false;
	CHECK(!virtq_needs_interrupt(&d.q));
	teardown(&d);
}

static void test_enable_notify(void)
{
	struct drv d;

	if (setup(&d, 8))
		return;
	d.q.event_idx = true;
	desc(&d, 0, DATA_GPA, 8, 0, 0);
	wr16(&d, USED_GPA + 4 + 8 * 8, 0xbeef);
	CHECK(!virtq_enable_notify(&d.q));
	CHECK_EQ(avail_event(&d), 0);
	avail_add(&d, 0);
	avail_add(&d, 0);
	CHECK(virtq_enable_notify(&d.q));             /* they arrived meanwhile */
	CHECK_EQ(avail_event(&d), 0);
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 1);
	CHECK(virtq_enable_notify(&d.q));
	CHECK_EQ(avail_event(&d), 1);
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 1);
	CHECK(!virtq_enable_notify(&d.q));
	CHECK_EQ(avail_event(&d), 2);
	CHECK_EQ(rd16(&d, USED_GPA), 0);              /* flags untouched */

	/* without EVENT_IDX: clears NO_NOTIFY, leaves avail_event alone */
	d.q.event_idx = false;
	wr16(&d, USED_GPA, VRING_USED_F_NO_NOTIFY);
	wr16(&d, USED_GPA + 4 + 8 * 8, 0xbeef);
	CHECK(!virtq_enable_notify(&d.q));
	CHECK_EQ(rd16(&d, USED_GPA), 0);
	CHECK_EQ(avail_event(&d), 0xbeef);
	avail_add(&d, 0);
	CHECK(virtq_enable_notify(&d.q));
	teardown(&d);
}

/* ---- hostile guest ---- */

static void test_activate_hostile(void)
{
	const uint64_t M = MEM;

	BAD_ACTIVATE(0, DESC_GPA, AVAIL_GPA, USED_GPA, "queue size 0");
	BAD_ACTIVATE(3, DESC_GPA, AVAIL_GPA, USED_GPA, "queue size 3");
	BAD_ACTIVATE(6, DESC_GPA, AVAIL_GPA, USED_GPA, "queue size 6");
	BAD_ACTIVATE(255, DESC_GPA, AVAIL_GPA, USED_GPA, "queue size 255");
	BAD_ACTIVATE(257, DESC_GPA, AVAIL_GPA, USED_GPA, "queue size 257");
	BAD_ACTIVATE(512, DESC_GPA, AVAIL_GPA, USED_GPA, "queue size 512");
	BAD_ACTIVATE(32768, DESC_GPA, AVAIL_GPA, USED_GPA, "queue size 32768");
	BAD_ACTIVATE(65535, DESC_GPA, AVAIL_GPA, USED_GPA, "queue size 65535");
	/* misaligned */
	BAD_ACTIVATE(8, DESC_GPA + 8, AVAIL_GPA, USED_GPA, "misaligned");
	BAD_ACTIVATE(8, DESC_GPA + 1, AVAIL_GPA, USED_GPA, "misaligned");
	BAD_ACTIVATE(8, DESC_GPA, AVAIL_GPA + 1, USED_GPA, "misaligned");
	BAD_ACTIVATE(8, DESC_GPA, AVAIL_GPA, USED_GPA + 2, "misaligned");
	BAD_ACTIVATE(8, DESC_GPA, AVAIL_GPA, USED_GPA + 1, "misaligned");
	/* partly outside: one granule past the last fit */
	BAD_ACTIVATE(8, M - 8 * 16 + 16, AVAIL_GPA, USED_GPA, "outside guest memory");
	BAD_ACTIVATE(8, DESC_GPA, M - (6 + 2 * 8) + 2, USED_GPA, "outside guest memory");
	BAD_ACTIVATE(8, DESC_GPA, AVAIL_GPA, M - (6 + 8 * 8) + 2, "outside guest memory");
	BAD_ACTIVATE(256, M - 0x800, AVAIL_GPA, USED_GPA, "outside guest memory");
	/* fully outside */
	BAD_ACTIVATE(8, M, AVAIL_GPA, USED_GPA, "outside guest memory");
	BAD_ACTIVATE(8, DESC_GPA, M, USED_GPA, "outside guest memory");
	BAD_ACTIVATE(8, DESC_GPA, AVAIL_GPA, M, "outside guest memory");
	BAD_ACTIVATE(8, 1ULL << 40, AVAIL_GPA, USED_GPA, "outside guest memory");
	BAD_ACTIVATE(8, DESC_GPA, AVAIL_GPA, 0x100000000ULL, "outside guest memory");
	/* addr + len wraps to a small address */
	BAD_ACTIVATE(8, 0xfffffffffffffff0ULL, AVAIL_GPA, USED_GPA, "outside guest memory");
	BAD_ACTIVATE(8, 0xffffffffffffff80ULL, AVAIL_GPA, USED_GPA, "outside guest memory");
	BAD_ACTIVATE(8, DESC_GPA, 0xfffffffffffffffeULL, USED_GPA, "outside guest memory");
	BAD_ACTIVATE(8, DESC_GPA, AVAIL_GPA, 0xfffffffffffffffcULL, "outside guest memory");
	BAD_ACTIVATE(8, DESC_GPA, AVAIL_GPA, 0xffffffffffffffc0ULL, "outside guest memory");

	/* the exact fits are fine */
	CHECK_EQ(good_activate(8, M - 8 * 16, AVAIL_GPA, USED_GPA), 0);
	CHECK_EQ(good_activate(8, DESC_GPA, M - (6 + 2 * 8), USED_GPA), 0);
	CHECK_EQ(good_activate(8, DESC_GPA, AVAIL_GPA, M - (6 + 8 * 8) - 2), 0);
	CHECK_EQ(good_activate(256, M - 0x1000, AVAIL_GPA, USED_GPA), 0);
	CHECK_EQ(good_activate(1, 0, 0x12, 0x24), 0);
	CHECK_EQ(good_activate(256, DESC_GPA, AVAIL_GPA, USED_GPA), 0);
}

static void test_bad_avail(void)
{
	struct drv d;

	if (setup(&d, 8))
		return;
	desc(&d, 0, DATA_GPA, 8, 0, 0);
	/* one good chain served first: it must stay the only used entry */
	avail_add(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 1);
	virtq_push(&d.q, 0, 8);
	set_avail_idx(&d, (uint16_t)(d.avail_idx + 9));
	HOSTILE(&d, "available index moved by 9, more than the queue size 8");
	CHECK_EQ(used_idx(&d), 1);
	teardown(&d);

	if (setup(&d, 8))
		return;
	set_avail_idx(&d, 0xffff);      /* "moved back by one" */
	HOSTILE(&d, "moved by 65535");
	teardown(&d);

	if (setup(&d, 8))
		return;
	avail_add(&d, 8);
	HOSTILE(&d, "available head 8 outside the queue (size 8)");
	teardown(&d);

	if (setup(&d, 8))
		return;
	avail_add(&d, 0xffff);
	HOSTILE(&d, "available head 65535");
	teardown(&d);
}

/* One chain starting at descriptor 0 of a fresh queue of size 8 must break it. */
#define ONE(why, ...)                                                         \
	do {                                                                  \
		struct drv d_;                                                \
		if (setup(&d_, 8))                                            \
			return;                                               \
		struct drv *d = &d_;                                          \
		__VA_ARGS__;                                                  \
		avail_add(d, 0);                                              \
		HOSTILE(d, why);                                              \
		teardown(d);                                                  \
	} while (0)

static void test_bad_descriptors(void)
{
	const uint64_t M = MEM;

	ONE("outside guest memory", desc(d, 0, M, 1, 0, 0));
	ONE("outside guest memory", desc(d, 0, M + 1, 0, 0, 0));
	ONE("outside guest memory", desc(d, 0, M - 10, 11, 0, 0));
	ONE("outside guest memory", desc(d, 0, 0, 0xffffffff, 0, 0));
	ONE("outside guest memory", desc(d, 0, DATA_GPA, 0xffffffff, VRING_DESC_F_WRITE, 0));
	ONE("outside guest memory", desc(d, 0, 0xfffffffffffffff6ULL, 0x20, 0, 0));
	ONE("outside guest memory", desc(d, 0, UINT64_MAX, 2, VRING_DESC_F_WRITE, 0));
	ONE("outside guest memory", desc(d, 0, UINT64_MAX, 0, 0, 0));
	ONE("outside guest memory", desc(d, 0, 1ULL << 32, 16, 0, 0));
	/* the bad one is the last of a chain of good ones */
	ONE("buffer at 0x100000 (+1) outside guest memory",
	    desc(d, 0, DATA_GPA, 16, VRING_DESC_F_NEXT, 1);
	    desc(d, 1, DATA_GPA, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	    desc(d, 2, M, 1, VRING_DESC_F_WRITE, 0));
	/* next index */
	ONE("next descriptor 8 outside its table (8 entries)",
	    desc(d, 0, DATA_GPA, 16, VRING_DESC_F_NEXT, 8));
	ONE("next descriptor 65535", desc(d, 0, DATA_GPA, 16, VRING_DESC_F_NEXT, 0xffff));
	/* loops */
	ONE("loops", desc(d, 0, DATA_GPA, 16, VRING_DESC_F_NEXT, 0));
	ONE("loops", desc(d, 0, DATA_GPA, 16, VRING_DESC_F_NEXT, 1);
	    desc(d, 1, DATA_GPA, 16, VRING_DESC_F_NEXT, 0));
	ONE("loops", desc(d, 0, DATA_GPA, 16, VRING_DESC_F_NEXT, 1);
	    desc(d, 1, DATA_GPA, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	    desc(d, 2, DATA_GPA, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1));
	/* longer than the queue: all 8 descriptors, then the first again */
	ONE("loops", for (int i = 0; i < 8; i++)
		desc(d, (uint32_t)i, DATA_GPA, 16, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % 8)));
	/* readable after writable */
	ONE("device-readable buffer after a device-writable one",
	    desc(d, 0, DATA_GPA, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	    desc(d, 1, DATA_GPA, 16, 0, 0));
	ONE("device-readable buffer after a device-writable one",
	    desc(d, 0, DATA_GPA, 16, VRING_DESC_F_NEXT, 1);
	    desc(d, 1, DATA_GPA, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	    desc(d, 2, DATA_GPA, 0, VRING_DESC_F_NEXT, 3);
	    desc(d, 3, DATA_GPA, 1, VRING_DESC_F_WRITE, 0));
}

static void test_bad_indirect(void)
{
	const uint64_t M = MEM;
	const uint16_t N = VRING_DESC_F_NEXT, W = VRING_DESC_F_WRITE, I = VRING_DESC_F_INDIRECT;

	ONE("indirect table inside an indirect table",
	    desc(d, 0, IND_GPA, 32, I, 0);
	    ind(d, 0, IND_GPA + 0x100, 16, I, 0));
	ONE("indirect table inside an indirect table",
	    desc(d, 0, IND_GPA, 32, I, 0);
	    ind(d, 0, DATA_GPA, 16, N, 1);
	    ind(d, 1, IND_GPA, 32, I, 0));
	ONE("indirect descriptor with the NEXT flag",
	    desc(d, 0, IND_GPA, 16, I | N, 1);
	    desc(d, 1, DATA_GPA, 16, 0, 0);
	    ind(d, 0, DATA_GPA, 16, 0, 0));
	/* table sizes */
	ONE("indirect table of 0 bytes", desc(d, 0, IND_GPA, 0, I, 0));
	ONE("indirect table of 15 bytes", desc(d, 0, IND_GPA, 15, I, 0); ind(d, 0, DATA_GPA, 1, 0, 0));
	ONE("indirect table of 24 bytes", desc(d, 0, IND_GPA, 24, I, 0); ind(d, 0, DATA_GPA, 1, 0, 0));
	ONE("indirect table of 40 bytes", desc(d, 0, IND_GPA, 40, I, 0); ind(d, 0, DATA_GPA, 1, 0, 0));
	ONE("indirect table of 16400 bytes", desc(d, 0, IND_GPA, 16 * 1025, I, 0);
	    ind(d, 0, DATA_GPA, 1, 0, 0));
	ONE("indirect table of 4294967280 bytes", desc(d, 0, 0, 0xfffffff0, I, 0));
	/* placement */
	ONE("misaligned indirect table at 0x8008", desc(d, 0, IND_GPA + 8, 32, I, 0);
	    put_desc(d, IND_GPA + 8, 0, DATA_GPA, 1, 0, 0));
	ONE("misaligned", desc(d, 0, IND_GPA + 1, 32, I, 0));
	ONE("indirect table at 0xfffe0 (+48) outside guest memory",
	    desc(d, 0, M - 32, 48, I, 0); put_desc(d, M - 32, 0, DATA_GPA, 1, 0, 0));
	ONE("outside guest memory", desc(d, 0, M, 16, I, 0));
	ONE("outside guest memory", desc(d, 0, 0xfffffffffffffff0ULL, 32, I, 0));
	ONE("outside guest memory", desc(d, 0, 0xffffffffffffff00ULL, 0x200, I, 0));
	/* inside the table */
	ONE("loops", desc(d, 0, IND_GPA, 64, I, 0); ind(d, 0, DATA_GPA, 1, N, 0));
	ONE("loops", desc(d, 0, IND_GPA, 64, I, 0);
	    ind(d, 0, DATA_GPA, 1, N, 1); ind(d, 1, DATA_GPA, 1, N, 2); ind(d, 2, DATA_GPA, 1, N, 1));
	ONE("next descriptor 4 outside its table (4 entries)",
	    desc(d, 0, IND_GPA, 64, I, 0);
	    ind(d, 0, DATA_GPA, 1, N, 4); ind(d, 4, DATA_GPA, 1, 0, 0));
	ONE("next descriptor 65535 outside its table",
	    desc(d, 0, IND_GPA, 64, I, 0); ind(d, 0, DATA_GPA, 1, N, 0xffff));
	ONE("outside guest memory", desc(d, 0, IND_GPA, 32, I, 0);
	    ind(d, 0, DATA_GPA, 1, N, 1); ind(d, 1, M - 1, 2, W, 0));
	ONE("device-readable buffer after a device-writable one",
	    desc(d, 0, IND_GPA, 32, I, 0);
	    ind(d, 0, DATA_GPA, 1, N | W, 1); ind(d, 1, DATA_GPA, 1, 0, 0));
	ONE("device-readable buffer after a device-writable one",
	    desc(d, 0, DATA_GPA, 1, N | W, 1);
	    desc(d, 1, IND_GPA, 16, I, 0); ind(d, 0, DATA_GPA, 1, 0, 0));
	/* a direct buffer, then a full 1024-entry table: 1025 buffers */
	ONE("chain longer than 1024 buffers",
	    desc(d, 0, DATA_GPA, 1, N, 1);
	    desc(d, 1, IND_GPA, VIRTQ_MAX_CHAIN * 16, I, 0);
	    for (uint32_t i = 0; i < VIRTQ_MAX_CHAIN; i++)
		    ind(d, i, DATA_GPA, 1, i + 1 < VIRTQ_MAX_CHAIN ? N : 0, (uint16_t)(i + 1)));
}

/* After a break: dead until reset, then a re-activated queue works again. */
static void test_reset_revives(void)
{
	struct drv d;

	if (setup(&d, 8))
		return;
	desc(&d, 0, DATA_GPA, 16, VRING_DESC_F_NEXT, 0);   /* self-loop */
	avail_add(&d, 0);
	HOSTILE(&d, "loops");
	/* fixing the ring is not enough: the driver must reset */
	desc(&d, 0, DATA_GPA, 16, 0, 0);
	unit_capture_begin();
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), -1);
	{
		char w[256];

		unit_capture_end(w, sizeof(w));
	}
	virtq_reset(&d.q);
	CHECK(!d.q.ready && !d.q.broken && d.q.size == 0);
	CHECK_STREQ(d.q.name, "test queue");
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 0);     /* not ready */
	/* the driver sets the queue up afresh */
	memset(d.t.buf + AVAIL_GPA, 0, 0x2000);
	d.avail_idx = 0;
	d.q.size = 8;
	d.q.desc_gpa = DESC_GPA;
	d.q.avail_gpa = AVAIL_GPA;
	d.q.used_gpa = USED_GPA;
	CHECK_EQ(virtq_activate(&d.q, &d.t.gm), 0);
	d.q.ready = true;
	CHECK(!d.q.broken);
	avail_add(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &d.t.gm, &chain), 1);
	CHECK_EQ(chain.read_len, 16);
	virtq_push(&d.q, 0, 3);
	CHECK_EQ(used_idx(&d), 1);
	CHECK_EQ(used_len(&d, 0), 3);
	teardown(&d);
}

static void init(void)
{
	snap = malloc(MEM);
	CHECK(snap != NULL);
	if (!snap)
		exit(1);
}

static void fini(void)
{
	free(snap);
}

/*
 * A guest that breaks its queues over and over cannot flood the host's
 * stderr: GUEST_WARN_BURST lines, the rest counted in the metrics.
 */
static void test_guest_warn_limit(void)
{
	static char w[64 * 1024];
	uint64_t missed = METRIC_GET(ember_metrics.logger.missed_log_count);
	int lines = 0;

	unit_capture_begin();
	for (int i = 0; i < 100; i++)
		guest_warn("broken queue %d", i);
	unit_capture_end(w, sizeof(w));
	for (char *p = w; (p = strstr(p, "] broken queue ")); p++)
		lines++;
	CHECK_EQ(lines, GUEST_WARN_BURST);
	CHECK_EQ(METRIC_GET(ember_metrics.logger.missed_log_count) - missed,
		 100 - GUEST_WARN_BURST);
	guest_warn_reset();
}

UNIT_MAIN(TEST(init), TEST(test_single_buffer), TEST(test_header_data_status),
	  TEST(test_indirect), TEST(test_full_length_chain), TEST(test_several_in_order),
	  TEST(test_wrap_around), TEST(test_wrap_jump), TEST(test_chain_read_write),
	  TEST(test_event_idx), TEST(test_enable_notify), TEST(test_activate_hostile),
	  TEST(test_bad_avail), TEST(test_bad_descriptors), TEST(test_bad_indirect),
	  TEST(test_reset_revives), TEST(test_guest_warn_limit), TEST(fini))
