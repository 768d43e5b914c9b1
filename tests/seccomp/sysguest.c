/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sysguest: a workload for tests/seccomp, for the exit paths the other test
 * guests do not take. Writes 123 to the boot-timer page (ember --boot-timer
 * logs the boot time from the vCPU thread), prints "SYSGUEST booted", then
 * polls the i8042 status port like apiguest: at most loops=N iterations
 * (default 3000000), "SYSGUEST tick <n>" every 2000; a key (SendCtrlAltDel)
 * or the end of the loop resets (ember exits with status 0).
 */
#include "../guests/lib.h"

const char guest_name[] = "sysguest";

#define BOOT_TIMER_ADDR  0xd1000000UL
#define BOOT_TIMER_MAGIC 123
#define I8042_DATA       0x60
#define I8042_STATUS     0x64
#define STATUS_OBF       0x01

void guest_main(const uint8_t *zp)
{
	const char *cl = (const char *)phys(rd32(zp + BP_CMD_LINE_PTR));
	uint64_t loops;

	if (cmdline_u64(cl, "loops", 3000000, &loops)) {
		fail("bad loops= on the command line");
		return;
	}
	*(volatile uint8_t *)(uintptr_t)BOOT_TIMER_ADDR = BOOT_TIMER_MAGIC;
	print("SYSGUEST booted\n");
	for (uint64_t i = 0; i < loops; i++) {
		if (inb(I8042_STATUS) & STATUS_OBF) {
			print("SYSGUEST key %x\n", inb(I8042_DATA));
			return;
		}
		if (i % 2000 == 0)
			print("SYSGUEST tick %lu\n", i / 2000);
	}
	print("SYSGUEST done\n");
}
