/* SPDX-License-Identifier: Apache-2.0 */
#include "core/ember.h"
#include "core/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "ember: %s", prefix);

	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	fprintf(stderr, "%s\n", buf);
}

void die(int status, const char *fmt, ...)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	va_list ap;

	/* One thread exits; any other that dies at the same time waits. */
	pthread_mutex_lock(&lock);
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
	exit(status);
}

int open_host_file(const char *path, int flags, bool blk_ok, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0600);

	if (fd < 0)
		return errorf(err, errlen, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || (blk_ok && S_ISBLK(st.st_mode)))) {
		close(fd);
		return errorf(err, errlen, "%s is not a regular file%s", path,
			      blk_ok ? " or block device" : "");
	}
	/* O_NONBLOCK stays: it changes nothing for regular files and disks. */
	return fd;
}

int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static pthread_mutex_t gw_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_ms;
static int tokens = GUEST_WARN_BURST;

void guest_warn_reset(void)
{
	pthread_mutex_lock(&gw_lock);
	tokens = GUEST_WARN_BURST;
	last_ms = 0;
	pthread_mutex_unlock(&gw_lock);
}

void guest_warn_at(const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	uint64_t now = mono_ms();
	bool say;
	va_list ap;

	pthread_mutex_lock(&gw_lock);
	if (!last_ms)
		last_ms = now;
	while (now - last_ms >= GUEST_WARN_EVERY_MS) {
		last_ms += GUEST_WARN_EVERY_MS;
		if (tokens < GUEST_WARN_BURST)
			tokens++;
		if (tokens == GUEST_WARN_BURST)
			last_ms = now; /* full: no credit for the idle time */
	}
	say = tokens > 0;
	if (say)
		tokens--;
	pthread_mutex_unlock(&gw_lock);
	if (!say) {
		METRIC_INC(ember_metrics.logger.missed_log_count);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_enabled(LOG_LEVEL_WARN))
		logger_log(LOG_LEVEL_WARN, file, line, "%s", msg);
}

const uint8_t *map_file(const char *path, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	void *p;
	int fd = open_host_file(path, O_RDONLY, false, err, errlen);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		errorf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (st.st_size == 0) {
		errorf(err, errlen, "%s is empty", path);
		close(fd);
		return NULL;
	}
	p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		errorf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	*len = st.st_size;
	return p;
}
