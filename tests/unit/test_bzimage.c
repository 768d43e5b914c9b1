/* SPDX-License-Identifier: Apache-2.0 */
/* bzImage loading: crafted images, good and malformed. */
#include "tests/unit/unit.h"
#include "tests/unit/images.h"
#include "core/layout.h"
#include "kernel-loader/bootparam.h"
#include "kernel-loader/loader.h"

#include <stdlib.h>

#define MEM (64ULL << 20)
#define M1 0x100000ULL
#define M16 0x1000000ULL

static struct tmem M;
static char err[256];
static struct kernel_info ki;

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

static int pm_loaded(size_t pm_size)
{
	for (size_t k = 0; k < pm_size; k++)
		if (M.buf[M1 + k] != bz_pm_byte(k))
			return 0;
	return 1;
}

static int all_cc(uint64_t gpa, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (M.buf[gpa + i] != 0xcc)
			return 0;
	return 1;
}

/* load an image built from o, expecting success */
static void load_ok(const struct bz_opts *o)
{
	size_t len;
	uint8_t *img = make_bz(o, &len);

	fresh();
	CHECK_OK(load(img, len), err);
	free(img);
}

/* load an image built from o, expecting failure with substr, guest untouched */
static void load_bad(const struct bz_opts *o, const char *substr)
{
	size_t len;
	uint8_t *img = make_bz(o, &len);

	fresh();
	CHECK_FAIL(load(img, len), err, substr);
	CHECK(all_cc(0, 0x200000));
	free(img);
}

static void test_good(void)
{
	struct bz_opts o;
	size_t len;
	uint8_t *img;

	bz_defaults(&o);
	img = make_bz(&o, &len);
	fresh();
	CHECK_OK(load(img, len), err);
	CHECK_EQ(ki.format, KERNEL_BZIMAGE);
	CHECK_EQ(ki.entry, M1 + 0x200);
	CHECK_EQ(ki.load_start, M1);
	CHECK_EQ(ki.load_end, M16 + 0x800000);     /* runtime start + init_size */
	CHECK_EQ(ki.boot_version, 0x020f);
	CHECK_EQ(ki.hdr_len, 0x26c - 0x1f1);
	CHECK(memcmp(ki.hdr, img + 0x1f1, ki.hdr_len) == 0);
	CHECK_EQ(ki.hdr[0x202 - 0x1f1], 'H');
	CHECK_EQ(ki.cmdline_max, 0x7ff);
	CHECK_EQ(ki.initrd_addr_max, 0x7fffffff);
	CHECK(pm_loaded(o.pm_size));
	CHECK(all_cc(M1 + o.pm_size, 0x1000));
	CHECK(all_cc(0, M1));
	free(img);
}

static void test_setup_sects(void)
{
	struct bz_opts o;

	bz_defaults(&o);
	o.setup_sects = 0;         /* means 4: kernel at 5 * 512 */
	load_ok(&o);
	CHECK(pm_loaded(o.pm_size));
	o.setup_sects = 1;
	load_ok(&o);
	CHECK(pm_loaded(o.pm_size));
	o.setup_sects = 255;
	load_ok(&o);
	CHECK(pm_loaded(o.pm_size));
	CHECK_EQ(ki.load_end, M16 + 0x800000);
}

static void test_cmdline_max(void)
{
	struct bz_opts o;

	bz_defaults(&o);
	o.cmdline_size = 0xffff;
	load_ok(&o);
	CHECK_EQ(ki.cmdline_max, CMDLINE_MAX_SIZE - 1);
	o.cmdline_size = 255;
	load_ok(&o);
	CHECK_EQ(ki.cmdline_max, 255);
	o.cmdline_size = 0;
	load_ok(&o);
	CHECK_EQ(ki.cmdline_max, 0);
	o.cmdline_size = 0xffffffff;
	load_ok(&o);
	CHECK_EQ(ki.cmdline_max, CMDLINE_MAX_SIZE - 1);
	o.cmdline_size = CMDLINE_MAX_SIZE - 1;
	o.initrd_addr_max = 0x37ffffff;
	load_ok(&o);
	CHECK_EQ(ki.cmdline_max, CMDLINE_MAX_SIZE - 1);
	CHECK_EQ(ki.initrd_addr_max, 0x37ffffff);
}

static void test_header_length(void)
{
	struct bz_opts o;

	bz_defaults(&o);
	o.hdr_jump = 0x62;         /* ends at 0x264, the 2.12 minimum */
	load_ok(&o);
	CHECK_EQ(ki.hdr_len, 0x264 - 0x1f1);
	o.hdr_jump = 0x7f;         /* longer than the zero page field: capped */
	load_ok(&o);
	CHECK_EQ(ki.hdr_len, sizeof(ki.hdr));
	o.hdr_jump = 0xff;
	load_ok(&o);
	CHECK_EQ(ki.hdr_len, sizeof(ki.hdr));
	o.hdr_jump = 0x61;
	load_bad(&o, "too short");
	o.hdr_jump = 0;
	load_bad(&o, "too short");
}

static void test_load_end(void)
{
	struct bz_opts o;

	bz_defaults(&o);
	o.relocatable = 0;          /* runs at pref_address */
	load_ok(&o);
	CHECK_EQ(ki.load_end, M16 + 0x800000);
	o.pref_address = 0x2000000;
	load_ok(&o);
	CHECK_EQ(ki.load_end, 0x2800000);

	bz_defaults(&o);            /* relocatable, pref below the image end */
	o.pref_address = M1;
	o.kernel_alignment = 0x1000;
	o.init_size = 0x1000;
	o.pm_size = 0x3000;
	load_ok(&o);
	CHECK_EQ(ki.load_end, M1 + 0x3000);
	o.init_size = 0x3001;
	load_ok(&o);
	CHECK_EQ(ki.load_end, M1 + 0x3001);

	bz_defaults(&o);            /* rounded up to kernel_alignment */
	o.pref_address = 0x1100000;
	o.kernel_alignment = 0x1000000;
	load_ok(&o);
	CHECK_EQ(ki.load_end, 0x2000000 + 0x800000);
	o.pref_address = 0;
	o.kernel_alignment = 0x200000;
	load_ok(&o);
	CHECK_EQ(ki.load_end, 0x200000 + 0x800000);

	bz_defaults(&o);            /* exactly the end of RAM */
	o.init_size = (uint32_t)(MEM - M16);
	load_ok(&o);
	CHECK_EQ(ki.load_end, MEM);
}

static void test_bad_magic_and_version(void)
{
	struct bz_opts o;
	size_t len;
	uint8_t *img;

	bz_defaults(&o);
	img = make_bz(&o, &len);
	fresh();
	put_le16(img + 0x1fe, 0x55aa);
	CHECK_FAIL(load(img, len), err, "boot flag");
	put_le16(img + 0x1fe, 0);
	CHECK_FAIL(load(img, len), err, "boot flag");
	put_le16(img + 0x1fe, 0xaa55);
	memcpy(img + 0x202, "HdrT", 4);
	CHECK_FAIL(load(img, len), err, "unrecognised");
	memset(img, 0, len);
	CHECK_FAIL(load(img, len), err, "unrecognised");
	CHECK(all_cc(0, 0x200000));
	free(img);

	o.version = 0x020b;
	load_bad(&o, "2.11 is too old");
	o.version = 0x0200;
	load_bad(&o, "too old");
	o.version = 0x020c;
	load_ok(&o);
	CHECK_EQ(ki.boot_version, 0x020c);
	o.xloadflags = 0;
	load_bad(&o, "XLF_KERNEL_64");
	o.xloadflags = 0xfffe;
	load_bad(&o, "XLF_KERNEL_64");
	o.xloadflags = XLF_KERNEL_64;
	load_ok(&o);
}

static void test_truncated(void)
{
	struct bz_opts o;
	size_t len;
	uint8_t *img;

	bz_defaults(&o);
	img = make_bz(&o, &len);
	fresh();
	CHECK_FAIL(load(img, 0x206), err, "truncated");
	CHECK_FAIL(load(img, 0x263), err, "truncated");
	CHECK_FAIL(load(img, 0x264), err, "truncated");  /* header reaches 0x26c */
	CHECK_FAIL(load(img, 0x26b), err, "truncated");
	CHECK_FAIL(load(img, 28 * 512), err, "truncated"); /* setup only */
	CHECK_FAIL(load(img, 28 * 512 - 1), err, "truncated");
	CHECK(all_cc(0, 0x200000));
	CHECK_OK(load(img, 28 * 512 + 1), err);            /* 1-byte kernel */
	CHECK_EQ(M.buf[M1], bz_pm_byte(0));
	CHECK_EQ(M.buf[M1 + 1], 0xcc);
	free(img);
}

static void test_does_not_fit(void)
{
	struct bz_opts o;
	struct tmem small;
	size_t len;
	uint8_t *img;

	bz_defaults(&o);
	o.init_size = 0xffffffff;
	load_bad(&o, "init_size");
	o.init_size = (uint32_t)(MEM - M16 + 1);
	load_bad(&o, "init_size");
	bz_defaults(&o);
	o.pref_address = 0xffffffffffff0000ULL;
	load_bad(&o, "pref_address");
	o.pref_address = UINT64_MAX;
	load_bad(&o, "pref_address");
	o.pref_address = MEM - 0x1000;        /* rounds up past the end */
	load_bad(&o, "pref_address");
	o.relocatable = 0;
	o.pref_address = 0x80000;             /* below 1 MiB */
	load_bad(&o, "pref_address");
	o.pref_address = MEM;
	load_bad(&o, "pref_address");
	bz_defaults(&o);
	o.kernel_alignment = 0;
	load_bad(&o, "kernel_alignment");
	o.kernel_alignment = 0x300000;
	load_bad(&o, "kernel_alignment");

	/* the image itself larger than RAM above 1 MiB */
	bz_defaults(&o);
	o.pref_address = M1;
	o.kernel_alignment = 0x1000;
	o.init_size = 0x1000;
	o.pm_size = 0x100001;
	img = make_bz(&o, &len);
	if (tmem_init(&small, 2 * M1) == 0) {
		memset(small.buf, 0xcc, small.size);
		CHECK_FAIL(load_kernel(&small.gm, img, len, &ki, err, sizeof(err)), err,
			   "does not fit in guest RAM");
		CHECK_EQ(small.buf[M1], 0xcc);
		CHECK_OK(load_kernel(&small.gm, img, len - 1, &ki, err, sizeof(err)), err);
		CHECK_EQ(ki.load_end, 2 * M1);
		tmem_free(&small);
	}
	if (tmem_init(&small, M1) == 0) {   /* no RAM above 1 MiB at all */
		CHECK_FAIL(load_kernel(&small.gm, img, 28 * 512 + 1, &ki, err, sizeof(err)),
			   err, "does not fit in guest RAM");
		tmem_free(&small);
	}
	free(img);
}

static void test_cleanup(void)
{
	tmem_free(&M);
	CHECK(M.buf == NULL);
}

UNIT_MAIN(TEST(test_good), TEST(test_setup_sects), TEST(test_cmdline_max),
	  TEST(test_header_length), TEST(test_load_end), TEST(test_bad_magic_and_version),
	  TEST(test_truncated), TEST(test_does_not_fit), TEST(test_cleanup))
