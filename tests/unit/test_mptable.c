/* SPDX-License-Identifier: Apache-2.0 */
/* MP table: structure, checksums, entries, refusals (Intel MP spec 1.4). */
#include "tests/unit/unit.h"
#include "core/layout.h"
#include "vmm/mptable.h"

#define MEM (64ULL << 20)

static char err[256];

static uint16_t g16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t g32(const uint8_t *p)
{
	return (uint32_t)g16(p) | (uint32_t)g16(p + 2) << 16;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* Write for ncpus and npins and check everything a guest OS would parse. */
static void check_table(int ncpus, int npins)
{
	struct tmem t;
	const uint8_t *mpf, *mpc, *p, *end;
	int procs = 0, bsps = 0, buses = 0, ioapics = 0, lints = 0;
	int intsrc[IOAPIC_MAX_PINS] = { 0 };
	unsigned entries = 0;

	if (tmem_init(&t, MEM))
		return;
	memset(t.buf, 0xee, MEM / 16);
	CHECK_OK(mptable_write(&t.gm, ncpus, npins, err, sizeof(err)), err);

	mpf = t.buf + MPTABLE_START;
	CHECK_EQ(MPTABLE_START % 16, 0);
	CHECK(memcmp(mpf, "_MP_", 4) == 0);
	CHECK_EQ(mpf[8], 1);                     /* 16 bytes */
	CHECK_EQ(mpf[9], 4);                     /* spec 1.4 */
	CHECK_EQ(sum(mpf, 16), 0);
	CHECK_EQ(mpf[11], 0);                    /* config table present */
	CHECK_EQ(g32(mpf + 4), MPTABLE_START + 16);
	/* Linux finds it in the last KiB of base memory */
	CHECK(MPTABLE_START >= 639 * 1024 && MPTABLE_START + 16 <= 640 * 1024);

	mpc = t.buf + g32(mpf + 4);
	CHECK(memcmp(mpc, "PCMP", 4) == 0);
	CHECK_EQ(mpc[6], 4);
	CHECK_EQ(sum(mpc, g16(mpc + 4)), 0);
	CHECK(memcmp(mpc + 8, "EMBER   ", 8) == 0);
	CHECK(memcmp(mpc + 16, "MICROVM     ", 12) == 0);
	CHECK_EQ(g32(mpc + 28), 0);              /* no OEM table */
	CHECK_EQ(g16(mpc + 34), (unsigned)(ncpus + 1 + 1 + npins + 2));
	CHECK_EQ(g32(mpc + 36), LAPIC_ADDR);
	CHECK_EQ(g16(mpc + 40), 0);              /* no extended table */
	CHECK_EQ(g16(mpc + 4), 44 + 20 * ncpus + 8 * (1 + 1 + npins + 2));
	CHECK(MPTABLE_START + 16 + g16(mpc + 4) <= HIMEM_START);
	CHECK(MPTABLE_START + 16 + g16(mpc + 4) <= 0xa0000);   /* even within the EBDA KiB */

	p = mpc + 44;
	end = mpc + g16(mpc + 4);
	while (p < end) {
		entries++;
		switch (p[0]) {
		case 0:
			CHECK_EQ(p[1], procs);                   /* APIC id = index */
			CHECK_EQ(p[2], 0x14);
			CHECK(p[3] & 1);                          /* enabled */
			CHECK_EQ(!!(p[3] & 2), procs == 0);       /* BSP = cpu 0 */
			bsps += !!(p[3] & 2);
			CHECK(g32(p + 4) != 0);                   /* signature */
			CHECK(g32(p + 8) & (1u << 9));            /* APIC feature */
			procs++;
			p += 20;
			break;
		case 1:
			CHECK_EQ(p[1], 0);
			CHECK(memcmp(p + 2, "ISA   ", 6) == 0);
			buses++;
			p += 8;
			break;
		case 2:
			CHECK_EQ(p[1], ncpus);                    /* IOAPIC id */
			CHECK_EQ(p[2], 0x11);
			CHECK_EQ(p[3] & 1, 1);
			CHECK_EQ(g32(p + 4), IOAPIC_ADDR);
			ioapics++;
			p += 8;
			break;
		case 3:
			CHECK_EQ(p[1], 0);                        /* INT */
			CHECK_EQ(g16(p + 2), 0);                  /* conforming */
			CHECK_EQ(p[4], 0);                        /* ISA bus */
			CHECK_EQ(p[6], ncpus);                    /* to our IOAPIC */
			CHECK_EQ(p[5], p[7]);                     /* IRQ n -> pin n */
			if (p[7] < npins)
				intsrc[p[7]]++;
			else
				CHECK(p[7] < npins);
			p += 8;
			break;
		case 4:
			CHECK_EQ(p[6], 0xff);                     /* all LAPICs */
			if (lints == 0) {
				CHECK_EQ(p[1], 3);                /* ExtINT */
				CHECK_EQ(p[7], 0);                /* LINT0 */
			} else {
				CHECK_EQ(p[1], 1);                /* NMI */
				CHECK_EQ(p[7], 1);                /* LINT1 */
			}
			lints++;
			p += 8;
			break;
		default:
			CHECK_EQ(p[0], 0xff);                     /* unknown type */
			p = end + 1;
		}
	}
	CHECK(p == end);
	CHECK_EQ(entries, g16(mpc + 34));
	CHECK_EQ(procs, ncpus);
	CHECK_EQ(bsps, 1);
	CHECK_EQ(buses, 1);
	CHECK_EQ(ioapics, 1);
	CHECK_EQ(lints, 2);
	for (int i = 0; i < npins; i++)
		CHECK_EQ(intsrc[i], 1);
	CHECK_EQ(*end, 0xee);                                 /* nothing past it */
	CHECK_EQ(t.buf[MPTABLE_START - 1], 0xee);
	tmem_free(&t);
}

static void test_one_cpu(void)
{
	check_table(1, IOAPIC_MIN_PINS);
}

static void test_two_cpus(void)
{
	check_table(2, IOAPIC_MIN_PINS + 2);
}

static void test_max_cpus(void)
{
	check_table(32, IOAPIC_MAX_PINS);
	CHECK_EQ(GUEST_VCPUS_MAX, 32);
}

static void test_refusals(void)
{
	struct tmem t;

	if (tmem_init(&t, MEM))
		return;
	memset(t.buf + MPTABLE_START, 0xee, 0x1000);
	CHECK_FAIL(mptable_write(&t.gm, 0, 8, err, sizeof(err)), err, "1..32");
	CHECK_FAIL(mptable_write(&t.gm, 33, 8, err, sizeof(err)), err, "33 vCPUs");
	CHECK_FAIL(mptable_write(&t.gm, -1, 8, err, sizeof(err)), err, "1..32");
	CHECK_EQ(mptable_write(&t.gm, 1000, 8, NULL, 0), -1);
	CHECK_FAIL(mptable_write(&t.gm, 1, IOAPIC_MIN_PINS - 1, err, sizeof(err)), err,
		   "5 IOAPIC pins, must be 6..24");
	CHECK_FAIL(mptable_write(&t.gm, 1, IOAPIC_MAX_PINS + 1, err, sizeof(err)), err,
		   "25 IOAPIC pins");
	CHECK_EQ(t.buf[MPTABLE_START], 0xee);
	tmem_free(&t);
	if (tmem_init(&t, MPTABLE_START + 0x100) == 0) {   /* RAM ends inside the table */
		CHECK_FAIL(mptable_write(&t.gm, 4, IOAPIC_MAX_PINS, err, sizeof(err)), err,
			   "outside guest memory");
		tmem_free(&t);
	}
}

UNIT_MAIN(TEST(test_one_cpu), TEST(test_two_cpus), TEST(test_max_cpus), TEST(test_refusals))
