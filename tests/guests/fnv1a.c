/* SPDX-License-Identifier: Apache-2.0 */
/* fnv1a FILE: prints the FNV-1a 32-bit hash of FILE as 0x%08x (the boot
 * guest computes the same over the initrd). */
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fnv1a FILE\n");
		return 1;
	}
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	uint32_t h = 0x811c9dc5u;
	int c;
	while ((c = getc(f)) != EOF) {
		h ^= (uint8_t)c;
		h *= 0x01000193u;
	}
	if (ferror(f)) {
		perror(argv[1]);
		return 1;
	}
	printf("0x%08x\n", h);
	return 0;
}
