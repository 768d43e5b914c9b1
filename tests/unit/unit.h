/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ember's tiny unit-test framework. A test binary lists its tests with
 * UNIT_MAIN(); every failed check prints one line
 *     FAIL file:line [test] expression: detail
 * and the binary ends with exactly one line "N passed, N failed" (N counts
 * checks), exiting 1 if any check failed. A watchdog (alarm) turns a hang
 * into a failure.
 */
#ifndef EMBER_UNIT_H
#define EMBER_UNIT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/guest_mem.h"

struct unit_test {
	const char *name;
	void (*fn)(void);
};

void unit_check(int ok, const char *file, int line, const char *expr,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int unit_main(const struct unit_test *tests, size_t n);

#define UNIT_MAIN(...)                                                        \
	int main(void)                                                        \
	{                                                                     \
		static const struct unit_test t_[] = { __VA_ARGS__ };         \
		return unit_main(t_, sizeof(t_) / sizeof(t_[0]));             \
	}
#define TEST(fn) { #fn, fn }

#define CHECK(c) unit_check(!!(c), __FILE__, __LINE__, #c, NULL)

#define CHECK_EQ(a, b)                                                        \
	do {                                                                  \
		unsigned long long a_ = (unsigned long long)(a);              \
		unsigned long long b_ = (unsigned long long)(b);              \
		unit_check(a_ == b_, __FILE__, __LINE__, #a " == " #b,        \
			   "0x%llx != 0x%llx", a_, b_);                       \
	} while (0)

#define CHECK_STREQ(a, b)                                                     \
	do {                                                                  \
		const char *a_ = (a), *b_ = (b);                              \
		unit_check(a_ && b_ && !strcmp(a_, b_), __FILE__, __LINE__,   \
			   #a " == " #b, "\"%s\" != \"%s\"",                  \
			   a_ ? a_ : "(null)", b_ ? b_ : "(null)");           \
	} while (0)

/* call returned 0; show err otherwise */
#define CHECK_OK(call, err)                                                   \
	do {                                                                  \
		(err)[0] = '\0';                                              \
		int r_ = (call);                                              \
		unit_check(r_ == 0, __FILE__, __LINE__, #call,                \
			   "returned %d: %s", r_, (err));                     \
	} while (0)

/* call returned -1 with a one-line reason in err that contains substr */
#define CHECK_FAIL(call, err, substr)                                         \
	do {                                                                  \
		(err)[0] = '\0';                                              \
		int r_ = (call);                                              \
		unit_check(r_ == -1 && (err)[0] && !strchr((err), '\n') &&    \
			   strstr((err), (substr)),                           \
			   __FILE__, __LINE__, #call,                         \
			   "returned %d, err \"%s\", expected \"%s\"", r_,    \
			   (err), (substr));                                  \
	} while (0)

/* Guest memory for a test: a malloc'd buffer, or a sparse mapping when big. */
struct tmem {
	struct guest_mem gm;
	uint8_t *buf;
	uint64_t size;
	int mapped;
};

/* 0 or -1 (and a failed check) when the memory cannot be had. */
int tmem_init(struct tmem *t, uint64_t size);
void tmem_free(struct tmem *t);

/* The whole file at path into buf (NUL-terminated); its length, 0 if unreadable. */
size_t unit_slurp(const char *path, char *buf, size_t size);
/* The number of '\n' in s. */
int unit_count_lines(const char *s);

/* Capture what the code under test writes to stderr (warnings), then stop and get it. */
void unit_capture_begin(void);
void unit_capture_end(char *out, size_t outlen);

#endif
