/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmm/ioapic.c without KVM (vm_fd -1): its registers as a guest reads and
 * writes them, the MSI routes its redirection entries make, and its state
 * through a snapshot.
 */
#include "tests/unit/unit.h"
#include "vmm/ioapic.h"

#include <string.h>

static char err[256];

static void wr(struct ioapic *a, uint64_t off, uint32_t v)
{
	ioapic_access(a, off, (uint8_t *)&v, 4, true);
}

static uint32_t rd(struct ioapic *a, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	ioapic_access(a, off, (uint8_t *)&v, 4, false);
	return v;
}

static uint32_t reg(struct ioapic *a, uint32_t r)
{
	wr(a, 0x00, r);
	return rd(a, 0x10);
}

static void set_reg(struct ioapic *a, uint32_t r, uint32_t v)
{
	wr(a, 0x00, r);
	wr(a, 0x10, v);
}

/* The route of GSI gsi in a's routes, NULL if none. */
static const struct kvm_irq_routing_entry *route(struct ioapic *a, uint32_t gsi)
{
	for (unsigned int i = 0; i < a->nroutes; i++)
		if (a->routes[i].gsi == gsi)
			return &a->routes[i];
	return NULL;
}

static void test_registers(void)
{
	struct ioapic a;
	uint8_t b[2] = { 0x12, 0x34 };

	CHECK_EQ(ioapic_init(&a, -1, IOAPIC_MIN_PINS - 1, 2), -1);
	CHECK_EQ(ioapic_init(&a, -1, IOAPIC_MAX_PINS + 1, 2), -1);
	CHECK_EQ(ioapic_init(&a, -1, 8, 2), 0);
	CHECK_EQ(reg(&a, 0), 2u << 24);                  /* ID */
	CHECK_EQ(reg(&a, 1), 0x11u | 7u << 16);           /* version, 8 pins */
	CHECK_EQ(reg(&a, 2), 2u << 24);                  /* arbitration */
	CHECK_EQ(rd(&a, 0x00), 2);                       /* IOREGSEL reads back */
	for (uint32_t pin = 0; pin < 8; pin++) {
		CHECK_EQ(reg(&a, 0x10 + 2 * pin), IOAPIC_RTE_MASKED);
		CHECK_EQ(reg(&a, 0x11 + 2 * pin), 0);
	}
	/* past the last pin, other registers: read 0, writes vanish */
	set_reg(&a, 0x10 + 2 * 8, 0x31);
	CHECK_EQ(reg(&a, 0x10 + 2 * 8), 0);
	CHECK_EQ(reg(&a, 0x03), 0);
	CHECK_EQ(reg(&a, 0xff), 0);
	/* the ID's four bits only */
	set_reg(&a, 0, 0xffffffffu);
	CHECK_EQ(reg(&a, 0), 0x0f000000u);
	/* delivery status and remote IRR are read-only; the high word keeps its top 16 bits */
	set_reg(&a, 0x10 + 2 * 3, IOAPIC_RTE_MASKED | 1u << 12 | 1u << 14 | 0x40);
	CHECK_EQ(reg(&a, 0x10 + 2 * 3), IOAPIC_RTE_MASKED | 0x40);
	set_reg(&a, 0x11 + 2 * 3, 0xffffffffu);
	CHECK_EQ(reg(&a, 0x11 + 2 * 3), 0xffff0000u);
	/* not 32-bit, or off the two registers: reads 0, writes vanish */
	wr(&a, 0x00, 0x10);
	ioapic_access(&a, 0x10, b, 2, true);
	CHECK_EQ(reg(&a, 0x10), IOAPIC_RTE_MASKED);
	ioapic_access(&a, 0x10, b, 2, false);
	CHECK(b[0] == 0 && b[1] == 0);
	wr(&a, 0x20, 0x1234);
	CHECK_EQ(rd(&a, 0x20), 0);
	CHECK_EQ(rd(&a, 0x40), 0);                        /* no EOI register in version 0x11 */
	/* a byte write to IOREGSEL selects too */
	b[0] = 0x01;
	ioapic_access(&a, 0x00, b, 1, true);
	CHECK_EQ(rd(&a, 0x10), 0x11u | 7u << 16);
}

static void test_routes(void)
{
	struct ioapic a;
	const struct kvm_irq_routing_entry *e;

	CHECK_EQ(ioapic_init(&a, -1, 8, 1), 0);
	CHECK(a.routes_set);                              /* none, as KVM starts */
	CHECK_EQ(a.nroutes, 0);
	/* pin 4: vector 0x31, fixed, physical, to APIC 1 */
	set_reg(&a, 0x11 + 2 * 4, 1u << 24);
	CHECK(!route(&a, 4));                             /* still masked */
	set_reg(&a, 0x10 + 2 * 4, 0x31);
	e = route(&a, 4);
	CHECK(e != NULL);
	if (e) {
		CHECK_EQ(e->type, KVM_IRQ_ROUTING_MSI);
		CHECK_EQ(e->u.msi.address_lo, 0xfee01000u);
		CHECK_EQ(e->u.msi.address_hi, 0);
		CHECK_EQ(e->u.msi.data, 0x31);
	}
	/* pin 5: lowest priority, logical to CPUs 0 and 1, level-triggered: delivered as an edge */
	set_reg(&a, 0x11 + 2 * 5, 3u << 24);
	set_reg(&a, 0x10 + 2 * 5, 0x41 | 1u << 8 | 1u << 11 | 1u << 15 | 1u << 13);
	e = route(&a, 5);
	CHECK(e != NULL);
	if (e) {
		CHECK_EQ(e->u.msi.address_lo, 0xfee03004u);
		CHECK_EQ(e->u.msi.data, 0x141);
	}
	CHECK_EQ(a.nroutes, 2);
	/* NMI needs no vector; a fixed vector below 16, ExtINT, SMI, INIT: no route */
	set_reg(&a, 0x10 + 2 * 1, 4u << 8);
	CHECK(route(&a, 1) && route(&a, 1)->u.msi.data == 0x400);
	set_reg(&a, 0x10 + 2 * 1, 0x0f);
	CHECK(!route(&a, 1));
	set_reg(&a, 0x10 + 2 * 1, 0x30 | 7u << 8);
	CHECK(!route(&a, 1));
	set_reg(&a, 0x10 + 2 * 1, 0x30 | 2u << 8);
	CHECK(!route(&a, 1));
	set_reg(&a, 0x10 + 2 * 1, 0x30 | 5u << 8);
	CHECK(!route(&a, 1));
	/* masked again: its route goes */
	set_reg(&a, 0x10 + 2 * 4, 0x31 | IOAPIC_RTE_MASKED);
	CHECK(!route(&a, 4));
	CHECK_EQ(a.nroutes, 1);
}

static void test_snapshot(void)
{
	struct ioapic a, b, c;
	struct ioapic_state s;

	CHECK_EQ(ioapic_init(&a, -1, 9, 3), 0);
	set_reg(&a, 0x11 + 2 * 8, 1u << 24);
	set_reg(&a, 0x10 + 2 * 8, 0x52);
	wr(&a, 0x00, 0x12);
	ioapic_save(&a, &s);
	CHECK_EQ(ioapic_init(&b, -1, 9, 0), 0);
	CHECK_OK(ioapic_restore(&b, &s, err, sizeof(err)), err);
	CHECK_EQ(rd(&b, 0x00), 0x12);
	CHECK_EQ(reg(&b, 0), 3u << 24);
	CHECK_EQ(reg(&b, 0x10 + 2 * 8), 0x52);
	CHECK(route(&b, 8) && route(&b, 8)->u.msi.address_lo == 0xfee01000u);
	/* another pin count, reserved bits: refused in one line, nothing taken */
	CHECK_EQ(ioapic_init(&c, -1, 8, 0), 0);
	CHECK_EQ(ioapic_restore(&c, &s, err, sizeof(err)), -1);
	CHECK(strstr(err, "has 9 pins, this VM's devices give it 8") != NULL);
	CHECK_EQ(ioapic_init(&c, -1, 9, 0), 0);
	s.rte[2] |= 1ULL << 14;
	CHECK_EQ(ioapic_restore(&c, &s, err, sizeof(err)), -1);
	CHECK(strstr(err, "pin 2 has reserved bits") != NULL);
	s.rte[2] &= ~(1ULL << 14);
	s.rte[9] = IOAPIC_RTE_MASKED;                     /* past the last pin */
	CHECK_EQ(ioapic_restore(&c, &s, err, sizeof(err)), -1);
	s.rte[9] = 0;
	s.sel = 0x100;
	CHECK_EQ(ioapic_restore(&c, &s, err, sizeof(err)), -1);
	CHECK(strstr(err, "out of range") != NULL);
	CHECK_EQ(reg(&c, 0x10 + 2 * 8), IOAPIC_RTE_MASKED);
	CHECK(!strchr(err, '\n'));
}

UNIT_MAIN(TEST(test_registers), TEST(test_routes), TEST(test_snapshot))
