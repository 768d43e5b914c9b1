/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ember-fill SEED MIB: MIB MiB of a seeded generator (splitmix64 from SEED,
 * 64-bit words, little-endian) on stdout, for the guest to fill its memory
 * with bytes the host can compute too (the snapshot test's checksum).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse(const char *s, unsigned long long max, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return *s && *s != '-' && !*end && !errno && *v <= max ? 0 : -1;
}

int main(int argc, char **argv)
{
	unsigned long long seed, mib;
	uint64_t x, buf[8192];

	if (argc != 3 || parse(argv[1], UINT64_MAX, &seed) || parse(argv[2], 4096, &mib)) {
		fprintf(stderr, "usage: ember-fill SEED MIB (MIB at most 4096)\n");
		return 2;
	}
	x = seed;
	for (unsigned long long n = 0; n < mib * (1 << 20) / sizeof(buf); n++) {
		for (size_t i = 0; i < sizeof(buf) / sizeof(buf[0]); i++) {
			uint64_t z = (x += 0x9e3779b97f4a7c15ull);

			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
			z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
			z ^= z >> 31;
			for (int b = 0; b < 8; b++)
				((uint8_t *)&buf[i])[b] = (uint8_t)(z >> (8 * b));
		}
		for (size_t off = 0; off < sizeof(buf);) {
			ssize_t w = write(1, (char *)buf + off, sizeof(buf) - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				fprintf(stderr, "ember-fill: write failed: %s\n", strerror(errno));
				return 1;
			}
			off += (size_t)w;
		}
	}
	return 0;
}
