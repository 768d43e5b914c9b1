/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the test host's freestanding helpers (debugexit.c, kvmhold.c; no
 * libc, `gcc -static -nostdlib`) share: a three-argument system call, a
 * message on stderr, and exit.
 */
#ifndef EMBER_TESTHOST_SYS_H
#define EMBER_TESTHOST_SYS_H

#define SYS_WRITE  1
#define SYS_OPEN   2
#define SYS_IOCTL  16
#define SYS_PAUSE  34
#define SYS_FORK   57
#define SYS_EXIT   60
#define SYS_IOPERM 173

static long sys3(long nr, long a, long b, long c)
{
	long ret;

	asm volatile("syscall"
		     : "=a"(ret)
		     : "a"(nr), "D"(a), "S"(b), "d"(c)
		     : "rcx", "r11", "memory");
	return ret;
}

static void say(const char *s)
{
	long n = 0;

	while (s[n])
		n++;
	sys3(SYS_WRITE, 2, (long)s, n);
}

__attribute__((noreturn)) static void quit(int status)
{
	for (;;)
		sys3(SYS_EXIT, status, 0, 0);
}

#endif
