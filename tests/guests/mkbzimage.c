/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mkbzimage: wraps a flat 64-bit payload built to run at 1 MiB (entry at
 * 1 MiB + 0x200, Linux's startup_64 offset) into a minimal bzImage: a boot
 * sector and one setup sector holding the boot protocol setup header, then
 * the payload as the protected-mode part. No real-mode code: only loaders
 * that use the 64-bit boot protocol can start it.
 *
 *   mkbzimage [--version 0xVVVV] [--xloadflags N] PAYLOAD.bin OUT.bzImage
 *
 * The options exist to make deliberately bad images for tests.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETUP_SECTS   1
#define HDR_END       0x26c /* one past kernel_info_offset (protocol 2.15) */

static void put16(uint8_t *p, unsigned v) { p[0] = v; p[1] = v >> 8; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v & 0xffff); put16(p + 2, v >> 16); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, v >> 32); }

static void die(const char *msg, const char *arg)
{
	fprintf(stderr, "mkbzimage: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	exit(1);
}

static unsigned long number(const char *s)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno || !*s || *end || v > 0xffff)
		die("bad number", s);
	return v;
}

int main(int argc, char **argv)
{
	unsigned version = 0x020f, xloadflags = 1; /* XLF_KERNEL_64 */
	int i = 1;

	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--version") == 0)
			version = number(argv[i + 1]);
		else if (strcmp(argv[i], "--xloadflags") == 0)
			xloadflags = number(argv[i + 1]);
		else
			die("unknown option", argv[i]);
	}
	if (argc - i != 2)
		die("usage: mkbzimage [--version V] [--xloadflags N] PAYLOAD OUT", NULL);

	FILE *in = fopen(argv[i], "rb");
	if (!in)
		die("cannot open", argv[i]);
	static uint8_t payload[16 << 20];
	size_t plen = fread(payload, 1, sizeof(payload), in);
	if (ferror(in) || !feof(in) || plen < 0x201)
		die("cannot read a payload of 0x201 bytes to 16 MiB from", argv[i]);
	fclose(in);

	uint8_t setup[(SETUP_SECTS + 1) * 512];
	memset(setup, 0, sizeof(setup));
	setup[0x1f1] = SETUP_SECTS;                 /* setup_sects */
	put32(setup + 0x1f4, (plen + 15) / 16);     /* syssize */
	put16(setup + 0x1fe, 0xaa55);               /* boot_flag */
	setup[0x200] = 0xeb;                        /* jmp over the header */
	setup[0x201] = HDR_END - 0x202;
	memcpy(setup + 0x202, "HdrS", 4);
	put16(setup + 0x206, version);
	setup[0x210] = 0;                           /* type_of_loader: set by the loader */
	setup[0x211] = 0x01;                        /* loadflags: LOADED_HIGH */
	put32(setup + 0x214, 0x100000);             /* code32_start */
	put32(setup + 0x22c, 0x7fffffff);           /* initrd_addr_max */
	put32(setup + 0x230, 0x200000);             /* kernel_alignment */
	setup[0x234] = 0;                           /* relocatable_kernel: no */
	put16(setup + 0x236, xloadflags);
	put32(setup + 0x238, 2047);                 /* cmdline_size */
	put64(setup + 0x258, 0x100000);             /* pref_address */
	put32(setup + 0x260, (plen + 0xfff) & ~0xfffUL); /* init_size */

	FILE *out = fopen(argv[i + 1], "wb");
	if (!out)
		die("cannot create", argv[i + 1]);
	if (fwrite(setup, 1, sizeof(setup), out) != sizeof(setup) ||
	    fwrite(payload, 1, plen, out) != plen || fclose(out) != 0)
		die("cannot write", argv[i + 1]);
	return 0;
}
