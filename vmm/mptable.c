/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel MultiProcessor Specification 1.4 tables (see mptable.h): the
 * 16-byte floating pointer at MPTABLE_START (in the last KiB of base
 * memory, where Linux looks for it), the configuration table right after.
 * Built in a local buffer, checksummed, then copied with gm_write().
 */
#include "vmm/mptable.h"
#include "core/ember.h"
#include "core/layout.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MPF_SIZE        16
#define MPC_HDR_SIZE    44
#define MP_PROC_SIZE    20
#define MP_ENTRY_SIZE   8   /* bus, IOAPIC, I/O and local interrupt entries */
#define MP_SPEC_REV     4   /* 1.4 */

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_INTSRC = 3, MP_LINTSRC = 4 };
enum { MP_INT = 0, MP_NMI = 1, MP_SMI = 2, MP_EXTINT = 3 };

#define CPU_ENABLED     0x01
#define CPU_BSP         0x02
#define APIC_VERSION    0x14
#define IOAPIC_VERSION  0x11
#define IOAPIC_ENABLED  0x01
#define MP_IRQ_CONFORMING 0x0000 /* polarity/trigger per bus: ISA = high/edge */
#define MP_ALL_LAPICS   0xff
#define CPU_SIGNATURE   0x000006f1u /* family 6, model 15, stepping 1 */
#define CPU_FEATURES    0x00000201u /* FPU, APIC */
#define MP_BUS_ID       0

#define MPC_MAX_SIZE (MPC_HDR_SIZE + GUEST_VCPUS_MAX * MP_PROC_SIZE + \
		      (2 + IOAPIC_MAX_PINS + 2) * MP_ENTRY_SIZE)
_Static_assert(MPTABLE_START % 16 == 0, "MP floating pointer must be 16-byte aligned");
_Static_assert(MPTABLE_START + MPF_SIZE + MPC_MAX_SIZE <= HIMEM_START,
	       "MP table must fit below 1 MiB");

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

/* The value that makes the bytes of p[0..len) sum to 0 mod 256. */
static uint8_t mp_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

static uint8_t *entry8(uint8_t *p, uint8_t type, uint8_t b1, uint8_t b2,
		       uint8_t b3, uint8_t b4, uint8_t b5, uint8_t b6, uint8_t b7)
{
	const uint8_t e[MP_ENTRY_SIZE] = { type, b1, b2, b3, b4, b5, b6, b7 };

	memcpy(p, e, sizeof(e));
	return p + sizeof(e);
}

/* An I/O or local interrupt entry: type, irq type, flags, bus, irq, dest id, pin. */
static uint8_t *irq_entry(uint8_t *p, uint8_t type, uint8_t irqtype, uint16_t flags,
			  uint8_t irq, uint8_t dst, uint8_t pin)
{
	return entry8(p, type, irqtype, (uint8_t)flags, (uint8_t)(flags >> 8),
		      MP_BUS_ID, irq, dst, pin);
}

int mptable_write(const struct guest_mem *gm, int ncpus, int npins, char *err, size_t errlen)
{
	uint8_t buf[MPF_SIZE + MPC_MAX_SIZE];
	uint8_t *mpf = buf, *mpc = buf + MPF_SIZE, *p;
	uint8_t ioapic_id = (uint8_t)ncpus;
	uint16_t nentries = 0;
	size_t mpc_len;

	if (ncpus < 1 || ncpus > GUEST_VCPUS_MAX)
		return errorf(err, errlen, "MP table: %d vCPUs, must be 1..%d",
			       ncpus, GUEST_VCPUS_MAX);
	if (npins < IOAPIC_MIN_PINS || npins > IOAPIC_MAX_PINS)
		return errorf(err, errlen, "MP table: %d IOAPIC pins, must be %d..%d",
			       npins, IOAPIC_MIN_PINS, IOAPIC_MAX_PINS);
	memset(buf, 0, sizeof(buf));

	p = mpc + MPC_HDR_SIZE;
	for (int i = 0; i < ncpus; i++) {
		p[0] = MP_PROCESSOR;
		p[1] = (uint8_t)i;                       /* local APIC id */
		p[2] = APIC_VERSION;
		p[3] = CPU_ENABLED | (i == 0 ? CPU_BSP : 0);
		put32(p + 4, CPU_SIGNATURE);
		put32(p + 8, CPU_FEATURES);              /* 8 reserved bytes follow */
		p += MP_PROC_SIZE;
		nentries++;
	}
	p = entry8(p, MP_BUS, MP_BUS_ID, 'I', 'S', 'A', ' ', ' ', ' ');
	nentries++;
	p = entry8(p, MP_IOAPIC, ioapic_id, IOAPIC_VERSION, IOAPIC_ENABLED, 0, 0, 0, 0);
	put32(p - 4, (uint32_t)IOAPIC_ADDR);
	nentries++;
	for (int pin = 0; pin < npins; pin++) {
		p = irq_entry(p, MP_INTSRC, MP_INT, MP_IRQ_CONFORMING, (uint8_t)pin,
			      ioapic_id, (uint8_t)pin);
		nentries++;
	}
	p = irq_entry(p, MP_LINTSRC, MP_EXTINT, MP_IRQ_CONFORMING, 0, MP_ALL_LAPICS, 0);
	p = irq_entry(p, MP_LINTSRC, MP_NMI, MP_IRQ_CONFORMING, 0, MP_ALL_LAPICS, 1);
	nentries += 2;
	mpc_len = (size_t)(p - mpc);

	memcpy(mpc, "PCMP", 4);
	put16(mpc + 4, (uint16_t)mpc_len);       /* base table length */
	mpc[6] = MP_SPEC_REV;
	memcpy(mpc + 8, "EMBER   ", 8);          /* OEM id */
	memcpy(mpc + 16, "MICROVM     ", 12);    /* product id */
	put16(mpc + 34, nentries);
	put32(mpc + 36, (uint32_t)LAPIC_ADDR);
	mpc[7] = mp_checksum(mpc, mpc_len);      /* no extended table */

	memcpy(mpf, "_MP_", 4);
	put32(mpf + 4, (uint32_t)(MPTABLE_START + MPF_SIZE));
	mpf[8] = 1;                              /* length in 16-byte units */
	mpf[9] = MP_SPEC_REV;
	/* feature bytes 0: a configuration table is present, no IMCR */
	mpf[10] = mp_checksum(mpf, MPF_SIZE);

	if (gm_write(gm, MPTABLE_START, buf, MPF_SIZE + mpc_len))
		return errorf(err, errlen,
			       "MP table (%zu bytes at 0x%llx) is outside guest memory",
			       MPF_SIZE + mpc_len, MPTABLE_START);
	return 0;
}
