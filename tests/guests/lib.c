/* SPDX-License-Identifier: Apache-2.0 */
#include "lib.h"

unsigned failures;

void putc_serial(char c)
{
	/* ember's LSR always reports THRE; bound the wait anyway. */
	for (int i = 0; i < 64 && !(inb(COM1_LSR) & LSR_THRE); i++)
		;
	outb(COM1, (uint8_t)c);
}

void puts_serial(const char *s)
{
	while (*s)
		putc_serial(*s++);
}

static void put_unsigned(uint64_t v, unsigned base)
{
	char buf[24];
	int i = 0;

	do {
		unsigned d = (unsigned)(v % base);
		buf[i++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	while (i)
		putc_serial(buf[--i]);
}

void vprint(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			putc_serial(*fmt);
			continue;
		}
		int longs = 0;
		while (*++fmt == 'l')
			longs++;
		uint64_t v;
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			puts_serial(s ? s : "(null)");
			break;
		}
		case 'c':
			putc_serial((char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t sv = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
			if (sv < 0) {
				putc_serial('-');
				v = (uint64_t)0 - (uint64_t)sv;
			} else {
				v = (uint64_t)sv;
			}
			put_unsigned(v, 10);
			break;
		}
		case 'u':
		case 'x':
			v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			put_unsigned(v, *fmt == 'u' ? 10 : 16);
			break;
		case '%':
			putc_serial('%');
			break;
		case '\0':
			return;
		default:
			putc_serial('?');
			break;
		}
	}
}

void print(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
}

void fail(const char *fmt, ...)
{
	va_list ap;

	failures++;
	print("FAIL %s: ", guest_name);
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	putc_serial('\n');
}

void reset(void)
{
	outb(I8042_CMD, I8042_RESET);
	/* Still here: the VMM ignored the reset. Say so and stop. */
	print("FAIL %s: i8042 reset (0xfe to port 0x64) did not end the VM\n",
	      guest_name);
	for (;;)
		__asm__ volatile("cli; hlt");
}

const char *cmdline_get(const char *cmdline, const char *key, size_t *len)
{
	size_t klen = strlen(key);
	const char *p = cmdline;

	while (*p) {
		while (*p == ' ')
			p++;
		const char *tok = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - tok) > klen && tok[klen] == '=' &&
		    memcmp(tok, key, klen) == 0) {
			*len = (size_t)(p - tok) - klen - 1;
			return tok + klen + 1;
		}
	}
	return NULL;
}

int parse_u64(const char *s, size_t len, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		len -= 2;
	}
	if (len == 0 || len > (base == 16 ? 16u : 19u))
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -1;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

int cmdline_u64(const char *cmdline, const char *key, uint64_t dflt, uint64_t *out)
{
	size_t len;
	const char *v = cmdline_get(cmdline, key, &len);

	if (!v) {
		*out = dflt;
		return 0;
	}
	return parse_u64(v, len, out);
}

uint32_t fnv1a32(const uint8_t *p, uint64_t len)
{
	uint32_t h = 0x811c9dc5u;

	for (uint64_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x01000193u;
	}
	return h;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *dd = d;
	const uint8_t *ss = s;

	while (n--)
		*dd++ = *ss++;
	return d;
}

void *memset(void *d, int c, size_t n)
{
	uint8_t *dd = d;

	while (n--)
		*dd++ = (uint8_t)c;
	return d;
}
