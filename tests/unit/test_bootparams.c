/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The zero page, command line and e820 map. Expected zero pages are built
 * here from the offsets of Linux's zero-page.rst written out as literals
 * (not from kernel-loader/bootparam.h), and compared byte for byte.
 */
#include "tests/unit/unit.h"
#include "tests/unit/images.h"
#include "core/layout.h"
#include "kernel-loader/loader.h"

#include <stdlib.h>

#define MEM (64ULL << 20)
#define GIB (1ULL << 30)
#define ZP ZERO_PAGE_START

static char err[256];

static void p16(uint8_t *p, unsigned off, uint16_t v)
{
	memcpy(p + off, &v, 2);
}

static void p32(uint8_t *p, unsigned off, uint32_t v)
{
	memcpy(p + off, &v, 4);
}

static uint32_t g32(const uint8_t *p, unsigned off)
{
	uint32_t v;

	memcpy(&v, p + off, 4);
	return v;
}

/* the e820 part of an expected zero page */
static void expect_e820(uint8_t *zp, const struct e820_entry *e, int n)
{
	zp[0x1e8] = (uint8_t)n;
	memcpy(zp + 0x2d0, e, (size_t)n * 20);
}

static void check_e820(const struct e820_entry *e, int i, uint64_t addr, uint64_t size,
		       uint32_t type)
{
	CHECK_EQ(e[i].addr, addr);
	CHECK_EQ(e[i].size, size);
	CHECK_EQ(e[i].type, type);
}

static void test_e820(void)
{
	struct e820_entry e[8];
	struct tmem t;

	CHECK_EQ(sizeof(struct e820_entry), 20);
	if (tmem_init(&t, MEM))
		return;
	CHECK_EQ(e820_build(&t.gm, e, 8), 3);
	check_e820(e, 0, 0, 0x9fc00, E820_RAM);
	check_e820(e, 1, 0x9fc00, 0x100000 - 0x9fc00, E820_RESERVED);
	check_e820(e, 2, 0x100000, MEM - 0x100000, E820_RAM);
	CHECK_EQ(E820_RAM, 1);
	CHECK_EQ(E820_RESERVED, 2);
	CHECK_EQ(e820_build(&t.gm, e, 3), 3);
	CHECK_EQ(e820_build(&t.gm, e, 2), -1);
	CHECK_EQ(e820_build(&t.gm, e, 0), -1);
	tmem_free(&t);

	if (tmem_init(&t, 4608ULL << 20) == 0) {     /* 4.5 GiB */
		CHECK_EQ(e820_build(&t.gm, e, 8), 4);
		check_e820(e, 0, 0, 0x9fc00, E820_RAM);
		check_e820(e, 1, 0x9fc00, 0x60400, E820_RESERVED);
		check_e820(e, 2, 0x100000, 0xd0000000 - 0x100000, E820_RAM);
		check_e820(e, 3, 0x100000000ULL, (4608ULL << 20) - 0xd0000000, E820_RAM);
		CHECK_EQ(e820_build(&t.gm, e, 3), -1);
		tmem_free(&t);
	}
	if (tmem_init(&t, MMIO_GAP_START) == 0) {    /* 3.25 GiB: nothing above 4G */
		CHECK_EQ(e820_build(&t.gm, e, 8), 3);
		check_e820(e, 2, 0x100000, 0xd0000000 - 0x100000, E820_RAM);
		tmem_free(&t);
	}
	if (tmem_init(&t, 0x20800) == 0) {           /* tiny: below the EBDA */
		CHECK_EQ(e820_build(&t.gm, e, 8), 1);
		check_e820(e, 0, 0, 0x20800, E820_RAM);
		tmem_free(&t);
	}
}

/* load an ELF kernel, write boot params, compare the whole zero page */
static void test_elf_zero_page(void)
{
	const struct elf_seg s[] = { { PT_LOAD, 0x1000000, 0x2000, 0x3000 } };
	const char *cl = "console=ttyS0 reboot=k panic=1";
	struct kernel_info ki;
	struct e820_entry e[4];
	uint8_t want[4096];
	struct tmem t;
	uint64_t initrd;
	size_t len;
	uint8_t *img = make_elf(s, 1, 0x1000000, &len);
	static const uint8_t rd[0x1234] = { 1, 2, 3 };

	if (tmem_init(&t, MEM))
		return;
	memset(t.buf, 0xee, 0x30000);
	CHECK_OK(load_kernel(&t.gm, img, len, &ki, err, sizeof(err)), err);
	CHECK_OK(load_initrd(&t.gm, &ki, rd, sizeof(rd), &initrd, err, sizeof(err)), err);
	CHECK_OK(write_boot_params(&t.gm, &ki, cl, initrd, sizeof(rd), err, sizeof(err)), err);

	memset(want, 0, sizeof(want));
	p16(want, 0x1fe, 0xaa55);
	memcpy(want + 0x202, "HdrS", 4);
	p16(want, 0x206, 0x020c);
	want[0x210] = 0xff;
	p32(want, 0x218, (uint32_t)initrd);
	p32(want, 0x21c, sizeof(rd));
	p32(want, 0x228, 0x20000);
	p32(want, 0x230, 0x1000000);
	p32(want, 0x238, 2047);
	expect_e820(want, e, e820_build(&t.gm, e, 4));
	CHECK_EQ(want[0x1e8], 3);
	CHECK(memcmp(t.buf + ZP, want, sizeof(want)) == 0);
	for (unsigned i = 0; i < sizeof(want); i++)
		if (t.buf[ZP + i] != want[i]) {
			CHECK_EQ(i, ~0u);     /* report the first differing offset */
			break;
		}
	CHECK_STREQ((const char *)t.buf + CMDLINE_START, cl);
	CHECK_EQ(t.buf[CMDLINE_START + strlen(cl) + 1], 0xee);   /* only the string */
	CHECK_EQ(t.buf[ZP - 1], 0xee);
	CHECK_EQ(t.buf[ZP + 4096], 0xee);
	CHECK_EQ(initrd, MEM - 0x2000);

	/* no initrd: ramdisk fields stay 0 whatever the address */
	CHECK_OK(write_boot_params(&t.gm, &ki, NULL, 0x3000000, 0, err, sizeof(err)), err);
	CHECK_EQ(g32(t.buf + ZP, 0x218), 0);
	CHECK_EQ(g32(t.buf + ZP, 0x21c), 0);
	CHECK_EQ(t.buf[CMDLINE_START], 0);
	tmem_free(&t);
	free(img);
}

static void test_bzimage_zero_page(void)
{
	struct bz_opts o;
	struct kernel_info ki;
	struct e820_entry e[4];
	uint8_t want[4096];
	struct tmem t;
	size_t len;
	uint8_t *img;
	const char *cl = "root=/dev/vda ro";

	bz_defaults(&o);
	o.loadflags = 0x40;
	o.cmdline_size = 0x7ff;
	img = make_bz(&o, &len);
	if (tmem_init(&t, MEM))
		return;
	memset(t.buf + ZP, 0xee, 4096);
	CHECK_OK(load_kernel(&t.gm, img, len, &ki, err, sizeof(err)), err);
	CHECK_OK(write_boot_params(&t.gm, &ki, cl, 0x3f00000, 0x80000, err, sizeof(err)), err);

	memset(want, 0, sizeof(want));
	memcpy(want + 0x1f1, img + 0x1f1, 0x26c - 0x1f1);   /* the setup header */
	want[0x210] = 0xff;
	want[0x211] = 0x41;                                /* LOADED_HIGH added */
	p32(want, 0x218, 0x3f00000);
	p32(want, 0x21c, 0x80000);
	p32(want, 0x228, 0x20000);
	expect_e820(want, e, e820_build(&t.gm, e, 4));
	CHECK(memcmp(t.buf + ZP, want, sizeof(want)) == 0);
	for (unsigned i = 0; i < sizeof(want); i++)
		if (t.buf[ZP + i] != want[i]) {
			CHECK_EQ(i, ~0u);
			break;
		}
	CHECK_EQ(g32(t.buf + ZP, 0x238), 0x7ff);            /* the kernel's own */
	CHECK_EQ(g32(t.buf + ZP, 0x202), 0x53726448);       /* "HdrS" */
	CHECK_EQ(t.buf[ZP + 0x1fe], 0x55);
	CHECK_EQ(t.buf[ZP + 0x1ff], 0xaa);
	CHECK_STREQ((const char *)t.buf + CMDLINE_START, cl);
	tmem_free(&t);
	free(img);
}

static void test_high_memory(void)
{
	const struct elf_seg s[] = { { PT_LOAD, 0x1000000, 0x10, 0x10 } };
	struct kernel_info ki;
	struct e820_entry e[4];
	struct tmem t;
	size_t len;
	uint8_t *img = make_elf(s, 1, 0x1000000, &len);
	uint8_t *zp;

	if (tmem_init(&t, 9 * GIB) == 0) {   /* sparse: only a few pages touched */
		CHECK_OK(load_kernel(&t.gm, img, len, &ki, err, sizeof(err)), err);
		/* an initrd above 4 GiB, larger than 4 GiB: all four halves used */
		CHECK_OK(write_boot_params(&t.gm, &ki, "x", 0x140000000ULL, 0x100001000ULL,
					   err, sizeof(err)), err);
		zp = t.buf + ZP;
		CHECK_EQ(g32(zp, 0x218), 0x40000000);
		CHECK_EQ(g32(zp, 0x0c0), 1);
		CHECK_EQ(g32(zp, 0x21c), 0x1000);
		CHECK_EQ(g32(zp, 0x0c4), 1);
		CHECK_EQ(g32(zp, 0x0c8), 0);
		CHECK_EQ(zp[0x1e8], 4);
		memcpy(e, zp + 0x2d0, sizeof(e));
		CHECK_EQ(e[3].addr, 0x100000000ULL);
		CHECK_EQ(e[3].size, 9 * GIB - 0xd0000000ULL);
		CHECK_EQ(e[3].type, 1);
		CHECK_EQ(e[2].size, 0xd0000000ULL - 0x100000);
		/* initrd in the MMIO gap, or past the end of RAM */
		CHECK_FAIL(write_boot_params(&t.gm, &ki, "", 0xd0000000ULL, 0x1000,
					     err, sizeof(err)), err, "outside guest RAM");
		CHECK_FAIL(write_boot_params(&t.gm, &ki, "", 0xcffff000ULL, 0x2000,
					     err, sizeof(err)), err, "outside guest RAM");
		CHECK_FAIL(write_boot_params(&t.gm, &ki, "", 0x100000000ULL + 9 * GIB, 0x1000,
					     err, sizeof(err)), err, "outside guest RAM");
		tmem_free(&t);
	}
	if (tmem_init(&t, 4608ULL << 20) == 0) {
		CHECK_OK(load_kernel(&t.gm, img, len, &ki, err, sizeof(err)), err);
		CHECK_OK(write_boot_params(&t.gm, &ki, "", 0, 0, err, sizeof(err)), err);
		zp = t.buf + ZP;
		CHECK_EQ(zp[0x1e8], 4);
		memcpy(e, zp + 0x2d0, sizeof(e));
		check_e820(e, 0, 0, 0x9fc00, 1);
		check_e820(e, 1, 0x9fc00, 0x60400, 2);
		check_e820(e, 2, 0x100000, 0xd0000000ULL - 0x100000, 1);
		check_e820(e, 3, 0x100000000ULL, (4608ULL << 20) - 0xd0000000ULL, 1);
		tmem_free(&t);
	}
	free(img);
}

static void test_cmdline_limits(void)
{
	const struct elf_seg s[] = { { PT_LOAD, 0x1000000, 0x10, 0x10 } };
	struct kernel_info ki;
	struct tmem t;
	struct bz_opts o;
	size_t len;
	uint8_t *img = make_elf(s, 1, 0x1000000, &len);
	char *cl = malloc(5000);

	if (tmem_init(&t, MEM))
		return;
	memset(cl, 'a', 5000);
	CHECK_OK(load_kernel(&t.gm, img, len, &ki, err, sizeof(err)), err);
	cl[2047] = 0;
	CHECK_OK(write_boot_params(&t.gm, &ki, cl, 0, 0, err, sizeof(err)), err);
	CHECK_EQ(strlen((char *)t.buf + CMDLINE_START), 2047);
	memset(t.buf + ZP, 0xee, 4096);
	memset(t.buf + CMDLINE_START, 0xee, 4096);
	cl[2047] = 'a';
	cl[2048] = 0;
	CHECK_FAIL(write_boot_params(&t.gm, &ki, cl, 0, 0, err, sizeof(err)), err,
		   "command line too long (2048 bytes");
	cl[4999] = 0;
	CHECK_FAIL(write_boot_params(&t.gm, &ki, cl, 0, 0, err, sizeof(err)), err, "too long");
	ki.cmdline_max = 4998;   /* a bogus limit is still capped by our area */
	CHECK_FAIL(write_boot_params(&t.gm, &ki, cl, 0, 0, err, sizeof(err)), err, "too long");
	CHECK_EQ(t.buf[ZP + 0x1fe], 0xee);                /* nothing written */
	CHECK_EQ(t.buf[CMDLINE_START], 0xee);
	free(img);

	bz_defaults(&o);
	o.cmdline_size = 255;
	img = make_bz(&o, &len);
	CHECK_OK(load_kernel(&t.gm, img, len, &ki, err, sizeof(err)), err);
	memset(cl, 'b', 5000);
	cl[255] = 0;
	CHECK_OK(write_boot_params(&t.gm, &ki, cl, 0, 0, err, sizeof(err)), err);
	CHECK_EQ(g32(t.buf + ZP, 0x238), 255);
	cl[255] = 'b';
	cl[256] = 0;
	CHECK_FAIL(write_boot_params(&t.gm, &ki, cl, 0, 0, err, sizeof(err)), err,
		   "at most 255");
	free(img);
	free(cl);
	tmem_free(&t);
}

static void test_small_guest(void)
{
	const struct elf_seg s[] = { { PT_LOAD, 0x1000000, 0x10, 0x10 } };
	struct kernel_info ki;
	struct tmem t, big;
	size_t len;
	uint8_t *img = make_elf(s, 1, 0x1000000, &len);

	if (tmem_init(&big, MEM))
		return;
	CHECK_OK(load_kernel(&big.gm, img, len, &ki, err, sizeof(err)), err);
	if (tmem_init(&t, 0x7800) == 0) {
		CHECK_FAIL(write_boot_params(&t.gm, &ki, "", 0, 0, err, sizeof(err)), err,
			   "too small");
		tmem_free(&t);
	}
	if (tmem_init(&t, 0x20000 + 100) == 0) {
		CHECK_FAIL(write_boot_params(&t.gm, &ki, "", 0, 0, err, sizeof(err)), err,
			   "too small");
		tmem_free(&t);
	}
	if (tmem_init(&t, 0x20000 + CMDLINE_MAX_SIZE) == 0) {
		CHECK_OK(write_boot_params(&t.gm, &ki, "abc", 0, 0, err, sizeof(err)), err);
		CHECK_EQ(t.buf[ZP + 0x1e8], 1);
		tmem_free(&t);
	}
	tmem_free(&big);
	free(img);
}

static uint32_t get32(const uint8_t *p) { return g32(p, 0); }
static uint64_t get64(const uint8_t *p) { return g32(p, 0) | (uint64_t)g32(p, 4) << 32; }

/* PVH's hvm_start_info (Xen's public/arch-x86/hvm/start_info.h, version 1). */
static void test_pvh_start_info(void)
{
	struct tmem t;
	char err[200];
	uint8_t *si;

	if (tmem_init(&t, MEM))
		return;
	CHECK_OK(write_pvh_start_info(&t.gm, 0x3000000, 0x123456, 0xe0000, err, sizeof(err)),
		 err);
	si = t.buf + PVH_START_INFO;
	CHECK_EQ(get32(si), 0x336ec578);          /* magic */
	CHECK_EQ(get32(si + 4), 1);               /* version */
	CHECK_EQ(get32(si + 12), 1);              /* nr_modules: the initrd */
	CHECK_EQ(get64(si + 16), PVH_START_INFO + 0x40);
	CHECK_EQ(get64(si + 24), CMDLINE_START);
	CHECK_EQ(get64(si + 32), 0xe0000);        /* rsdp */
	CHECK_EQ(get32(si + 48), 3);              /* memmap entries: the e820 map's */
	CHECK_EQ(get64(t.buf + get64(si + 16)), 0x3000000);
	CHECK_EQ(get64(t.buf + get64(si + 16) + 8), 0x123456);
	CHECK_EQ(get64(t.buf + get64(si + 40) + 48), 0x100000);          /* 3rd: RAM at 1 MiB */
	CHECK_EQ(get64(t.buf + get64(si + 40) + 56), MEM - 0x100000);
	CHECK_EQ(get32(t.buf + get64(si + 40) + 64), E820_RAM);
	/* no initrd, no ACPI */
	CHECK_OK(write_pvh_start_info(&t.gm, 0, 0, 0, err, sizeof(err)), err);
	CHECK_EQ(get32(si + 12), 0);
	CHECK_EQ(get64(si + 16), 0);
	CHECK_EQ(get64(si + 32), 0);
	tmem_free(&t);
}

UNIT_MAIN(TEST(test_e820), TEST(test_pvh_start_info), TEST(test_elf_zero_page),
	  TEST(test_bzimage_zero_page), TEST(test_high_memory), TEST(test_cmdline_limits), TEST(test_small_guest))
