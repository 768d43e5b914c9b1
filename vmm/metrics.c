/* SPDX-License-Identifier: Apache-2.0 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_GETPIPE_SZ */
#endif
#include "metrics.h"
#include "evloop.h"
#include "ember.h"
#include "logger.h"
#include "../virtio/blk.h"
#include "../virtio/net.h"

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
static const char *const blk_names[] = {
	"read_bytes", "write_bytes", "read_count", "write_count", "flush_count",
	"execute_fails",
};
static const char *const net_names[] = {
	"rx_bytes_count", "rx_packets_count", "rx_fails", "rx_drops",
	"tx_bytes_count", "tx_packets_count", "tx_fails", "tx_drops",
};
#define DEV_VALS 8

struct dev {
	char id[METRICS_ID_MAX + 1];
	bool net;
	const struct virtio_blk_stats *blk;
	void (*get)(void *arg, struct virtio_net_stats *st);
	void *arg;
	uint64_t last[DEV_VALS]; /* at the last line written */
	uint64_t cur[DEV_VALS];  /* read for the line being written */
};

static struct {
	pthread_mutex_t lock;
	struct log_sink sink;
	bool configured;
	struct metrics last;     /* values in the last line written */
	struct dev devs[METRICS_MAX_DEVS];
	int ndevs;
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
		snprintf(err, errlen, "metrics: already configured");
		return -1;
	}
	if (log_sink_open(&sink, path, why, sizeof(why)) < 0) {
		pthread_mutex_unlock(&m.lock);
		snprintf(err, errlen, "metrics: %s", why);
		return -1;
	}
	m.sink = sink;
	m.configured = true;
	pthread_mutex_unlock(&m.lock);
	return 0;
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

/* Ids become JSON keys: printable ASCII without '"' or '\\'. */
static int add_dev(const struct dev *d)
{
	size_t len = strlen(d->id);

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (d->id[i] <= 0x20 || d->id[i] >= 0x7f || d->id[i] == '"' || d->id[i] == '\\')
			return -1;
	pthread_mutex_lock(&m.lock);
	for (int i = 0; i < m.ndevs; i++) {
		if (m.devs[i].net == d->net && !strcmp(m.devs[i].id, d->id)) {
			pthread_mutex_unlock(&m.lock);
			return -1;
		}
	}
	if (m.ndevs == METRICS_MAX_DEVS) {
		pthread_mutex_unlock(&m.lock);
		return -1;
	}
	m.devs[m.ndevs++] = *d;
	pthread_mutex_unlock(&m.lock);
	return 0;
}

int metrics_add_block(const char *id, const struct virtio_blk_stats *live)
{
	struct dev d = { .blk = live };

	if (!id || !live || strlen(id) > METRICS_ID_MAX)
		return -1;
	strcpy(d.id, id);
	return add_dev(&d);
}

int metrics_add_net(const char *iface_id, void (*get)(void *arg, struct virtio_net_stats *st),
		    void *arg)
{
	struct dev d = { .net = true, .get = get, .arg = arg };

	if (!iface_id || !get || strlen(iface_id) > METRICS_ID_MAX)
		return -1;
	strcpy(d.id, iface_id);
	return add_dev(&d);
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
	if (d->net) {
		struct virtio_net_stats s = { 0 };

		d->get(d->arg, &s);
		uint64_t v[DEV_VALS] = { s.rx_bytes, s.rx_frames, s.rx_errors, s.rx_drops,
					 s.tx_bytes, s.tx_frames, s.tx_errors, s.tx_drops };
		memcpy(d->cur, v, sizeof(v));
	} else {
		/* updated by the device without a lock: read each word whole */
		const struct virtio_blk_stats *s = d->blk;

		d->cur[0] = __atomic_load_n(&s->read_bytes, __ATOMIC_RELAXED);
		d->cur[1] = __atomic_load_n(&s->write_bytes, __ATOMIC_RELAXED);
		d->cur[2] = __atomic_load_n(&s->reads, __ATOMIC_RELAXED);
		d->cur[3] = __atomic_load_n(&s->writes, __ATOMIC_RELAXED);
		d->cur[4] = __atomic_load_n(&s->flushes, __ATOMIC_RELAXED);
		d->cur[5] = __atomic_load_n(&s->errors, __ATOMIC_RELAXED);
		d->cur[6] = d->cur[7] = 0;
	}
}

static void put_vals(struct jbuf *b, const char *key, const char *id,
		     const char *const *names, int n, const uint64_t *v)
{
	jput(b, ",\"%s%s%s\":{", key, id ? "_" : "", id ? id : "");
	for (int i = 0; i < n; i++)
		jput(b, "%s\"%s\":%llu", i ? "," : "", names[i], (unsigned long long)v[i]);
	jput(b, "}");
}

/* "block" then "block_<id>"..., or the same for "net". */
static void put_devs(struct jbuf *b, bool net)
{
	const char *const *names = net ? net_names : blk_names;
	int n = net ? (int)ARRAY_SIZE(net_names) : (int)ARRAY_SIZE(blk_names);
	uint64_t sum[DEV_VALS] = { 0 }, d[DEV_VALS];

	for (int i = 0; i < m.ndevs; i++)
		if (m.devs[i].net == net)
			for (int k = 0; k < n; k++)
				sum[k] += delta(m.devs[i].cur[k], m.devs[i].last[k]);
	put_vals(b, net ? "net" : "block", NULL, names, n, sum);
	for (int i = 0; i < m.ndevs; i++) {
		if (m.devs[i].net != net)
			continue;
		for (int k = 0; k < n; k++)
			d[k] = delta(m.devs[i].cur[k], m.devs[i].last[k]);
		put_vals(b, net ? "net" : "block", m.devs[i].id, names, n, d);
	}
}

static void format_line(struct jbuf *b, const struct metrics *snap)
{
	struct timespec now;
	const char *group = NULL;

	clock_gettime(CLOCK_REALTIME, &now);
	jput(b, "{\"utc_timestamp_ms\":%llu",
	     (unsigned long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct field *f = &fields[i];
		uint64_t v = *at((struct metrics *)snap, f);

		if (f->kind == M_INC)
			v = delta(v, *at(&m.last, f));
		if (!group || strcmp(group, f->group)) {
			if (group) {
				jput(b, "}");
				if (!strcmp(group, "api_server"))
					put_devs(b, false);
				else if (!strcmp(group, "logger"))
					put_devs(b, true);
			}
			group = f->group;
			jput(b, ",\"%s\":{", group);
		} else {
			jput(b, ",");
		}
		jput(b, "\"%s\":%llu", f->name, (unsigned long long)v);
	}
	jput(b, "}}\n");
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
	memset(&m.last, 0, sizeof(m.last));
	memset(m.devs, 0, sizeof(m.devs));
	for (size_t i = 0; i < NFIELDS; i++)
		METRIC_SET(*at(&ember_metrics, &fields[i]), 0);
	pthread_mutex_unlock(&m.lock);
}
