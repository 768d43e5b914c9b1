/* SPDX-License-Identifier: Apache-2.0 */
/* The snapshot state file's container: CRC-64/XZ, round trip, every refusal. */
#include "tests/unit/unit.h"
#include "core/snapfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A file of three sections: empty, 5 bytes (padded), 16 bytes. */
static uint8_t *sample(size_t *len)
{
	struct snap_writer w;
	uint8_t *out = NULL;

	snap_w_init(&w);
	snap_w_section(&w, 1, NULL, 0);
	snap_w_section(&w, 2, "hello", 5);
	snap_w_section(&w, 0xffffffffu, "0123456789abcdef", 16);
	CHECK(snap_w_finish(&w, &out, len) == 0);
	return out;
}

/* Fix the CRC after an edit, so that only the edited rule can refuse. */
static void reseal(uint8_t *b, size_t len)
{
	put64(b + len - SNAP_CRC_SIZE, crc64_xz(0, b, len - SNAP_CRC_SIZE));
}

static int parses(const uint8_t *b, size_t len, const char *want)
{
	struct snap_section s[4];
	unsigned int n;
	int r = snap_parse(b, len, s, 4, &n, err, sizeof(err));

	if (r == 0 || !want)
		return r == 0;
	if (!strstr(err, want))
		fprintf(stderr, "  refused as \"%s\", want \"%s\"\n", err, want);
	CHECK(strstr(err, want) != NULL);
	CHECK(n == 0 || n <= 4);
	return 0;
}

static void test_crc(void)
{
	CHECK(crc64_xz(0, "123456789", 9) == 0x995dc9bbdf1939faULL);
	CHECK(crc64_xz(crc64_xz(0, "1234", 4), "56789", 5) == 0x995dc9bbdf1939faULL);
	CHECK(crc64_xz(0, "", 0) == 0);
}

static void test_round_trip(void)
{
	size_t len;
	uint8_t *b = sample(&len);
	struct snap_section s[3];
	unsigned int n;

	if (!b)
		return;
	CHECK(len == SNAP_HDR_SIZE + 3 * SNAP_SEC_HDR + 0 + 8 + 16 + SNAP_CRC_SIZE);
	CHECK(snap_parse(b, len, s, 3, &n, err, sizeof(err)) == 0);
	CHECK(n == 3);
	CHECK(s[0].tag == 1 && s[0].len == 0);
	CHECK(s[1].tag == 2 && s[1].len == 5 && !memcmp(s[1].data, "hello", 5));
	CHECK(s[2].tag == 0xffffffffu && s[2].len == 16 && !memcmp(s[2].data, "0123456789abcdef", 16));
	/* Room for two only */
	CHECK(snap_parse(b, len, s, 2, &n, err, sizeof(err)) < 0 && strstr(err, "more than 2"));
	free(b);
}

static void test_every_flip_and_cut(void)
{
	size_t len;
	uint8_t *b = sample(&len);

	if (!b)
		return;
	/* Any flipped bit anywhere, and any truncation or extension: refused */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1 << bit);
			CHECK(!parses(b, len, NULL));
			b[i] ^= (uint8_t)(1 << bit);
		}
	}
	for (size_t l = 0; l < len; l++)
		CHECK(!parses(b, l, NULL));
	{
		uint8_t *big = calloc(1, len + 8);

		if (big) {
			memcpy(big, b, len);
			CHECK(!parses(big, len + 8, "truncated or extended"));
			free(big);
		}
	}
	CHECK(parses(b, len, NULL));
	free(b);
}

static void test_refusals(void)
{
	size_t len;
	uint8_t *b = sample(&len);
	const size_t sec2 = SNAP_HDR_SIZE + SNAP_SEC_HDR; /* the 5-byte section */

	if (!b)
		return;
	b[8] = SNAP_VERSION + 1; /* a newer version, sealed properly */
	reseal(b, len);
	CHECK(!parses(b, len, "version 3, this ember reads version 2"));
	b[8] = 1; /* an older one: before the IOAPIC was ember's */
	reseal(b, len);
	CHECK(!parses(b, len, "version 1, this ember reads version 2"));
	b[8] = SNAP_VERSION;
	b[12] = 1; /* flags */
	reseal(b, len);
	CHECK(!parses(b, len, "flags 0x1"));
	b[12] = 0;
	b[0] = 'X';
	reseal(b, len);
	CHECK(!parses(b, len, "not an ember snapshot"));
	b[0] = 'E';
	reseal(b, len);
	CHECK(parses(b, len, NULL));
	b[len - 1] ^= 0x80;
	CHECK(!parses(b, len, "checksum mismatch"));
	b[len - 1] ^= 0x80;
	/* A section longer than the body, with a valid CRC */
	put64(b + sec2 + 8, 1ULL << 40);
	reseal(b, len);
	CHECK(!parses(b, len, "malformed"));
	put64(b + sec2 + 8, 5);
	/* Non-zero padding after "hello" */
	b[sec2 + SNAP_SEC_HDR + 6] = 1;
	reseal(b, len);
	CHECK(!parses(b, len, "padding"));
	b[sec2 + SNAP_SEC_HDR + 6] = 0;
	/* A non-zero reserved field */
	b[sec2 + 4] = 1;
	reseal(b, len);
	CHECK(!parses(b, len, "malformed"));
	b[sec2 + 4] = 0;
	reseal(b, len);
	CHECK(parses(b, len, NULL));
	free(b);
}

static void test_writer_limit(void)
{
	struct snap_writer w;
	uint8_t *out = NULL;
	size_t len = 0;

	snap_w_init(&w);
	snap_w_section(&w, 1, "x", (uint64_t)SNAP_MAX_BODY + 1);
	CHECK(snap_w_finish(&w, &out, &len) < 0 && !out);
}

UNIT_MAIN(TEST(test_crc), TEST(test_round_trip), TEST(test_every_flip_and_cut), TEST(test_refusals),
	  TEST(test_writer_limit))
