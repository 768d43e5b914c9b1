/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ready: the guest's readiness marker for bench/run.sh, written to a device
 * the VMM turns into one line on a pipe (no console parsing on the clock).
 *
 *   ready mmio   writes the byte 123 to guest-physical 0xd1000000 through
 *                /dev/mem: ember's boot-timer page (`ember --boot-timer`
 *                logs "Guest-boot-time = ..." to its --log-path)
 *   ready mmio@ADDR  the same at another page-aligned address (Firecracker's
 *                boot timer: 0xc0000000 in its v1.16)
 *   ready port   writes the byte 123 to I/O port 0x402 (ioperm): QEMU's
 *                `-device isa-debugcon,iobase=0x402,chardev=ID` copies it to
 *                the chardev
 *
 * Needs root in the guest and a kernel with CONFIG_DEVMEM (mmio) or
 * CONFIG_X86_IOPL_IOPERM (port). Static (musl): it runs from the bench
 * initrd as /bench/ready. Exit status 0; 1 with one line on stderr when
 * the device cannot be reached; 2 on a bad argument.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <unistd.h>

#define READY_BYTE     123
#define BOOT_TIMER_PA  0xd1000000UL
#define DEBUGCON_PORT  0x402

static int ready_mmio(unsigned long pa)
{
	volatile uint8_t *page;
	int fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "ready: /dev/mem: %s\n", strerror(errno));
		return 1;
	}
	page = mmap(NULL, 4096, PROT_WRITE, MAP_SHARED, fd, (off_t)pa);
	close(fd);
	if (page == MAP_FAILED) {
		fprintf(stderr, "ready: cannot map 0x%lx from /dev/mem: %s\n", pa, strerror(errno));
		return 1;
	}
	page[0] = READY_BYTE; /* one 1-byte store: one MMIO exit */
	munmap((void *)page, 4096);
	return 0;
}

static int ready_port(void)
{
	if (ioperm(DEBUGCON_PORT, 1, 1) < 0) {
		fprintf(stderr, "ready: ioperm(0x%x): %s\n", DEBUGCON_PORT, strerror(errno));
		return 1;
	}
	outb(READY_BYTE, DEBUGCON_PORT);
	return 0;
}

int main(int argc, char **argv)
{
	char *end;
	unsigned long pa;

	if (argc == 2 && !strcmp(argv[1], "mmio"))
		return ready_mmio(BOOT_TIMER_PA);
	if (argc == 2 && !strncmp(argv[1], "mmio@", 5)) {
		errno = 0;
		pa = strtoul(argv[1] + 5, &end, 0);
		if (!errno && end != argv[1] + 5 && !*end && pa && !(pa & 4095))
			return ready_mmio(pa);
	}
	if (argc == 2 && !strcmp(argv[1], "port"))
		return ready_port();
	fprintf(stderr, "usage: ready mmio|mmio@ADDR|port\n");
	return 2;
}
