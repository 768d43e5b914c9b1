/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapbench: ember's snapshot figures on whatever KVM it runs on.
 *
 *   snapbench RUNS EMBER GUEST MEM_MIB DIR
 *
 * 1. Once: EMBER --api-sock boots GUEST (tests/api/apiguest.elf, ticking on
 *    its console) with MEM_MIB MiB and track_dirty_pages; once it ticks:
 *    PATCH /vm Paused, PUT /snapshot/create Full (timed), Resumed, a few
 *    ticks, Paused, PUT /snapshot/create Diff (timed); the files go to DIR.
 * 2. RUNS times: a new EMBER --api-sock; PUT /snapshot/load of the Full
 *    snapshot with resume_vm, timed from the request to its answer and to
 *    the guest's first console line after it; the CPU time of ember's
 *    threads other than the vCPUs' (from /proc/PID/task/TID/schedstat: what
 *    the VMM spent, not the guest) from before the request to after it.
 * Prints "create-full-us", "create-diff-us" (one figure, N 1), "load-us",
 * "load-to-guest-us", "load-vmm-cpu-us" lines as apibench does (median p10
 * p90 p99 n). Figures only: nothing is asserted. Exits 1 with a line when a
 * step fails.
 */
#define _GNU_SOURCE /* pipe2 */
#define TOOL_NAME "snapbench"
#include "tool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char sock[108];

static void die(const char *what)
{
	fprintf(stderr, "snapbench: %s\n", what);
	exit(1);
}

struct vmm {
	pid_t pid;
	int out;        /* its standard output (a pipe) */
	int api;        /* a connection to its API */
	char buf[1 << 16];
	size_t len;     /* console bytes kept in buf (the tail) */
};

/* Read what the console has (waiting up to ms); 0 at EOF or timeout. */
static int drain(struct vmm *v, int ms)
{
	struct pollfd p = { .fd = v->out, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	if (v->len > sizeof(v->buf) / 2) {
		memmove(v->buf, v->buf + v->len - 1024, 1024);
		v->len = 1024;
	}
	n = read(v->out, v->buf + v->len, sizeof(v->buf) - 1 - v->len);
	if (n <= 0)
		return 0;
	v->len += (size_t)n;
	v->buf[v->len] = '\0';
	return 1;
}

/* Wait (up to 10 s) until the console shows text after offset from. */
static void wait_for(struct vmm *v, const char *text, size_t from)
{
	int64_t end = now_us() + 10000000;

	while (now_us() < end) {
		if (v->len > from && strstr(v->buf + from, text))
			return;
		if (!drain(v, 100) && waitpid(v->pid, NULL, WNOHANG) == v->pid)
			break;
	}
	fprintf(stderr, "snapbench: no '%s' on the guest's console: ...%s\n", text,
		v->buf + (v->len > 200 ? v->len - 200 : 0));
	exit(1);
}

static void spawn(struct vmm *v, const char *ember)
{
	int p[2];
	int64_t end = now_us() + 5000000;

	memset(v, 0, sizeof(*v));
	unlink(sock);
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe failed");
	v->pid = fork();
	if (v->pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(devnull, 0);
		dup2(p[1], 1);
		dup2(devnull, 2);
		execl(ember, ember, "--api-sock", sock, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	v->out = p[0];
	for (;;) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			v->api = fd;
			return;
		}
		if (fd >= 0)
			close(fd);
		if (now_us() > end)
			die("ember never accepted on its API socket");
	}
}

static void stop(struct vmm *v)
{
	close(v->api);
	kill(v->pid, SIGKILL);
	waitpid(v->pid, NULL, 0);
	close(v->out);
}

/* One request with a JSON body (or none); the status code. */
static int request(struct vmm *v, const char *method, const char *path, const char *body)
{
	char req[2048], resp[4096];
	size_t got = 0;
	int n;

	n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", method, path,
		     body ? strlen(body) : 0, body ? body : "");
	if (n < 0 || (size_t)n >= sizeof(req) || write(v->api, req, (size_t)n) != n)
		die("cannot send a request");
	for (;;) {
		ssize_t r = read(v->api, resp + got, sizeof(resp) - 1 - got);
		char *end;
		long len = 0;

		if (r <= 0)
			die("the API closed the connection");
		got += (size_t)r;
		resp[got] = '\0';
		end = strstr(resp, "\r\n\r\n");
		if (!end)
			continue;
		if (strstr(resp, "Content-Length: "))
			len = strtol(strstr(resp, "Content-Length: ") + 16, NULL, 10);
		if (got >= (size_t)(end + 4 - resp) + (size_t)len) {
			int status = atoi(resp + 9);

			if (status >= 300)
				fprintf(stderr, "snapbench: %s %s: %s\n", method, path, end + 4);
			return status;
		}
	}
}

static void must(struct vmm *v, const char *method, const char *path, const char *body)
{
	if (request(v, method, path, body) != 204) {
		fprintf(stderr, "snapbench: %s %s failed\n", method, path);
		exit(1);
	}
}

/* PUT /snapshot/create of type, timed: a "create-<type>-us" line. */
static void create(struct vmm *v, const char *type, const char *state, const char *mem)
{
	char body[1200], name[32];
	int64_t t0;
	double us;

	snprintf(body, sizeof(body), "{\"snapshot_type\": \"%s\", \"snapshot_path\": \"%s\", "
		 "\"mem_file_path\": \"%s\"}", type, state, mem);
	t0 = now_us();
	must(v, "PUT", "/snapshot/create", body);
	us = (double)(now_us() - t0);
	snprintf(name, sizeof(name), "create-%c%s-us", type[0] | 0x20, type + 1);
	report_stats(name, &us, 1);
}

int main(int argc, char **argv)
{
	static struct vmm v;
	char body[2560], full[512], fmem[512], diff[512], dmem[512];
	double *load, *guest, *cpu;
	int runs;
	int64_t t0;
	size_t mark;

	if (argc != 6) {
		fprintf(stderr, "usage: snapbench RUNS EMBER GUEST MEM_MIB DIR\n");
		return 2;
	}
	runs = (int)num(argv[1], 1, 1000, "RUNS");
	num(argv[4], 32, 65536, "MEM_MIB");
	if (strlen(argv[5]) > 400)
		die("DIR is too long");
	snprintf(sock, sizeof(sock), "/tmp/snapbench-%d.sock", (int)getpid());
	snprintf(full, sizeof(full), "%s/snapbench-full.state", argv[5]);
	snprintf(fmem, sizeof(fmem), "%s/snapbench-full.mem", argv[5]);
	snprintf(diff, sizeof(diff), "%s/snapbench-diff.state", argv[5]);
	snprintf(dmem, sizeof(dmem), "%s/snapbench-diff.mem", argv[5]);
	signal(SIGPIPE, SIG_IGN);

	/* 1. The snapshots. */
	spawn(&v, argv[2]);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", \"boot_args\": "
		 "\"console=ttyS0 reboot=k panic=1 loops=100000000 tick=100\"}", argv[3]);
	must(&v, "PUT", "/boot-source", body);
	snprintf(body, sizeof(body), "{\"vcpu_count\": 1, \"mem_size_mib\": %s, "
		 "\"track_dirty_pages\": true}", argv[4]);
	must(&v, "PUT", "/machine-config", body);
	must(&v, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	wait_for(&v, "APIGUEST tick 3\n", 0);
	must(&v, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	create(&v, "Full", full, fmem);
	must(&v, "PATCH", "/vm", "{\"state\": \"Resumed\"}");
	mark = v.len;
	wait_for(&v, "APIGUEST tick", mark);
	must(&v, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	create(&v, "Diff", diff, dmem);
	stop(&v);

	/* 2. The loads. */
	load = calloc(runs, sizeof(*load));
	guest = calloc(runs, sizeof(*guest));
	cpu = calloc(runs, sizeof(*cpu));
	if (!load || !guest || !cpu)
		die("out of memory");
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", \"mem_backend\": "
		 "{\"backend_type\": \"File\", \"backend_path\": \"%s\"}, \"resume_vm\": true}",
		 full, fmem);
	for (int i = 0; i < runs; i++) {
		double c0;

		spawn(&v, argv[2]);
		usleep(20000); /* idle: schedstat counts a thread's time as it leaves the CPU */
		c0 = threads_cpu_us(v.pid, "ember_vcpu");
		t0 = now_us();
		must(&v, "PUT", "/snapshot/load", body);
		load[i] = (double)(now_us() - t0);
		wait_for(&v, "APIGUEST tick", 0);
		guest[i] = (double)(now_us() - t0);
		usleep(20000);
		cpu[i] = threads_cpu_us(v.pid, "ember_vcpu") - c0;
		stop(&v);
	}
	report_stats("load-us", load, runs);
	report_stats("load-to-guest-us", guest, runs);
	report_stats("load-vmm-cpu-us", cpu, runs);
	unlink(sock);
	unlink(full);
	unlink(fmem);
	unlink(diff);
	unlink(dmem);
	return 0;
}
