/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net (virtio/net.c) over a SOCK_SEQPACKET socket pair instead of a
 * TAP (virtio_net_create_fd): the test holds the other end, so it sees the
 * frames the guest sends and feeds the frames the guest receives. The
 * driver side is written by hand into guest memory. TX: a frame, frames
 * too short or too long (dropped and counted, the chain returned), the
 * per-round budget. RX: one chain per frame, a frame too big for the
 * buffers, MRG_RXBUF across several buffers (num_buffers), offloads the
 * driver did not accept, runts, the per-event budget, and a receive buffer
 * outside guest memory (the queue stops until a reset, the device lives).
 */
#include "core/ember.h"
#include "core/evloop.h"
#include "tests/unit/unit.h"
#include "virtio/net.h"
#include "virtio/virtqueue.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define RXQ 0
#define TXQ 1
#define QSIZE 256
#define HDR 12
#define F_MRG_RXBUF  (1ULL << 15)
#define F_GUEST_CSUM (1ULL << 1)
#define RX_BUDGET 64   /* virtio/net.c */
#define TX_BUDGET 128

/* A queue as the driver sees it. */
struct tq {
	uint64_t desc, avail, used;
	uint16_t avail_idx, used_seen;
};

static struct tmem mem;
static struct evloop loop;
static struct virtio_net *net;
static struct virtio_dev *dev;
static struct tq rxq = { .desc = 0x1000, .avail = 0x2000, .used = 0x3000 },
		 txq = { .desc = 0x4000, .avail = 0x5000, .used = 0x6000 };
static int peer = -1;   /* the test's end of the "TAP" */
static int signals;
static char err[512], w[4096];
static uint8_t buf[70000];

static void *gpa(uint64_t a, uint64_t len)
{
	void *p = gm_ptr(&mem.gm, a, len);

	CHECK(p != NULL);
	return p;
}

static void wr16(uint64_t a, uint16_t v) { memcpy(gpa(a, 2), &v, 2); }
static uint16_t rd16(uint64_t a) { uint16_t v; memcpy(&v, gpa(a, 2), 2); return v; }
static uint32_t rd32(uint64_t a) { uint32_t v; memcpy(&v, gpa(a, 4), 4); return v; }

static void put_desc(struct tq *q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = gpa(q->desc + 16ULL * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void post(struct tq *q, uint16_t head)
{
	wr16(q->avail + 4 + 2 * (q->avail_idx % QSIZE), head);
	q->avail_idx++;
	wr16(q->avail + 2, q->avail_idx);
}

static uint16_t used_idx(struct tq *q) { return rd16(q->used + 2); }

/* The next used element: 1 (id, len filled in) or 0. */
static int take_used(struct tq *q, uint32_t *id, uint32_t *len)
{
	if (q->used_seen == used_idx(q))
		return 0;
	*id = rd32(q->used + 4 + 8 * (q->used_seen % QSIZE));
	*len = rd32(q->used + 8 + 8 * (q->used_seen % QSIZE));
	q->used_seen++;
	return 1;
}

static void fake_signal(struct virtio_dev *d, uint32_t why)
{
	(void)d;
	(void)why;
	signals++;
}

static void queue_on(int i, struct tq *q)
{
	struct virtq *v = &dev->vq[i];

	v->size = QSIZE;
	v->desc_gpa = q->desc;
	v->avail_gpa = q->avail;
	v->used_gpa = q->used;
	CHECK_EQ(virtq_activate(v, &mem.gm), 0);
	v->ready = true;
}

/* A device on a fresh socket pair, features accepted, both queues live. */
static void setup(uint64_t features)
{
	int sv[2];

	memset(gpa(0, 0x10000), 0, 0x10000);
	rxq.avail_idx = rxq.used_seen = txq.avail_idx = txq.used_seen = 0;
	CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	peer = sv[1];
	CHECK_OK(virtio_net_create_fd(&net, sv[0], "sock0", (const uint8_t[6]){ 2, 0, 0, 0, 0, 9 },
				      &mem.gm, &loop, err, sizeof(err)), err);
	dev = virtio_net_dev(net);
	dev->signal = fake_signal;
	dev->driver_features = VIRTIO_F_VERSION_1 | features;
	dev->status = 1 | 2 | 8 | 4;  /* ACKNOWLEDGE DRIVER FEATURES_OK DRIVER_OK */
	queue_on(RXQ, &rxq);
	queue_on(TXQ, &txq);
	signals = 0;
	guest_warn_reset();
	CHECK_EQ(dev->ops->activate(dev), 0);
}

static void teardown(void)
{
	dev->ops->reset(dev);
	virtio_net_destroy(net);
	close(peer);
}

static struct virtio_net_stats stats(void)
{
	struct virtio_net_stats st;

	virtio_net_get_stats(net, &st);
	return st;
}

/* A frame from the "TAP": header (gso_type given) and len bytes of pattern. */
static void feed(uint8_t gso, uint32_t len)
{
	uint8_t f[HDR + 2000] = { 0 };

	CHECK(len <= 2000);
	f[1] = gso;
	for (uint32_t i = 0; i < len; i++)
		f[HDR + i] = (uint8_t)(i * 7 + len);
	CHECK_EQ(send(peer, f, HDR + len, 0), (long)(HDR + len));
}

static bool pattern_at(const uint8_t *p, uint32_t from, uint32_t n, uint32_t len)
{
	for (uint32_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)((from + i) * 7 + len))
			return false;
	return true;
}

static void init(void)
{
	CHECK_EQ(tmem_init(&mem, 4 << 20), 0);
	CHECK_EQ(evloop_init(&loop), 0);
}

/* --- TX -------------------------------------------------------------------------- */

/* TX chain at descriptor 2i: a header and a frame of len bytes at 0x10000 + 0x1000 i. */
static void tx_chain(uint16_t i, uint32_t len)
{
	uint64_t b = 0x10000 + 0x1000ULL * i;
	uint8_t *p = gpa(b, HDR + len);

	memset(p, 0, HDR);
	for (uint32_t k = 0; k < len; k++)
		p[HDR + k] = (uint8_t)(k + i);
	put_desc(&txq, 2 * i, b, HDR, 1 /* NEXT */, 2 * i + 1);
	put_desc(&txq, 2 * i + 1, b + HDR, len, 0, 0);
}

static void test_tx(void)
{
	uint32_t id, len;
	ssize_t n;

	setup(0);
	tx_chain(0, 60);
	post(&txq, 0);
	dev->ops->notify(dev, TXQ);
	n = recv(peer, buf, sizeof(buf), 0);
	CHECK_EQ(n, HDR + 60);
	CHECK(buf[HDR] == 0 && buf[HDR + 59] == 59);
	CHECK(take_used(&txq, &id, &len) && id == 0 && len == 0);
	CHECK_EQ(stats().tx_frames, 1);
	CHECK_EQ(stats().tx_bytes, 60);
	CHECK(signals > 0);
	/* too short (no Ethernet header) and too long: dropped, the chain returned */
	tx_chain(1, 10);
	post(&txq, 2);
	put_desc(&txq, 4, 0x20000, HDR + 66000, 0, 0);
	post(&txq, 4);
	dev->ops->notify(dev, TXQ);
	CHECK(recv(peer, buf, sizeof(buf), 0) < 0 && errno == EAGAIN);
	CHECK(take_used(&txq, &id, &len) && id == 2);
	CHECK(take_used(&txq, &id, &len) && id == 4);
	CHECK_EQ(stats().tx_drops, 2);
	teardown();
}

static void test_tx_budget(void)
{
	int got = 0;

	setup(0);
	tx_chain(0, 60);
	for (int i = 0; i < 200; i++)
		post(&txq, 0);
	dev->ops->notify(dev, TXQ);
	/* one round: the budget, then the rest waits for the event loop */
	CHECK_EQ(stats().tx_frames, TX_BUDGET);
	dev->ops->notify(dev, TXQ);
	CHECK_EQ(stats().tx_frames, 200);
	while (recv(peer, buf, sizeof(buf), 0) == HDR + 60)
		got++;
	CHECK_EQ(got, 200);
	teardown();
}

/* --- RX -------------------------------------------------------------------------- */

/* n RX buffers of size bytes each, at 0x100000 + 0x1000 i (descriptors i). */
static void rx_buffers(int n, uint32_t size)
{
	for (int i = 0; i < n; i++) {
		put_desc(&rxq, (uint16_t)i, 0x100000 + 0x1000ULL * i, size, 2 /* WRITE */, 0);
		post(&rxq, (uint16_t)i);
	}
}

static uint8_t *rx_buf(uint32_t id)
{
	return gpa(0x100000 + 0x1000ULL * id, 0x1000);
}

static void test_rx_one(void)
{
	uint32_t id, len;

	setup(0);
	rx_buffers(4, HDR + 1514);
	feed(0, 100);
	dev->ops->notify(dev, RXQ);
	CHECK(take_used(&rxq, &id, &len) && id == 0 && len == HDR + 100);
	CHECK_EQ(rd16(0x100000 + 10), 1);   /* num_buffers */
	CHECK(pattern_at(rx_buf(0) + HDR, 0, 100, 100));
	CHECK_EQ(stats().rx_frames, 1);
	CHECK_EQ(stats().rx_bytes, 100);
	/* GSO the driver did not accept (TCPv4 without GUEST_TSO4): dropped */
	feed(1, 100);
	dev->ops->notify(dev, RXQ);
	CHECK(!take_used(&rxq, &id, &len));
	CHECK_EQ(stats().rx_drops, 1);
	/* a runt (shorter than a header and an Ethernet header): counted, skipped */
	CHECK_EQ(send(peer, buf, HDR + 5, 0), HDR + 5);
	feed(0, 60);
	dev->ops->notify(dev, RXQ);
	CHECK_EQ(stats().rx_errors, 1);
	CHECK(take_used(&rxq, &id, &len) && id == 1 && len == HDR + 60);
	teardown();
}

static void test_rx_too_big(void)
{
	uint32_t id, len;

	setup(0);
	rx_buffers(1, 200);
	feed(0, 500);
	feed(0, 50);
	dev->ops->notify(dev, RXQ);
	/* the big one is dropped, its buffer kept for the next frame */
	CHECK_EQ(stats().rx_drops, 1);
	CHECK(take_used(&rxq, &id, &len) && id == 0 && len == HDR + 50);
	CHECK(pattern_at(rx_buf(0) + HDR, 0, 50, 50));
	teardown();
}

static void test_rx_mergeable(void)
{
	uint32_t id, len, total = 0;
	int n = 0;

	setup(F_MRG_RXBUF);
	rx_buffers(8, 256);
	feed(0, 1000);
	dev->ops->notify(dev, RXQ);
	while (take_used(&rxq, &id, &len)) {
		CHECK_EQ(id, (uint32_t)n);
		CHECK(len == 256 || total + len == HDR + 1000);
		total += len;
		n++;
	}
	CHECK_EQ(n, 4);
	CHECK_EQ(total, HDR + 1000);
	CHECK_EQ(rd16(0x100000 + 10), 4);    /* num_buffers in the first buffer */
	CHECK(pattern_at(rx_buf(0) + HDR, 0, 256 - HDR, 1000));
	CHECK(pattern_at(rx_buf(1), 256 - HDR, 256, 1000));
	CHECK(pattern_at(rx_buf(3), 3 * 256 - HDR, 1000 + HDR - 3 * 256, 1000));
	teardown();
}

static void test_rx_budget(void)
{
	setup(0);
	rx_buffers(QSIZE, HDR + 1514);
	for (int i = 0; i < 100; i++)
		feed(0, 60);
	dev->ops->notify(dev, RXQ);
	/* one round takes the budget; the TAP stays readable for the next */
	CHECK_EQ(stats().rx_frames, RX_BUDGET);
	dev->ops->notify(dev, RXQ);
	CHECK_EQ(stats().rx_frames, 100);
	teardown();
}

static void test_rx_hostile(void)
{
	uint32_t id, len;

	setup(0);
	/* a receive buffer beyond guest memory (4 MiB) */
	put_desc(&rxq, 0, 64ULL << 20, 1526, 2, 0);
	post(&rxq, 0);
	feed(0, 60);
	unit_capture_begin();
	dev->ops->notify(dev, RXQ);
	dev->ops->notify(dev, RXQ);
	unit_capture_end(w, sizeof(w));
	CHECK(dev->vq[RXQ].broken);
	CHECK(dev->status & 64);   /* NEEDS_RESET */
	CHECK_EQ(unit_count_lines(w), 1);
	CHECK(strstr(w, "the queue is stopped until the device is reset") != NULL);
	CHECK(!take_used(&rxq, &id, &len));
	/* TX still works: the device lives */
	tx_chain(0, 60);
	post(&txq, 0);
	dev->ops->notify(dev, TXQ);
	CHECK_EQ(recv(peer, buf, sizeof(buf), 0), HDR + 60);
	teardown();
}

static void fini(void)
{
	tmem_free(&mem);
}

UNIT_MAIN(TEST(init), TEST(test_tx), TEST(test_tx_budget), TEST(test_rx_one),
	  TEST(test_rx_too_big), TEST(test_rx_mergeable), TEST(test_rx_budget),
	  TEST(test_rx_hostile), TEST(fini))
