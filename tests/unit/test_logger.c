/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The logger (core/logger.h): level names, the line format with and without
 * level and origin, level and module filtering, control characters, long
 * messages, refused destinations, a FIFO without a reader, a full FIFO
 * (lines dropped and counted, never blocking, never torn), a partial write
 * ended before the next line, and lines from several threads.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_GETPIPE_SZ */
#endif
#include "tests/unit/unit.h"
#include "core/ember.h"
#include "core/logger.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[64], path[128], err[512];
static char text[1 << 20];

static void setup(void)
{
	strcpy(dir, "/tmp/ember-logger-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/log", dir);
	unlink(path);
	logger_reset();
	logger_set_thread_name("");
}

static void teardown(void)
{
	char p[160];

	logger_reset();
	snprintf(p, sizeof(p), "%s/log", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/fifo", dir);
	unlink(p);
	rmdir(dir);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnn " at s */
static bool is_timestamp(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddddd ";

	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return false;
	}
	return true;
}

#define STAMP_LEN 30

static void test_level_parse(void)
{
	static const struct { const char *s; enum log_level l; } ok[] = {
		{ "Error", LOG_LEVEL_ERROR }, { "error", LOG_LEVEL_ERROR },
		{ "ERROR", LOG_LEVEL_ERROR }, { "Warning", LOG_LEVEL_WARN },
		{ "wArNiNg", LOG_LEVEL_WARN }, { "warn", LOG_LEVEL_WARN },
		{ "Info", LOG_LEVEL_INFO }, { "INFO", LOG_LEVEL_INFO },
		{ "Debug", LOG_LEVEL_DEBUG }, { "trace", LOG_LEVEL_TRACE },
		{ "Off", LOG_LEVEL_OFF }, { "OFF", LOG_LEVEL_OFF },
	};
	static const char *const bad[] = { "", "Inf", "Infos", "warnings", " Info",
					   "Info ", "5", "none" };
	enum log_level l;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		l = LOG_LEVEL_TRACE + 1;
		CHECK_EQ(log_level_parse(ok[i].s, &l), 0);
		CHECK_EQ(l, ok[i].l);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(log_level_parse(bad[i], &l), -1);
	CHECK_EQ(log_level_parse(NULL, &l), -1);
	CHECK_STREQ(log_level_name(LOG_LEVEL_WARN), "Warning");
	CHECK_STREQ(log_level_name(LOG_LEVEL_OFF), "Off");
	CHECK_STREQ(log_level_name(LOG_LEVEL_TRACE), "Trace");
}

static void test_format(void)
{
	char want[512];
	int line;

	setup();
	CHECK_EQ(log_enabled(LOG_LEVEL_INFO), 1);   /* Firecracker's default: Info */
	CHECK_EQ(log_enabled(LOG_LEVEL_DEBUG), 0);
	CHECK_OK(logger_configure(path, LOG_LEVEL_INFO, false, false, err, sizeof(err)), err);
	logger_set_instance_id("vm-1");
	logger_set_thread_name("fc_vcpu 0");
	LOG_INFO("hello %d %s", 42, "world");
	CHECK_EQ(unit_slurp(path, text, sizeof(text)) > STAMP_LEN, 1);
	CHECK(is_timestamp(text));
	CHECK_STREQ(text + STAMP_LEN, "[vm-1:fc_vcpu 0] hello 42 world\n");

	/* level and origin, as Firecracker writes them */
	CHECK_OK(logger_configure(NULL, LOG_LEVEL_DEBUG, true, true, err, sizeof(err)), err);
	truncate(path, 0);
	line = __LINE__ + 1;
	LOG_WARN("careful");
	LOG_DEBUG("details");
	LOG_ERROR("bad");
	unit_slurp(path, text, sizeof(text));
	CHECK_EQ(unit_count_lines(text), 3);
	snprintf(want, sizeof(want), "[vm-1:fc_vcpu 0:WARN:%s:%d] careful\n", __FILE__, line);
	CHECK(is_timestamp(text));
	CHECK(!strncmp(text + STAMP_LEN, want, strlen(want)));
	snprintf(want, sizeof(want), "[vm-1:fc_vcpu 0:DEBUG:%s:%d] details\n", __FILE__, line + 1);
	CHECK(strstr(text, want) != NULL);
	snprintf(want, sizeof(want), "[vm-1:fc_vcpu 0:ERROR:%s:%d] bad\n", __FILE__, line + 2);
	CHECK(strstr(text, want) != NULL);

	/* level without origin; a thread without a name shows its comm name */
	CHECK_OK(logger_configure(NULL, LOG_LEVEL_INFO, true, false, err, sizeof(err)), err);
	logger_set_thread_name("");
	logger_set_instance_id(NULL);
	truncate(path, 0);
	LOG_INFO("x");
	unit_slurp(path, text, sizeof(text));
	CHECK_STREQ(text + STAMP_LEN, "[anonymous-instance:fc_vcpu 0:INFO] x\n");
	teardown();
}

static void test_filtering(void)
{
	static const struct { enum log_level l; int lines; } cases[] = {
		{ LOG_LEVEL_OFF, 0 }, { LOG_LEVEL_ERROR, 1 }, { LOG_LEVEL_WARN, 2 },
		{ LOG_LEVEL_INFO, 3 }, { LOG_LEVEL_DEBUG, 4 }, { LOG_LEVEL_TRACE, 5 },
	};

	setup();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_OK(logger_configure(path, cases[i].l, true, false, err, sizeof(err)), err);
		truncate(path, 0);
		LOG_ERROR("e");
		LOG_WARN("w");
		LOG_INFO("i");
		LOG_DEBUG("d");
		LOG_TRACE("t");
		logger_log(LOG_LEVEL_OFF, __FILE__, __LINE__, "never");
		unit_slurp(path, text, sizeof(text));
		unit_check(unit_count_lines(text) == cases[i].lines, __FILE__, __LINE__,
			   "lines at a level", "level %s: %d lines, want %d",
			   log_level_name(cases[i].l), unit_count_lines(text), cases[i].lines);
		CHECK(!strstr(text, "never"));
	}
	CHECK_FAIL(logger_configure(path, LOG_LEVEL_TRACE + 1, false, false, err, sizeof(err)),
		   err, "invalid log level");

	/* the module filter matches the start of the source path */
	CHECK_OK(logger_configure(path, LOG_LEVEL_INFO, false, false, err, sizeof(err)), err);
	truncate(path, 0);
	logger_set_module("virtio/");
	LOG_ERROR("filtered out");
	logger_set_module("tests/unit/");
	LOG_ERROR("kept");
	logger_set_module(NULL);
	LOG_ERROR("all again");
	unit_slurp(path, text, sizeof(text));
	CHECK(!strstr(text, "filtered out"));
	CHECK(strstr(text, "] kept\n") != NULL);
	CHECK(strstr(text, "] all again\n") != NULL);
	CHECK_EQ(unit_count_lines(text), 2);
	teardown();
}

static void test_message_shape(void)
{
	static char big[3 * LOG_LINE_MAX];
	size_t n;

	setup();
	CHECK_OK(logger_configure(path, LOG_LEVEL_INFO, false, false, err, sizeof(err)), err);
	logger_set_instance_id("id\nx");
	logger_set_thread_name("t\x1b[31m");
	LOG_INFO("one\ntwo\r\x7f\tend");
	unit_slurp(path, text, sizeof(text));
	CHECK_STREQ(text + STAMP_LEN, "[id?x:t?[31m] one?two??\tend\n");

	/* a long message is cut: one line of LOG_LINE_MAX bytes */
	truncate(path, 0);
	memset(big, 'a', sizeof(big) - 1);
	LOG_INFO("%s", big);
	n = unit_slurp(path, text, sizeof(text));
	CHECK_EQ(n, LOG_LINE_MAX);
	CHECK_EQ(unit_count_lines(text), 1);
	CHECK_EQ(text[n - 1], '\n');
	CHECK_EQ(logger_lost_lines(), 0);
	teardown();
}

static void test_bad_destinations(void)
{
	char p[160];

	setup();
	CHECK_OK(logger_configure(path, LOG_LEVEL_INFO, false, false, err, sizeof(err)), err);
	snprintf(p, sizeof(p), "%s/no/such/dir/log", dir);
	CHECK_FAIL(logger_configure(p, LOG_LEVEL_ERROR, false, false, err, sizeof(err)), err,
		   "cannot open");
	CHECK(strstr(err, "No such file") != NULL);
	CHECK_FAIL(logger_configure(dir, LOG_LEVEL_ERROR, false, false, err, sizeof(err)), err,
		   "cannot open");
	CHECK_FAIL(logger_configure("", LOG_LEVEL_ERROR, false, false, err, sizeof(err)), err,
		   "empty");
	/* nothing changed: still Info, still the first file */
	LOG_INFO("still here");
	unit_slurp(path, text, sizeof(text));
	CHECK(strstr(text, "] still here\n") != NULL);

	/* a missing file is created, an existing one appended to */
	CHECK(access(path, F_OK) == 0);
	CHECK_OK(logger_configure(path, LOG_LEVEL_INFO, false, false, err, sizeof(err)), err);
	LOG_INFO("appended");
	unit_slurp(path, text, sizeof(text));
	CHECK(strstr(text, "] still here\n") != NULL);
	CHECK(strstr(text, "] appended\n") != NULL);
	teardown();
}

static void test_fifo_without_reader(void)
{
	char fifo[160], line[256];
	uint64_t t0;
	ssize_t n;
	int rfd;

	setup();
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	t0 = now_ms();
	/* nobody has the FIFO open: this must neither block nor fail */
	CHECK_OK(logger_configure(fifo, LOG_LEVEL_INFO, false, false, err, sizeof(err)), err);
	LOG_INFO("before any reader");
	CHECK(now_ms() - t0 < 2000);
	CHECK_EQ(logger_lost_lines(), 0);

	/* a reader that comes later gets the line */
	rfd = open(fifo, O_RDONLY | O_NONBLOCK);
	CHECK(rfd >= 0);
	n = read(rfd, line, sizeof(line) - 1);
	CHECK(n > STAMP_LEN);
	if (n > 0) {
		line[n] = '\0';
		CHECK_STREQ(line + STAMP_LEN, "[anonymous-instance:unit_test_log] before any reader\n");
	}
	close(rfd);
	teardown();
}

static void test_full_fifo(void)
{
	char fifo[160];
	static char drained[1 << 20];
	size_t got = 0;
	uint64_t t0;
	int keep, i, lost, lines;

	setup();
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	/* the test holds the FIFO open and reads nothing until the end */
	keep = open(fifo, O_RDWR | O_NONBLOCK);
	CHECK(keep >= 0);
	CHECK_OK(logger_configure(fifo, LOG_LEVEL_INFO, true, false, err, sizeof(err)), err);
	t0 = now_ms();
	for (i = 0; i < 4000; i++)
		LOG_INFO("line %d %0200d", i, 0);
	CHECK(now_ms() - t0 < 5000); /* never waited for the FIFO */
	lost = (int)logger_lost_lines();
	CHECK(lost > 0);
	CHECK(lost < 4000);

	/* everything in the FIFO is whole lines, and lines + lost add up */
	for (;;) {
		ssize_t n = read(keep, drained + got, sizeof(drained) - 1 - got);

		if (n <= 0)
			break;
		got += n;
	}
	drained[got] = '\0';
	CHECK(got > 0 && drained[got - 1] == '\n');
	lines = unit_count_lines(drained);
	CHECK_EQ(lines + lost, 4000);
	for (char *s = drained, *e; *s; s = e + 1) {
		char zeros[256];
		int num, len = 0;

		e = strchr(s, '\n');
		if (!is_timestamp(s) ||
		    sscanf(s + STAMP_LEN, "[anonymous-instance:unit_test_log:INFO] line %d %255s%n",
			   &num, zeros, &len) != 2 || strlen(zeros) != 200 ||
		    s + STAMP_LEN + len != e) {
			unit_check(0, __FILE__, __LINE__, "drained line shape", "%.80s", s);
			break;
		}
	}
	/* the first lines are there, in order */
	CHECK(strstr(drained, "] line 0 ") != NULL);
	CHECK(strstr(drained, "] line 1 ") > strstr(drained, "] line 0 "));

	/* with room again, lines go through */
	LOG_INFO("after drain");
	CHECK_EQ(logger_lost_lines(), (uint64_t)lost);
	got = read(keep, drained, sizeof(drained) - 1);
	CHECK(got > 0 && got < sizeof(drained));
	drained[got < sizeof(drained) ? got : 0] = '\0';
	CHECK(strstr(drained, "] after drain\n") != NULL);
	close(keep);
	teardown();
}

/* A FIFO takes a line longer than PIPE_BUF only when it all fits. */
static void test_sink_long_line(void)
{
	char fifo[160];
	static char big[3 * 4096], junk[65536];
	struct log_sink s;
	int keep, size;
	ssize_t room, n;

	setup();
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	keep = open(fifo, O_RDWR | O_NONBLOCK);
	CHECK(keep >= 0);
	CHECK_OK(log_sink_open(&s, fifo, err, sizeof(err)), err);
	CHECK(s.fifo);
	memset(big, 'b', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	size = fcntl(keep, F_GETPIPE_SZ);
	CHECK(size >= (int)sizeof(big) * 2);
	/* leave less room than the line needs */
	room = sizeof(big) - 100;
	n = write(keep, junk, size - room);
	CHECK_EQ(n, size - room);
	errno = 0;
	CHECK_EQ(log_sink_write(&s, big, sizeof(big)), -1);
	CHECK_EQ(errno, EAGAIN);
	/* nothing of it went in */
	n = read(keep, junk, sizeof(junk));
	CHECK_EQ(n, size - room);
	CHECK_EQ(log_sink_write(&s, big, sizeof(big)), 0);
	n = read(keep, junk, sizeof(junk));
	CHECK_EQ(n, sizeof(big));
	log_sink_close(&s);
	CHECK_EQ(s.fd, -1);
	close(keep);
	teardown();
}

/* A line cut by a full disk (here RLIMIT_FSIZE) is ended before the next one. */
static void test_sink_partial(void)
{
	struct rlimit old, lim;
	struct log_sink s;

	setup();
	CHECK_OK(log_sink_open(&s, path, err, sizeof(err)), err);
	CHECK(!s.fifo);
	CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 10;
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	CHECK_EQ(log_sink_write(&s, "0123456789abcdef\n", 17), -1);
	CHECK(s.broken);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	signal(SIGXFSZ, SIG_DFL);
	CHECK_EQ(log_sink_write(&s, "next\n", 5), 0);
	CHECK(!s.broken);
	unit_slurp(path, text, sizeof(text));
	CHECK_STREQ(text, "0123456789\nnext\n");
	log_sink_close(&s);
	teardown();
}

#define THREADS 4
#define PER_THREAD 300

static void *writer(void *arg)
{
	char name[16];
	int t = (int)(intptr_t)arg;

	snprintf(name, sizeof(name), "w%d", t);
	logger_set_thread_name(name);
	for (int i = 0; i < PER_THREAD; i++)
		LOG_INFO("thread %d line %d %0100d", t, i, 0);
	return NULL;
}

static void test_threads(void)
{
	pthread_t th[THREADS];
	int seen[THREADS] = { 0 }, bad = 0;

	setup();
	CHECK_OK(logger_configure(path, LOG_LEVEL_INFO, false, false, err, sizeof(err)), err);
	for (int t = 0; t < THREADS; t++)
		CHECK(pthread_create(&th[t], NULL, writer, (void *)(intptr_t)t) == 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	unit_slurp(path, text, sizeof(text));
	CHECK_EQ(unit_count_lines(text), THREADS * PER_THREAD);
	for (char *s = text; *s; s = strchr(s, '\n') + 1) {
		int t, i, tt;
		char z[128];

		if (!is_timestamp(s) ||
		    sscanf(s + STAMP_LEN, "[anonymous-instance:w%d] thread %d line %d %127s",
			   &tt, &t, &i, z) != 4 || t != tt || t < 0 || t >= THREADS ||
		    i != seen[t] || strlen(z) != 100) {
			bad++;
			break;
		}
		seen[t]++;
	}
	CHECK_EQ(bad, 0);
	for (int t = 0; t < THREADS; t++)
		CHECK_EQ(seen[t], PER_THREAD);
	teardown();
}

static void test_thread_name_default(void)
{
	setup();
	/* set by the previous tests through prctl: the comm name stays */
	logger_set_thread_name("unit_test_log");
	CHECK_OK(logger_configure(path, LOG_LEVEL_INFO, false, false, err, sizeof(err)), err);
	logger_set_thread_name("");
	LOG_INFO("x");
	unit_slurp(path, text, sizeof(text));
	CHECK_STREQ(text + STAMP_LEN, "[anonymous-instance:unit_test_log] x\n");
	teardown();
}

/*
 * Warnings, ember's and the guest's, are log lines: in the configured
 * destination, with level and origin when asked for, dropped below Warning.
 */
static void test_warnings_are_log_lines(void)
{
	setup();
	guest_warn_reset();
	CHECK_OK(logger_configure(path, LOG_LEVEL_WARN, true, true, err, sizeof(err)), err);
	warn("host %d", 1);
	guest_warn("guest %d", 2);
	unit_slurp(path, text, sizeof(text));
	CHECK_EQ(unit_count_lines(text), 2);
	CHECK(strstr(text, ":WARN:tests/unit/test_logger.c:") != NULL);
	CHECK(strstr(text, "] host 1\n") != NULL);
	CHECK(strstr(text, "] guest 2\n") != NULL);
	CHECK_OK(logger_configure(path, LOG_LEVEL_ERROR, false, false, err, sizeof(err)), err);
	truncate(path, 0);
	warn("host %d", 3);
	guest_warn("guest %d", 4);
	unit_slurp(path, text, sizeof(text));
	CHECK_STREQ(text, "");
	guest_warn_reset();
	teardown();
}

UNIT_MAIN(TEST(test_level_parse), TEST(test_format), TEST(test_filtering),
	  TEST(test_message_shape), TEST(test_bad_destinations),
	  TEST(test_thread_name_default), TEST(test_fifo_without_reader),
	  TEST(test_full_fifo), TEST(test_sink_long_line), TEST(test_sink_partial),
	  TEST(test_threads), TEST(test_warnings_are_log_lines))
