/* SPDX-License-Identifier: Apache-2.0 */
/*
 * debugexit N: run inside the nested test host, writes N (0..127) to QEMU's
 * isa-debug-exit port 0xf4, so that QEMU exits at once with status
 * (N << 1) | 1. That is how the test host hands its payload's exit status to
 * the outer machine (the Debian cloud kernel has no /dev/port).
 *
 * Freestanding: no libc, built with `gcc -static -nostdlib`.
 */

#include "sys.h"

#define DEBUG_EXIT_PORT 0xf4

__attribute__((used, noreturn)) void debugexit_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	unsigned long val = 0;
	const char *p;

	if (argc != 2 || !argv[1][0]) {
		say("usage: debugexit N (0..127)\n");
		quit(2);
	}
	for (p = argv[1]; *p; p++) {
		if (*p < '0' || *p > '9' || val > 127) {
			say("debugexit: N must be a number 0..127\n");
			quit(2);
		}
		val = val * 10 + (unsigned long)(*p - '0');
	}
	if (val > 127) {
		say("debugexit: N must be a number 0..127\n");
		quit(2);
	}
	if (sys3(SYS_IOPERM, DEBUG_EXIT_PORT, 1, 1) != 0) {
		say("debugexit: ioperm failed\n");
		quit(1);
	}
	asm volatile("outb %b0, %w1" : : "a"((unsigned char)val),
		     "Nd"((unsigned short)DEBUG_EXIT_PORT));
	/* Still here: no isa-debug-exit device. */
	say("debugexit: no isa-debug-exit device at port 0xf4\n");
	quit(1);
}

asm(".globl _start\n"
    "_start:\n"
    "	mov %rsp, %rdi\n"
    "	and $-16, %rsp\n"
    "	call debugexit_main\n"
    "	hlt\n");
