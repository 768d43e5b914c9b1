/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk over a temporary raw file, driven through its notify op by a
 * fake driver over fake guest memory (no transport, no KVM): reads, writes,
 * flush, GET_ID, bounds, read-only drives, odd chain shapes, host I/O
 * errors; plus --drive parsing and virtio_blk_create's refusals.
 */
#include "tests/unit/unit.h"
#include "virtio/blk.h"
#include "virtio/virtio.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MEM        (1ULL << 20)
#define DISK       (1ULL << 20)
#define SECTORS    (DISK / 512)
#define DESC_GPA   0x1000ULL
#define AVAIL_GPA  0x2000ULL
#define USED_GPA   0x3000ULL
#define HDR_GPA    0x4000ULL
#define STATUS_GPA 0x4100ULL
#define HDR2_GPA   0x4200ULL
#define STATUS2_GPA 0x4300ULL
#define IND_GPA    0x5000ULL   /* up to 1024 entries: 0x4000 bytes */
#define DATA_GPA   0x10000ULL
#define DATA2_GPA  0xa0000ULL

#define T_IN     0
#define T_OUT    1
#define T_FLUSH  4
#define T_GET_ID 8
#define S_OK     0
#define S_IOERR  1
#define S_UNSUPP 2

#define W VRING_DESC_F_WRITE
#define N VRING_DESC_F_NEXT

static struct virtio_blk B;
static struct tmem T;
static char path[64];
static uint8_t model[DISK];   /* what the file must contain */
static uint8_t filebuf[DISK];
static uint8_t snap[MEM];
static uint16_t qsize, aidx, useen;
static int nsignals;
static uint32_t last_why;
static char err[512];

struct seg {
	uint64_t gpa;
	uint32_t len;
	uint16_t flags;   /* W or 0 (NEXT is added) */
};

static uint8_t pat(uint64_t off)
{
	return (uint8_t)(off * 131 + (off >> 9) * 7 + (off >> 17));
}

static void on_signal(struct virtio_dev *d, uint32_t why)
{
	(void)d;
	nsignals++;
	last_why = why;
}

/* ---- stderr capture ---- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* ---- the backing file ---- */

static int make_file(char *p, uint64_t size)
{
	int fd;

	strcpy(p, "/tmp/ember-blk-test-XXXXXX");
	fd = mkstemp(p);
	CHECK(fd >= 0);
	if (fd < 0)
		return -1;
	for (uint64_t i = 0; i < size && i < DISK; i++)
		model[i] = pat(i);
	if (size && write(fd, model, size < DISK ? size : DISK) != (ssize_t)(size < DISK ? size : DISK)) {
		CHECK(!"write backing file");
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* The file still holds exactly the model. */
static int file_matches(void)
{
	int fd = open(path, O_RDONLY);
	ssize_t r;
	struct stat st;

	if (fd < 0)
		return 0;
	r = pread(fd, filebuf, DISK, 0);
	fstat(fd, &st);
	close(fd);
	return r == (ssize_t)DISK && st.st_size == (off_t)DISK && !memcmp(filebuf, model, DISK);
}

/* ---- device and queue set-up, as the transport would do it ---- */

static int blk_up(const char *id, bool ro, uint64_t features, uint16_t n)
{
	struct drive_spec s;
	struct virtq *q;

	memset(&s, 0, sizeof(s));
	if (make_file(path, DISK))
		return -1;
	strcpy(s.path, path);
	strcpy(s.id, id);
	s.read_only = ro;
	if (tmem_init(&T, MEM)) {
		unlink(path);
		return -1;
	}
	CHECK_OK(virtio_blk_create(&B, &s, &T.gm, NULL, err, sizeof(err)), err);
	if (err[0]) {
		unlink(path);
		tmem_free(&T);
		return -1;
	}
	B.dev.driver_features = features;
	B.dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	B.dev.signal = on_signal;
	q = &B.dev.vq[0];
	q->size = n;
	q->desc_gpa = DESC_GPA;
	q->avail_gpa = AVAIL_GPA;
	q->used_gpa = USED_GPA;
	q->event_idx = virtio_has(&B.dev, VIRTIO_F_RING_EVENT_IDX);
	CHECK_EQ(virtq_activate(q, &T.gm), 0);
	q->ready = true;
	CHECK_EQ(B.dev.ops->activate(&B.dev), 0);
	qsize = n;
	aidx = useen = 0;
	nsignals = 0;
	return 0;
}

static void blk_down(void)
{
	CHECK(file_matches());
	close(B.fd);
	unlink(path);
	tmem_free(&T);
}

/* ---- the fake driver ---- */

static void wr16(uint64_t gpa, uint16_t v)
{
	memcpy(T.buf + gpa, &v, 2);
}

static uint16_t rd16(uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, T.buf + gpa, 2);
	return v;
}

static uint32_t rd32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, T.buf + gpa, 4);
	return v;
}

static void put_desc(uint64_t table, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct vring_desc v = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(T.buf + table + 16ULL * i, &v, sizeof(v));
}

static void put_hdr(uint64_t gpa, uint32_t type, uint64_t sector)
{
	uint32_t reserved = 0;

	memcpy(T.buf + gpa, &type, 4);
	memcpy(T.buf + gpa + 4, &reserved, 4);
	memcpy(T.buf + gpa + 8, &sector, 8);
}

/* A chain of n segments in descriptors [first, first + n), made available. */
static void post(const struct seg *s, int n, uint16_t first)
{
	for (int i = 0; i < n; i++)
		put_desc(DESC_GPA, (uint32_t)(first + i), s[i].gpa, s[i].len,
			 (uint16_t)(s[i].flags | (i + 1 < n ? N : 0)), (uint16_t)(first + i + 1));
	wr16(AVAIL_GPA + 4 + 2ULL * (aidx & (qsize - 1)), first);
	aidx++;
	wr16(AVAIL_GPA + 2, aidx);
}

static void kick(void)
{
	B.dev.ops->notify(&B.dev, 0);
}

/* The next used entry: it must exist and name head; its len. */
static uint32_t take_used(uint16_t head, int line)
{
	uint64_t e = USED_GPA + 4 + 8ULL * (useen & (qsize - 1));
	uint32_t id = rd32(e), len = rd32(e + 4);

	unit_check((uint16_t)(rd16(USED_GPA + 2) - useen) >= 1, __FILE__, line, "a used entry",
		   "used idx %u, seen %u", rd16(USED_GPA + 2), useen);
	unit_check(id == head, __FILE__, line, "used id", "%u != %u", id, head);
	useen++;
	return len;
}

/* Post one chain, kick, expect exactly that chain back; its used len. */
static uint32_t run(const struct seg *s, int n, int line)
{
	uint32_t len;

	post(s, n, 0);
	kick();
	len = take_used(0, line);
	unit_check(rd16(USED_GPA + 2) == useen, __FILE__, line, "exactly one used entry",
		   "used idx %u, expected %u", rd16(USED_GPA + 2), useen);
	unit_check(!B.dev.vq[0].broken, __FILE__, line, "queue not broken", NULL);
	return len;
}
#define RUN(s, n) run((s), (n), __LINE__)

/*
 * A header/data/status request with dlen bytes at DATA_GPA (device-writable
 * when dw). The status byte is pre-set to 0xff; returns it, *ulen the used len.
 */
static uint8_t req(uint32_t type, uint64_t sector, uint32_t dlen, bool dw, uint32_t *ulen,
		   int line)
{
	struct seg s[3] = { { HDR_GPA, 16, 0 } };
	int n = 1;

	put_hdr(HDR_GPA, type, sector);
	if (dlen)
		s[n++] = (struct seg){ DATA_GPA, dlen, dw ? W : 0 };
	s[n++] = (struct seg){ STATUS_GPA, 1, W };
	T.buf[STATUS_GPA] = 0xff;
	*ulen = run(s, n, line);
	return T.buf[STATUS_GPA];
}
#define REQ(type, sector, dlen, dw, ulen) req((type), (sector), (dlen), (dw), (ulen), __LINE__)

/* ---- requests ---- */

static void test_in(void)
{
	uint32_t ulen = 0;

	if (blk_up("testdisk", false, VIRTIO_F_VERSION_1, 16))
		return;
	memset(T.buf + DATA_GPA, 0xee, 0x2000);
	CHECK_EQ(REQ(T_IN, 3, 1024, true, &ulen), S_OK);
	CHECK_EQ(ulen, 1025);
	CHECK(memcmp(T.buf + DATA_GPA, model + 3 * 512, 1024) == 0);
	CHECK_EQ(T.buf[DATA_GPA + 1024], 0xee);
	CHECK_EQ(B.stats.reads, 1);
	CHECK_EQ(B.stats.read_bytes, 1024);

	/* the last sector, the first sector */
	CHECK_EQ(REQ(T_IN, SECTORS - 1, 512, true, &ulen), S_OK);
	CHECK_EQ(ulen, 513);
	CHECK(memcmp(T.buf + DATA_GPA, model + DISK - 512, 512) == 0);
	CHECK_EQ(REQ(T_IN, 0, 4096, true, &ulen), S_OK);
	CHECK_EQ(ulen, 4097);
	CHECK(memcmp(T.buf + DATA_GPA, model, 4096) == 0);

	/* data over three descriptors of odd sizes */
	memset(T.buf + DATA_GPA, 0xee, 0x4000);
	{
		struct seg s[] = { { HDR_GPA, 16, 0 }, { DATA_GPA + 0x1000, 100, W },
				   { DATA_GPA, 700, W }, { DATA_GPA + 0x2000, 224, W },
				   { STATUS_GPA, 1, W } };

		put_hdr(HDR_GPA, T_IN, 10);
		T.buf[STATUS_GPA] = 0xff;
		CHECK_EQ(RUN(s, 5), 1025);
		CHECK_EQ(T.buf[STATUS_GPA], S_OK);
		CHECK(memcmp(T.buf + DATA_GPA + 0x1000, model + 5120, 100) == 0);
		CHECK(memcmp(T.buf + DATA_GPA, model + 5120 + 100, 700) == 0);
		CHECK(memcmp(T.buf + DATA_GPA + 0x2000, model + 5120 + 800, 224) == 0);
		CHECK_EQ(T.buf[DATA_GPA + 700], 0xee);
		CHECK_EQ(T.buf[DATA_GPA + 0x1000 + 100], 0xee);
		CHECK_EQ(T.buf[DATA_GPA + 0x2000 + 224], 0xee);
	}
	/* data and status in one descriptor */
	memset(T.buf + DATA_GPA, 0xee, 0x4000);
	{
		struct seg s[] = { { HDR_GPA, 16, 0 }, { DATA_GPA, 1025, W } };

		put_hdr(HDR_GPA, T_IN, 7);
		CHECK_EQ(RUN(s, 2), 1025);
		CHECK(memcmp(T.buf + DATA_GPA, model + 7 * 512, 1024) == 0);
		CHECK_EQ(T.buf[DATA_GPA + 1024], S_OK);
		CHECK_EQ(T.buf[DATA_GPA + 1025], 0xee);
	}
	/* no data at all: a valid empty read */
	CHECK_EQ(REQ(T_IN, 5, 0, true, &ulen), S_OK);
	CHECK_EQ(ulen, 1);
	CHECK_EQ(B.stats.errors, 0);
	CHECK_EQ(nsignals, 6);   /* no EVENT_IDX, flags 0: one interrupt per notify */
	blk_down();
}

static void test_out(void)
{
	uint32_t ulen = 0;

	if (blk_up("testdisk", false, VIRTIO_F_VERSION_1, 16))
		return;
	for (int i = 0; i < 0x1000; i++)
		T.buf[DATA_GPA + i] = (uint8_t)(i * 7 + 3);
	CHECK_EQ(REQ(T_OUT, 5, 1536, false, &ulen), S_OK);
	CHECK_EQ(ulen, 1);
	memcpy(model + 5 * 512, T.buf + DATA_GPA, 1536);
	CHECK(file_matches());
	CHECK_EQ(B.stats.writes, 1);
	CHECK_EQ(B.stats.write_bytes, 1536);

	/* over two readable descriptors, the last sector */
	{
		struct seg s[] = { { HDR_GPA, 16, 0 }, { DATA_GPA + 0x800, 1000, 0 },
				   { DATA_GPA + 0x100, 24, 0 }, { STATUS_GPA, 1, W } };

		put_hdr(HDR_GPA, T_OUT, SECTORS - 2);
		T.buf[STATUS_GPA] = 0xff;
		CHECK_EQ(RUN(s, 4), 1);
		CHECK_EQ(T.buf[STATUS_GPA], S_OK);
		memcpy(model + DISK - 1024, T.buf + DATA_GPA + 0x800, 1000);
		memcpy(model + DISK - 24, T.buf + DATA_GPA + 0x100, 24);
		CHECK(file_matches());
	}
	/* header and data in one readable descriptor */
	{
		struct seg s[] = { { HDR2_GPA, 16 + 512, 0 }, { STATUS_GPA, 1, W } };

		put_hdr(HDR2_GPA, T_OUT, 0);
		for (int i = 0; i < 512; i++)
			T.buf[HDR2_GPA + 16 + i] = (uint8_t)(0x55 ^ i);
		T.buf[STATUS_GPA] = 0xff;
		CHECK_EQ(RUN(s, 2), 1);
		CHECK_EQ(T.buf[STATUS_GPA], S_OK);
		memcpy(model, T.buf + HDR2_GPA + 16, 512);
		CHECK(file_matches());
	}
	/* extra writable bytes before the status are left alone */
	{
		struct seg s[] = { { HDR_GPA, 16, 0 }, { DATA_GPA, 512, 0 },
				   { DATA2_GPA, 9, W } };

		memset(T.buf + DATA2_GPA, 0xee, 16);
		put_hdr(HDR_GPA, T_OUT, 100);
		CHECK_EQ(RUN(s, 3), 1);
		CHECK_EQ(T.buf[DATA2_GPA + 8], S_OK);
		CHECK_EQ(T.buf[DATA2_GPA], 0xee);
		CHECK_EQ(T.buf[DATA2_GPA + 7], 0xee);
		memcpy(model + 100 * 512, T.buf + DATA_GPA, 512);
		CHECK(file_matches());
	}
	/* an empty write */
	CHECK_EQ(REQ(T_OUT, 9, 0, false, &ulen), S_OK);
	CHECK_EQ(ulen, 1);
	CHECK_EQ(B.stats.errors, 0);
	blk_down();
}

/* 1022 data buffers through one indirect table (the largest chain). */
static void test_big_indirect(void)
{
	const uint32_t nd = VIRTQ_MAX_CHAIN - 2;

	if (blk_up("big", false, VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC, 8))
		return;
	for (int pass = 0; pass < 2; pass++) {
		uint32_t type = pass ? T_OUT : T_IN;

		put_hdr(HDR_GPA, type, 64);
		put_desc(IND_GPA, 0, HDR_GPA, 16, N, 1);
		for (uint32_t k = 0; k < nd; k++)
			put_desc(IND_GPA, 1 + k, DATA_GPA + 512ULL * (nd - 1 - k), 512,
				 (uint16_t)(N | (pass ? 0 : W)), (uint16_t)(2 + k));
		put_desc(IND_GPA, nd + 1, STATUS_GPA, 1, W, 0);
		if (pass)
			for (uint32_t i = 0; i < nd * 512; i++)
				T.buf[DATA_GPA + i] = (uint8_t)(i ^ (i >> 8) ^ 0x3c);
		else
			memset(T.buf + DATA_GPA, 0xee, nd * 512);
		put_desc(DESC_GPA, 3, IND_GPA, VIRTQ_MAX_CHAIN * 16, VRING_DESC_F_INDIRECT, 0);
		wr16(AVAIL_GPA + 4 + 2ULL * (aidx & (qsize - 1)), 3);
		aidx++;
		wr16(AVAIL_GPA + 2, aidx);
		T.buf[STATUS_GPA] = 0xff;
		kick();
		CHECK_EQ(take_used(3, __LINE__), pass ? 1 : nd * 512 + 1);
		CHECK_EQ(T.buf[STATUS_GPA], S_OK);
		CHECK(!B.dev.vq[0].broken);
		/* buffer k holds disk bytes [64*512 + 512k, +512): they are in reverse order */
		{
			int same = 1;

			for (uint32_t k = 0; k < nd; k++) {
				uint8_t *gb = T.buf + DATA_GPA + 512ULL * (nd - 1 - k);

				if (pass)
					memcpy(model + 64 * 512 + 512ULL * k, gb, 512);
				else
					same &= !memcmp(gb, model + 64 * 512 + 512ULL * k, 512);
			}
			CHECK(same);
		}
		CHECK(file_matches());
	}
	blk_down();
}

static void test_flush_id_unsupp(void)
{
	uint32_t ulen = 0;

	if (blk_up("testdisk", false, VIRTIO_F_VERSION_1, 16))
		return;
	CHECK_EQ(REQ(T_FLUSH, 0, 0, true, &ulen), S_OK);
	CHECK_EQ(ulen, 1);
	CHECK_EQ(B.stats.flushes, 1);
	CHECK_EQ(REQ(T_FLUSH, 12345, 0, true, &ulen), S_OK);   /* sector is ignored */

	memset(T.buf + DATA_GPA, 0xee, 64);
	CHECK_EQ(REQ(T_GET_ID, 0, 20, true, &ulen), S_OK);
	CHECK_EQ(ulen, 21);
	CHECK(memcmp(T.buf + DATA_GPA, "testdisk\0\0\0\0\0\0\0\0\0\0\0\0", 20) == 0);
	CHECK_EQ(T.buf[DATA_GPA + 20], 0xee);
	/* a bigger buffer gets 20 bytes; a smaller one what fits */
	memset(T.buf + DATA_GPA, 0xee, 64);
	CHECK_EQ(REQ(T_GET_ID, 0, 40, true, &ulen), S_OK);
	CHECK_EQ(ulen, 21);
	CHECK(memcmp(T.buf + DATA_GPA, "testdisk\0\0\0\0\0\0\0\0\0\0\0\0\xee", 21) == 0);
	memset(T.buf + DATA_GPA, 0xee, 64);
	CHECK_EQ(REQ(T_GET_ID, 0, 5, true, &ulen), S_OK);
	CHECK_EQ(ulen, 6);
	CHECK(memcmp(T.buf + DATA_GPA, "testd\xee", 6) == 0);
	memset(T.buf + DATA_GPA, 0xee, 64);
	CHECK_EQ(REQ(T_GET_ID, 0, 19, true, &ulen), S_OK);   /* one short */
	CHECK_EQ(ulen, 20);
	CHECK(memcmp(T.buf + DATA_GPA, "testdisk\0\0\0\0\0\0\0\0\0\0\0\xee", 20) == 0);
	/* no room at all but the status */
	CHECK_EQ(REQ(T_GET_ID, 0, 0, true, &ulen), S_OK);
	CHECK_EQ(ulen, 1);

	/* unknown types */
	{
		static const uint32_t types[] = { 2, 3, 5, 7, 11, 13, 0x100, 0x80000000, 0xffffffff };

		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			memset(T.buf + DATA_GPA, 0xee, 1024);
			CHECK_EQ(REQ(types[i], 0, 512, true, &ulen), S_UNSUPP);
			CHECK_EQ(ulen, 1);
			CHECK_EQ(T.buf[DATA_GPA], 0xee);
			CHECK_EQ(T.buf[DATA_GPA + 511], 0xee);
		}
	}
	CHECK_EQ(B.stats.errors, 9);
	blk_down();

	/* an id of exactly 20 characters: no NUL */
	if (blk_up("abcdefghij0123456789", false, VIRTIO_F_VERSION_1, 16))
		return;
	memset(T.buf + DATA_GPA, 0xee, 64);
	CHECK_EQ(REQ(T_GET_ID, 0, 32, true, &ulen), S_OK);
	CHECK_EQ(ulen, 21);
	CHECK(memcmp(T.buf + DATA_GPA, "abcdefghij0123456789\xee", 21) == 0);
	blk_down();

	/* a 64-character id: its first 20 */
	if (blk_up("A123456789B123456789C123456789D123456789E123456789F123456789G123", false,
		   VIRTIO_F_VERSION_1, 16))
		return;
	memset(T.buf + DATA_GPA, 0xee, 64);
	CHECK_EQ(REQ(T_GET_ID, 0, 32, true, &ulen), S_OK);
	CHECK_EQ(ulen, 21);
	CHECK(memcmp(T.buf + DATA_GPA, "A123456789B123456789\xee", 21) == 0);
	blk_down();
}

/* Requests that reach past the end of the disk: IOERR, nothing moved. */
static void test_beyond_end(void)
{
	static const struct { uint64_t sector; uint32_t len; } bad[] = {
		{ SECTORS, 512 },
		{ SECTORS, 1 },
		{ SECTORS + 1, 512 },
		{ SECTORS - 1, 1024 },
		{ SECTORS - 1, 513 },
		{ SECTORS - 8, 8 * 512 + 1 },
		{ SECTORS / 2, DISK / 2 + 512 },
		{ SECTORS / 4, DISK / 2 + DISK / 4 + 512 },
		{ UINT64_MAX, 512 },
		{ UINT64_MAX - 1, 1024 },
		{ 1ULL << 55, 512 },            /* * 512 wraps to 0 */
		{ (1ULL << 55) + 1, 512 },      /* * 512 wraps to 512 */
		{ UINT64_MAX / 512 + 1, 512 },
		{ 1ULL << 63, 512 },
		{ 0x7fffffffffffffffULL, 512 },
	};
	uint32_t ulen = 0;

	if (blk_up("testdisk", false, VIRTIO_F_VERSION_1, 16))
		return;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t errors = B.stats.errors;

		memset(T.buf + DATA_GPA, 0xee, MEM - DATA_GPA);
		CHECK_EQ(REQ(T_IN, bad[i].sector, bad[i].len, true, &ulen), S_IOERR);
		CHECK_EQ(ulen, 1);
		CHECK_EQ(T.buf[DATA_GPA], 0xee);
		CHECK_EQ(T.buf[DATA_GPA + bad[i].len - 1], 0xee);
		for (uint32_t k = 0; k < bad[i].len; k++)
			T.buf[DATA_GPA + k] = (uint8_t)(k + 1);
		CHECK_EQ(REQ(T_OUT, bad[i].sector, bad[i].len, false, &ulen), S_IOERR);
		CHECK_EQ(ulen, 1);
		CHECK(file_matches());
		CHECK_EQ(B.stats.errors, errors + 2);
	}
	CHECK_EQ(B.stats.reads + B.stats.writes, 0);
	/* the whole disk in one request is fine */
	memset(T.buf + DATA_GPA, 0, 0x80000);
	CHECK_EQ(REQ(T_IN, SECTORS / 2, (uint32_t)(DISK / 2), true, &ulen), S_OK);
	CHECK_EQ(ulen, DISK / 2 + 1);
	CHECK(memcmp(T.buf + DATA_GPA, model + DISK / 2, DISK / 2) == 0);
	blk_down();
}

static void test_read_only(void)
{
	uint32_t ulen = 0;
	uint8_t cfg[16];

	if (blk_up("ro", true, VIRTIO_F_VERSION_1, 16))
		return;
	CHECK(B.dev.host_features & (1ULL << 5));    /* VIRTIO_BLK_F_RO */
	for (int i = 0; i < 1024; i++)
		T.buf[DATA_GPA + i] = (uint8_t)~i;
	CHECK_EQ(REQ(T_OUT, 0, 1024, false, &ulen), S_IOERR);
	CHECK_EQ(ulen, 1);
	CHECK_EQ(REQ(T_OUT, 2000, 512, false, &ulen), S_IOERR);
	CHECK(file_matches());
	/* refused by the device itself, not only by the O_RDONLY fd */
	{
		int rofd = B.fd;

		B.fd = open(path, O_RDWR);
		CHECK(B.fd >= 0);
		CHECK_EQ(REQ(T_OUT, 0, 1024, false, &ulen), S_IOERR);
		CHECK(file_matches());
		close(B.fd);
		B.fd = rofd;
	}
	CHECK_EQ(B.stats.writes, 0);
	CHECK_EQ(REQ(T_IN, 1, 512, true, &ulen), S_OK);
	CHECK(memcmp(T.buf + DATA_GPA, model + 512, 512) == 0);
	CHECK_EQ(REQ(T_FLUSH, 0, 0, true, &ulen), S_OK);
	B.dev.ops->config_read(&B.dev, 0, cfg, 16);
	{
		uint64_t cap;

		memcpy(&cap, cfg, 8);
		CHECK_EQ(cap, SECTORS);
	}
	blk_down();
}

static void test_odd_chains(void)
{
	uint32_t ulen = 0;

	if (blk_up("testdisk", false, VIRTIO_F_VERSION_1, 16))
		return;
	/* header split 5 + 11 */
	{
		struct seg s[] = { { HDR_GPA, 5, 0 }, { HDR2_GPA, 11, 0 },
				   { DATA_GPA, 512, W }, { STATUS_GPA, 1, W } };
		uint8_t h[16];
		uint32_t type = T_IN;
		uint64_t sector = 33;

		memcpy(h, &type, 4);
		memset(h + 4, 0, 4);
		memcpy(h + 8, &sector, 8);
		memcpy(T.buf + HDR_GPA, h, 5);
		memcpy(T.buf + HDR2_GPA, h + 5, 11);
		T.buf[STATUS_GPA] = 0xff;
		CHECK_EQ(RUN(s, 4), 513);
		CHECK_EQ(T.buf[STATUS_GPA], S_OK);
		CHECK(memcmp(T.buf + DATA_GPA, model + 33 * 512, 512) == 0);
	}
	/* header in 1 + 1 + 14 bytes, the last piece shared with OUT data */
	{
		struct seg s[] = { { HDR_GPA, 1, 0 }, { HDR_GPA + 1, 1, 0 },
				   { HDR2_GPA, 14 + 512, 0 }, { STATUS_GPA, 1, W } };
		uint8_t h[16];
		uint32_t type = T_OUT;
		uint64_t sector = 44;

		memcpy(h, &type, 4);
		memset(h + 4, 0, 4);
		memcpy(h + 8, &sector, 8);
		memcpy(T.buf + HDR_GPA, h, 2);
		memcpy(T.buf + HDR2_GPA, h + 2, 14);
		for (int i = 0; i < 512; i++)
			T.buf[HDR2_GPA + 14 + i] = (uint8_t)(i * 3);
		T.buf[STATUS_GPA] = 0xff;
		CHECK_EQ(RUN(s, 4), 1);
		CHECK_EQ(T.buf[STATUS_GPA], S_OK);
		memcpy(model + 44 * 512, T.buf + HDR2_GPA + 14, 512);
		CHECK(file_matches());
	}
	/* a header too short: 8 readable bytes */
	{
		struct seg s[] = { { HDR_GPA, 8, 0 }, { DATA_GPA, 512, W }, { STATUS_GPA, 1, W } };

		memset(T.buf + DATA_GPA, 0xee, 512);
		put_hdr(HDR_GPA, T_IN, 0);
		T.buf[STATUS_GPA] = 0xff;
		CHECK_EQ(RUN(s, 3), 1);
		CHECK_EQ(T.buf[STATUS_GPA], S_IOERR);
		CHECK_EQ(T.buf[DATA_GPA], 0xee);
	}
	/* no readable byte at all: the header sits in a writable buffer */
	{
		struct seg s[] = { { HDR_GPA, 16, W }, { STATUS_GPA, 1, W } };

		put_hdr(HDR_GPA, T_IN, 0);
		T.buf[STATUS_GPA] = 0xff;
		CHECK_EQ(RUN(s, 2), 1);
		CHECK_EQ(T.buf[STATUS_GPA], S_IOERR);
	}
	/* no writable byte: pushed with len 0, nothing written into the chain */
	{
		struct seg s[] = { { HDR_GPA, 16, 0 }, { DATA_GPA, 512, 0 } };
		uint64_t errors = B.stats.errors;

		put_hdr(HDR_GPA, T_IN, 0);
		memset(T.buf + DATA_GPA, 0xee, 512);
		memcpy(snap, T.buf, MEM);
		CHECK_EQ(RUN(s, 2), 0);
		CHECK(memcmp(snap + HDR_GPA, T.buf + HDR_GPA, 0x100) == 0);
		CHECK(memcmp(snap + DATA_GPA, T.buf + DATA_GPA, 512) == 0);
		CHECK_EQ(B.stats.errors, errors + 1);
		CHECK_EQ(B.stats.reads, 1);       /* only the first request above */
		put_hdr(HDR_GPA, T_OUT, 0);
		CHECK_EQ(RUN(s, 2), 0);
		CHECK(file_matches());
		CHECK_EQ(B.stats.writes, 1);
		/* a lone header with nothing else */
		put_hdr(HDR_GPA, T_FLUSH, 0);
		CHECK_EQ(RUN(s, 1), 0);
		put_hdr(HDR_GPA, T_GET_ID, 0);
		CHECK_EQ(RUN(s, 1), 0);
	}
	/* an IN whose data descriptor is readable: nothing read, an empty read */
	{
		struct seg s[] = { { HDR_GPA, 16, 0 }, { DATA_GPA, 512, 0 }, { STATUS_GPA, 1, W } };

		memset(T.buf + DATA_GPA, 0xee, 512);
		put_hdr(HDR_GPA, T_IN, 0);
		T.buf[STATUS_GPA] = 0xff;
		CHECK_EQ(RUN(s, 3), 1);
		CHECK_EQ(T.buf[STATUS_GPA], S_OK);
		CHECK_EQ(T.buf[DATA_GPA], 0xee);
	}
	/* the queue still works */
	CHECK_EQ(REQ(T_IN, 1, 512, true, &ulen), S_OK);
	CHECK(memcmp(T.buf + DATA_GPA, model + 512, 512) == 0);
	blk_down();
}

/* The backing fd fails: IOERR, no crash, nothing else harmed. */
static void test_host_errors(void)
{
	uint32_t ulen = 0;
	int good, fd;

	if (blk_up("testdisk", false, VIRTIO_F_VERSION_1, 16))
		return;
	good = B.fd;

	/* a read-only fd: writes fail, reads work */
	B.fd = open(path, O_RDONLY);
	CHECK(B.fd >= 0);
	for (int i = 0; i < 512; i++)
		T.buf[DATA_GPA + i] = (uint8_t)(i + 9);
	CHECK_EQ(REQ(T_OUT, 0, 512, false, &ulen), S_IOERR);
	CHECK_EQ(ulen, 1);
	CHECK(file_matches());
	CHECK_EQ(REQ(T_IN, 2, 512, true, &ulen), S_OK);
	CHECK(memcmp(T.buf + DATA_GPA, model + 1024, 512) == 0);
	close(B.fd);

	/* a directory */
	B.fd = open("/tmp", O_RDONLY | O_DIRECTORY);
	CHECK(B.fd >= 0);
	memset(T.buf + DATA_GPA, 0xee, 512);
	CHECK_EQ(REQ(T_IN, 0, 512, true, &ulen), S_IOERR);
	CHECK_EQ(ulen, 1);
	CHECK_EQ(T.buf[DATA_GPA], 0xee);
	CHECK_EQ(REQ(T_OUT, 0, 512, false, &ulen), S_IOERR);
	close(B.fd);

	/* a closed fd */
	fd = open("/dev/null", O_RDONLY);
	close(fd);
	B.fd = fd;
	CHECK_EQ(REQ(T_IN, 0, 512, true, &ulen), S_IOERR);
	CHECK_EQ(ulen, 1);
	CHECK_EQ(REQ(T_OUT, 0, 512, false, &ulen), S_IOERR);
	CHECK_EQ(REQ(T_FLUSH, 0, 0, true, &ulen), S_IOERR);
	CHECK_EQ(B.stats.reads + B.stats.writes, 1);
	B.fd = good;

	/* the file shrank under the device: the read hits EOF */
	CHECK_EQ(truncate(path, 1024), 0);
	CHECK_EQ(REQ(T_IN, 1, 512, true, &ulen), S_OK);
	CHECK_EQ(REQ(T_IN, 100, 512, true, &ulen), S_IOERR);
	CHECK_EQ(REQ(T_IN, 1, 1024, true, &ulen), S_IOERR);   /* half of it is there */
	CHECK_EQ(ulen, 1);
	CHECK_EQ(truncate(path, DISK), 0);
	memset(model + 1024, 0, DISK - 1024);
	CHECK(!B.dev.vq[0].broken);
	blk_down();
}

/* Several requests per notify; interrupts as the driver asked. */
static void test_batch_and_signal(void)
{
	uint32_t ulen = 0;

	if (blk_up("testdisk", false, VIRTIO_F_VERSION_1, 16))
		return;
	{
		struct seg a[] = { { HDR_GPA, 16, 0 }, { DATA_GPA, 512, W }, { STATUS_GPA, 1, W } };
		struct seg b[] = { { HDR2_GPA, 16, 0 }, { DATA2_GPA, 1024, W }, { STATUS2_GPA, 1, W } };
		struct seg c[] = { { HDR_GPA + 0x80, 16, 0 }, { STATUS_GPA + 0x80, 1, W } };

		put_hdr(HDR_GPA, T_IN, 20);
		put_hdr(HDR2_GPA, T_IN, 30);
		put_hdr(HDR_GPA + 0x80, T_FLUSH, 0);
		post(a, 3, 0);
		post(b, 3, 5);
		post(c, 2, 10);
		kick();
		CHECK_EQ(take_used(0, __LINE__), 513);
		CHECK_EQ(take_used(5, __LINE__), 1025);
		CHECK_EQ(take_used(10, __LINE__), 1);
		CHECK_EQ(rd16(USED_GPA + 2), 3);
		CHECK(memcmp(T.buf + DATA_GPA, model + 20 * 512, 512) == 0);
		CHECK(memcmp(T.buf + DATA2_GPA, model + 30 * 512, 1024) == 0);
		CHECK_EQ(T.buf[STATUS_GPA], S_OK);
		CHECK_EQ(T.buf[STATUS2_GPA], S_OK);
		CHECK_EQ(T.buf[STATUS_GPA + 0x80], S_OK);
		CHECK_EQ(nsignals, 1);   /* one interrupt for the batch */
		CHECK_EQ(last_why, VIRTIO_INT_VRING);
	}
	/* a queue that is not ready serves nothing */
	B.dev.vq[0].ready = false;
	put_hdr(HDR_GPA, T_IN, 0);
	{
		struct seg a[] = { { HDR_GPA, 16, 0 }, { DATA_GPA, 512, W }, { STATUS_GPA, 1, W } };

		post(a, 3, 0);
	}
	kick();
	CHECK_EQ(rd16(USED_GPA + 2), 3);
	CHECK_EQ(nsignals, 1);
	B.dev.vq[0].ready = true;
	kick();
	CHECK_EQ(take_used(0, __LINE__), 513);
	CHECK_EQ(nsignals, 2);
	/* a notify with nothing available: no used entry, no interrupt */
	kick();
	CHECK_EQ(rd16(USED_GPA + 2), 4);
	CHECK_EQ(nsignals, 2);
	/* VRING_AVAIL_F_NO_INTERRUPT */
	wr16(AVAIL_GPA, VRING_AVAIL_F_NO_INTERRUPT);
	CHECK_EQ(REQ(T_IN, 0, 512, true, &ulen), S_OK);
	CHECK_EQ(nsignals, 2);
	wr16(AVAIL_GPA, 0);
	CHECK_EQ(REQ(T_IN, 0, 512, true, &ulen), S_OK);
	CHECK_EQ(nsignals, 3);
	/* without a signal callback: no crash */
	B.dev.signal = NULL;
	CHECK_EQ(REQ(T_IN, 0, 512, true, &ulen), S_OK);
	blk_down();

	/* EVENT_IDX */
	if (blk_up("testdisk", false, VIRTIO_F_VERSION_1 | VIRTIO_F_RING_EVENT_IDX, 16))
		return;
	CHECK(B.dev.vq[0].event_idx);
	CHECK_EQ(REQ(T_IN, 0, 512, true, &ulen), S_OK);
	CHECK_EQ(nsignals, 1);
	CHECK_EQ(rd16(USED_GPA + 4 + 8 * 16), 1);       /* avail_event: the next one */
	wr16(AVAIL_GPA + 4 + 2 * 16, 1);                /* used_event: signal past 1 */
	CHECK_EQ(REQ(T_IN, 0, 512, true, &ulen), S_OK);
	CHECK_EQ(nsignals, 2);
	wr16(AVAIL_GPA + 4 + 2 * 16, 5);
	CHECK_EQ(REQ(T_IN, 0, 512, true, &ulen), S_OK);  /* used 3 */
	CHECK_EQ(nsignals, 2);
	CHECK_EQ(REQ(T_IN, 0, 512, true, &ulen), S_OK);  /* used 4 */
	CHECK_EQ(REQ(T_IN, 0, 512, true, &ulen), S_OK);  /* used 5 */
	CHECK_EQ(nsignals, 2);
	CHECK_EQ(REQ(T_IN, 0, 512, true, &ulen), S_OK);  /* used 6: crosses 5 */
	CHECK_EQ(nsignals, 3);
	CHECK_EQ(rd16(USED_GPA + 4 + 8 * 16), 6);
	blk_down();
}

/* A hostile chain through the device: the queue stops, nothing is pushed. */
static int nresched;

static void on_resched(struct virtio_dev *d, int q)
{
	(void)d;
	CHECK_EQ(q, 0);
	nresched++;
}

/*
 * A guest that keeps the queue full cannot hold the VMM thread: one notify
 * serves VIRTIO_BLK_BUDGET requests and asks the transport for another round;
 * that round serves the rest (the same chain, made available 200 times, as a
 * guest racing the device would).
 */
static void test_budget(void)
{
	struct seg s[] = { { HDR_GPA, 16, 0 }, { STATUS_GPA, 1, W } };
	int more = 200 - VIRTIO_BLK_BUDGET;

	if (blk_up("testdisk", false, VIRTIO_F_VERSION_1, 256))
		return;
	B.dev.reschedule = on_resched;
	nresched = 0;
	put_hdr(HDR_GPA, T_FLUSH, 0);
	for (int i = 0; i < 200; i++)
		post(s, 2, 0);
	kick();
	CHECK_EQ(rd16(USED_GPA + 2), VIRTIO_BLK_BUDGET);
	CHECK_EQ(nresched, 1);
	CHECK_EQ(nsignals, 1);   /* what was served is signalled before the break */
	kick();                  /* the transport's second round */
	CHECK_EQ(rd16(USED_GPA + 2), VIRTIO_BLK_BUDGET + more);
	CHECK_EQ(nresched, 1);
	CHECK_EQ(T.buf[STATUS_GPA], S_OK);
	useen = rd16(USED_GPA + 2);
	/* without a reschedule callback: no crash, the rest still waits */
	B.dev.reschedule = NULL;
	for (int i = 0; i < VIRTIO_BLK_BUDGET + 1; i++)
		post(s, 2, 0);
	kick();
	CHECK_EQ((uint16_t)(rd16(USED_GPA + 2) - useen), VIRTIO_BLK_BUDGET);
	kick();
	CHECK_EQ((uint16_t)(rd16(USED_GPA + 2) - useen), VIRTIO_BLK_BUDGET + 1);
	blk_down();
}

/* Large requests: the round ends once VIRTIO_BLK_BYTE_BUDGET bytes were moved. */
static void test_byte_budget(void)
{
	/* 256 KiB reads: header, data, status; the same chain 40 times */
	struct seg s[] = { { HDR_GPA, 16, 0 }, { DATA2_GPA, 256 << 10, W }, { STATUS_GPA, 1, W } };
	uint64_t per = 16 + (256 << 10) + 1;
	int first = (int)((VIRTIO_BLK_BYTE_BUDGET + per - 1) / per);

	if (blk_up("testdisk", false, VIRTIO_F_VERSION_1, 64))
		return;
	B.dev.reschedule = on_resched;
	nresched = 0;
	put_hdr(HDR_GPA, T_IN, 0);
	for (int i = 0; i < 40; i++)
		post(s, 3, 0);
	kick();
	CHECK_EQ(rd16(USED_GPA + 2), first);
	CHECK_EQ(nresched, 1);
	kick();
	CHECK_EQ(rd16(USED_GPA + 2), 40);
	CHECK_EQ(nresched, 1);   /* the 40 - first left fit in one round */
	CHECK(memcmp(T.buf + DATA2_GPA, model, 256 << 10) == 0);
	blk_down();
}

static void test_hostile_chain(void)
{
	char w[1024];
	uint32_t ulen = 0;

	if (blk_up("evil", false, VIRTIO_F_VERSION_1, 16))
		return;
	CHECK_EQ(REQ(T_IN, 0, 512, true, &ulen), S_OK);
	put_hdr(HDR_GPA, T_OUT, 0);
	put_desc(DESC_GPA, 0, HDR_GPA, 16, N, 1);
	put_desc(DESC_GPA, 1, DATA_GPA, 512, N, 0);   /* loops back to the header */
	wr16(AVAIL_GPA + 4 + 2ULL * (aidx & (qsize - 1)), 0);
	aidx++;
	wr16(AVAIL_GPA + 2, aidx);
	nsignals = 0;
	memcpy(snap, T.buf, MEM);
	unit_capture_begin();
	kick();
	kick();
	unit_capture_end(w, sizeof(w));
	CHECK(B.dev.vq[0].broken);
	CHECK(strstr(w, "virtio-blk evil queue 0: ") != NULL);
	CHECK(strchr(w, '\n') && !strchr(w, '\n')[1]);   /* one warning, one line */
	CHECK(memcmp(snap, T.buf, MEM) == 0);
	CHECK_EQ(rd16(USED_GPA + 2), 1);
	/* the driver is told once: DEVICE_NEEDS_RESET and a config interrupt */
	CHECK_EQ(nsignals, 1);
	CHECK_EQ(last_why, VIRTIO_INT_CONFIG);
	CHECK(B.dev.status & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(file_matches());
	blk_down();
}

static void test_device_info(void)
{
	uint8_t cfg[16];
	uint32_t v32;
	uint64_t v64;

	if (blk_up("info", false, VIRTIO_F_VERSION_1, 16))
		return;
	CHECK_EQ(B.dev.device_id, VIRTIO_ID_BLOCK);
	CHECK_EQ(B.dev.config_len, 16);
	CHECK_EQ(B.dev.nqueues, 1);
	CHECK_EQ(B.dev.queue_max, 256);
	CHECK_EQ(B.capacity, SECTORS);
	CHECK_STREQ(B.dev.name, "virtio-blk info");
	CHECK_STREQ(B.dev.vq[0].name, "virtio-blk info queue 0");
	CHECK(B.dev.priv == &B);
	CHECK(B.dev.mem == &T.gm);
	CHECK(B.dev.host_features & VIRTIO_F_VERSION_1);
	CHECK(B.dev.host_features & VIRTIO_F_RING_EVENT_IDX);
	CHECK(B.dev.host_features & VIRTIO_F_RING_INDIRECT_DESC);
	CHECK(B.dev.host_features & (1ULL << 9));     /* FLUSH */
	CHECK(B.dev.host_features & (1ULL << 2));     /* SEG_MAX */
	CHECK(!(B.dev.host_features & (1ULL << 5)));  /* not RO */
	memset(cfg, 0xee, sizeof(cfg));
	B.dev.ops->config_read(&B.dev, 0, cfg, 16);
	memcpy(&v64, cfg, 8);
	CHECK_EQ(v64, SECTORS);
	memcpy(&v32, cfg + 12, 4);
	CHECK_EQ(v32, 254);
	CHECK(v32 <= 256 - 2);
	B.dev.ops->config_read(&B.dev, 4, cfg, 4);   /* a part of capacity */
	memcpy(&v32, cfg, 4);
	CHECK_EQ(v32, SECTORS >> 32);
	B.dev.ops->reset(&B.dev);
	blk_down();
}

/* ---- virtio_blk_create refusals ---- */

static void expect_create_fail(const char *p, bool ro, const char *why, int line)
{
	struct drive_spec s;
	struct tmem t;
	static struct virtio_blk b;
	int fds = count_fds(), r;

	memset(&s, 0, sizeof(s));
	snprintf(s.path, sizeof(s.path), "%s", p);
	strcpy(s.id, "bad");
	s.read_only = ro;
	if (tmem_init(&t, 4096))
		return;
	err[0] = '\0';
	r = virtio_blk_create(&b, &s, &t.gm, NULL, err, sizeof(err));
	unit_check(r == -1 && err[0] && !strchr(err, '\n') && strstr(err, why) &&
		   strstr(err, "drive bad: "), __FILE__, line, "virtio_blk_create fails",
		   "returned %d, err \"%s\", expected \"%s\"", r, err, why);
	unit_check(count_fds() == fds, __FILE__, line, "no fd leaked", "%d -> %d", fds,
		   count_fds());
	tmem_free(&t);
}
#define CREATE_FAIL(p, ro, why) expect_create_fail((p), (ro), (why), __LINE__)

static void test_create_errors(void)
{
	char p[64];
	int fd;

	CREATE_FAIL("/nonexistent/ember/disk.img", false, "cannot open /nonexistent/ember/disk.img");
	CREATE_FAIL("/nonexistent/ember/disk.img", true, "No such file or directory");
	CREATE_FAIL("/tmp", false, "cannot open /tmp");
	CREATE_FAIL("/tmp", true, "/tmp is not a regular file or block device");
	CREATE_FAIL("/dev/null", true, "/dev/null is not a regular file or block device");
	CREATE_FAIL("/dev/null", false, "not a regular file or block device");
	/* empty, and one byte short of a sector */
	strcpy(p, "/tmp/ember-blk-empty-XXXXXX");
	fd = mkstemp(p);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	close(fd);
	CREATE_FAIL(p, false, "smaller than one 512-byte sector");
	CREATE_FAIL(p, true, "smaller than one 512-byte sector");
	CHECK_EQ(truncate(p, 511), 0);
	CREATE_FAIL(p, false, "smaller than one 512-byte sector");
	/* 1000 bytes: one sector, with a warning about the rest */
	CHECK_EQ(truncate(p, 1000), 0);
	{
		struct drive_spec s;
		struct tmem t;
		static struct virtio_blk b;
		char w[512];

		memset(&s, 0, sizeof(s));
		strcpy(s.path, p);
		strcpy(s.id, "odd");
		if (tmem_init(&t, 4096) == 0) {
			unit_capture_begin();
			CHECK_OK(virtio_blk_create(&b, &s, &t.gm, NULL, err, sizeof(err)), err);
			unit_capture_end(w, sizeof(w));
			CHECK_EQ(b.capacity, 1);
			CHECK(strstr(w, "not a whole number of sectors") && strstr(w, "488 bytes"));
			close(b.fd);
			tmem_free(&t);
		}
	}
	unlink(p);
	/* an unreadable file (when not root) or a read-only one opened read-write */
	strcpy(p, "/tmp/ember-blk-perm-XXXXXX");
	fd = mkstemp(p);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(ftruncate(fd, 4096), 0);
	close(fd);
	CHECK_EQ(chmod(p, 0), 0);
	if (geteuid() != 0)
		CREATE_FAIL(p, false, "Permission denied");
	unlink(p);
}

UNIT_MAIN(TEST(test_in), TEST(test_out), TEST(test_big_indirect), TEST(test_flush_id_unsupp),
	  TEST(test_beyond_end), TEST(test_read_only), TEST(test_odd_chains),
	  TEST(test_host_errors), TEST(test_batch_and_signal), TEST(test_hostile_chain), TEST(test_budget), TEST(test_byte_budget),
	  TEST(test_device_info), TEST(test_create_errors))
