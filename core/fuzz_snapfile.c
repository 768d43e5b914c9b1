/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the snapshot state file's container (core/snapfile.c):
 * the file is input. With the first byte odd, the input's last 8 bytes are
 * replaced by the CRC of the rest first, so that the parser's structural
 * checks see mutations and not only checksum mismatches. What parses must
 * lie inside the input, and written again section by section it must give
 * the same bytes.
 */
#include "core/fuzz.h"
#include "core/snapfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SECS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_section s[MAX_SECS];
	struct snap_writer w;
	unsigned int n;
	uint8_t *buf, *out;
	size_t outlen;
	char err[256];

	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (size >= SNAP_HDR_SIZE + SNAP_CRC_SIZE && (buf[0] & 1)) {
		buf[0] = 'E'; /* the magic's first byte, which the flag took */
		uint64_t crc = crc64_xz(0, buf, size - SNAP_CRC_SIZE);

		for (int i = 0; i < 8; i++)
			buf[size - SNAP_CRC_SIZE + i] = (uint8_t)(crc >> (8 * i));
	}
	if (snap_parse(buf, size, s, MAX_SECS, &n, err, sizeof(err)) < 0) {
		ASSERT(err[0] && strlen(err) < sizeof(err) && !strchr(err, '\n'));
		free(buf);
		return 0;
	}
	ASSERT(n <= MAX_SECS);
	snap_w_init(&w);
	for (unsigned int i = 0; i < n; i++) {
		ASSERT(s[i].data >= buf + SNAP_HDR_SIZE);
		ASSERT(s[i].len <= size && s[i].data + s[i].len <= buf + size - SNAP_CRC_SIZE);
		snap_w_section(&w, s[i].tag, s[i].data, s[i].len);
	}
	ASSERT(snap_w_finish(&w, &out, &outlen) == 0);
	ASSERT(outlen == size && !memcmp(out, buf, size));
	free(out);
	free(buf);
	return 0;
}
