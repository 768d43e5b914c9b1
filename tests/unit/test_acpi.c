/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ACPI tables (vmm/acpi.c): the RSDP and every table have their
 * signature, length and checksum; the XSDT names the FADT and the MADT, the
 * FADT the DSDT; the MADT has one local APIC per vCPU and the IOAPIC; and
 * ACPICA's own disassembler (iasl -d, Debian acpica-tools) reads each table
 * without an error and finds in it what we put there: HW-reduced with the
 * sleep and reset registers, the LNRO0005 devices with their page and
 * interrupt, COM1, the i8042 and _S5.
 */
#include "tests/unit/unit.h"
#include "vmm/acpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint8_t buf[ACPI_MAX_SIZE];
static size_t len;

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

/* The table at guest address gpa, checked: its offset in buf. */
static size_t table(uint64_t gpa, const char *sig)
{
	size_t off = (size_t)(gpa - ACPI_START);

	CHECK(gpa >= ACPI_START && off + 36 <= len);
	if (off + 36 > len)
		return 0;
	CHECK(!memcmp(buf + off, sig, 4));
	CHECK(off + get32(buf + off + 4) <= len);
	CHECK_EQ(sum(buf + off, get32(buf + off + 4)), 0);
	return off;
}

/* iasl -d on one table; its .dsl text (static), or "" on failure. */
static const char *disassemble(size_t off, const char *name)
{
	static char dsl[65536];
	char dir[] = "/tmp/ember-acpi-XXXXXX", path[128], cmd[512];
	FILE *f;
	size_t n;
	int rc;

	dsl[0] = '\0';
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	if (!f)
		return dsl;
	fwrite(buf + off, 1, get32(buf + off + 4), f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d %s.dat >iasl.out 2>&1", dir, name);
	rc = system(cmd);
	unit_check(rc == 0, __FILE__, __LINE__, name, "iasl -d failed (%d): see %s/iasl.out",
		   rc, dir);
	snprintf(path, sizeof(path), "%s/%s.dsl", dir, name);
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (f) {
		n = fread(dsl, 1, sizeof(dsl) - 1, f);
		dsl[n] = '\0';
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/iasl.out", dir);
	f = fopen(path, "r");
	if (f) {
		char line[512];

		while (fgets(line, sizeof(line), f))
			unit_check(!strstr(line, "Error") && !strstr(line, "Warning"), __FILE__,
				   __LINE__, name, "iasl: %s", line);
		fclose(f);
	}
	if (rc == 0)
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir), rc = system(cmd);
	return dsl;
}

#define HAS(text, s) unit_check(strstr((text), (s)) != NULL, __FILE__, __LINE__, #s, \
				"not in the disassembly")

static void test_tables(void)
{
	const struct acpi_mmio_dev devs[3] = {
		{ 0xd0000000, 0x1000, 6 }, { 0xd0001000, 0x1000, 7 }, { 0xd0002000, 0x1000, 8 },
	};
	const struct acpi_machine m = { 2, devs, 3 };
	size_t xsdt, fadt, madt, dsdt, off;
	const char *t;
	int lapics = 0, ioapics = 0;

	len = acpi_build(buf, sizeof(buf), &m);
	CHECK(len > 0);
	/* RSDP: "RSD PTR ", revision 2, both checksums, the XSDT */
	CHECK(!memcmp(buf, "RSD PTR ", 8));
	CHECK_EQ(buf[15], 2);
	CHECK_EQ(sum(buf, 20), 0);
	CHECK_EQ(sum(buf, 36), 0);
	xsdt = table(get64(buf + 24), "XSDT");
	CHECK_EQ(get32(buf + xsdt + 4), 36 + 16);
	fadt = table(get64(buf + xsdt + 36), "FACP");
	madt = table(get64(buf + xsdt + 44), "APIC");
	dsdt = table(get64(buf + fadt + 140), "DSDT");
	CHECK_EQ(get32(buf + fadt + 40), ACPI_START + dsdt);
	CHECK(get32(buf + fadt + 112) & (1u << 20)); /* HW_REDUCED_ACPI */
	/* MADT: 2 local APICs (ids 0, 1), the IOAPIC (id 2) */
	for (off = madt + 44; off < madt + get32(buf + madt + 4); off += buf[off + 1]) {
		CHECK(buf[off + 1] >= 2);
		if (buf[off + 1] < 2)
			break;
		if (buf[off] == 0) {
			CHECK_EQ(buf[off + 3], lapics);
			lapics++;
		} else if (buf[off] == 1) {
			CHECK_EQ(buf[off + 2], 2);
			CHECK_EQ(get32(buf + off + 4), 0xfec00000);
			ioapics++;
		}
	}
	CHECK_EQ(lapics, 2);
	CHECK_EQ(ioapics, 1);
	CHECK_EQ(get32(buf + madt + 40), 0); /* no PCAT_COMPAT: no 8259s */

	/* What ACPICA reads in them */
	t = disassemble(fadt, "facp");
	HAS(t, "Hardware Reduced (V5) : 1");
	HAS(t, "Reset Register Supported (V2) : 1");
	HAS(t, "Address : 0000000000000600"); /* sleep control */
	HAS(t, "Address : 0000000000000602"); /* reset */
	t = disassemble(madt, "apic");
	HAS(t, "Local Apic Address : FEE00000");
	HAS(t, "I/O Apic ID : 02");
	HAS(t, "PC-AT Compatibility : 0");
	t = disassemble(dsdt, "dsdt");
	HAS(t, "Name (\\_S5, Package (0x04)");
	HAS(t, "Name (_HID, EisaId (\"PNP0501\")");
	HAS(t, "Name (_HID, EisaId (\"PNP0303\")");
	HAS(t, "Name (_HID, \"LNRO0005\")");
	HAS(t, "Device (V002)");
	HAS(t, "Memory32Fixed (ReadWrite,");
	HAS(t, "0xD0002000,         // Address Base");
	HAS(t, "0x00000008,");
	HAS(t, "IO (Decode16,");
	HAS(t, "IRQNoFlags ()");
	HAS(t, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )");
	/* the VM generation ID and the GED that announces a new one */
	HAS(t, "Device (VGEN)");
	HAS(t, "Name (_CID, \"VM_GEN_COUNTER\")");
	HAS(t, "Name (ADDR, Package (0x02)");
	HAS(t, "0x000EF000,");
	HAS(t, "Device (GED)");
	HAS(t, "Name (_HID, \"ACPI0013\" /* Generic Event Device */)");
	HAS(t, "0x00000005,"); /* GSI_GED */
	CHECK_EQ(ACPI_GED_GSI, 5);
	HAS(t, "Method (_EVT, 1, NotSerialized)");
	HAS(t, "Notify (VGEN, 0x80)");
	CHECK_EQ(ACPI_VMGENID_ADDR, 0xef000);
	CHECK(len <= ACPI_TABLES_MAX);
}

static void test_limits(void)
{
	struct acpi_mmio_dev devs[ACPI_MAX_DEVS + 1] = { { 0 } };
	struct acpi_machine m = { 32, devs, ACPI_MAX_DEVS };

	for (int i = 0; i <= ACPI_MAX_DEVS; i++)
		devs[i] = (struct acpi_mmio_dev){ 0xd0000000 + 0x1000u * i, 0x1000, 6 + i };
	CHECK(acpi_build(buf, sizeof(buf), &m) > 0);
	m.ndevs++;
	CHECK_EQ(acpi_build(buf, sizeof(buf), &m), 0);
	m.ndevs = 1;
	m.ncpus = 0;
	CHECK_EQ(acpi_build(buf, sizeof(buf), &m), 0);
	m.ncpus = 1;
	CHECK_EQ(acpi_build(buf, 100, &m), 0); /* does not fit */
}

UNIT_MAIN(TEST(test_tables), TEST(test_limits))
