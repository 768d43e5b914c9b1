/* SPDX-License-Identifier: Apache-2.0 */
/*
 * serialtail: console output that KVM may keep in its coalesced ring (the
 * THR written with its interrupt off, as Linux's console writes it),
 * checked for order and for delivery:
 * - a line of BLIND bytes written without an LSR read between them: the
 *   ring (170 entries) fills and spills through an exit, in order;
 * - a divisor written to port 0x3f8 with DLAB set, between two LCR writes,
 *   must read back (replayed after the second LCR write it would be sent);
 * - "SERIALTAIL END": its newline follows the last LSR read, and the guest
 *   then halts with interrupts off, so no exit ever comes again. The host
 *   must still see the whole line (ember flushes the ring on a timer), then
 *   ends ember.
 */
#include "lib.h"

const char guest_name[] = "serialtail";

#define COM1_LCR  (COM1 + 3)
#define LCR_8N1   0x03
#define LCR_DLAB  0x80
#define BLIND     600
#define DIVISOR   0x0c /* 9600 baud */

void guest_main(const uint8_t *zp)
{
	uint8_t dll;

	(void)zp;
	print("SERIALTAIL START\n");
	for (int i = 0; i < BLIND; i++)
		outb(COM1, (uint8_t)('a' + i % 26));
	outb(COM1, '\n');

	outb(COM1_LCR, LCR_8N1 | LCR_DLAB);
	outb(COM1, DIVISOR);
	outb(COM1_LCR, LCR_8N1);
	outb(COM1_LCR, LCR_8N1 | LCR_DLAB);
	dll = inb(COM1);
	outb(COM1, 1);
	outb(COM1_LCR, LCR_8N1);
	if (dll != DIVISOR) {
		fail("divisor latch reads 0x%x after writing 0x%x", dll, DIVISOR);
		return;
	}
	print("SERIALTAIL END\n");
	for (;;)
		__asm__ volatile("cli; hlt");
}
