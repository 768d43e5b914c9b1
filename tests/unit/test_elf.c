/* SPDX-License-Identifier: Apache-2.0 */
/* ELF vmlinux loading: a good multi-segment image and malformed ones. */
#include "tests/unit/unit.h"
#include "tests/unit/images.h"
#include "core/layout.h"
#include "kernel-loader/loader.h"

#include <stdlib.h>

#define MEM (64ULL << 20)
#define K16M 0x1000000ULL

static struct tmem M;
static char err[256];
static struct kernel_info ki;

/* fresh 64 MiB guest filled with 0xcc */
static void fresh(void)
{
	if (!M.buf && tmem_init(&M, MEM))
		abort();
	memset(M.buf, 0xcc, MEM);
}

static int load(const uint8_t *img, size_t len)
{
	return load_kernel(&M.gm, img, len, &ki, err, sizeof(err));
}

static int all_cc(uint64_t gpa, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (M.buf[gpa + i] != 0xcc)
			return 0;
	return 1;
}

static int all_zero(uint64_t gpa, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (M.buf[gpa + i] != 0)
			return 0;
	return 1;
}

/* one PT_LOAD of 0x1000 bytes at 16 MiB, entry at its start */
static uint8_t *simple(size_t *len)
{
	const struct elf_seg s[] = { { PT_LOAD, K16M, 0x1000, 0x1000 } };

	return make_elf(s, 1, K16M, len);
}

static void test_good_multi_segment(void)
{
	const struct elf_seg s[] = {
		{ PT_LOAD, K16M, 0x3000, 0x3000 },             /* text */
		{ PT_NOTE, 0, 0x10, 0 },                       /* ignored */
		{ PT_LOAD, K16M + 0x400000, 0x100, 0x2000 },   /* data + bss */
		{ PT_LOAD, K16M + 0x200000, 0x800, 0x800 },    /* out of order */
		{ PT_LOAD, 0, 0, 0 },                          /* empty: ignored */
	};
	size_t len;
	uint8_t *img = make_elf(s, 5, K16M + 0x10, &len);

	fresh();
	CHECK_OK(load(img, len), err);
	CHECK_EQ(ki.format, KERNEL_ELF);
	CHECK_EQ(ki.entry, K16M + 0x10);
	CHECK_EQ(ki.load_start, K16M);
	CHECK_EQ(ki.load_end, K16M + 0x402000);
	CHECK_EQ(ki.hdr_len, 0);
	CHECK_EQ(ki.boot_version, 0);
	CHECK_EQ(ki.cmdline_max, CMDLINE_MAX_SIZE - 1);
	CHECK_EQ(ki.initrd_addr_max, 0xffffffffULL);
	CHECK_EQ(ki.pvh_entry, 0); /* the PT_NOTE holds no note that parses */
	for (int i = 0; i < 4; i++) {
		const Elf64_Phdr *ph = elf_phdr(img, i);

		if (ph->p_type == PT_LOAD)
			CHECK(memcmp(M.buf + ph->p_paddr, img + ph->p_offset, ph->p_filesz) == 0);
	}
	CHECK(all_cc(K16M + 0x200800, 0x10));
	CHECK_EQ(M.buf[K16M], 0x40);
	CHECK_EQ(M.buf[K16M + 0x400000], 0x40 + 14);
	CHECK(all_zero(K16M + 0x400100, 0x2000 - 0x100));   /* bss zeroed */
	CHECK(all_cc(K16M + 0x402000, 0x100));               /* nothing past memsz */
	CHECK(all_cc(K16M + 0x3000, 0x100));
	CHECK(all_cc(K16M - 0x100, 0x100));
	CHECK(all_cc(0, 0x1000));                            /* PT_NOTE not loaded */
	free(img);
}

static void test_boundaries(void)
{
	size_t len;
	uint8_t *img;

	/* a segment ending exactly at the end of RAM, one starting at 1 MiB */
	const struct elf_seg s[] = {
		{ PT_LOAD, HIMEM_START, 0x10, 0x1000 },
		{ PT_LOAD, MEM - 0x2000, 0x2000, 0x2000 },
	};
	img = make_elf(s, 2, HIMEM_START, &len);
	fresh();
	CHECK_OK(load(img, len), err);
	CHECK_EQ(ki.load_start, HIMEM_START);
	CHECK_EQ(ki.load_end, MEM);
	CHECK_EQ(M.buf[MEM - 1], (uint8_t)(0x40 + 7 + 0x1fff));
	free(img);

	/* adjacent segments do not overlap */
	const struct elf_seg adj[] = {
		{ PT_LOAD, K16M + 0x1000, 0x1000, 0x1000 },
		{ PT_LOAD, K16M, 0x1000, 0x1000 },
	};
	img = make_elf(adj, 2, K16M + 0xfff, &len);
	fresh();
	CHECK_OK(load(img, len), err);
	CHECK_EQ(ki.load_end, K16M + 0x2000);
	free(img);

	/* many segments: still fast, still checked */
	enum { N = 3000 };
	struct elf_seg *many = calloc(N, sizeof(*many));
	for (int i = 0; i < N; i++)
		many[i] = (struct elf_seg){ PT_LOAD, K16M + (uint64_t)(N - 1 - i) * 0x1000, 8, 0x1000 };
	img = make_elf(many, N, K16M, &len);
	fresh();
	CHECK_OK(load(img, len), err);
	CHECK_EQ(ki.load_end, K16M + N * 0x1000ULL);
	/* the last program header's segment moved onto the first's */
	elf_phdr(img, N - 1)->p_paddr = K16M + (uint64_t)(N - 1) * 0x1000 + 0x10;
	CHECK_FAIL(load(img, len), err, "overlap");
	elf_phdr(img, N - 1)->p_paddr = K16M + 0x1800;
	CHECK_FAIL(load(img, len), err, "overlap");
	free(img);
	free(many);
}

static void test_truncated(void)
{
	size_t len;
	uint8_t *img = simple(&len);

	fresh();
	CHECK_FAIL(load(img, 0), err, "empty");
	CHECK_FAIL(load_kernel(&M.gm, NULL, 100, &ki, err, sizeof(err)), err, "empty");
	CHECK_FAIL(load(img, 3), err, "unrecognised");
	CHECK_FAIL(load(img, 4), err, "truncated");
	CHECK_FAIL(load(img, sizeof(Elf64_Ehdr) - 1), err, "truncated");
	/* header complete, program header table cut */
	CHECK_FAIL(load(img, sizeof(Elf64_Ehdr)), err, "program header table");
	CHECK_FAIL(load(img, sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) - 1), err,
		   "program header table");
	/* segment data cut by one byte */
	CHECK_FAIL(load(img, len - 1), err, "outside the");
	CHECK(all_cc(K16M, 0x1000));
	CHECK_OK(load(img, len), err);
	free(img);
}

static void test_bad_header(void)
{
	size_t len;
	uint8_t *img = simple(&len);
	Elf64_Ehdr *eh = elf_ehdr(img);
	Elf64_Ehdr good = *eh;

	fresh();
	eh->e_ident[1] = 'X';
	CHECK_FAIL(load(img, len), err, "unrecognised");
	*eh = good;
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	CHECK_FAIL(load(img, len), err, "not 64-bit");
	*eh = good;
	eh->e_ident[EI_DATA] = ELFDATA2MSB;
	CHECK_FAIL(load(img, len), err, "little-endian");
	*eh = good;
	eh->e_machine = EM_386;
	CHECK_FAIL(load(img, len), err, "not x86-64");
	*eh = good;
	eh->e_machine = EM_AARCH64;
	CHECK_FAIL(load(img, len), err, "not x86-64");
	*eh = good;
	eh->e_type = ET_DYN;
	CHECK_FAIL(load(img, len), err, "not an executable");
	*eh = good;
	eh->e_type = ET_REL;
	CHECK_FAIL(load(img, len), err, "not an executable");
	*eh = good;
	eh->e_phentsize = 32;
	CHECK_FAIL(load(img, len), err, "program header size");
	*eh = good;
	eh->e_phnum = 0;
	CHECK_FAIL(load(img, len), err, "no program headers");
	*eh = good;
	eh->e_phnum = PN_XNUM;
	CHECK_FAIL(load(img, len), err, "program header");
	*eh = good;
	eh->e_phnum = 0xfffe;
	CHECK_FAIL(load(img, len), err, "program header table");
	*eh = good;
	eh->e_phoff = len;
	CHECK_FAIL(load(img, len), err, "program header table");
	*eh = good;
	eh->e_phoff = len - sizeof(Elf64_Phdr) + 1;
	CHECK_FAIL(load(img, len), err, "program header table");
	*eh = good;
	eh->e_phoff = UINT64_MAX - 8;
	CHECK_FAIL(load(img, len), err, "program header table");
	*eh = good;
	eh->e_phoff = UINT64_MAX - 8 * sizeof(Elf64_Phdr) + 1;
	CHECK_FAIL(load(img, len), err, "program header table");
	*eh = good;
	eh->e_entry = K16M + 0x1000; /* one past the only segment */
	CHECK_FAIL(load(img, len), err, "entry point");
	eh->e_entry = 0;
	CHECK_FAIL(load(img, len), err, "entry point");
	eh->e_entry = UINT64_MAX;
	CHECK_FAIL(load(img, len), err, "entry point");
	CHECK(all_cc(K16M, 0x1000));
	*eh = good;
	CHECK_OK(load(img, len), err);
	free(img);
}

static void test_bad_segment_file_range(void)
{
	size_t len;
	uint8_t *img = simple(&len);
	Elf64_Phdr *ph = elf_phdr(img, 0);
	Elf64_Phdr good = *ph;

	fresh();
	ph->p_offset = len;
	CHECK_FAIL(load(img, len), err, "file range");
	*ph = good;
	ph->p_offset = len - 0x800;
	CHECK_FAIL(load(img, len), err, "file range");
	*ph = good;
	ph->p_offset = UINT64_MAX - 0x10;
	ph->p_filesz = 0x20;
	CHECK_FAIL(load(img, len), err, "file range");
	*ph = good;
	ph->p_filesz = UINT64_MAX;
	ph->p_memsz = UINT64_MAX;
	CHECK_FAIL(load(img, len), err, "file range");
	*ph = good;
	ph->p_filesz = 0x1001;
	CHECK_FAIL(load(img, len), err, "p_filesz");
	*ph = good;
	ph->p_memsz = 0x10;
	CHECK_FAIL(load(img, len), err, "p_filesz");
	*ph = good;
	ph->p_type = PT_NOTE;
	CHECK_FAIL(load(img, len), err, "no non-empty PT_LOAD");
	ph->p_type = PT_LOAD;
	ph->p_memsz = ph->p_filesz = 0;
	CHECK_FAIL(load(img, len), err, "no non-empty PT_LOAD");
	CHECK(all_cc(K16M, 0x1000));
	free(img);
}

static void test_bad_segment_placement(void)
{
	size_t len;
	uint8_t *img = simple(&len);
	Elf64_Ehdr *eh = elf_ehdr(img);
	Elf64_Phdr *ph = elf_phdr(img, 0);

	fresh();
	eh->e_entry = ph->p_paddr = MEM - 0x800;              /* crosses end of RAM */
	CHECK_FAIL(load(img, len), err, "does not fit in guest RAM");
	eh->e_entry = ph->p_paddr = MEM;
	CHECK_FAIL(load(img, len), err, "does not fit in guest RAM");
	eh->e_entry = ph->p_paddr = FIRST_ADDR_PAST_32BITS;
	CHECK_FAIL(load(img, len), err, "does not fit in guest RAM");
	eh->e_entry = ph->p_paddr = UINT64_MAX - 0xfff;      /* wraps */
	CHECK_FAIL(load(img, len), err, "does not fit in guest RAM");
	eh->e_entry = ph->p_paddr = K16M;
	ph->p_memsz = UINT64_MAX;
	CHECK_FAIL(load(img, len), err, "does not fit in guest RAM");
	ph->p_memsz = UINT64_MAX - K16M + 1;                  /* end wraps to 0 */
	CHECK_FAIL(load(img, len), err, "does not fit in guest RAM");
	ph->p_memsz = 0x1000;
	eh->e_entry = ph->p_paddr = HIMEM_START - 0x1000;    /* below 1 MiB */
	CHECK_FAIL(load(img, len), err, "below 1 MiB");
	eh->e_entry = ph->p_paddr = HIMEM_START - 1;
	CHECK_FAIL(load(img, len), err, "below 1 MiB");
	eh->e_entry = ph->p_paddr = 0;
	CHECK_FAIL(load(img, len), err, "below 1 MiB");
	CHECK(all_cc(0, HIMEM_START + 0x1000));
	free(img);
}

static void test_overlap(void)
{
	size_t len;
	uint8_t *img;

	const struct elf_seg a[] = {
		{ PT_LOAD, K16M, 0x2000, 0x2000 },
		{ PT_LOAD, K16M + 0x1fff, 0x10, 0x10 },
	};
	img = make_elf(a, 2, K16M, &len);
	fresh();
	CHECK_FAIL(load(img, len), err, "overlap");
	CHECK(all_cc(K16M, 0x3000));                  /* nothing written */
	elf_phdr(img, 1)->p_paddr = K16M - 0x8;       /* other order */
	CHECK_FAIL(load(img, len), err, "overlap");
	elf_phdr(img, 1)->p_paddr = K16M;             /* same address */
	CHECK_FAIL(load(img, len), err, "overlap");
	free(img);

	/* bss of the first reaches over the second */
	const struct elf_seg b[] = {
		{ PT_LOAD, K16M + 0x4000, 0x10, 0x10 },
		{ PT_LOAD, K16M, 0x10, 0x4001 },
	};
	img = make_elf(b, 2, K16M, &len);
	CHECK_FAIL(load(img, len), err, "overlap");
	free(img);

	/* a big one containing two small, non-adjacent ones */
	const struct elf_seg c[] = {
		{ PT_LOAD, K16M + 0x1000, 0x10, 0x10 },
		{ PT_LOAD, K16M, 0x10, 0x100000 },
		{ PT_LOAD, K16M + 0x8000, 0x10, 0x10 },
	};
	img = make_elf(c, 3, K16M, &len);
	CHECK_FAIL(load(img, len), err, "overlap");
	elf_phdr(img, 0)->p_paddr = K16M + 0x100000;   /* only the third inside now */
	CHECK_FAIL(load(img, len), err, "overlap");
	elf_phdr(img, 2)->p_paddr = K16M + 0x200000;
	CHECK_OK(load(img, len), err);
	free(img);
}

static void test_error_buffer(void)
{
	size_t len;
	uint8_t *img = simple(&len);
	char small[8];

	fresh();
	elf_ehdr(img)->e_machine = EM_386;
	memset(small, 'x', sizeof(small));
	CHECK_EQ(load_kernel(&M.gm, img, len, &ki, small, sizeof(small)), -1);
	CHECK_EQ(strnlen(small, sizeof(small)), sizeof(small) - 1);
	CHECK_EQ(load_kernel(&M.gm, img, len, &ki, NULL, 0), -1);
	CHECK_EQ(load_kernel(&M.gm, img, len, &ki, small, 0), -1);
	free(img);
}

/* Notes: name size, desc size, type, name and desc each padded to 4 bytes. */
static size_t note(uint8_t *p, const char *name, uint32_t type, const void *desc, uint32_t dlen)
{
	uint32_t h[3] = { (uint32_t)strlen(name) + 1, dlen, type };
	size_t n = (h[0] + 3) & ~3u, d = (dlen + 3) & ~3u;

	memcpy(p, h, 12);
	memset(p + 12, 0, n + d);
	memcpy(p + 12, name, h[0]);
	memcpy(p + 12 + n, desc, dlen);
	return 12 + n + d;
}

/* Xen's PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY, 18), after another note. */
static void test_pvh_note(void)
{
	const struct elf_seg s[] = {
		{ PT_LOAD, K16M, 0x3000, 0x3000 },
		{ PT_NOTE, 0, 0x40, 0 },
	};
	uint64_t entry = K16M + 0x100, outside = K16M + 0x5000;
	uint32_t gnu = 0x12345678, entry32 = (uint32_t)(K16M + 0x200);
	size_t len, o;
	uint8_t *img = make_elf(s, 2, K16M + 0x10, &len), *n;

	n = img + elf_phdr(img, 1)->p_offset;
	o = note(n, "GNU", 3, &gnu, 4);
	note(n + o, "Xen", 18, &entry, 8);
	fresh();
	CHECK_OK(load(img, len), err);
	CHECK_EQ(ki.pvh_entry, K16M + 0x100);
	CHECK_EQ(ki.entry, K16M + 0x10);
	CHECK(!ki.linux_notes);
	/* Linux's notes before it (vmlinux: build salt, LTO info): both found */
	{
		uint8_t *m = malloc(len);
		uint32_t salt = 0;
		size_t p;

		memcpy(m, img, len);
		n = m + elf_phdr(m, 1)->p_offset;
		p = note(n, "Linux", 0x100, &salt, 4);
		note(n + p, "Xen", 18, &entry, 8);
		fresh();
		CHECK_OK(load(m, len), err);
		CHECK(ki.linux_notes);
		CHECK_EQ(ki.pvh_entry, K16M + 0x100);
		/* "Linu" or "Linux" without its NUL: not Linux's */
		note(n, "Linu", 0x100, &salt, 4);
		fresh();
		CHECK_OK(load(m, len), err);
		CHECK(!ki.linux_notes);
		note(n, "Linux", 0x100, &salt, 4);
		((uint32_t *)n)[0] = 5;
		fresh();
		CHECK_OK(load(m, len), err);
		CHECK(!ki.linux_notes);
		free(m);
		n = img + elf_phdr(img, 1)->p_offset;
	}
	/* a 4-byte address works too */
	note(n + o, "Xen", 18, &entry32, 4);
	fresh();
	CHECK_OK(load(img, len), err);
	CHECK_EQ(ki.pvh_entry, K16M + 0x200);
	/* an entry outside the loaded segments: no PVH (the 64-bit entry stays) */
	note(n + o, "Xen", 18, &outside, 8);
	fresh();
	CHECK_OK(load(img, len), err);
	CHECK_EQ(ki.pvh_entry, 0);
	/* a note whose sizes run past its segment: ignored, never read */
	note(n + o, "Xen", 18, &entry, 8);
	((uint32_t *)(n + o))[1] = 0xfffffff0u;
	fresh();
	CHECK_OK(load(img, len), err);
	CHECK_EQ(ki.pvh_entry, 0);
	/* another type, another name: no PVH */
	note(n + o, "Xen", 17, &entry, 8);
	fresh();
	CHECK_OK(load(img, len), err);
	CHECK_EQ(ki.pvh_entry, 0);
	note(n + o, "Xe", 18, &entry, 8);
	fresh();
	CHECK_OK(load(img, len), err);
	CHECK_EQ(ki.pvh_entry, 0);
	free(img);
}

static void test_cleanup(void)
{
	tmem_free(&M);
	CHECK(M.buf == NULL);
}

UNIT_MAIN(TEST(test_good_multi_segment), TEST(test_pvh_note), TEST(test_boundaries), TEST(test_truncated),
	  TEST(test_bad_header), TEST(test_bad_segment_file_range),
	  TEST(test_bad_segment_placement), TEST(test_overlap), TEST(test_error_buffer),
	  TEST(test_cleanup))
