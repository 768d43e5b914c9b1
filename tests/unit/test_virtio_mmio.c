/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-mmio transport (virtio/mmio.c) without KVM: its registers
 * through virtio_mmio_access(), the bus handler, over a fake device that
 * counts what the transport asks of it. Identification, feature
 * negotiation (only offered features, only the modern interface), queue
 * set-up only while it is allowed, an oversized queue stopped with one
 * warning, DRIVER_OK and a failing activation (NEEDS_RESET and a config
 * interrupt), bits cleared without a reset (ignored, warned once until the
 * reset), the reset itself, the config space's bounds, interrupt
 * acknowledgement, stray notifications, odd access widths, the slot
 * parameters.
 */
#include "core/ember.h"
#include "tests/unit/unit.h"
#include "virtio/mmio.h"

#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum {
	MAGIC = 0x000, VERSION = 0x004, DEVICE_ID = 0x008, VENDOR_ID = 0x00c,
	DEV_FEATURES = 0x010, DEV_FEATURES_SEL = 0x014, DRV_FEATURES = 0x020,
	DRV_FEATURES_SEL = 0x024, QUEUE_SEL = 0x030, QUEUE_NUM_MAX = 0x034, QUEUE_NUM = 0x038,
	QUEUE_READY = 0x044, QUEUE_NOTIFY = 0x050, INT_STATUS = 0x060, INT_ACK = 0x064,
	STATUS = 0x070, QUEUE_DESC_LO = 0x080, QUEUE_AVAIL_LO = 0x090, QUEUE_USED_LO = 0x0a0,
	CONFIG_GEN = 0x0fc, CONFIG = 0x100,
};

#define ACK       1
#define DRIVER    2
#define DRIVER_OK 4
#define FEAT_OK   8
#define NEEDS_RESET 64
#define F_EXTRA   (1ULL << 40)

static struct tmem mem;
static struct virtio_dev dev;
static struct virtio_mmio m;
static int activations, resets, notifies, last_notify, activate_result;
static char w[4096];

static void fake_config(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	(void)d;
	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(0xa0 + off + i);
}

static int fake_activate(struct virtio_dev *d)
{
	(void)d;
	activations++;
	return activate_result;
}

static void fake_notify(struct virtio_dev *d, int q)
{
	(void)d;
	notifies++;
	last_notify = q;
}

static void fake_reset(struct virtio_dev *d)
{
	(void)d;
	resets++;
}

static const struct virtio_dev_ops fake_ops = {
	.config_read = fake_config,
	.activate = fake_activate,
	.notify = fake_notify,
	.reset = fake_reset,
};

static uint32_t rd(uint64_t off)
{
	uint32_t v;

	virtio_mmio_access(&m, off, (uint8_t *)&v, 4, false);
	return v;
}

static void wr(uint64_t off, uint32_t v)
{
	virtio_mmio_access(&m, off, (uint8_t *)&v, 4, true);
}

/* Interrupts raised since the last call (the irqfd's count). */
static uint64_t irqs(void)
{
	uint64_t n = 0;

	if (read(m.irqfd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static void setup(void)
{
	memset(&dev, 0, sizeof(dev));
	dev.ops = &fake_ops;
	dev.host_features = VIRTIO_F_VERSION_1 | F_EXTRA | 1;
	dev.config_len = 8;
	virtio_dev_init(&dev, "fake", 42, 2, 64, &mem.gm, NULL);
	CHECK_EQ(virtio_mmio_init(&m, NULL, 3, &dev), 0);
	m.irqfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK(m.irqfd >= 0);
	/* what KVM_IOEVENTFD would watch: a stray notification is written there */
	for (int q = 0; q < 2; q++)
		CHECK((m.notify_fd[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0);
	activations = resets = notifies = activate_result = 0;
	last_notify = -1;
	guest_warn_reset();
}

static void teardown(void)
{
	close(m.irqfd);
	close(m.notify_fd[0]);
	close(m.notify_fd[1]);
}

/* ACKNOWLEDGE, DRIVER, the given features, FEATURES_OK; the status read back. */
static uint32_t negotiate(uint64_t features)
{
	wr(STATUS, 0);
	wr(STATUS, ACK);
	wr(STATUS, ACK | DRIVER);
	wr(DRV_FEATURES_SEL, 0);
	wr(DRV_FEATURES, (uint32_t)features);
	wr(DRV_FEATURES_SEL, 1);
	wr(DRV_FEATURES, (uint32_t)(features >> 32));
	wr(STATUS, ACK | DRIVER | FEAT_OK);
	return rd(STATUS);
}

/* Queue q of size n at the start of guest memory. */
static void setup_queue(uint32_t q, uint32_t n)
{
	wr(QUEUE_SEL, q);
	wr(QUEUE_NUM, n);
	wr(QUEUE_DESC_LO, 0x1000);
	wr(QUEUE_AVAIL_LO, 0x2000);
	wr(QUEUE_USED_LO, 0x3000);
	wr(QUEUE_READY, 1);
}

static void init(void)
{
	CHECK_EQ(tmem_init(&mem, 1 << 20), 0);
}

static void test_identity(void)
{
	char p[64];

	setup();
	CHECK_EQ(rd(MAGIC), 0x74726976);
	CHECK_EQ(rd(VERSION), 2);
	CHECK_EQ(rd(DEVICE_ID), 42);
	CHECK_EQ(rd(VENDOR_ID), 0x52424d45);
	CHECK_EQ(m.base, VIRTIO_MMIO_BASE + 3 * VIRTIO_MMIO_SIZE);
	CHECK_EQ(m.gsi, VIRTIO_MMIO_FIRST_GSI + 3);
	CHECK_EQ(virtio_mmio_param(3, p, sizeof(p)), 0);
	CHECK_STREQ(p, "virtio_mmio.device=4K@0xd0003000:9");
	CHECK_EQ(virtio_mmio_param(-1, p, sizeof(p)), -1);
	CHECK_EQ(virtio_mmio_param(VIRTIO_MMIO_MAX_DEVS, p, sizeof(p)), -1);
	CHECK_EQ(virtio_mmio_init(&m, NULL, VIRTIO_MMIO_MAX_DEVS, &dev), -1);
	teardown();
}

static void test_features(void)
{
	setup();
	wr(DEV_FEATURES_SEL, 0);
	CHECK_EQ(rd(DEV_FEATURES), 1);
	wr(DEV_FEATURES_SEL, 1);
	CHECK_EQ(rd(DEV_FEATURES), (VIRTIO_F_VERSION_1 | F_EXTRA) >> 32);
	wr(DEV_FEATURES_SEL, 2);
	CHECK_EQ(rd(DEV_FEATURES), 0);
	/* a feature we did not offer: FEATURES_OK does not stick */
	CHECK(!(negotiate(VIRTIO_F_VERSION_1 | (1ULL << 2)) & FEAT_OK));
	/* the legacy interface (no VERSION_1): refused too */
	CHECK(!(negotiate(1) & FEAT_OK));
	CHECK(negotiate(VIRTIO_F_VERSION_1 | F_EXTRA) & FEAT_OK);
	CHECK_EQ(dev.driver_features, VIRTIO_F_VERSION_1 | F_EXTRA);
	/* after FEATURES_OK the features are fixed */
	wr(DRV_FEATURES_SEL, 0);
	wr(DRV_FEATURES, 1);
	CHECK_EQ(dev.driver_features, VIRTIO_F_VERSION_1 | F_EXTRA);
	teardown();
}

static void test_queues_and_driver_ok(void)
{
	uint64_t kicks;

	setup();
	/* before FEATURES_OK the queue cannot be set up */
	wr(STATUS, ACK | DRIVER);
	setup_queue(0, 16);
	CHECK_EQ(rd(QUEUE_READY), 0);
	CHECK_EQ(negotiate(VIRTIO_F_VERSION_1), ACK | DRIVER | FEAT_OK);
	wr(QUEUE_SEL, 0);
	CHECK_EQ(rd(QUEUE_NUM_MAX), 64);
	wr(QUEUE_SEL, 2);   /* the fake has 2 queues */
	CHECK_EQ(rd(QUEUE_NUM_MAX), 0);
	wr(QUEUE_READY, 1);  /* no such queue: ignored */
	setup_queue(0, 16);
	CHECK_EQ(rd(QUEUE_READY), 1);
	CHECK_EQ(dev.vq[0].size, 16);
	CHECK_EQ(dev.vq[0].desc_gpa, 0x1000);
	/* a live queue cannot be moved */
	wr(QUEUE_DESC_LO, 0x5000);
	CHECK_EQ(dev.vq[0].desc_gpa, 0x1000);
	/* a stray notification before DRIVER_OK: not passed on */
	wr(QUEUE_NOTIFY, 0);
	CHECK_EQ(notifies, 0);
	CHECK(read(m.notify_fd[0], &kicks, sizeof(kicks)) < 0);
	wr(STATUS, ACK | DRIVER | FEAT_OK | DRIVER_OK);
	CHECK_EQ(activations, 1);
	CHECK_EQ(rd(STATUS), ACK | DRIVER | FEAT_OK | DRIVER_OK);
	/* after it: through the queue's eventfd, to run on the VMM thread */
	wr(QUEUE_NOTIFY, 1);
	CHECK_EQ(notifies, 0);
	CHECK(read(m.notify_fd[1], &kicks, sizeof(kicks)) == sizeof(kicks) && kicks == 1);
	wr(QUEUE_NOTIFY, 7);  /* no such queue */
	CHECK(read(m.notify_fd[0], &kicks, sizeof(kicks)) < 0);
	CHECK(read(m.notify_fd[1], &kicks, sizeof(kicks)) < 0);
	/* after DRIVER_OK, queue set-up is over */
	setup_queue(1, 16);
	CHECK_EQ(rd(QUEUE_READY), 0);
	teardown();
}

static void test_oversized_queue(void)
{
	setup();
	negotiate(VIRTIO_F_VERSION_1);
	unit_capture_begin();
	for (int i = 0; i < 5; i++)
		setup_queue(0, 128);   /* over the device's 64 */
	unit_capture_end(w, sizeof(w));
	CHECK_EQ(rd(QUEUE_READY), 0);
	CHECK(dev.vq[0].broken);
	CHECK_EQ(unit_count_lines(w), 1);
	CHECK(strstr(w, "queue size 128 is over the maximum 64") != NULL);
	/* the reset revives it */
	wr(STATUS, 0);
	CHECK(!dev.vq[0].broken);
	negotiate(VIRTIO_F_VERSION_1);
	setup_queue(0, 64);
	CHECK_EQ(rd(QUEUE_READY), 1);
	teardown();
}

static void test_activation_fails(void)
{
	setup();
	negotiate(VIRTIO_F_VERSION_1);
	setup_queue(0, 16);
	irqs();
	activate_result = -1;
	wr(STATUS, ACK | DRIVER | FEAT_OK | DRIVER_OK);
	CHECK(rd(STATUS) & NEEDS_RESET);
	CHECK_EQ(rd(INT_STATUS) & VIRTIO_INT_CONFIG, VIRTIO_INT_CONFIG);
	CHECK_EQ(irqs(), 1);
	CHECK_EQ(rd(CONFIG_GEN), 1);
	/* acknowledged */
	wr(INT_ACK, VIRTIO_INT_CONFIG);
	CHECK_EQ(rd(INT_STATUS), 0);
	/* DRIVER_OK without FEATURES_OK: refused the same way */
	teardown();
	setup();
	wr(STATUS, ACK | DRIVER);
	wr(STATUS, ACK | DRIVER | DRIVER_OK);
	CHECK_EQ(activations, 0);
	CHECK(rd(STATUS) & NEEDS_RESET);
	teardown();
}

static void test_clear_without_reset(void)
{
	setup();
	negotiate(VIRTIO_F_VERSION_1);
	setup_queue(0, 16);
	wr(STATUS, ACK | DRIVER | FEAT_OK | DRIVER_OK);
	unit_capture_begin();
	for (int i = 0; i < 4; i++)
		wr(STATUS, ACK | DRIVER | FEAT_OK);   /* DRIVER_OK dropped */
	unit_capture_end(w, sizeof(w));
	CHECK_EQ(rd(STATUS), ACK | DRIVER | FEAT_OK | DRIVER_OK);
	CHECK_EQ(unit_count_lines(w), 1);
	CHECK(strstr(w, "without a reset; ignored") != NULL);
	/* the reset: the device is told, its state is cleared, the warning can come again */
	wr(STATUS, 0);
	CHECK_EQ(resets, 1);
	CHECK_EQ(rd(STATUS), 0);
	CHECK_EQ(dev.driver_features, 0);
	CHECK_EQ(rd(QUEUE_READY), 0);
	negotiate(VIRTIO_F_VERSION_1);
	wr(STATUS, ACK | DRIVER | FEAT_OK | DRIVER_OK);
	unit_capture_begin();
	wr(STATUS, ACK);
	unit_capture_end(w, sizeof(w));
	CHECK_EQ(unit_count_lines(w), 1);
	/* a reset of a device that never ran does not call its reset */
	teardown();
	setup();
	wr(STATUS, ACK);
	wr(STATUS, 0);
	CHECK_EQ(resets, 0);
	teardown();
}

static void test_config_and_widths(void)
{
	uint8_t b[8];
	uint16_t h;

	setup();
	/* config space: any width, within its 8 bytes */
	virtio_mmio_access(&m, CONFIG + 2, b, 1, false);
	CHECK_EQ(b[0], 0xa2);
	virtio_mmio_access(&m, CONFIG + 4, b, 4, false);
	CHECK(b[0] == 0xa4 && b[3] == 0xa7);
	memset(b, 0x55, sizeof(b));
	virtio_mmio_access(&m, CONFIG + 6, b, 4, false);   /* past its end */
	CHECK(b[0] == 0 && b[3] == 0);
	virtio_mmio_access(&m, CONFIG + 4096, b, 8, false);
	CHECK(b[0] == 0 && b[7] == 0);
	b[0] = 1;
	virtio_mmio_access(&m, CONFIG, b, 1, true);         /* writes: ignored */
	/* registers are 32-bit: other widths and offsets read 0, writes are ignored */
	virtio_mmio_access(&m, MAGIC, (uint8_t *)&h, 2, false);
	CHECK_EQ(h, 0);
	virtio_mmio_access(&m, MAGIC + 1, b, 4, false);
	CHECK(b[0] == 0 && b[3] == 0);
	h = ACK;
	virtio_mmio_access(&m, STATUS, (uint8_t *)&h, 2, true);
	CHECK_EQ(rd(STATUS), 0);
	/* read-only and unknown registers */
	wr(MAGIC, 0);
	CHECK_EQ(rd(MAGIC), 0x74726976);
	wr(0x0f0, 1);
	CHECK_EQ(rd(0x0f0), 0);
	teardown();
}

static void fini(void)
{
	tmem_free(&mem);
}

UNIT_MAIN(TEST(init), TEST(test_identity), TEST(test_features),
	  TEST(test_queues_and_driver_ok), TEST(test_oversized_queue),
	  TEST(test_activation_fails), TEST(test_clear_without_reset),
	  TEST(test_config_and_widths), TEST(fini))
