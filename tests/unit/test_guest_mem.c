/* SPDX-License-Identifier: Apache-2.0 */
/* gm_layout()/gm_ptr(): the bounds checks every loader relies on. */
#include "tests/unit/unit.h"
#include "core/layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

static void test_small_layout(void)
{
	struct tmem t;
	uint8_t b[4] = { 1, 2, 3, 4 }, r[4];

	if (tmem_init(&t, 1 << 20))
		return;
	CHECK_EQ(t.gm.nregions, 1);
	CHECK_EQ(gm_low_end(&t.gm), 1 << 20);
	CHECK(gm_ptr(&t.gm, 0, 1 << 20) == t.buf);
	CHECK(gm_ptr(&t.gm, 1 << 20, 0) == t.buf + (1 << 20));
	CHECK(gm_ptr(&t.gm, 1 << 20, 1) == NULL);
	CHECK(gm_ptr(&t.gm, (1 << 20) - 1, 2) == NULL);
	CHECK(gm_ptr(&t.gm, 8, UINT64_MAX) == NULL);
	CHECK(gm_ptr(&t.gm, UINT64_MAX, 2) == NULL);
	CHECK_EQ(gm_write(&t.gm, 100, b, 4), 0);
	CHECK_EQ(gm_read(&t.gm, 100, r, 4), 0);
	CHECK(memcmp(b, r, 4) == 0);
	CHECK_EQ(gm_write(&t.gm, (1 << 20) - 3, b, 4), -1);
	CHECK_EQ(gm_read(&t.gm, (1 << 20) - 3, r, 4), -1);
	tmem_free(&t);
}

static void test_split_layout(void)
{
	struct tmem t;
	uint64_t size = 4608ULL << 20;

	if (tmem_init(&t, size))
		return;
	CHECK_EQ(t.gm.nregions, 2);
	CHECK_EQ(gm_low_end(&t.gm), MMIO_GAP_START);
	CHECK_EQ(t.gm.region[1].gpa, FIRST_ADDR_PAST_32BITS);
	CHECK_EQ(t.gm.region[1].size, size - MMIO_GAP_START);
	CHECK(gm_ptr(&t.gm, MMIO_GAP_START - 1, 1) == t.buf + MMIO_GAP_START - 1);
	CHECK(gm_ptr(&t.gm, MMIO_GAP_START, 1) == NULL);            /* the gap */
	CHECK(gm_ptr(&t.gm, IOAPIC_ADDR, 4) == NULL);
	CHECK(gm_ptr(&t.gm, MMIO_GAP_START - 1, 2) == NULL);        /* across it */
	CHECK(gm_ptr(&t.gm, FIRST_ADDR_PAST_32BITS, 1) == t.buf + MMIO_GAP_START);
	CHECK(gm_ptr(&t.gm, FIRST_ADDR_PAST_32BITS + size - MMIO_GAP_START, 0) != NULL);
	CHECK(gm_ptr(&t.gm, FIRST_ADDR_PAST_32BITS + size - MMIO_GAP_START, 1) == NULL);
	tmem_free(&t);
}

/* None and THP: every region 2 MiB-aligned in the host too, both ends usable. */
static void test_aligned(void)
{
	const uint64_t sizes[] = { 64ULL << 20, (3ULL << 30) + (2ULL << 20), 5ULL << 30,
				   (64ULL << 20) + 4096 };

	for (unsigned int i = 0; i < 2 * sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct guest_mem gm;

		CHECK(gm_alloc(&gm, sizes[i / 2], i % 2 ? GM_PAGES_THP : GM_PAGES_NORMAL) == 0);
		if (!gm.host)
			continue;
		for (int r = 0; r < gm.nregions; r++)
			CHECK(((uintptr_t)gm.region[r].host & ((2u << 20) - 1)) == 0);
		/* Both ends are mapped and writable */
		CHECK(gm_write(&gm, 0, "a", 1) == 0);
		CHECK(gm_write(&gm, gm.nregions == 2 ? (4ULL << 30) + sizes[i / 2] - 0xd0000000ULL - 1 :
				    sizes[i / 2] - 1, "z", 1) == 0);
		CHECK(gm.host[0] == 'a' && gm.host[sizes[i / 2] - 1] == 'z');
		gm_free(&gm);
	}
}

/* An empty file of our own, already unlinked; -1 (a failed check) if none. */
static int tmp_fd(void)
{
	char path[] = "/tmp/ember-unit-mem.XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	if (fd >= 0)
		unlink(path);
	return fd;
}

/* gm_dump() then gm_map_file(): the same bytes, zero pages as holes, the file never written. */
static void test_dump_and_map(void)
{
	const uint64_t size = 8ULL << 20;
	char c = 1;
	struct guest_mem gm, back;
	struct stat st;
	int fd = tmp_fd();

	if (fd < 0)
		return;
	CHECK(gm_alloc(&gm, size, GM_PAGES_NORMAL) == 0);
	memset(gm.host + 4096, 0xa5, 3 * 4096);        /* a run of pages */
	gm.host[size - 1] = 7;                          /* the last page */
	gm.host[(5ULL << 20) + 17] = 1;                 /* one alone */
	CHECK_EQ(gm_dump(&gm, fd), 0);
	CHECK(fstat(fd, &st) == 0 && (uint64_t)st.st_size == size);
	CHECK((uint64_t)st.st_blocks * 512 <= 64 * 4096); /* holes where zero (tmpfs, ext4) */
	CHECK_EQ(gm_map_file(&back, fd, size), 0);
	CHECK(((uintptr_t)back.host & ((2u << 20) - 1)) == 0);
	CHECK(memcmp(gm.host, back.host, size) == 0);
	back.host[0] = 9;                               /* private: copied, not written */
	CHECK(pread(fd, &c, 1, 0) == 1 && c == 0);
	gm_free(&back);
	/* Dumping again over a longer file cuts it and clears it. */
	CHECK(ftruncate(fd, 2 * size) == 0 && pwrite(fd, "x", 1, 4096 * 100) == 1);
	memset(gm.host, 0, size);
	CHECK_EQ(gm_dump(&gm, fd), 0);
	CHECK(fstat(fd, &st) == 0 && (uint64_t)st.st_size == size);
	CHECK(pread(fd, &c, 1, 4096 * 100) == 1 && c == 0);
	gm_free(&gm);
	close(fd);
}

/* gm_mark_dirty(): the pages of a range, nothing outside the mapping; gm_dump_pages(). */
static void test_dirty(void)
{
	const uint64_t size = 4ULL << 20;
	struct guest_mem gm;
	struct stat st;
	uint8_t b = 0;
	int fd = tmp_fd();

	if (fd < 0)
		return;
	CHECK(gm_alloc(&gm, size, GM_PAGES_NORMAL) == 0);
	gm_mark_dirty(&gm, gm.host, 1);                 /* not tracking: nothing */
	CHECK(gm.dirty == NULL);
	CHECK_EQ(gm_track_dirty(&gm), 0);
	CHECK_EQ(GM_BITMAP_WORDS(&gm), 16);
	gm_mark_dirty(&gm, gm.host + 4095, 2);          /* pages 0 and 1 */
	gm_mark_dirty(&gm, gm.host + 70 * 4096, 4096);  /* page 70 only */
	gm_mark_dirty(&gm, gm.host + size - 1, 100);    /* the last page, cut at the end */
	gm_mark_dirty(&gm, gm.host + size, 4096);       /* outside: ignored */
	gm_mark_dirty(&gm, gm.host - 4096, 4096);
	gm_mark_dirty(&gm, gm.host + 8192, 0);          /* empty */
	CHECK_EQ(gm.dirty[0], 3);
	CHECK_EQ(gm.dirty[1], 1ULL << 6);
	CHECK_EQ(gm.dirty[15], 1ULL << 63);
	for (int w = 2; w < 15; w++)
		CHECK_EQ(gm.dirty[w], 0);
	/* Only the marked pages are written, the others are holes. */
	memset(gm.host, 0x5a, size);
	CHECK_EQ(gm_dump_pages(&gm, fd, gm.dirty), 0);
	CHECK(fstat(fd, &st) == 0 && (uint64_t)st.st_size == size);
	CHECK((uint64_t)st.st_blocks * 512 <= 8 * 4096);
	CHECK(pread(fd, &b, 1, 70 * 4096) == 1 && b == 0x5a);
	CHECK(pread(fd, &b, 1, 69 * 4096) == 1 && b == 0);
	CHECK(pread(fd, &b, 1, size - 1) == 1 && b == 0x5a);
	gm_free(&gm);
	close(fd);
}

/* Pages of [from, from + len) of gm that have a page in memory. */
static uint64_t resident_pages(const struct guest_mem *gm, uint64_t from, uint64_t len)
{
	static unsigned char vec[(8u << 20) / 4096];
	uint64_t n = 0;

	CHECK(len <= sizeof(vec) * 4096);
	CHECK_EQ(mincore(gm->host + from, len, vec), 0);
	for (uint64_t i = 0; i < len / 4096; i++)
		n += vec[i] & 1;
	return n;
}

/*
 * A Full dump of gm_alloc's memory leaves pages never touched unread (no
 * swap: mincore says who was touched), and still writes every page of data;
 * a memory file's mapping is dumped whole, untouched pages included.
 */
static void test_dump_untouched(void)
{
	const uint64_t size = 64ULL << 20;
	struct guest_mem gm, back;
	struct sysinfo si;
	int fd = tmp_fd(), fd2 = tmp_fd();
	char b = 0;

	if (fd < 0 || fd2 < 0)
		return;
	CHECK(gm_alloc(&gm, size, GM_PAGES_NORMAL) == 0);
	CHECK(gm.untouched_zero);
	gm.host[1] = 1;
	gm.host[(40ULL << 20) + 4096 * 3] = 3;
	CHECK_EQ(resident_pages(&gm, 8ULL << 20, 8ULL << 20), 0);
	CHECK_EQ(gm_dump(&gm, fd), 0);
	if (sysinfo(&si) == 0 && si.totalswap == 0)
		CHECK_EQ(resident_pages(&gm, 8ULL << 20, 8ULL << 20), 0); /* not read */
	else
		printf("  (swap on: gm_dump reads every page; not checking that it skipped any)\n");
	CHECK(pread(fd, &b, 1, 1) == 1 && b == 1);
	CHECK(pread(fd, &b, 1, (40ULL << 20) + 4096 * 3) == 1 && b == 3);
	gm_free(&gm);
	/* The file's page at 40 MiB is never touched through the mapping: still dumped. */
	CHECK_EQ(gm_map_file(&back, fd, size), 0);
	CHECK(!back.untouched_zero);
	CHECK_EQ(gm_dump(&back, fd2), 0);
	CHECK(pread(fd2, &b, 1, (40ULL << 20) + 4096 * 3) == 1 && b == 3);
	gm_free(&back);
	close(fd);
	close(fd2);
}

UNIT_MAIN(TEST(test_small_layout), TEST(test_split_layout), TEST(test_aligned),
	  TEST(test_dump_and_map), TEST(test_dirty), TEST(test_dump_untouched))
