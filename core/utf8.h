/* SPDX-License-Identifier: Apache-2.0 */
/* UTF-8, for the HTTP server's and the JSON reader's checks: one validator. */
#ifndef EMBER_UTF8_H
#define EMBER_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes, n >= 1), or 0:
 * no overlong forms, no surrogates, nothing above U+10FFFF.
 */
static inline size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Whether all len bytes at buf are valid UTF-8. */
static inline int utf8_valid(const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf;

	for (size_t i = 0, n; i < len; i += n)
		if (!(n = utf8_len(s + i, len - i)))
			return 0;
	return 1;
}

#endif
