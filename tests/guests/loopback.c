/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loopback: fills the 8250's receive FIFO through MCR loopback, leaves
 * loopback with the FIFO still full, prints "LOOPBACK READY" and waits
 * (wait=N reads of LSR) while the host writes "HOSTINPUT" to ember's
 * console input. That input cannot fit: ember must keep it, not take the
 * full FIFO for the end of its input. Then the guest drains the FIFO (its
 * own bytes first) and must receive the host's line.
 */
#include "lib.h"

const char guest_name[] = "loopback";

#define COM1_IER     (COM1 + 1)
#define COM1_MCR     (COM1 + 4)
#define MCR_OUT2     0x08
#define MCR_LOOP     0x10
#define LSR_DR       0x01
#define FILL         80 /* more than ember's 64-byte FIFO: the rest is dropped */
#define WANT         "HOSTINPUT"

static int rx_byte(uint64_t tries)
{
	for (uint64_t i = 0; i < tries; i++)
		if (inb(COM1_LSR) & LSR_DR)
			return inb(COM1);
	return -1;
}

void guest_main(const uint8_t *zp)
{
	const char *cl = (const char *)phys(rd32(zp + BP_CMD_LINE_PTR));
	uint64_t wait, own = 0;
	size_t matched = 0;
	int c;

	if (cmdline_u64(cl, "wait", 20000, &wait) != 0) {
		fail("bad wait=N on the command line");
		return;
	}
	outb(COM1_IER, 0);
	outb(COM1_MCR, MCR_OUT2 | MCR_LOOP);
	for (int i = 0; i < FILL; i++)
		outb(COM1, 'L');
	outb(COM1_MCR, MCR_OUT2);
	if (!(inb(COM1_LSR) & LSR_DR)) {
		fail("no data ready after %d bytes in loopback", FILL);
		return;
	}
	print("LOOPBACK READY\n");
	for (uint64_t i = 0; i < wait; i++)
		(void)inb(COM1_LSR);
	/* Our own bytes come first, then the host's line. */
	while ((c = rx_byte(1)) == 'L')
		own++;
	if (own < 32) {
		fail("only %lu of our loopback bytes came back", own);
		return;
	}
	print("loopback: %lu own bytes back\n", own);
	for (; c >= 0 || (c = rx_byte(200000)) >= 0; c = -1) {
		if (c == WANT[matched]) {
			if (!WANT[++matched])
				break;
		} else {
			matched = c == WANT[0];
		}
	}
	if (WANT[matched])
		fail("no \"%s\" from the host after a full FIFO", WANT);
	else
		print("PASS loopback\n");
}
