/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exitloop: loops=N (default 100000) byte writes to I/O port 0x510, which
 * no ember device handles: every one is a VM exit to ember (a benchmark of
 * the exit path; ember warns once about the port). Then resets.
 */
#include "lib.h"

const char guest_name[] = "exitloop";

#define PORT 0x510

void guest_main(const uint8_t *zp)
{
	uint64_t n;
	const char *cl = (const char *)phys(rd32(zp + BP_CMD_LINE_PTR));

	if (cmdline_u64(cl, "loops", 100000, &n) != 0) {
		fail("bad loops=N on the command line");
		return;
	}
	print("EXITLOOP start %lu\n", n);
	for (uint64_t i = 0; i < n; i++)
		outb(PORT, (uint8_t)i);
	print("EXITLOOP done %lu\n", n);
}
