/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest memory: one host mapping, seen by the guest as up to two RAM
 * regions (below the 32-bit MMIO gap, and above 4 GiB).
 *
 * Every access to guest-physical memory in ember goes through gm_ptr()
 * (or its wrappers gm_read()/gm_write()), which refuses any range that is
 * not entirely inside one RAM region. This file is pure code: it does not
 * need KVM, so the loaders and the virtqueue can be unit-tested over a
 * plain buffer.
 */
#ifndef EMBER_GUEST_MEM_H
#define EMBER_GUEST_MEM_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

struct guest_region {
	uint64_t gpa;   /* first guest-physical address */
	uint64_t size;  /* bytes */
	uint8_t *host;  /* host address of gpa */
};

struct guest_mem {
	uint8_t *host;       /* the one mapping, total bytes */
	uint64_t size;
	int nregions;        /* 1 or 2 */
	struct guest_region region[2];
	/*
	 * With dirty tracking (track_dirty_pages): one bit per 4 KiB page of
	 * the mapping that ember itself wrote for the guest since the last
	 * snapshot (KVM logs the guest's own writes); NULL without it.
	 */
	uint64_t *dirty;
	/*
	 * Anonymous memory from gm_alloc that nothing else fills: a page the
	 * guest and ember never touched has no page table entry and reads as
	 * zeroes, so a dump need not read it (false for a memory file's
	 * mapping, and for the Uffd backend's, whose missing pages hold data).
	 */
	bool untouched_zero;
};

/*
 * Lay out size bytes of RAM at host (already allocated by the caller):
 * [0, min(size, MMIO_GAP_START)) and, for the rest, [4 GiB, ...).
 */
void gm_layout(struct guest_mem *gm, uint8_t *host, uint64_t size);

/* What backs guest memory (Firecracker's machine-config huge_pages). */
enum gm_pages {
	GM_PAGES_NORMAL,     /* "None": 4 KiB pages (huge where THP is "always"), on demand */
	GM_PAGES_THP,        /* "Transparent": the same, advised to THP (MADV_HUGEPAGE) */
	GM_PAGES_HUGETLB_2M, /* "2M": hugetlbfs pages, all reserved at the mmap */
};

/*
 * mmap an anonymous, private mapping of size bytes and lay it out: 4 KiB
 * pages reserved on demand (MAP_NORESERVE) at a 2 MiB-aligned address, so
 * that transparent huge pages can back it where the host's THP is on and
 * KVM map guest pages 2 MiB at a time; with GM_PAGES_THP the same, advised
 * to THP (MADV_HUGEPAGE; a kernel without THP keeps 4 KiB pages); or 2 MiB
 * pages from the hugetlbfs pool (size a multiple of 2 MiB; the pool must
 * hold them all now, so that no fault can fail later). 0, or -1 with errno.
 */
int gm_alloc(struct guest_mem *gm, uint64_t size, enum gm_pages pages);
void gm_free(struct guest_mem *gm);

#define GM_PAGE_SIZE 4096u
/* Words of a bitmap of gm's pages (one bit a page). */
#define GM_BITMAP_WORDS(gm) (((gm)->size / GM_PAGE_SIZE + 63) / 64)
/* Start tracking the pages ember writes (gm->dirty, all clear). 0, or -1 (ENOMEM). */
int gm_track_dirty(struct guest_mem *gm);
/*
 * ember is about to write len bytes at host (inside gm's mapping) for the
 * guest: mark their pages, when tracking (thread-safe).
 */
void gm_mark_dirty(const struct guest_mem *gm, const void *host, uint64_t len);
/*
 * Guest RAM of size bytes from fd, a snapshot's memory file of that size:
 * mapped private at a 2 MiB-aligned address (pages read on demand, the
 * guest's writes copied, the file never written). 0, or -1 with errno.
 */
int gm_map_file(struct guest_mem *gm, int fd, uint64_t size);
/*
 * Write all of guest RAM to fd (a regular file, cut to gm->size): pages of
 * zeroes are left as holes. With untouched_zero and no swap on the host,
 * pages mincore() finds not resident are holes without being read (an
 * untouched page would cost a fault to read as zeroes). 0, or -1 with errno.
 */
int gm_dump(const struct guest_mem *gm, int fd);
/*
 * Write only the pages set in bitmap (GM_BITMAP_WORDS words) to fd, cut to
 * gm->size: the others stay holes (a diff snapshot). 0, or -1 with errno.
 */
int gm_dump_pages(const struct guest_mem *gm, int fd, const uint64_t *bitmap);

/*
 * The bounds-checked helper: the host address of [gpa, gpa + len), or NULL
 * when the range wraps, is empty-but-outside, or is not inside one region.
 * len == 0 is allowed when gpa is inside (or at the end of) a region.
 */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy in/out of guest memory; 0 on success, -1 if out of bounds. */
int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len);
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len);

/* End of the RAM region below 4 GiB (its size, since it starts at 0). */
static inline uint64_t gm_low_end(const struct guest_mem *gm)
{
	return gm->region[0].size;
}

#endif
