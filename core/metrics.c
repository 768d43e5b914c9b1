/* SPDX-License-Identifier: Apache-2.0 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_GETPIPE_SZ */
#endif
#include "core/metrics.h"
#include "core/ember.h"
#include "core/evloop.h"
#include "core/logger.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

struct metrics ember_metrics;

enum { M_INC, M_STORE };

static const struct field {
	const char *group, *name;
	size_t off;
	int kind;
} fields[] = {
#define ENTRY_(g, f, k) { #g, #f, offsetof(struct metrics, g.f), k },
#define GROUP_(g) METRICS_##g(ENTRY_)
	METRICS_GROUPS(GROUP_)
#undef GROUP_
#undef ENTRY_
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* Device counters: cumulative at the source, reported as changes. */
struct dev {
	char id[METRICS_ID_MAX + 1];
	const struct metrics_kind *kind;
	void *arg;
	uint64_t last[METRICS_DEV_VALS]; /* at the last line written */
	uint64_t cur[METRICS_DEV_VALS];  /* read for the line being written */
};

static struct {
	pthread_mutex_t lock;
	struct log_sink sink;
	bool configured;
	struct metrics last;     /* values in the last line written */
	struct dev devs[METRICS_MAX_DEVS];
	int ndevs;
	const struct metrics_kind *kinds[METRICS_MAX_KINDS];
	int nkinds;
	struct evloop *loop;
	int tfd;
} m = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.sink = { .fd = -1 },
	.tfd = -1,
};

/* The line being built (under m.lock); apart from m so that it stays in .bss. */
static char line_buf[64 * 1024];

static uint64_t *at(struct metrics *s, const struct field *f)
{
	return (uint64_t *)((char *)s + f->off);
}

int metrics_configure(const char *path, char *err, size_t errlen)
{
	struct log_sink sink;
	char why[512];

	pthread_mutex_lock(&m.lock);
	if (m.configured) {
		pthread_mutex_unlock(&m.lock);
		return errorf(err, errlen, "Reinitialization of metrics not allowed.");
	}
	if (log_sink_open(&sink, path, why, sizeof(why)) < 0) {
		pthread_mutex_unlock(&m.lock);
		return errorf(err, errlen, "metrics: %s", why);
	}
	m.sink = sink;
	m.configured = true;
	pthread_mutex_unlock(&m.lock);
	return 0;
}

static char line_extra[8192];

void metrics_set_extra(const char *fragment)
{
	pthread_mutex_lock(&m.lock);
	if (strlen(fragment) < sizeof(line_extra))
		strcpy(line_extra, fragment);
	pthread_mutex_unlock(&m.lock);
}

bool metrics_configured(void)
{
	bool c;

	pthread_mutex_lock(&m.lock);
	c = m.configured;
	pthread_mutex_unlock(&m.lock);
	return c;
}

void metrics_set_startup(uint64_t wall_us, uint64_t cpu_us)
{
	METRIC_SET(ember_metrics.api_server.process_startup_time_us, wall_us);
	METRIC_SET(ember_metrics.api_server.process_startup_time_cpu_us, cpu_us);
}

void metrics_mark_startup(uint64_t start_mono_ns)
{
	struct timespec now, cpu;
	uint64_t now_ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	now_ns = (uint64_t)now.tv_sec * 1000000000ULL + now.tv_nsec;
	metrics_set_startup(now_ns > start_mono_ns ? (now_ns - start_mono_ns) / 1000 : 0,
			    ((uint64_t)cpu.tv_sec * 1000000000ULL + cpu.tv_nsec) / 1000);
}

static int add_kind_locked(const struct metrics_kind *k)
{
	for (int i = 0; i < m.nkinds; i++)
		if (m.kinds[i] == k)
			return 0;
	if (m.nkinds == METRICS_MAX_KINDS || !k->group || !k->after || !k->read ||
	    k->n < 1 || k->n > METRICS_DEV_VALS)
		return -1;
	m.kinds[m.nkinds++] = k;
	return 0;
}

int metrics_add_kind(const struct metrics_kind *k)
{
	int r;

	pthread_mutex_lock(&m.lock);
	r = add_kind_locked(k);
	pthread_mutex_unlock(&m.lock);
	return r;
}

/* Ids become JSON keys: printable ASCII without '"' or '\\'. */
int metrics_add_device(const struct metrics_kind *k, const char *id, void *dev)
{
	struct dev d = { .kind = k, .arg = dev };
	size_t len = id ? strlen(id) : 0;

	if (len == 0 || len > METRICS_ID_MAX || !k || !dev)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (id[i] <= 0x20 || id[i] >= 0x7f || id[i] == '"' || id[i] == '\\')
			return -1;
	memcpy(d.id, id, len + 1);
	pthread_mutex_lock(&m.lock);
	for (int i = 0; i < m.ndevs; i++) {
		if (!strcmp(m.devs[i].kind->group, k->group) && !strcmp(m.devs[i].id, id)) {
			pthread_mutex_unlock(&m.lock);
			return -1;
		}
	}
	if (m.ndevs == METRICS_MAX_DEVS || add_kind_locked(k) < 0) {
		pthread_mutex_unlock(&m.lock);
		return -1;
	}
	m.devs[m.ndevs++] = d;
	pthread_mutex_unlock(&m.lock);
	return 0;
}

/* --- the line ----------------------------------------------------------------- */

struct jbuf {
	char *p;
	size_t size, n;
	bool full;
};

static void jput(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void jput(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (b->full)
		return;
	va_start(ap, fmt);
	r = vsnprintf(b->p + b->n, b->size - b->n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= b->size - b->n)
		b->full = true;
	else
		b->n += r;
}

static uint64_t delta(uint64_t cur, uint64_t last)
{
	return cur >= last ? cur - last : cur; /* a source that restarted from 0 */
}

static void read_dev(struct dev *d)
{
	memset(d->cur, 0, sizeof(d->cur));
	d->kind->read(d->arg, d->cur);
}

static void put_vals(struct jbuf *b, const char *key, const char *id,
		     const char *const *names, int n, const uint64_t *v)
{
	jput(b, ",\"%s%s%s\":{", key, id ? "_" : "", id ? id : "");
	for (int i = 0; i < n; i++)
		jput(b, "%s\"%s\":%llu", i ? "," : "", names[i], (unsigned long long)v[i]);
	jput(b, "}");
}

/* "<group>", the sum of the kind's devices, then "<group>_<id>" for each. */
static void put_devs(struct jbuf *b, const struct metrics_kind *k)
{
	uint64_t sum[METRICS_DEV_VALS] = { 0 }, d[METRICS_DEV_VALS];

	for (int i = 0; i < m.ndevs; i++)
		if (m.devs[i].kind == k)
			for (int v = 0; v < k->n; v++)
				sum[v] += delta(m.devs[i].cur[v], m.devs[i].last[v]);
	put_vals(b, k->group, NULL, k->names, k->n, sum);
	for (int i = 0; i < m.ndevs; i++) {
		if (m.devs[i].kind != k)
			continue;
		for (int v = 0; v < k->n; v++)
			d[v] = delta(m.devs[i].cur[v], m.devs[i].last[v]);
		put_vals(b, k->group, m.devs[i].id, k->names, k->n, d);
	}
}

/* The kinds whose groups follow group. */
static void put_kinds_after(struct jbuf *b, const char *group)
{
	for (int i = 0; i < m.nkinds; i++)
		if (!strcmp(m.kinds[i]->after, group))
			put_devs(b, m.kinds[i]);
}

static void format_line(struct jbuf *b, const struct metrics *snap)
{
	struct timespec now;
	const char *group = NULL;

	clock_gettime(CLOCK_REALTIME, &now);
	jput(b, "{\"utc_timestamp_ms\":%llu",
	     (unsigned long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
	if (line_extra[0])
		jput(b, ",%s", line_extra);
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct field *f = &fields[i];
		uint64_t v = *at((struct metrics *)snap, f);

		if (f->kind == M_INC)
			v = delta(v, *at(&m.last, f));
		if (!group || strcmp(group, f->group)) {
			if (group) {
				jput(b, "}");
				put_kinds_after(b, group);
			}
			group = f->group;
			jput(b, ",\"%s\":{", group);
		} else {
			jput(b, ",");
		}
		jput(b, "\"%s\":%llu", f->name, (unsigned long long)v);
	}
	jput(b, "}");
	put_kinds_after(b, group);
	jput(b, "}\n");
}

int metrics_flush(void)
{
	struct metrics snap;
	struct jbuf b = { .p = line_buf, .size = sizeof(line_buf) };
	int r = 0;

	pthread_mutex_lock(&m.lock);
	if (!m.configured) {
		pthread_mutex_unlock(&m.lock);
		return 0;
	}
	METRIC_SET(ember_metrics.logger.missed_log_count, logger_lost_lines());
	for (size_t i = 0; i < NFIELDS; i++)
		*at(&snap, &fields[i]) = __atomic_load_n(at(&ember_metrics, &fields[i]),
							 __ATOMIC_RELAXED);
	for (int i = 0; i < m.ndevs; i++)
		read_dev(&m.devs[i]);
	format_line(&b, &snap);
	if (b.full) {
		METRIC_INC(ember_metrics.logger.metrics_fails);
		r = -1;
	} else if (log_sink_write(&m.sink, b.p, b.n) < 0) {
		if (errno != EAGAIN)
			METRIC_INC(ember_metrics.logger.metrics_fails);
		r = -1;
	}
	if (r == 0) {
		/* what was reported is the base of the next line */
		m.last = snap;
		for (int i = 0; i < m.ndevs; i++)
			memcpy(m.devs[i].last, m.devs[i].cur, sizeof(m.devs[i].last));
	} else {
		METRIC_INC(ember_metrics.logger.missed_metrics_count);
	}
	pthread_mutex_unlock(&m.lock);
	return r;
}

/* --- the timer ---------------------------------------------------------------- */

static void on_timer(void *opaque, uint32_t events)
{
	uint64_t expirations;

	(void)opaque;
	(void)events;
	if (read(m.tfd, &expirations, sizeof(expirations)) < 0)
		return;
	if (metrics_flush() < 0)
		LOG_ERROR("Failed to write metrics: %s", errno == EAGAIN ?
			  "no room in the destination" : strerror(errno));
}

int metrics_start_periodic_ms(struct evloop *loop, uint64_t interval_ms)
{
	struct itimerspec its = { 0 };
	int fd;

	if (m.tfd >= 0) {
		errno = EBUSY;
		return -1;
	}
	if (interval_ms == 0) {
		errno = EINVAL;
		return -1;
	}
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -1;
	its.it_value.tv_sec = interval_ms / 1000;
	its.it_value.tv_nsec = (interval_ms % 1000) * 1000000;
	its.it_interval = its.it_value;
	if (timerfd_settime(fd, 0, &its, NULL) < 0 ||
	    evloop_add(loop, fd, EPOLLIN, on_timer, NULL) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	m.tfd = fd;
	m.loop = loop;
	metrics_flush();
	return 0;
}

void metrics_stop_periodic(struct evloop *loop)
{
	if (m.tfd < 0)
		return;
	evloop_del(loop ? loop : m.loop, m.tfd);
	close(m.tfd);
	m.tfd = -1;
	m.loop = NULL;
}

void metrics_reset(void)
{
	metrics_stop_periodic(m.loop);
	pthread_mutex_lock(&m.lock);
	log_sink_close(&m.sink);
	m.configured = false;
	m.ndevs = 0;
	m.nkinds = 0;
	memset(&m.last, 0, sizeof(m.last));
	memset(m.devs, 0, sizeof(m.devs));
	for (size_t i = 0; i < NFIELDS; i++)
		METRIC_SET(*at(&ember_metrics, &fields[i]), 0);
	pthread_mutex_unlock(&m.lock);
}
