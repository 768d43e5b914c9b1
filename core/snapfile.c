/* SPDX-License-Identifier: Apache-2.0 */
#include "core/snapfile.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (unsigned int i = 0; i < 256; i++) {
		uint64_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xc96c5795d7870f42ULL : c >> 1;
		crc_table[i] = c;
	}
}

/* A one-line reason into err; -1. */
static int refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

uint64_t crc64_xz(uint64_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t pad8(uint64_t n)
{
	return (n + 7) & ~7ULL;
}

void snap_w_init(struct snap_writer *w)
{
	memset(w, 0, sizeof(*w));
	w->buf = calloc(1, SNAP_HDR_SIZE);
	w->failed = !w->buf;
	w->len = w->cap = SNAP_HDR_SIZE;
}

void snap_w_section(struct snap_writer *w, uint32_t tag, const void *data, uint64_t len)
{
	uint64_t need;

	if (w->failed)
		return;
	if (len > SNAP_MAX_BODY || w->len - SNAP_HDR_SIZE + SNAP_SEC_HDR + pad8(len) > SNAP_MAX_BODY) {
		w->failed = 1;
		return;
	}
	need = w->len + SNAP_SEC_HDR + pad8(len);
	if (need > w->cap) {
		size_t cap = w->cap * 2 > need ? w->cap * 2 : need;
		uint8_t *b = realloc(w->buf, cap + SNAP_CRC_SIZE);

		if (!b) {
			w->failed = 1;
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
	put32(w->buf + w->len, tag);
	put32(w->buf + w->len + 4, 0);
	put64(w->buf + w->len + 8, len);
	if (len)
		memcpy(w->buf + w->len + SNAP_SEC_HDR, data, len);
	memset(w->buf + w->len + SNAP_SEC_HDR + len, 0, pad8(len) - len);
	w->len = need;
}

int snap_w_finish(struct snap_writer *w, uint8_t **out, size_t *outlen)
{
	uint8_t *b;

	if (w->failed || !(b = realloc(w->buf, w->len + SNAP_CRC_SIZE))) {
		free(w->buf);
		memset(w, 0, sizeof(*w));
		return -1;
	}
	memcpy(b, SNAP_MAGIC, 8);
	put32(b + 8, SNAP_VERSION);
	put32(b + 12, 0);
	put64(b + 16, w->len - SNAP_HDR_SIZE);
	put64(b + w->len, crc64_xz(0, b, w->len));
	*out = b;
	*outlen = w->len + SNAP_CRC_SIZE;
	memset(w, 0, sizeof(*w));
	return 0;
}

int snap_parse(const uint8_t *buf, size_t len, struct snap_section *secs, unsigned int max,
	       unsigned int *n, char *err, size_t errlen)
{
	uint64_t body, off, crc;
	uint32_t version;

	*n = 0;
	if (len < SNAP_HDR_SIZE + SNAP_CRC_SIZE || memcmp(buf, SNAP_MAGIC, 8))
		return refuse(err, errlen, "not an ember snapshot (no %s header)", SNAP_MAGIC);
	version = get32(buf + 8);
	if (version != SNAP_VERSION)
		return refuse(err, errlen, "snapshot format version %u, this ember reads version %u",
			      version, SNAP_VERSION);
	if (get32(buf + 12))
		return refuse(err, errlen, "snapshot flags 0x%x unknown to this ember",
			      get32(buf + 12));
	body = get64(buf + 16);
	if (body > SNAP_MAX_BODY || body != len - SNAP_HDR_SIZE - SNAP_CRC_SIZE)
		return refuse(err, errlen, "snapshot is %zu bytes, its header says %llu "
			      "(truncated or extended)", len,
			      (unsigned long long)body + SNAP_HDR_SIZE + SNAP_CRC_SIZE);
	crc = crc64_xz(0, buf, SNAP_HDR_SIZE + body);
	if (crc != get64(buf + SNAP_HDR_SIZE + body))
		return refuse(err, errlen, "snapshot checksum mismatch (CRC-64 0x%016llx, "
			      "stored 0x%016llx): the file is corrupt", (unsigned long long)crc,
			      (unsigned long long)get64(buf + SNAP_HDR_SIZE + body));
	for (off = 0; off < body;) {
		const uint8_t *s = buf + SNAP_HDR_SIZE + off;
		uint64_t slen;

		if (body - off < SNAP_SEC_HDR)
			return refuse(err, errlen, "snapshot section header at %llu runs past the end",
				      (unsigned long long)off);
		slen = get64(s + 8);
		if (get32(s + 4) || slen > body - off - SNAP_SEC_HDR ||
		    pad8(slen) > body - off - SNAP_SEC_HDR)
			return refuse(err, errlen, "snapshot section %u at %llu is malformed "
				      "(length %llu)", get32(s), (unsigned long long)off,
				      (unsigned long long)slen);
		for (uint64_t i = slen; i < pad8(slen); i++)
			if (s[SNAP_SEC_HDR + i])
				return refuse(err, errlen, "snapshot section %u: non-zero padding",
					      get32(s));
		if (*n == max)
			return refuse(err, errlen, "snapshot has more than %u sections", max);
		secs[*n] = (struct snap_section){ .tag = get32(s), .len = slen,
						  .data = s + SNAP_SEC_HDR };
		(*n)++;
		off += SNAP_SEC_HDR + pad8(slen);
	}
	return 0;
}
