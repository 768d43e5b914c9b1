/* SPDX-License-Identifier: Apache-2.0 */
/* Hardware-reduced ACPI tables and the sleep/reset ports (see acpi.h). */
#include "vmm/acpi.h"
#include "core/ember.h"
#include "core/layout.h"
#include "vmm/vm.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define OEM_ID        "EMBER "
#define OEM_TABLE_ID  "EMBERVM "
#define CREATOR_ID    "EMBR"
#define HDR_LEN       36

/* --- a byte buffer ----------------------------------------------------------- */

struct out {
	uint8_t *b;
	size_t n, cap;
	bool full;
};

static void put(struct out *o, const void *p, size_t len)
{
	if (o->full || len > o->cap - o->n) {
		o->full = true;
		return;
	}
	memcpy(o->b + o->n, p, len);
	o->n += len;
}

static void put8(struct out *o, uint8_t v) { put(o, &v, 1); }
static void put16(struct out *o, uint16_t v) { put8(o, v & 0xff); put8(o, v >> 8); }
static void put32(struct out *o, uint32_t v) { put16(o, v & 0xffff); put16(o, v >> 16); }
static void put64(struct out *o, uint64_t v) { put32(o, (uint32_t)v); put32(o, v >> 32); }

static void set32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return (uint8_t)-s;
}

/* A table's header; its length and checksum are set by table_end(). */
static size_t table_start(struct out *o, const char sig[4], uint8_t rev)
{
	size_t at = o->n;

	put(o, sig, 4);
	put32(o, 0);
	put8(o, rev);
	put8(o, 0);
	put(o, OEM_ID, 6);
	put(o, OEM_TABLE_ID, 8);
	put32(o, 1);
	put(o, CREATOR_ID, 4);
	put32(o, 1);
	return at;
}

static void table_end(struct out *o, size_t at)
{
	if (o->full)
		return;
	set32(o->b + at + 4, (uint32_t)(o->n - at));
	o->b[at + 9] = checksum(o->b + at, o->n - at);
}

static void align(struct out *o, size_t a)
{
	while (!o->full && o->n % a)
		put8(o, 0);
}

/* A Generic Address Structure: a byte register in I/O space (port 0: none). */
static void gas_io(struct out *o, uint16_t port)
{
	put8(o, port ? 1 : 0); /* SystemIO */
	put8(o, port ? 8 : 0); /* bit width */
	put8(o, 0);            /* bit offset */
	put8(o, port ? 1 : 0); /* byte access */
	put64(o, port);
}

/* --- AML ----------------------------------------------------------------------- */

#define AML_ZERO     0x00
#define AML_ONE      0x01
#define AML_NAME     0x08
#define AML_BYTE     0x0a
#define AML_DWORD    0x0c
#define AML_STRING   0x0d
#define AML_SCOPE    0x10
#define AML_BUFFER   0x11
#define AML_PACKAGE  0x12
#define AML_METHOD   0x14
#define AML_NOTIFY   0x86
#define AML_EXT      0x5b
#define AML_DEVICE   0x82 /* after AML_EXT */

#define AML_MAX      4096 /* one object's encoding */

struct aml {
	uint8_t b[AML_MAX];
	size_t n;
	bool full;
};

static void aml_put(struct aml *a, const void *p, size_t len)
{
	if (a->full || len > sizeof(a->b) - a->n) {
		a->full = true;
		return;
	}
	memcpy(a->b + a->n, p, len);
	a->n += len;
}

static void aml_byte(struct aml *a, uint8_t v) { aml_put(a, &v, 1); }

static void aml_append(struct aml *a, const struct aml *b)
{
	a->full |= b->full;
	aml_put(a, b->b, b->n);
}

/* An integer, in its shortest encoding. */
static void aml_int(struct aml *a, uint32_t v)
{
	if (v == 0 || v == 1) {
		aml_byte(a, v ? AML_ONE : AML_ZERO);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_byte(a, (uint8_t)v);
	} else {
		uint8_t d[5] = { AML_DWORD, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };

		aml_put(a, d, sizeof(d));
	}
}

static void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING);
	aml_put(a, s, strlen(s) + 1);
}

/* A PNP id ("PNP0501") as ACPI's compressed EISA id (a DWord). */
static void aml_eisaid(struct aml *a, const char id[7])
{
	uint16_t c = (uint16_t)(((id[0] - 0x40) << 10) | ((id[1] - 0x40) << 5) | (id[2] - 0x40));
	unsigned hex;
	uint8_t d[5];

	sscanf(id + 3, "%4x", &hex);
	d[0] = AML_DWORD;
	d[1] = (uint8_t)(c >> 8);
	d[2] = (uint8_t)c;
	d[3] = (uint8_t)(hex >> 8);
	d[4] = (uint8_t)hex;
	aml_put(a, d, sizeof(d));
}

/* op [ext], PkgLength, then body (which starts with the object's name, if any). */
static void aml_pkg(struct aml *a, const uint8_t *op, size_t oplen, const struct aml *body)
{
	size_t len = body->n, n = len + 1 <= 63 ? 1 : len + 2 < (1u << 12) ? 2 :
				  len + 3 < (1u << 20) ? 3 : 4;
	size_t v = len + n;
	uint8_t l[4];

	if (n == 1) {
		l[0] = (uint8_t)v;
	} else {
		l[0] = (uint8_t)(((n - 1) << 6) | (v & 0xf));
		for (size_t i = 1; i < n; i++)
			l[i] = (uint8_t)(v >> (4 + 8 * (i - 1)));
	}
	aml_put(a, op, oplen);
	aml_put(a, l, n);
	aml_append(a, body);
}

/* Name(name, <value already encoded in v>) */
static void aml_name(struct aml *a, const char *name, const struct aml *v)
{
	aml_byte(a, AML_NAME);
	aml_put(a, name, strlen(name));
	aml_append(a, v);
}

static void aml_name_int(struct aml *a, const char *name, uint32_t v)
{
	struct aml x = { .n = 0 };

	aml_int(&x, v);
	aml_name(a, name, &x);
}

/* Name(_CRS, ResourceTemplate() { res... }): a Buffer ending with an end tag. */
static void aml_crs(struct aml *a, const uint8_t *res, size_t len)
{
	struct aml buf = { .n = 0 }, v = { .n = 0 };
	static const uint8_t end[2] = { 0x79, 0x00 };
	const uint8_t op = AML_BUFFER;

	aml_int(&buf, (uint32_t)(len + sizeof(end)));
	aml_put(&buf, res, len);
	aml_put(&buf, end, sizeof(end));
	aml_pkg(&v, &op, 1, &buf);
	aml_name(a, "_CRS", &v);
}

/* Device(name) { body } */
static void aml_device(struct aml *a, const char name[5], const struct aml *body)
{
	static const uint8_t op[2] = { AML_EXT, AML_DEVICE };
	struct aml b = { .n = 0 };

	aml_put(&b, name, 4);
	aml_append(&b, body);
	aml_pkg(a, op, 2, &b);
}

/* Small resource descriptors. */
static size_t res_io(uint8_t *p, uint16_t port, uint8_t len)
{
	const uint8_t d[8] = { 0x47, 0x01, port & 0xff, port >> 8, port & 0xff, port >> 8, 1, len };

	memcpy(p, d, sizeof(d));
	return sizeof(d);
}

static size_t res_irq(uint8_t *p, unsigned irq)
{
	p[0] = 0x22;
	p[1] = (uint8_t)(1u << irq);
	p[2] = (uint8_t)((1u << irq) >> 8);
	return 3;
}

/* Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi } */
static size_t res_ext_irq(uint8_t *p, uint32_t gsi)
{
	p[0] = 0x89;
	p[1] = 6;
	p[2] = 0;
	p[3] = 0x03;
	p[4] = 1;
	set32(p + 5, gsi);
	return 9;
}

/*
 * Device (VGEN): the generation ID (Microsoft's "Virtual Machine Generation
 * ID" device, as Linux's vmgenid driver binds it: _CID "VM_GEN_COUNTER",
 * ADDR a package of the low and high 32 bits of its 16 bytes' address).
 * Device (GED_): a Generic Event Device whose one interrupt calls _EVT,
 * which tells VGEN to re-read them.
 */
static void vmgenid(struct aml *sb)
{
	struct aml dev, v, pkg, m;
	const uint8_t package = AML_PACKAGE, method = AML_METHOD;
	uint8_t res[16];
	size_t r;

	memset(&dev, 0, sizeof(dev));
	memset(&v, 0, sizeof(v));
	aml_string(&v, "EMBRVGID");
	aml_name(&dev, "_HID", &v);
	v.n = 0;
	aml_string(&v, "VM_GEN_COUNTER");
	aml_name(&dev, "_CID", &v);
	aml_name(&dev, "_DDN", &v);
	memset(&pkg, 0, sizeof(pkg));
	aml_byte(&pkg, 2);
	aml_int(&pkg, (uint32_t)ACPI_VMGENID_ADDR);
	aml_int(&pkg, 0); /* below 4 GiB */
	v.n = 0;
	aml_pkg(&v, &package, 1, &pkg);
	aml_name(&dev, "ADDR", &v);
	aml_device(sb, "VGEN", &dev);

	memset(&dev, 0, sizeof(dev));
	v.n = 0;
	aml_string(&v, "ACPI0013");
	aml_name(&dev, "_HID", &v);
	r = res_ext_irq(res, ACPI_GED_GSI);
	aml_crs(&dev, res, r);
	/* Method (_EVT, 1) { Notify (VGEN, 0x80) }: its one interrupt */
	memset(&m, 0, sizeof(m));
	aml_put(&m, "_EVT", 4);
	aml_byte(&m, 1);
	aml_byte(&m, AML_NOTIFY);
	aml_put(&m, "VGEN", 4);
	aml_int(&m, 0x80);
	aml_pkg(&dev, &method, 1, &m);
	aml_device(sb, "GED_", &dev);
}

static void dsdt_body(struct aml *d, const struct acpi_machine *m)
{
	struct aml sb = { .n = 0 }, dev, s5 = { .n = 0 }, pkg = { .n = 0 };
	const uint8_t scope = AML_SCOPE, package = AML_PACKAGE;
	uint8_t res[64];
	size_t r;

	aml_put(&sb, "\\_SB_", 5);

	/* COM1: the 8250 at 0x3f8, IRQ 4 */
	memset(&dev, 0, sizeof(dev));
	aml_byte(&dev, AML_NAME);
	aml_put(&dev, "_HID", 4);
	aml_eisaid(&dev, "PNP0501");
	aml_name_int(&dev, "_UID", 0);
	r = res_io(res, 0x3f8, 8);
	r += res_irq(res + r, 4);
	aml_crs(&dev, res, r);
	aml_device(&sb, "COM1", &dev);

	/* the i8042 (keyboard only): ports 0x60 and 0x64, IRQ 1 */
	memset(&dev, 0, sizeof(dev));
	aml_byte(&dev, AML_NAME);
	aml_put(&dev, "_HID", 4);
	aml_eisaid(&dev, "PNP0303");
	aml_name_int(&dev, "_UID", 0);
	r = res_io(res, 0x60, 1);
	r += res_io(res + r, 0x64, 1);
	r += res_irq(res + r, 1);
	aml_crs(&dev, res, r);
	aml_device(&sb, "PS2K", &dev);

	/* virtio-mmio slots: the kernel's virtio_mmio driver binds LNRO0005 */
	for (int i = 0; i < m->ndevs && i < ACPI_MAX_DEVS; i++) {
		const struct acpi_mmio_dev *v = &m->devs[i];
		char name[5];
		struct aml hid = { .n = 0 };

		memset(&dev, 0, sizeof(dev));
		aml_string(&hid, "LNRO0005");
		aml_name(&dev, "_HID", &hid);
		aml_name_int(&dev, "_UID", (uint32_t)i);
		aml_name_int(&dev, "_CCA", 1);
		/* Memory32Fixed(ReadWrite, base, size) */
		res[0] = 0x86;
		res[1] = 9;
		res[2] = 0;
		res[3] = 1;
		set32(res + 4, (uint32_t)v->base);
		set32(res + 8, (uint32_t)v->size);
		r = 12 + res_ext_irq(res + 12, v->gsi);
		aml_crs(&dev, res, r);
		snprintf(name, sizeof(name), "V%03X", (unsigned)i);
		aml_device(&sb, name, &dev);
	}
	vmgenid(&sb);
	aml_pkg(d, &scope, 1, &sb);

	/* Name(\_S5, Package(4) { 5, 5, 0, 0 }): poweroff's SLP_TYP */
	aml_byte(&pkg, 4);
	aml_int(&pkg, ACPI_S5_TYPE);
	aml_int(&pkg, ACPI_S5_TYPE);
	aml_int(&pkg, 0);
	aml_int(&pkg, 0);
	aml_pkg(&s5, &package, 1, &pkg);
	aml_name(d, "\\_S5_", &s5);
}

/* --- the tables ------------------------------------------------------------------ */

#define FADT_LEN          276
#define FADT_F_WBINVD     (1u << 0)
#define FADT_F_PWR_BUTTON (1u << 4)  /* no fixed power button */
#define FADT_F_SLP_BUTTON (1u << 5)  /* no fixed sleep button */
#define FADT_F_RESET_REG  (1u << 10)
#define FADT_F_HW_REDUCED (1u << 20)
#define BOOT_ARCH_8042    (1u << 1)
#define BOOT_ARCH_NO_VGA  (1u << 2)
#define BOOT_ARCH_NO_RTC  (1u << 5)

static void fadt(struct out *o, uint64_t dsdt)
{
	size_t at = table_start(o, "FACP", 6), body = o->n;
	uint8_t zero[FADT_LEN] = { 0 };

	/* Everything from FIRMWARE_CTRL to the end, zero but what is set below. */
	put(o, zero, FADT_LEN - HDR_LEN);
	if (o->full)
		return;
	set32(o->b + body + 40 - HDR_LEN, (uint32_t)dsdt);                 /* DSDT */
	o->b[body + 109 - HDR_LEN] = BOOT_ARCH_8042 | BOOT_ARCH_NO_VGA | BOOT_ARCH_NO_RTC;
	set32(o->b + body + 112 - HDR_LEN, FADT_F_WBINVD | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON |
	      FADT_F_RESET_REG | FADT_F_HW_REDUCED);
	{
		struct out g = { o->b + body + 116 - HDR_LEN, 0, 12, false };

		gas_io(&g, ACPI_RESET);                                    /* RESET_REG */
	}
	o->b[body + 128 - HDR_LEN] = ACPI_RESET_VALUE;
	o->b[body + 131 - HDR_LEN] = 5;                                    /* minor: 6.5 */
	for (int i = 0; i < 8; i++)                                        /* X_DSDT */
		o->b[body + 140 - HDR_LEN + i] = (uint8_t)(dsdt >> (8 * i));
	{
		struct out g = { o->b + body + 244 - HDR_LEN, 0, 24, false };

		gas_io(&g, ACPI_SLEEP_CONTROL);
		gas_io(&g, ACPI_SLEEP_STATUS);
	}
	memcpy(o->b + body + 268 - HDR_LEN, "EMBERVMM", 8);               /* hypervisor id */
	table_end(o, at);
}

static void madt(struct out *o, int ncpus)
{
	size_t at = table_start(o, "APIC", 5);

	put32(o, (uint32_t)LAPIC_ADDR);
	put32(o, 0); /* not PCAT_COMPAT: no 8259s (vmm/ioapic.h) */
	for (int i = 0; i < ncpus; i++) {
		/* Processor Local APIC: uid i, APIC id i, enabled (as the MP table) */
		put8(o, 0);
		put8(o, 8);
		put8(o, (uint8_t)i);
		put8(o, (uint8_t)i);
		put32(o, 1);
	}
	/* the IOAPIC: id n, GSI 0 (ISA IRQs are its pins 0-15, as the MP table says) */
	put8(o, 1);
	put8(o, 12);
	put8(o, (uint8_t)ncpus);
	put8(o, 0);
	put32(o, (uint32_t)IOAPIC_ADDR);
	put32(o, 0);
	/* LINT1 of every local APIC is NMI */
	put8(o, 4);
	put8(o, 6);
	put8(o, 0xff);
	put16(o, 0);
	put8(o, 1);
	table_end(o, at);
}

size_t acpi_build(uint8_t *buf, size_t cap, const struct acpi_machine *m)
{
	struct out o = { buf, 0, cap, false };
	static struct aml d;
	size_t xsdt, x_fadt, fadt_at, madt_at, dsdt_at, at;

	if (m->ncpus < 1 || m->ncpus > 254 || m->ndevs < 0 || m->ndevs > ACPI_MAX_DEVS)
		return 0;
	/* RSDP (ACPI 2.0+): checksums set at the end */
	put(&o, "RSD PTR ", 8);
	put8(&o, 0);
	put(&o, OEM_ID, 6);
	put8(&o, 2);
	put32(&o, 0);           /* no RSDT */
	put32(&o, 36);
	put64(&o, 0);           /* XSDT, below */
	put8(&o, 0);
	put(&o, "\0\0\0", 3);
	align(&o, 16);

	/* XSDT: the FADT and the MADT */
	xsdt = table_start(&o, "XSDT", 1);
	x_fadt = o.n;
	put64(&o, 0);
	put64(&o, 0);
	table_end(&o, xsdt);
	align(&o, 8);

	/* DSDT */
	dsdt_at = table_start(&o, "DSDT", 2);
	memset(&d, 0, sizeof(d));
	dsdt_body(&d, m);
	if (d.full)
		return 0;
	put(&o, d.b, d.n);
	table_end(&o, dsdt_at);
	align(&o, 8);

	fadt_at = o.n;
	fadt(&o, ACPI_START + dsdt_at);
	align(&o, 8);
	madt_at = o.n;
	madt(&o, m->ncpus);
	if (o.full)
		return 0;

	/* the XSDT's entries, then its checksum again */
	for (int i = 0; i < 8; i++) {
		o.b[x_fadt + i] = (uint8_t)((ACPI_START + fadt_at) >> (8 * i));
		o.b[x_fadt + 8 + i] = (uint8_t)((ACPI_START + madt_at) >> (8 * i));
	}
	o.b[xsdt + 9] = 0;
	o.b[xsdt + 9] = checksum(o.b + xsdt, 36 + 16);
	/* the RSDP's XSDT address and checksums (first 20 bytes; all 36) */
	at = 24;
	for (int i = 0; i < 8; i++)
		o.b[at + i] = (uint8_t)((ACPI_START + xsdt) >> (8 * i));
	o.b[8] = checksum(o.b, 20);
	o.b[32] = checksum(o.b, 36);
	return o.n;
}

/* --- the sleep and reset registers ------------------------------------------------ */

static void acpi_pio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	if (!is_write) {
		/* sleep status: never asleep; others read 0 */
		memset(data, 0, len);
		return;
	}
	if (off == ACPI_SLEEP_CONTROL - ACPI_SLEEP_CONTROL && (data[0] & 0x20) &&
	    ((data[0] >> 2) & 7) == ACPI_S5_TYPE) {
		LOG_INFO("the guest powered off (ACPI S5)");
		vm_request_stop(EMBER_EXIT_OK, NULL);
	} else if (off == ACPI_RESET - ACPI_SLEEP_CONTROL && data[0] == ACPI_RESET_VALUE) {
		LOG_INFO("the guest reset itself (ACPI reset register)");
		vm_request_stop(EMBER_EXIT_OK, NULL);
	}
}

/* 16 random bytes (a generation ID). 0, or -1 with errno. */
static int random_id(uint8_t id[ACPI_VMGENID_SIZE])
{
	size_t got = 0;

	while (got < ACPI_VMGENID_SIZE) {
		ssize_t n = getrandom(id + got, ACPI_VMGENID_SIZE - got, 0);

		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0)
			got += (size_t)n;
	}
	return 0;
}

int acpi_setup(struct vm *vm, const struct acpi_machine *m, char *err, size_t errlen)
{
	static uint8_t buf[ACPI_TABLES_MAX];
	size_t n = acpi_build(buf, sizeof(buf), m);
	uint8_t id[ACPI_VMGENID_SIZE];

	if (!n)
		return errorf(err, errlen, "ACPI tables: too many devices or vCPUs");
	if (gm_write(&vm->mem, ACPI_START, buf, n) < 0)
		return errorf(err, errlen, "ACPI tables: guest memory too small");
	if (random_id(id) < 0 || gm_write(&vm->mem, ACPI_VMGENID_ADDR, id, sizeof(id)) < 0)
		return errorf(err, errlen, "ACPI: no generation ID: %s", strerror(errno));
	return acpi_pm_init(vm, err, errlen);
}

bool acpi_vmgenid_new(struct vm *vm)
{
	uint8_t id[ACPI_VMGENID_SIZE];
	uint8_t *p = gm_ptr(&vm->mem, ACPI_VMGENID_ADDR, sizeof(id));
	const uint8_t *rsdp = gm_ptr(&vm->mem, ACPI_START, 8);

	if (!p || !rsdp || memcmp(rsdp, "RSD PTR ", 8) || random_id(id) < 0)
		return false;
	memcpy(p, id, sizeof(id));
	gm_mark_dirty(&vm->mem, p, sizeof(id));
	return true;
}

int acpi_pm_init(struct vm *vm, char *err, size_t errlen)
{
	if (bus_register(&vm->pio, ACPI_SLEEP_CONTROL, 3, acpi_pio, NULL) < 0)
		return errorf(err, errlen, "ACPI: port 0x%x already taken", ACPI_SLEEP_CONTROL);
	return 0;
}
