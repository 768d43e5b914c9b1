/* SPDX-License-Identifier: Apache-2.0 */
#include "core/bus.h"
#include "core/ember.h"

#include <pthread.h>
#include <string.h>

int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_handler fn, void *opaque)
{
	if (b->n == BUS_MAX_RANGES || len == 0 || base + len < base)
		return -1;
	for (int i = 0; i < b->n; i++)
		if (base < b->r[i].base + b->r[i].len && b->r[i].base < base + len)
			return -1;
	b->r[b->n++] = (struct bus_range){ base, len, fn, opaque };
	return 0;
}

/* Remember which unhandled addresses were already reported. */
static bool first_report(uint64_t addr, bool is_pio)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static uint8_t ports[65536 / 8];
	static uint64_t mmio[64];
	static int nmmio;
	bool first = false;

	pthread_mutex_lock(&lock);
	if (is_pio) {
		first = !(ports[(addr & 0xffff) / 8] & (1u << (addr % 8)));
		ports[(addr & 0xffff) / 8] |= 1u << (addr % 8);
	} else {
		first = nmmio < (int)ARRAY_SIZE(mmio);
		for (int i = 0; i < nmmio && first; i++)
			first = mmio[i] != addr;
		if (first)
			mmio[nmmio++] = addr;
	}
	pthread_mutex_unlock(&lock);
	return first;
}

bool bus_access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	for (int i = 0; i < b->n; i++) {
		struct bus_range *r = &b->r[i];

		if (addr >= r->base && addr - r->base < r->len) {
			r->fn(r->opaque, addr - r->base, data, len, is_write);
			return true;
		}
	}
	if (!is_write)
		memset(data, 0xff, len);
	if (first_report(addr, b->name[0] == 'I'))
		guest_warn("unhandled %s 0x%llx (%u-byte %s); %s", b->name,
		     (unsigned long long)addr, len, is_write ? "write" : "read",
		     is_write ? "ignored" : "reads as all ones");
	return false;
}
