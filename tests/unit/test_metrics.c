/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The metrics (core/metrics.h): every line is one valid JSON object (checked
 * by a strict parser here) with Firecracker's groups; counters are changes
 * since the last line written, store values absolute; per-device and
 * aggregate block/net; a full FIFO drops the line, counts it and carries
 * its counts to the next one; the periodic flush on the event loop; the
 * logger's lost lines; and the boot timer on an MMIO bus.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_GETPIPE_SZ */
#endif
#include "tests/unit/unit.h"
#include "api-socket/json.h"
#include "core/evloop.h"
#include "core/layout.h"
#include "core/logger.h"
#include "core/metrics.h"
#include "virtio/blk.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "vmm/boot_timer.h"
#include "vmm/vm.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static char dir[64], path[128], err[512];
static char text[1 << 20];

/* --- the line as JSON: ember's strict reader (api-socket/json.c) on cJSON ----- */

static cJSON *jline;

/* One JSON object then "\n" and nothing else: 0, or -1. */
static int jparse_line(const char *line)
{
	const char *nl = strchr(line, '\n');
	char why[256];

	cJSON_Delete(jline);
	jline = NULL;
	if (!nl || nl[1])
		return -1;
	jline = json_parse(line, nl - line, why, sizeof(why));
	if (!cJSON_IsObject(jline)) {
		cJSON_Delete(jline);
		jline = NULL;
		return -1;
	}
	return 0;
}

/* The value at a dotted path ("block_rootfs.read_count"), NULL if none. */
static const cJSON *jfind(const char *key)
{
	char path[160], *save = NULL;
	const cJSON *j = jline;

	snprintf(path, sizeof(path), "%s", key);
	for (char *k = strtok_r(path, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
		j = cJSON_GetObjectItemCaseSensitive(j, k);
	return j;
}

static bool jhas(const char *key)
{
	return cJSON_IsNumber(jfind(key));
}

static unsigned long long jget(const char *key)
{
	const cJSON *v = jfind(key);

	if (cJSON_IsNumber(v) && v->valuedouble >= 0)
		return (unsigned long long)v->valuedouble;
	unit_check(0, __FILE__, __LINE__, "key in the metrics", "no number \"%s\"", key);
	return ~0ULL;
}

#define CHECK_KEY(key, want) CHECK_EQ(jget(key), want)

/* ------------------------------------------------------------------------------ */

/* virtio-net's kind over plain struct virtio_net_stats (no TAP here). */
static struct metrics_kind net_kind;

static void read_net(void *dev, uint64_t *vals)
{
	virtio_net_metric_vals(dev, vals);
}

static void setup(void)
{
	strcpy(dir, "/tmp/ember-metrics-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/metrics", dir);
	metrics_reset();
	logger_reset();
	/* as vmm_init(): both groups, in Firecracker's places, with no device yet */
	net_kind = virtio_net_metrics;
	net_kind.read = read_net;
	CHECK_EQ(metrics_add_kind(&virtio_blk_metrics), 0);
	CHECK_EQ(metrics_add_kind(&net_kind), 0);
	/* the failures below would be logged on stderr */
	CHECK_OK(logger_configure(NULL, LOG_LEVEL_OFF, false, false, err, sizeof(err)), err);
}

static void teardown(void)
{
	char p[160];

	metrics_reset();
	logger_reset();
	for (const char *const *f = (const char *const[]){ "metrics", "fifo", "log", NULL };
	     *f; f++) {
		snprintf(p, sizeof(p), "%s/%s", dir, *f);
		unlink(p);
	}
	rmdir(dir);
}

/* Parse line number i (from 0) of text; 0, or -1 (a failed check). */
static int parse_line(int i)
{
	char line[65536];
	const char *s = text, *e;

	for (; i > 0 && s; i--)
		s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL;
	if (!s || !(e = strchr(s, '\n')) || (size_t)(e - s + 1) >= sizeof(line)) {
		unit_check(0, __FILE__, __LINE__, "metrics line", "missing");
		return -1;
	}
	memcpy(line, s, e - s + 1);
	line[e - s + 1] = '\0';
	if (jparse_line(line) < 0) {
		unit_check(0, __FILE__, __LINE__, "valid JSON", "%.200s", line);
		return -1;
	}
	return 0;
}

static uint64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* The checker itself must refuse what is not one JSON object per line. */
static void test_json_checker(void)
{
	static const char *const bad[] = {
		"{\"a\":1,}\n", "{\"a\":1\n", "{\"a\" 1}\n", "{a:1}\n", "{\"a\":01}\n",
		"{\"a\":1}{}\n", "{\"a\":1}", "{\"a\":1}\n\n", "{\"a\":\"x\ny\"}\n",
		"{\"a\":{\"b\":1,\"b\":2}}\n", "[1]\n", "{\"a\":tru}\n", "{\"a\":-}\n",
		"{\"a\":\"\\x\"}\n",
	};
	static const char *const good[] = {
		"{}\n", "{\"a\":{\"b\":[1,2,{\"c\":3}],\"d\":\"\\u00e9\\\"\"},\"e\":-1}\n",
		"{ \"a\" : true , \"b\" : null }\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		unit_check(jparse_line(bad[i]) == -1, __FILE__, __LINE__, "refused", "%s", bad[i]);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		unit_check(jparse_line(good[i]) == 0, __FILE__, __LINE__, "accepted", "%s", good[i]);
	/* no line has a fraction: every value is a count */
	CHECK(jparse_line("{\"a\":-1.5e3}\n") == -1);
	jparse_line("{\"x\":{\"y\":9007199254740992}}\n");
	CHECK_KEY("x.y", 9007199254740992ULL);
}

static void test_unconfigured(void)
{
	setup();
	CHECK(!metrics_configured());
	METRIC_INC(ember_metrics.vcpu.exit_io_in);
	CHECK_EQ(metrics_flush(), 0);   /* nowhere to write: nothing happens */
	CHECK_EQ(METRIC_GET(ember_metrics.logger.missed_metrics_count), 0);
	CHECK_FAIL(metrics_configure("", err, sizeof(err)), err, "metrics: the path is empty");
	snprintf(text, sizeof(text), "%s/none/m", dir);
	CHECK_FAIL(metrics_configure(text, err, sizeof(err)), err, "metrics: cannot open");
	CHECK_FAIL(metrics_configure(dir, err, sizeof(err)), err, "metrics: cannot open");
	CHECK(!metrics_configured());
	CHECK_OK(metrics_configure(path, err, sizeof(err)), err);
	CHECK(metrics_configured());
	/* once only, as Firecracker */
	CHECK_FAIL(metrics_configure(path, err, sizeof(err)), err,
		   "Reinitialization of metrics not allowed.");
	teardown();
}

static struct virtio_net_stats net0, net1;

static void test_lines_and_deltas(void)
{
	static const char *const groups[] = {
		"api_server.process_startup_time_us", "api_server.process_startup_time_cpu_us",
		"get_api_requests.instance_info_count", "put_api_requests.actions_count",
		"put_api_requests.drive_fails", "patch_api_requests.drive_count",
		"logger.missed_metrics_count", "logger.missed_log_count", "logger.metrics_fails",
		"vcpu.exit_io_in", "vcpu.exit_io_out", "vcpu.exit_mmio_read",
		"vcpu.exit_mmio_write", "vcpu.failures", "vmm.guest_boot_time_us",
		"block.read_bytes", "block.write_bytes", "block.read_count", "block.write_count",
		"block.flush_count", "block.execute_fails", "net.rx_bytes_count",
		"net.tx_bytes_count", "net.rx_packets_count", "net.tx_packets_count",
		"net.rx_fails", "net.tx_fails", "net.rx_drops", "net.tx_drops",
	};
	struct virtio_blk_stats root = { 0 }, data = { 0 };
	uint64_t t0, t1;

	setup();
	memset(&net0, 0, sizeof(net0));
	memset(&net1, 0, sizeof(net1));
	CHECK_OK(metrics_configure(path, err, sizeof(err)), err);
	CHECK_EQ(metrics_add_device(&virtio_blk_metrics, "rootfs", &root), 0);
	CHECK_EQ(metrics_add_device(&virtio_blk_metrics, "data", &data), 0);
	CHECK_EQ(metrics_add_device(&net_kind, "eth0", &net0), 0);
	CHECK_EQ(metrics_add_device(&net_kind, "eth1", &net1), 0);
	metrics_set_startup(1234, 567);

	METRIC_ADD(ember_metrics.vcpu.exit_io_in, 5);
	METRIC_INC(ember_metrics.put_api_requests.actions_count);
	root.reads = 3;
	root.read_bytes = 3 * 4096;
	data.writes = 2;
	data.write_bytes = 1024;
	data.flushes = 1;
	data.errors = 1;
	net0.rx_frames = 10;
	net0.rx_bytes = 1500;
	net1.tx_frames = 4;
	net1.tx_bytes = 400;
	net1.tx_drops = 2;
	net1.tx_errors = 1;
	net0.rx_drops = 7;
	net0.rx_errors = 3;
	t0 = real_ms();
	CHECK_EQ(metrics_flush(), 0);
	t1 = real_ms();
	unit_slurp(path, text, sizeof(text));
	CHECK_EQ(unit_count_lines(text), 1);
	if (parse_line(0) == 0) {
		for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
			unit_check(jhas(groups[i]), __FILE__, __LINE__, "key", "%s", groups[i]);
		CHECK(jget("utc_timestamp_ms") >= t0 && jget("utc_timestamp_ms") <= t1);
		/* the first key, as Firecracker writes it */
		CHECK(!strncmp(text, "{\"utc_timestamp_ms\":", 20));
		CHECK_KEY("api_server.process_startup_time_us", 1234);
		CHECK_KEY("api_server.process_startup_time_cpu_us", 567);
		CHECK_KEY("vcpu.exit_io_in", 5);
		CHECK_KEY("vcpu.exit_io_out", 0);
		CHECK_KEY("put_api_requests.actions_count", 1);
		CHECK_KEY("block_rootfs.read_count", 3);
		CHECK_KEY("block_rootfs.read_bytes", 3 * 4096);
		CHECK_KEY("block_rootfs.write_count", 0);
		CHECK_KEY("block_data.write_count", 2);
		CHECK_KEY("block_data.write_bytes", 1024);
		CHECK_KEY("block_data.flush_count", 1);
		CHECK_KEY("block_data.execute_fails", 1);
		CHECK_KEY("block.read_count", 3);
		CHECK_KEY("block.write_count", 2);
		CHECK_KEY("block.read_bytes", 3 * 4096);
		CHECK_KEY("net_eth0.rx_packets_count", 10);
		CHECK_KEY("net_eth0.rx_bytes_count", 1500);
		CHECK_KEY("net_eth0.rx_drops", 7);
		CHECK_KEY("net_eth0.rx_fails", 3);
		CHECK_KEY("net_eth1.tx_packets_count", 4);
		CHECK_KEY("net_eth1.tx_bytes_count", 400);
		CHECK_KEY("net_eth1.tx_drops", 2);
		CHECK_KEY("net_eth1.tx_fails", 1);
		CHECK_KEY("net.rx_packets_count", 10);
		CHECK_KEY("net.tx_packets_count", 4);
	}

	/* the second line: changes since the first; store values stay */
	METRIC_ADD(ember_metrics.vcpu.exit_io_in, 3);
	METRIC_INC(ember_metrics.vcpu.exit_mmio_write);
	root.reads = 4;
	root.read_bytes += 512;
	data.reads = 2;
	data.read_bytes = 100;
	net0.rx_frames = 11;
	net1.rx_frames = 5;
	CHECK_EQ(metrics_flush(), 0);
	unit_slurp(path, text, sizeof(text));
	CHECK_EQ(unit_count_lines(text), 2);
	if (parse_line(1) == 0) {
		CHECK_KEY("api_server.process_startup_time_us", 1234);
		CHECK_KEY("vcpu.exit_io_in", 3);
		CHECK_KEY("vcpu.exit_mmio_write", 1);
		CHECK_KEY("put_api_requests.actions_count", 0);
		CHECK_KEY("block_rootfs.read_count", 1);
		CHECK_KEY("block_rootfs.read_bytes", 512);
		CHECK_KEY("block_data.read_count", 2);
		CHECK_KEY("block_data.write_count", 0);
		CHECK_KEY("block.read_count", 3);
		CHECK_KEY("block.read_bytes", 612);
		CHECK_KEY("net_eth0.rx_packets_count", 1);
		CHECK_KEY("net_eth1.rx_packets_count", 5);
		CHECK_KEY("net.rx_packets_count", 6);
		CHECK_KEY("net_eth0.rx_drops", 0);
	}

	/* nothing happened: all counters 0; the start-up time measured */
	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		metrics_mark_startup((uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec -
				     3000000ULL);
	}
	CHECK_EQ(metrics_flush(), 0);
	unit_slurp(path, text, sizeof(text));
	if (parse_line(2) == 0) {
		CHECK_KEY("vcpu.exit_io_in", 0);
		CHECK_KEY("block.read_count", 0);
		CHECK_KEY("net.rx_packets_count", 0);
		CHECK(jget("api_server.process_startup_time_us") >= 3000);
		CHECK(jget("api_server.process_startup_time_us") < 3000 + 5000000);
		CHECK(jget("api_server.process_startup_time_cpu_us") > 0);
	}
	teardown();
}

static void test_devices_refused(void)
{
	static struct virtio_blk_stats s[METRICS_MAX_DEVS + 1];
	char id[METRICS_ID_MAX + 2];

	setup();
	CHECK_EQ(metrics_add_device(&virtio_blk_metrics, "", &s[0]), -1);
	CHECK_EQ(metrics_add_device(&virtio_blk_metrics, NULL, &s[0]), -1);
	CHECK_EQ(metrics_add_device(&virtio_blk_metrics, "a", NULL), -1);
	CHECK_EQ(metrics_add_device(&virtio_blk_metrics, "a\"b", &s[0]), -1);
	CHECK_EQ(metrics_add_device(&virtio_blk_metrics, "a b", &s[0]), -1);
	CHECK_EQ(metrics_add_device(&virtio_blk_metrics, "a\\b", &s[0]), -1);
	CHECK_EQ(metrics_add_device(&net_kind, "x", NULL), -1);
	memset(id, 'i', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	/* METRICS_ID_MAX + 1 bytes */
	CHECK_EQ(metrics_add_device(&virtio_blk_metrics, id, &s[0]), -1);
	id[METRICS_ID_MAX] = '\0';
	CHECK_EQ(metrics_add_device(&virtio_blk_metrics, id, &s[0]), 0);
	CHECK_EQ(metrics_add_device(&virtio_blk_metrics, id, &s[1]), -1); /* used */
	CHECK_EQ(metrics_add_device(&net_kind, id, &net0), 0); /* "net_<id>" is another key */
	for (int i = 2; i < METRICS_MAX_DEVS; i++) {
		snprintf(id, sizeof(id), "d%d", i);
		CHECK_EQ(metrics_add_device(&virtio_blk_metrics, id, &s[i]), 0);
	}
	CHECK_EQ(metrics_add_device(&virtio_blk_metrics, "one-too-many", &s[METRICS_MAX_DEVS]),
		 -1);
	/* all of them still make one valid line */
	CHECK_OK(metrics_configure(path, err, sizeof(err)), err);
	s[5].reads = 9;
	CHECK_EQ(metrics_flush(), 0);
	unit_slurp(path, text, sizeof(text));
	if (parse_line(0) == 0) {
		CHECK_KEY("block_d5.read_count", 9);
		CHECK_KEY("block.read_count", 9);
	}
	teardown();
}

static void test_full_fifo(void)
{
	char fifo[160];
	static char junk[1 << 20];
	uint64_t t0;
	int keep, size, queued = 0;
	ssize_t n;

	setup();
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	keep = open(fifo, O_RDWR | O_NONBLOCK);   /* it exists; nobody drains it */
	CHECK(keep >= 0);
	CHECK_OK(metrics_configure(fifo, err, sizeof(err)), err);
	size = fcntl(keep, F_GETPIPE_SZ);
	CHECK(size > 0);
	/* fill it up to 100 bytes: no metrics line fits */
	n = write(keep, junk, size - 100);
	CHECK_EQ(n, size - 100);
	METRIC_ADD(ember_metrics.vcpu.exit_io_out, 7);
	t0 = mono_ms();
	CHECK_EQ(metrics_flush(), -1);
	CHECK_EQ(metrics_flush(), -1);
	CHECK(mono_ms() - t0 < 1000);
	CHECK_EQ(METRIC_GET(ember_metrics.logger.missed_metrics_count), 2);
	CHECK_EQ(METRIC_GET(ember_metrics.logger.metrics_fails), 0);
	CHECK(ioctl(keep, FIONREAD, &queued) == 0);
	CHECK_EQ(queued, size - 100);   /* nothing of a line went in */

	/* drained: the next line carries what the lost ones had */
	while (read(keep, junk, sizeof(junk)) > 0)
		;
	METRIC_ADD(ember_metrics.vcpu.exit_io_out, 1);
	CHECK_EQ(metrics_flush(), 0);
	n = read(keep, text, sizeof(text) - 1);
	CHECK(n > 0);
	text[n > 0 ? n : 0] = '\0';
	CHECK_EQ(unit_count_lines(text), 1);
	if (parse_line(0) == 0) {
		CHECK_KEY("vcpu.exit_io_out", 8);
		CHECK_KEY("logger.missed_metrics_count", 2);
	}
	/* and the one after that starts from there */
	CHECK_EQ(metrics_flush(), 0);
	n = read(keep, text, sizeof(text) - 1);
	text[n > 0 ? n : 0] = '\0';
	if (parse_line(0) == 0) {
		CHECK_KEY("vcpu.exit_io_out", 0);
		CHECK_KEY("logger.missed_metrics_count", 0);
	}
	close(keep);
	teardown();
}

static void test_logger_lost_lines(void)
{
	char fifo[160], log[160];
	static char junk[1 << 20];
	int keep, size;

	setup();
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(log, sizeof(log), "%s/log", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	keep = open(fifo, O_RDWR | O_NONBLOCK);
	CHECK(keep >= 0);
	size = fcntl(keep, F_GETPIPE_SZ);
	CHECK(write(keep, junk, size) == size);    /* full */
	CHECK_OK(logger_configure(fifo, LOG_LEVEL_INFO, false, false, err, sizeof(err)), err);
	CHECK_OK(metrics_configure(path, err, sizeof(err)), err);
	for (int i = 0; i < 5; i++)
		LOG_INFO("lost %d", i);
	CHECK_EQ(logger_lost_lines(), 5);
	CHECK_EQ(metrics_flush(), 0);
	LOG_WARN("lost too");
	CHECK_EQ(metrics_flush(), 0);
	unit_slurp(path, text, sizeof(text));
	if (parse_line(0) == 0)
		CHECK_KEY("logger.missed_log_count", 5);
	if (parse_line(1) == 0)
		CHECK_KEY("logger.missed_log_count", 1);
	close(keep);
	teardown();
}

static void on_deadline(void *opaque, uint32_t events)
{
	struct evloop *l = opaque;

	(void)events;
	l->done = 1;
}

static void test_periodic(void)
{
	struct evloop loop;
	struct itimerspec its = { .it_value = { 0, 330 * 1000000 } };
	int dl, lines;

	setup();
	CHECK_OK(metrics_configure(path, err, sizeof(err)), err);
	CHECK_EQ(evloop_init(&loop), 0);
	dl = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	CHECK(dl >= 0);
	CHECK_EQ(timerfd_settime(dl, 0, &its, NULL), 0);
	CHECK_EQ(evloop_add(&loop, dl, EPOLLIN, on_deadline, &loop), 0);
	CHECK_EQ(metrics_start_periodic_ms(&loop, 0), -1);
	CHECK_EQ(metrics_start_periodic_ms(&loop, 50), 0);
	unit_slurp(path, text, sizeof(text));
	CHECK_EQ(unit_count_lines(text), 1);    /* one line at once, as Firecracker */
	errno = 0;
	CHECK_EQ(metrics_start_periodic_ms(&loop, 50), -1);
	CHECK_EQ(errno, EBUSY);
	METRIC_ADD(ember_metrics.vcpu.exit_mmio_read, 2);
	evloop_run(&loop);                 /* 330 ms: 6 more lines (fewer when busy) */
	metrics_stop_periodic(&loop);
	unit_slurp(path, text, sizeof(text));
	lines = unit_count_lines(text);
	unit_check(lines >= 3 && lines <= 8, __FILE__, __LINE__, "periodic lines",
		   "%d lines in 330 ms at 50 ms", lines);
	for (int i = 0; i < lines; i++)
		parse_line(i);
	if (parse_line(1) == 0)
		CHECK_KEY("vcpu.exit_mmio_read", 2);
	if (parse_line(2) == 0)
		CHECK_KEY("vcpu.exit_mmio_read", 0);
	/* stopped: the loop has no timer left, and it can start again */
	CHECK_EQ(loop.n, 2);
	CHECK_EQ(loop.src[1].fd, -1);
	CHECK_EQ(metrics_start_periodic(&loop), 0);
	metrics_stop_periodic(&loop);
	evloop_del(&loop, dl);
	close(dl);
	close(loop.epfd);
	teardown();
}

static void test_boot_timer(void)
{
	static struct vm vm;
	char log[160], *p;
	uint8_t b[4];
	uint64_t us = 0, cpu = 0;
	unsigned long long lus, lms, lcus, lcms;

	setup();
	snprintf(log, sizeof(log), "%s/log", dir);
	CHECK_OK(logger_configure(log, LOG_LEVEL_INFO, true, false, err, sizeof(err)), err);
	CHECK_OK(metrics_configure(path, err, sizeof(err)), err);
	memset(&vm, 0, sizeof(vm));
	vm.mmio.name = "MMIO address";
	CHECK_EQ(boot_timer_init(&vm, boot_timer_now_ns() - 25 * 1000000ULL), 0);
	CHECK(!boot_timer_result(&us, &cpu));

	/* what is not one byte 123 at offset 0 is ignored; reads give zeros */
	b[0] = 122;
	CHECK(bus_access(&vm.mmio, BOOT_TIMER_ADDR, b, 1, true));
	b[0] = 123;
	CHECK(bus_access(&vm.mmio, BOOT_TIMER_ADDR + 1, b, 1, true));
	b[1] = 0;
	CHECK(bus_access(&vm.mmio, BOOT_TIMER_ADDR, b, 2, true));
	memset(b, 0xaa, sizeof(b));
	CHECK(bus_access(&vm.mmio, BOOT_TIMER_ADDR, b, 4, false));
	CHECK_EQ(b[0] | b[1] | b[2] | b[3], 0);
	CHECK(!boot_timer_result(&us, &cpu));
	unit_slurp(log, text, sizeof(text));
	CHECK_EQ(unit_count_lines(text), 0);

	b[0] = BOOT_TIMER_MAGIC;
	CHECK(bus_access(&vm.mmio, BOOT_TIMER_ADDR, b, 1, true));
	CHECK(boot_timer_result(&us, &cpu));
	CHECK(us >= 25000 && us < 25000 + 5 * 1000000);
	unit_slurp(log, text, sizeof(text));
	CHECK_EQ(unit_count_lines(text), 1);
	p = strstr(text, ":INFO] Guest-boot-time = ");
	CHECK(p != NULL);
	if (p) {
		CHECK_EQ(sscanf(p, ":INFO] Guest-boot-time = %llu us %llu ms, %llu CPU us %llu CPU ms",
				&lus, &lms, &lcus, &lcms), 4);
		CHECK_EQ(lus, us);
		CHECK_EQ(lms, us / 1000);
		CHECK_EQ(lcus, cpu);
		CHECK_EQ(lcms, cpu / 1000);
	}
	CHECK_EQ(metrics_flush(), 0);
	unit_slurp(path, text, sizeof(text));
	if (parse_line(0) == 0) {
		CHECK_KEY("vmm.guest_boot_time_us", us);
		CHECK_KEY("vmm.guest_boot_time_cpu_us", cpu);
	}
	/* the page is taken now; the address is in ember's MMIO gap, past virtio */
	CHECK_EQ(boot_timer_init(&vm, boot_timer_now_ns()), -1);
	CHECK(BOOT_TIMER_ADDR >= VIRTIO_MMIO_BASE + VIRTIO_MMIO_MAX_DEVS * VIRTIO_MMIO_SIZE);
	CHECK(BOOT_TIMER_ADDR >= MMIO_GAP_START);
	CHECK(BOOT_TIMER_ADDR + BOOT_TIMER_SIZE <= IOAPIC_ADDR);
	teardown();
}

UNIT_MAIN(TEST(test_json_checker), TEST(test_unconfigured), TEST(test_lines_and_deltas),
	  TEST(test_devices_refused), TEST(test_full_fifo), TEST(test_logger_lost_lines),
	  TEST(test_periodic), TEST(test_boot_timer))
