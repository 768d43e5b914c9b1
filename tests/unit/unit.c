/* SPDX-License-Identifier: Apache-2.0 */
#include "tests/unit/unit.h"
#include "core/ember.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define UNIT_TIMEOUT_S 60
#define TMEM_MALLOC_MAX (256ULL << 20)

static unsigned long passed, failed;
static const char *current = "-";

void unit_check(int ok, const char *file, int line, const char *expr,
		const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL %s:%d [%s] %s", file, line, current, expr);
	if (fmt) {
		printf(": ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
	fflush(stdout);
}

static void on_alarm(int sig)
{
	static const char msg[] = "FAIL watchdog: test timed out\n";

	(void)sig;
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(2);
}

int unit_main(const struct unit_test *tests, size_t n)
{
	signal(SIGALRM, on_alarm);
	alarm(UNIT_TIMEOUT_S);
	for (size_t i = 0; i < n; i++) {
		current = tests[i].name;
		tests[i].fn();
	}
	printf("%lu passed, %lu failed\n", passed, failed);
	return failed ? 1 : 0;
}

int tmem_init(struct tmem *t, uint64_t size)
{
	memset(t, 0, sizeof(*t));
	t->size = size;
	if (size <= TMEM_MALLOC_MAX) {
		t->buf = calloc(1, size);
		unit_check(t->buf != NULL, __FILE__, __LINE__, "calloc guest memory", NULL);
		if (!t->buf)
			return -1;
		gm_layout(&t->gm, t->buf, size);
		return 0;
	}
	if (gm_alloc(&t->gm, size, GM_PAGES_NORMAL)) {
		unit_check(0, __FILE__, __LINE__, "gm_alloc", "0x%llx bytes",
			   (unsigned long long)size);
		return -1;
	}
	t->mapped = 1;
	t->buf = t->gm.host;
	return 0;
}

void tmem_free(struct tmem *t)
{
	if (t->mapped)
		gm_free(&t->gm);
	else
		free(t->buf);
	memset(t, 0, sizeof(*t));
}

size_t unit_slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	buf[0] = '\0';
	if (!f)
		return 0;
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n;
}

int unit_count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static int saved_stderr = -1;
static FILE *cap;

void unit_capture_begin(void)
{
	/* Each captured warning is its own: the guest-warning limit starts anew. */
	guest_warn_reset();
	fflush(stderr);
	cap = tmpfile();
	if (!cap)
		return;
	saved_stderr = dup(2);
	dup2(fileno(cap), 2);
}

void unit_capture_end(char *out, size_t outlen)
{
	size_t n;

	out[0] = '\0';
	if (!cap)
		return;
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	saved_stderr = -1;
	rewind(cap);
	n = fread(out, 1, outlen - 1, cap);
	out[n] = '\0';
	fclose(cap);
	cap = NULL;
}
