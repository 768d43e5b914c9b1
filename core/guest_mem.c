/* SPDX-License-Identifier: Apache-2.0 */
#include "core/guest_mem.h"
#include "core/ember.h"
#include "core/layout.h"

#include <errno.h>
#include <string.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

void gm_layout(struct guest_mem *gm, uint8_t *host, uint64_t size)
{
	uint64_t low = size < MMIO_GAP_START ? size : MMIO_GAP_START;

	memset(gm, 0, sizeof(*gm));
	gm->host = host;
	gm->size = size;
	gm->region[0] = (struct guest_region){ .gpa = 0, .size = low, .host = host };
	gm->nregions = 1;
	if (size > low) {
		gm->region[1] = (struct guest_region){
			.gpa = FIRST_ADDR_PAST_32BITS,
			.size = size - low,
			.host = host + low,
		};
		gm->nregions = 2;
	}
}

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26) /* log2(2 MiB) << MAP_HUGE_SHIFT */
#endif

#define HUGE_2M (2ULL << 20)

/*
 * size bytes at a 2 MiB-aligned address (MAP_FAILED as mmap fails): KVM maps
 * a guest's 2 MiB page with one huge page only where guest-physical and
 * host-virtual addresses agree modulo 2 MiB (gm_layout keeps every region
 * start a multiple of 2 MiB). Over-map by 2 MiB, then unmap head and tail.
 */
static void *map_aligned(uint64_t size, int flags)
{
	uint64_t total = size + HUGE_2M;
	uint8_t *p, *a;

	if (total < size) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	p = mmap(NULL, total, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		return MAP_FAILED;
	a = (uint8_t *)(((uintptr_t)p + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	if (p + total > a + size)
		munmap(a + size, (size_t)(p + total - (a + size)));
	return a;
}

int gm_alloc(struct guest_mem *gm, uint64_t size, enum gm_pages pages)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	void *p;

	if (pages == GM_PAGES_HUGETLB_2M) {
		if (size % HUGE_2M) {
			errno = EINVAL;
			return -1;
		}
		flags |= MAP_HUGETLB | MAP_HUGE_2MB;
	} else {
		flags |= MAP_NORESERVE;
	}
	/*
	 * hugetlbfs mappings are aligned by the kernel; 4 KiB-page ones
	 * aligned here, so that a host with THP on ("always", or "madvise" with
	 * Transparent) backs guest RAM with huge pages. Linux 6.7 and later
	 * align large anonymous mappings themselves.
	 */
	if (pages == GM_PAGES_HUGETLB_2M)
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
	else
		p = map_aligned(size, flags);
	if (p == MAP_FAILED)
		return -1;
	/* Advice only: a kernel without THP (or with it off) keeps 4 KiB pages. */
	if (pages == GM_PAGES_THP)
		(void)madvise(p, size, MADV_HUGEPAGE);
	gm_layout(gm, p, size);
	gm->untouched_zero = true;
	return 0;
}

int gm_map_file(struct guest_mem *gm, int fd, uint64_t size)
{
	uint8_t *a = map_aligned(size, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);

	if (a == MAP_FAILED)
		return -1;
	/* The file over the aligned reservation: its pages come on demand, copied on write. */
	if (mmap(a, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED) {
		int e = errno;

		munmap(a, size);
		errno = e;
		return -1;
	}
	gm_layout(gm, a, size);
	return 0;
}

static bool page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[GM_PAGE_SIZE];

	return !memcmp(p, zero, GM_PAGE_SIZE);
}

/* Which pages of a window of 32 MiB have a page in memory (mincore). */
struct resident {
	bool on;                  /* untouched_zero and no swap: else every page counts */
	uint64_t base;            /* the window's first page, or UINT64_MAX */
	unsigned char vec[8192];
};

static bool swap_on(void)
{
	struct sysinfo si;

	return sysinfo(&si) < 0 || si.totalswap != 0;
}

/*
 * Page p may hold data: resident, or mincore() could not say. Without
 * swap, an anonymous page that is not resident was never touched (a
 * swapped-out one would read as not resident too; a page being migrated
 * reads as resident).
 */
static bool maybe_data(const struct guest_mem *gm, struct resident *r, uint64_t p)
{
	uint64_t npages = gm->size / GM_PAGE_SIZE;

	if (!r->on)
		return true;
	if (r->base == UINT64_MAX || p < r->base || p - r->base >= sizeof(r->vec)) {
		uint64_t n = npages - p < sizeof(r->vec) ? npages - p : sizeof(r->vec);

		r->base = p;
		if (mincore(gm->host + p * GM_PAGE_SIZE, n * GM_PAGE_SIZE, r->vec) < 0)
			memset(r->vec, 1, sizeof(r->vec));
	}
	return r->vec[p - r->base] & 1;
}

/*
 * Cut fd to gm->size and write the runs of pages that want(): the others
 * stay holes. bitmap NULL: the pages that are not all zeroes.
 */
static int dump_once(const struct guest_mem *gm, int fd, const uint64_t *bitmap, bool skip_untouched)
{
	uint64_t npages = gm->size / GM_PAGE_SIZE;
	static struct resident r;

	r.on = skip_untouched;
	r.base = UINT64_MAX;
#define WANT(p) (bitmap ? !!(bitmap[(p) / 64] & (1ULL << ((p) % 64))) \
			: maybe_data(gm, &r, p) && !page_is_zero(gm->host + (p) * GM_PAGE_SIZE))
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)gm->size) < 0)
		return -1;
	for (uint64_t p = 0, end; p < npages; p = end) {
		if (!WANT(p)) {
			end = p + 1;
			continue;
		}
		for (end = p + 1; end < npages && end - p < 16384 && WANT(end); end++)
			;
		if (pwrite_full(fd, gm->host + p * GM_PAGE_SIZE, (end - p) * GM_PAGE_SIZE,
				p * GM_PAGE_SIZE) < 0)
			return -1;
	}
#undef WANT
	return 0;
}

static int dump(const struct guest_mem *gm, int fd, const uint64_t *bitmap)
{
	bool skip = !bitmap && gm->untouched_zero && !swap_on();

	if (dump_once(gm, fd, bitmap, skip) < 0)
		return -1;
	/* swap turned on meanwhile: a page may have gone out; read them all */
	if (skip && swap_on())
		return dump_once(gm, fd, bitmap, false);
	return 0;
}

int gm_dump(const struct guest_mem *gm, int fd)
{
	return dump(gm, fd, NULL);
}

int gm_dump_pages(const struct guest_mem *gm, int fd, const uint64_t *bitmap)
{
	return dump(gm, fd, bitmap);
}

int gm_track_dirty(struct guest_mem *gm)
{
	if (!gm->dirty)
		gm->dirty = calloc(GM_BITMAP_WORDS(gm), sizeof(uint64_t));
	return gm->dirty ? 0 : -1;
}

void gm_mark_dirty(const struct guest_mem *gm, const void *host, uint64_t len)
{
	uint64_t first, last;

	if (!gm->dirty || !len || (const uint8_t *)host < gm->host ||
	    (uint64_t)((const uint8_t *)host - gm->host) >= gm->size)
		return;
	first = (uint64_t)((const uint8_t *)host - gm->host) / GM_PAGE_SIZE;
	last = ((uint64_t)((const uint8_t *)host - gm->host) + len - 1) / GM_PAGE_SIZE;
	if (last >= gm->size / GM_PAGE_SIZE)
		last = gm->size / GM_PAGE_SIZE - 1;
	for (uint64_t p = first; p <= last; p++)
		__atomic_or_fetch(&gm->dirty[p / 64], 1ULL << (p % 64), __ATOMIC_RELAXED);
}

void gm_free(struct guest_mem *gm)
{
	free(gm->dirty);
	if (gm->host)
		munmap(gm->host, gm->size);
	memset(gm, 0, sizeof(*gm));
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < gm->nregions; i++) {
		const struct guest_region *r = &gm->region[i];
		uint64_t off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		/* off <= size and len <= size - off: no overflow possible */
		if (off > r->size || len > r->size - off)
			continue;
		return r->host + off;
	}
	return NULL;
}

int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len)
{
	void *p = gm_ptr(gm, gpa, len);

	if (!p)
		return -1;
	memcpy(dst, p, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gm_ptr(gm, gpa, len);

	if (!p)
		return -1;
	memcpy(p, src, len);
	return 0;
}
