/* SPDX-License-Identifier: Apache-2.0 */
/* initrd placement: top of RAM, page alignment, limits, refusals. */
#include "tests/unit/unit.h"
#include "core/layout.h"
#include "kernel-loader/loader.h"

#include <stdlib.h>

#define MEM (64ULL << 20)

static char err[256];
static uint8_t data[0x10000];

static struct kernel_info elf_ki(void)
{
	return (struct kernel_info){ .format = KERNEL_ELF, .entry = 0x1000000,
				     .load_start = 0x1000000, .load_end = 0x1100000,
				     .cmdline_max = CMDLINE_MAX_SIZE - 1,
				     .initrd_addr_max = 0xffffffff };
}

static void fill(void)
{
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 7);
}

/* place len bytes; on success check alignment, bounds and contents */
static uint64_t place(struct tmem *t, const struct kernel_info *ki, size_t len)
{
	uint64_t addr = 0;

	CHECK_OK(load_initrd(&t->gm, ki, data, len, &addr, err, sizeof(err)), err);
	CHECK_EQ(addr & 0xfff, 0);
	CHECK(addr >= ki->load_end);
	CHECK(addr + len <= gm_low_end(&t->gm));
	CHECK(addr + len - 1 <= ki->initrd_addr_max);
	{
		const uint8_t *p = gm_ptr(&t->gm, addr, len);

		CHECK(p && memcmp(p, data, len) == 0);
	}
	return addr;
}

static void test_top_of_ram(void)
{
	struct tmem t;
	struct kernel_info ki = elf_ki();

	if (tmem_init(&t, MEM))
		return;
	fill();
	CHECK_EQ(place(&t, &ki, 5000), MEM - 0x2000);
	CHECK_EQ(place(&t, &ki, 0x2000), MEM - 0x2000);
	CHECK_EQ(place(&t, &ki, 0x2001), MEM - 0x3000);
	CHECK_EQ(place(&t, &ki, 1), MEM - 0x1000);
	CHECK_EQ(place(&t, &ki, sizeof(data)), MEM - sizeof(data));
	ki.initrd_addr_max = UINT64_MAX;
	CHECK_EQ(place(&t, &ki, 0x1000), MEM - 0x1000);
	tmem_free(&t);
}

static void test_addr_max(void)
{
	struct tmem t;
	struct kernel_info ki = elf_ki();

	if (tmem_init(&t, MEM))
		return;
	fill();
	ki.initrd_addr_max = 0x2ffffff;
	CHECK_EQ(place(&t, &ki, 0x1000), 0x2fff000);
	ki.initrd_addr_max = 0x2fffffe;
	CHECK_EQ(place(&t, &ki, 0x1000), 0x2ffe000);
	CHECK_EQ(place(&t, &ki, 0xfff), 0x2fff000);
	ki.initrd_addr_max = 0x2000fff;
	CHECK_EQ(place(&t, &ki, 5000), 0x1fff000);
	tmem_free(&t);
}

static void test_does_not_fit(void)
{
	struct tmem t;
	struct kernel_info ki = elf_ki();
	uint64_t addr = 0xdead;

	if (tmem_init(&t, MEM))
		return;
	fill();
	ki.load_end = MEM - 0x2000;
	CHECK_EQ(place(&t, &ki, 0x2000), MEM - 0x2000);   /* exactly fits */
	memset(t.buf, 0, MEM);
	CHECK_FAIL(load_initrd(&t.gm, &ki, data, 0x2001, &addr, err, sizeof(err)), err,
		   "initrd (8193 bytes) does not fit in guest memory below 0x4000000");
	ki.load_end = MEM - 0x1800;
	CHECK_FAIL(load_initrd(&t.gm, &ki, data, 0x1001, &addr, err, sizeof(err)), err,
		   "does not fit");   /* would fit unaligned at MEM - 0x1001 */
	ki.load_end = MEM;
	CHECK_FAIL(load_initrd(&t.gm, &ki, data, 1, &addr, err, sizeof(err)), err, "does not fit");
	ki.load_end = UINT64_MAX;
	CHECK_FAIL(load_initrd(&t.gm, &ki, data, 1, &addr, err, sizeof(err)), err, "does not fit");
	ki = elf_ki();
	CHECK_FAIL(load_initrd(&t.gm, &ki, data, MEM, &addr, err, sizeof(err)), err, "does not fit");
	CHECK_FAIL(load_initrd(&t.gm, &ki, data, SIZE_MAX, &addr, err, sizeof(err)), err,
		   "does not fit");
	ki.initrd_addr_max = 0x10fffff;    /* below the kernel's end */
	CHECK_FAIL(load_initrd(&t.gm, &ki, data, 1, &addr, err, sizeof(err)), err, "below 0x1100000");
	ki.initrd_addr_max = 0;
	CHECK_FAIL(load_initrd(&t.gm, &ki, data, 1, &addr, err, sizeof(err)), err, "does not fit");
	ki = elf_ki();
	CHECK_FAIL(load_initrd(&t.gm, &ki, data, 0, &addr, err, sizeof(err)), err, "empty");
	CHECK_FAIL(load_initrd(&t.gm, &ki, NULL, 10, &addr, err, sizeof(err)), err, "empty");
	CHECK_EQ(addr, 0xdead);
	{
		int clean = 1;

		for (uint64_t i = 0; i < MEM; i++)
			clean &= t.buf[i] == 0;
		CHECK(clean);
	}
	/* a bogus load_end below 1 MiB still keeps the initrd above 1 MiB */
	ki.load_end = 0;
	ki.initrd_addr_max = HIMEM_START + 0xfff;
	CHECK_EQ(place(&t, &ki, 0x1000), HIMEM_START);
	CHECK_FAIL(load_initrd(&t.gm, &ki, data, 0x1001, &addr, err, sizeof(err)), err,
		   "does not fit");
	tmem_free(&t);
}

static void test_above_mmio_gap(void)
{
	struct tmem t;
	struct kernel_info ki = elf_ki();

	if (tmem_init(&t, 4608ULL << 20))  /* 4.5 GiB, sparse */
		return;
	fill();
	CHECK_EQ(t.gm.nregions, 2);
	CHECK_EQ(place(&t, &ki, 0x1000), MMIO_GAP_START - 0x1000);
	CHECK_EQ(place(&t, &ki, 0x1800), MMIO_GAP_START - 0x2000);
	ki.initrd_addr_max = UINT64_MAX;   /* never above the gap */
	CHECK_EQ(place(&t, &ki, 0x1000), MMIO_GAP_START - 0x1000);
	ki.initrd_addr_max = 0x7fffffff;   /* a typical bzImage */
	CHECK_EQ(place(&t, &ki, 0x1000), 0x7ffff000);
	tmem_free(&t);
}

UNIT_MAIN(TEST(test_top_of_ram), TEST(test_addr_max), TEST(test_does_not_fit),
	  TEST(test_above_mmio_gap))
