/* SPDX-License-Identifier: Apache-2.0 */
#include "vmm/legacy.h"
#include "core/ember.h"

#include <string.h>

/* Absent hardware: reads float high, writes vanish. */
static void absent_pio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	(void)off;
	if (!is_write)
		memset(data, 0xff, len);
}

/* Ports that only delay or acknowledge (POST code 0x80, 0xed): reads 0. */
static void sink_pio(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	(void)off;
	if (!is_write)
		memset(data, 0, len);
}

void legacy_init(struct vm *vm)
{
	static const struct {
		uint16_t base, len;
		bus_handler fn;
	} ports[] = {
		{ 0x20, 2, absent_pio },  /* the 8259 PICs: none (vmm/ioapic.h) */
		{ 0xa0, 2, absent_pio },
		{ 0x4d0, 2, absent_pio }, /* their edge/level registers (ELCR) */
		{ 0x40, 4, absent_pio },  /* the PIT: none (0x61 is in the i8042's range) */
		{ 0x70, 2, sink_pio },    /* CMOS/RTC: reads 0, "update not in progress" */
		{ 0x80, 1, sink_pio },    /* POST code / io_delay */
		{ 0xed, 1, sink_pio },    /* alternative io_delay */
		{ 0x2e8, 8, absent_pio }, /* COM4 */
		{ 0x2f8, 8, absent_pio }, /* COM2 */
		{ 0x3e8, 8, absent_pio }, /* COM3 */
		{ 0x3b0, 0x30, absent_pio }, /* MDA/VGA registers */
		{ 0xcf8, 8, absent_pio }, /* PCI configuration mechanism #1 */
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(ports); i++)
		if (bus_register(&vm->pio, ports[i].base, ports[i].len, ports[i].fn, NULL) < 0)
			die(EMBER_EXIT_HOST_ERROR, "legacy: port 0x%x already taken",
			    ports[i].base);
}
