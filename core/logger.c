/* SPDX-License-Identifier: Apache-2.0 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_GETPIPE_SZ */
#endif
#include "core/logger.h"
#include "core/ember.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

int logger_max_level_ = LOG_LEVEL_DEFAULT;

static struct {
	pthread_mutex_t lock;
	struct log_sink sink;   /* fd 2 until configured */
	bool show_level;
	bool show_origin;
	char module[256];
	char id[LOG_INSTANCE_ID_MAX + 1];
} lg = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.sink = { .fd = STDERR_FILENO },
	.id = LOG_INSTANCE_ID_DEFAULT,
};

static uint64_t lost_lines;
static __thread char thread_name[LOG_THREAD_NAME_MAX];

static const struct {
	const char *api;   /* what the API accepts and log_level_name() gives */
	const char *tag;   /* in a line, as Firecracker writes it */
} names[] = {
	[LOG_LEVEL_OFF]   = { "Off", "OFF" },
	[LOG_LEVEL_ERROR] = { "Error", "ERROR" },
	[LOG_LEVEL_WARN]  = { "Warning", "WARN" },
	[LOG_LEVEL_INFO]  = { "Info", "INFO" },
	[LOG_LEVEL_DEBUG] = { "Debug", "DEBUG" },
	[LOG_LEVEL_TRACE] = { "Trace", "TRACE" },
};

int log_level_parse(const char *s, enum log_level *out)
{
	if (!s)
		return -1;
	for (int l = LOG_LEVEL_OFF; l <= LOG_LEVEL_TRACE; l++) {
		if (!strcasecmp(s, names[l].api)) {
			*out = l;
			return 0;
		}
	}
	if (!strcasecmp(s, "warn")) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -1;
}

const char *log_level_name(enum log_level l)
{
	return (unsigned)l <= LOG_LEVEL_TRACE ? names[l].api : "?";
}

/* --- sinks ------------------------------------------------------------------ */

int log_sink_open(struct log_sink *s, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	s->fd = -1;
	s->fifo = s->broken = false;
	if (!path || !path[0])
		return errorf(err, errlen, "the path is empty");
	/*
	 * Read-write, as Firecracker opens it: on a FIFO this neither blocks
	 * nor fails when no reader is there yet (O_WRONLY|O_NONBLOCK would
	 * fail with ENXIO), and there is never a SIGPIPE.
	 */
	fd = open(path, O_RDWR | O_APPEND | O_NONBLOCK | O_CLOEXEC | O_CREAT, 0600);
	if (fd < 0)
		return errorf(err, errlen, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode) ||
				    S_ISCHR(st.st_mode))) {
		errorf(err, errlen, "cannot use %s: not a file, FIFO or character device",
			 path);
		close(fd);
		return -1;
	}
	s->fd = fd;
	s->fifo = S_ISFIFO(st.st_mode);
	return 0;
}

void log_sink_close(struct log_sink *s)
{
	if (s->fd > STDERR_FILENO)
		close(s->fd);
	s->fd = -1;
	s->fifo = s->broken = false;
}

/* Room left in a FIFO, or -1 when unknown. */
static long fifo_room(int fd)
{
	int queued = 0;
	int size = fcntl(fd, F_GETPIPE_SZ);

	if (size <= 0 || ioctl(fd, FIONREAD, &queued) < 0)
		return -1;
	return size > queued ? size - queued : 0;
}

int log_sink_write(struct log_sink *s, const char *buf, size_t len)
{
	struct iovec iov[2] = { { (void *)"\n", 1 }, { (void *)buf, len } };
	int first = s->broken ? 0 : 1;
	size_t total = len + (s->broken ? 1 : 0);
	ssize_t n;

	if (s->fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (len == 0)
		return 0;
	/*
	 * A FIFO takes up to PIPE_BUF bytes at once or nothing; a longer line
	 * could go in part, so it is only written when it fits.
	 */
	if (s->fifo) {
		long room = fifo_room(s->fd);

		if (room >= 0 && total > (size_t)room) {
			errno = EAGAIN;
			return -1;
		}
	}
	do
		n = writev(s->fd, iov + first, 2 - first);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n == total) {
		s->broken = false;
		return 0;
	}
	/* Part of a line: the next write ends it first, so lines stay lines. */
	if (n > 0) {
		size_t last = (size_t)n - 1; /* index in "\n"? + buf */

		if (s->broken)
			s->broken = last == 0 ? false : buf[last - 1] != '\n';
		else
			s->broken = buf[last] != '\n';
	}
	errno = s->fifo ? EAGAIN : ENOSPC;
	return -1;
}

/* --- configuration ---------------------------------------------------------- */

int logger_configure(const char *path, enum log_level level, bool show_level,
		     bool show_origin, char *err, size_t errlen)
{
	struct log_sink sink = { .fd = -1 }, old = { .fd = -1 };
	char why[512];

	if ((unsigned)level > LOG_LEVEL_TRACE)
		return errorf(err, errlen, "invalid log level %d", (int)level);
	if (path && log_sink_open(&sink, path, why, sizeof(why)) < 0)
		return errorf(err, errlen, "logger: %s", why);
	pthread_mutex_lock(&lg.lock);
	if (path) {
		old = lg.sink;
		lg.sink = sink;
	}
	lg.show_level = show_level;
	lg.show_origin = show_origin;
	__atomic_store_n(&logger_max_level_, (int)level, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&lg.lock);
	log_sink_close(&old);
	return 0;
}

void logger_set_module(const char *prefix)
{
	pthread_mutex_lock(&lg.lock);
	snprintf(lg.module, sizeof(lg.module), "%s", prefix ? prefix : "");
	pthread_mutex_unlock(&lg.lock);
}

/* Copy src into dst (size bytes), control characters as '?'. */
static void copy_clean(char *dst, size_t size, const char *src)
{
	size_t i = 0;

	for (; src && src[i] && i + 1 < size; i++) {
		unsigned char c = src[i];

		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : c;
	}
	dst[i] = '\0';
}

void logger_set_instance_id(const char *id)
{
	pthread_mutex_lock(&lg.lock);
	copy_clean(lg.id, sizeof(lg.id), id && id[0] ? id : LOG_INSTANCE_ID_DEFAULT);
	pthread_mutex_unlock(&lg.lock);
}

void logger_set_thread_name(const char *name)
{
	char comm[16];

	copy_clean(thread_name, sizeof(thread_name), name);
	memcpy(comm, thread_name, sizeof(comm) - 1);
	comm[sizeof(comm) - 1] = '\0';
	if (comm[0])
		prctl(PR_SET_NAME, (unsigned long)comm, 0, 0, 0);
}

uint64_t logger_lost_lines(void)
{
	return __atomic_load_n(&lost_lines, __ATOMIC_RELAXED);
}

void logger_reset(void)
{
	struct log_sink old;

	pthread_mutex_lock(&lg.lock);
	old = lg.sink;
	lg.sink = (struct log_sink){ .fd = STDERR_FILENO };
	lg.show_level = lg.show_origin = false;
	lg.module[0] = '\0';
	snprintf(lg.id, sizeof(lg.id), "%s", LOG_INSTANCE_ID_DEFAULT);
	__atomic_store_n(&logger_max_level_, LOG_LEVEL_DEFAULT, __ATOMIC_RELAXED);
	__atomic_store_n(&lost_lines, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&lg.lock);
	log_sink_close(&old);
}

/* --- lines ------------------------------------------------------------------ */

/* "2024-05-01T12:00:00.123456789": Firecracker's local time stamp. */
static size_t timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(buf + n, size - n, ".%09ld", (long)ts.tv_nsec);
	return n < size ? n : size - 1;
}

void logger_log(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	char buf[LOG_LINE_MAX], tname[LOG_THREAD_NAME_MAX];
	size_t n, room, msg;
	va_list ap;
	int r;

	if (level == LOG_LEVEL_OFF || (unsigned)level > LOG_LEVEL_TRACE || !log_enabled(level))
		return;
	if (!thread_name[0]) {
		/* A thread never named by logger_set_thread_name: its comm, read
		 * once (only that function renames a thread). */
		char comm[17] = "";

		prctl(PR_GET_NAME, (unsigned long)comm, 0, 0, 0);
		copy_clean(thread_name, sizeof(thread_name), comm[0] ? comm : "-");
	}
	memcpy(tname, thread_name, sizeof(tname));

	pthread_mutex_lock(&lg.lock);
	if (lg.module[0] && (!file || strncmp(file, lg.module, strlen(lg.module)))) {
		pthread_mutex_unlock(&lg.lock);
		return;
	}
	n = timestamp(buf, sizeof(buf));
	n += snprintf(buf + n, sizeof(buf) - n, " [%s:%s", lg.id, tname);
	if (lg.show_level)
		n += snprintf(buf + n, sizeof(buf) - n, ":%s", names[level].tag);
	if (lg.show_origin)
		n += snprintf(buf + n, sizeof(buf) - n, ":%s:%d", file ? file : "?", line);
	n += snprintf(buf + n, sizeof(buf) - n, "] ");
	if (n > sizeof(buf) - 2)   /* never with the bounded id and name */
		n = sizeof(buf) - 2;

	/* The message, cut to fit, on one line: its NUL's place takes the newline. */
	room = sizeof(buf) - n;
	va_start(ap, fmt);
	r = vsnprintf(buf + n, room, fmt, ap);
	va_end(ap);
	msg = r < 0 ? 0 : ((size_t)r < room ? (size_t)r : room - 1);
	for (size_t i = n; i < n + msg; i++)
		if ((unsigned char)buf[i] < 0x20 && buf[i] != '\t')
			buf[i] = '?';
		else if (buf[i] == 0x7f)
			buf[i] = '?';
	n += msg;
	buf[n++] = '\n';

	if (lg.sink.fd == STDERR_FILENO) {
		/* stderr is the user's terminal or a pipe a parent reads: plain write */
		if (write(STDERR_FILENO, buf, n) != (ssize_t)n)
			__atomic_fetch_add(&lost_lines, 1, __ATOMIC_RELAXED);
	} else if (log_sink_write(&lg.sink, buf, n) < 0) {
		__atomic_fetch_add(&lost_lines, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&lg.lock);
}
