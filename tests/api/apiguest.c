/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apiguest: a VM for the API tests that keeps running until told to stop.
 *
 * Polls the i8042 status port (one VM exit per iteration, ~10 us here) for
 * at most loops=N iterations (default 3000000, about half a minute), and
 * prints "APIGUEST tick <n>" every tick=N iterations (default 2000; 0: never)
 * so that a test can see the guest run, stop (Paused) and run again
 * (Resumed). A key from the i8042 (SendCtrlAltDel) prints
 * "APIGUEST key <scancode>" and resets at once: ember exits with status 0.
 * After loops iterations it prints "APIGUEST timeout" and resets.
 * The kernel command line (boot_args) is printed first, on one line:
 * "APIGUEST cmdline <text>".
 */
#include "../guests/lib.h"

const char guest_name[] = "apiguest";

#define I8042_DATA     0x60
#define I8042_STATUS   0x64
#define STATUS_OBF     0x01

void guest_main(const uint8_t *zp)
{
	const char *cl = (const char *)phys(rd32(zp + BP_CMD_LINE_PTR));
	uint64_t loops, tick;

	if (cmdline_u64(cl, "loops", 3000000, &loops) || cmdline_u64(cl, "tick", 2000, &tick)) {
		fail("bad loops= or tick= on the command line");
		return;
	}
	print("APIGUEST cmdline %s\n", cl);
	print("APIGUEST start\n");
	for (uint64_t i = 0; i < loops; i++) {
		if (inb(I8042_STATUS) & STATUS_OBF) {
			print("APIGUEST key %x\n", inb(I8042_DATA));
			return;
		}
		if (tick && i % tick == 0)
			print("APIGUEST tick %lu\n", i / tick);
	}
	print("APIGUEST timeout\n");
}
