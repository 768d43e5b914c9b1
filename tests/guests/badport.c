/* SPDX-License-Identifier: Apache-2.0 */
/*
 * badport: accesses I/O port 0x1234, which no ember device handles, with
 * every width. ember must carry on (one warning on stderr) and reads must
 * return all ones.
 */
#include "lib.h"

const char guest_name[] = "badport";

#define PORT 0x1234

void guest_main(const uint8_t *zp)
{
	(void)zp;
	outb(PORT, 0x5a);
	outw(PORT, 0x5aa5);
	outl(PORT, 0x5aa5c33c);
	uint8_t b = inb(PORT);
	uint16_t w = inw(PORT);
	uint32_t l = inl(PORT);

	if (b != 0xff)
		fail("inb(0x%x) returned 0x%x, want 0xff", PORT, b);
	if (w != 0xffff)
		fail("inw(0x%x) returned 0x%x, want 0xffff", PORT, w);
	if (l != 0xffffffffu)
		fail("inl(0x%x) returned 0x%x, want 0xffffffff", PORT, l);
	if (failures == 0)
		print("PASS badport\n");
}
