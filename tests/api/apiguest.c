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
 * With dirty=1 (guest memory of 32 MiB or more), tick n also writes n into
 * the page at 16 MiB + n * 4 KiB and first checks that the pages of the
 * ticks before hold theirs ("APIGUEST bad page <n>" and a reset if not): a
 * snapshot restored with one of them missing shows at the next tick.
 * With touch=N, tick n also writes N pages of the 8 MiB at touch_at=M MiB
 * (default 16), going round (pages n*N to n*N+N-1, modulo 2048): after
 * 2048/N ticks it has dirtied all 8 MiB (the snapshot clones' memory test;
 * with dirty=1 too, touch_at=24 keeps the two apart).
 */
#include "../guests/lib.h"

const char guest_name[] = "apiguest";

#define I8042_DATA     0x60
#define I8042_STATUS   0x64
#define STATUS_OBF     0x01
#define DIRTY_BASE     (16ULL << 20)
#define DIRTY_PAGES    2048           /* up to 24 MiB */

void guest_main(const uint8_t *zp)
{
	const char *cl = (const char *)phys(rd32(zp + BP_CMD_LINE_PTR));
	uint64_t loops, tick, dirty, touch, touch_at;

	if (cmdline_u64(cl, "loops", 3000000, &loops) || cmdline_u64(cl, "tick", 2000, &tick) ||
	    cmdline_u64(cl, "dirty", 0, &dirty) || cmdline_u64(cl, "touch", 0, &touch) ||
	    cmdline_u64(cl, "touch_at", DIRTY_BASE >> 20, &touch_at) ||
	    touch > DIRTY_PAGES || touch_at < 16 || touch_at > 4096) {
		fail("bad loops=, tick=, dirty=, touch= or touch_at= on the command line");
		return;
	}
	print("APIGUEST cmdline %s\n", cl);
	print("APIGUEST start\n");
	for (uint64_t i = 0; i < loops; i++) {
		if (inb(I8042_STATUS) & STATUS_OBF) {
			print("APIGUEST key %x\n", inb(I8042_DATA));
			return;
		}
		if (tick && i % tick == 0) {
			uint64_t n = i / tick;

			if (dirty && n < DIRTY_PAGES) {
				for (uint64_t k = 1; k < n; k++)
					if (*(volatile uint64_t *)(DIRTY_BASE + k * 4096) != k) {
						print("APIGUEST bad page %lu\n", k);
						return;
					}
				*(volatile uint64_t *)(DIRTY_BASE + n * 4096) = n;
			}
			for (uint64_t k = 0; k < touch; k++)
				*(volatile uint64_t *)((touch_at << 20) +
						       ((n * touch + k) % DIRTY_PAGES) * 4096) = n;
			print("APIGUEST tick %lu\n", n);
		}
	}
	print("APIGUEST timeout\n");
}
