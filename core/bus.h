/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The exit dispatch: port I/O and MMIO address ranges mapped to device
 * handlers. Devices are registered before the vCPUs start; lookups are
 * lock-free after that. A handler gets the offset inside its range.
 */
#ifndef EMBER_BUS_H
#define EMBER_BUS_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*bus_handler)(void *opaque, uint64_t offset, uint8_t *data,
			    uint32_t len, bool is_write);

struct bus_range {
	uint64_t base, len;
	bus_handler fn;
	void *opaque;
};

#define BUS_MAX_RANGES 64

struct bus {
	const char *name;  /* "I/O port" or "MMIO address" */
	int n;
	struct bus_range r[BUS_MAX_RANGES];
};

/* -1 when the range overlaps another one or the bus is full. */
int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_handler fn, void *opaque);

/*
 * Dispatch one access. An address no device handles reads as all ones and
 * ignores writes, with one warning per address (the first 4096 ports, the
 * first 64 MMIO addresses). Returns false if unhandled.
 */
bool bus_access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
