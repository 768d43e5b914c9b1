/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapbench: snapshot figures, ember's alone or beside QEMU's.
 *
 *   snapbench RUNS EMBER GUEST MEM_MIB DIR
 *   snapbench --linux RUNS EMBER KERNEL INITRD MEM_MIB DIR CMDLINE
 *   snapbench --qemu RUNS DIR -- QEMU-ARGV...
 *
 * The first form, a test guest on whatever KVM it runs on:
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
 * p90 p99 n).
 *
 * --linux and --qemu: the same Linux guest (bench/guest-init.sh's
 * bench.mode=tick: "BENCH-TICK N" every 20 ms) in ember (API: boot-source
 * KERNEL, INITRD, CMDLINE, 1 vCPU, MEM_MIB MiB) and in QEMU (QEMU-ARGV
 * boots it; snapbench adds -qmp and, to restore, -incoming). Once it ticks:
 * paused and saved (ember: PATCH /vm Paused, PUT /snapshot/create Full;
 * QEMU: stop, migrate to "exec:cat > DIR/..." until completed), timed:
 * "create-us". Then RUNS restores, each timed from the VMM's start to the
 * guest running again ("restore-us": ember: PUT /snapshot/load with
 * resume_vm answered, sent as soon as the API socket accepts; QEMU: the QMP
 * event RESUME after -incoming "exec:cat FILE" completed and cont, as the
 * stream of a stopped VM restores it stopped) and to its first tick after
 * it ("restore-to-guest-us"). Last, 4 clones started at once (ember:
 * --restore --resume each; QEMU: -incoming each) until all 4 tick:
 * "clones-us", and after 1 s idle their memory (/proc/PID/smaps):
 * "clone-guest-kib", the private dirty memory of guest RAM (what the clone
 * wrote, or for QEMU what it loaded), and "clone-vmm-kib", that of all
 * else (the VMM itself: heap, stacks, data). --no-clones (before RUNS)
 * leaves the clones out (for a size whose 4 copies would not fit).
 *
 * Figures only: nothing is asserted. Exits 1 with a line when a step fails.
 */
#define _GNU_SOURCE /* pipe2 */
#define TOOL_NAME "snapbench"
#include "tool.h"

#include <fcntl.h>
#include <stdbool.h>
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

/* Wait (up to 30 s) until the console shows text after offset from. */
static void wait_for(struct vmm *v, const char *text, size_t from)
{
	int64_t end = now_us() + 30000000;

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

/* Start argv with its standard output on a pipe (v->out). */
static void spawn_argv(struct vmm *v, char *const argv[])
{
	int p[2];

	memset(v, 0, sizeof(*v));
	v->api = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe failed");
	v->pid = fork();
	if (v->pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(devnull, 0);
		dup2(p[1], 1);
		dup2(devnull, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	v->out = p[0];
}

/* A connection to the Unix socket path, tried for up to 10 s. */
static int connect_to(const char *path)
{
	int64_t end = now_us() + 10000000;

	for (;;) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		if (fd >= 0)
			close(fd);
		if (now_us() > end)
			die("the VMM never accepted on its socket");
	}
}

static void spawn(struct vmm *v, const char *ember)
{
	char *argv[] = { (char *)ember, "--api-sock", sock, NULL };

	unlink(sock);
	spawn_argv(v, argv);
	v->api = connect_to(sock);
}

/* v must still run (its memory is about to be read): else its status and last output, exit 1. */
static void alive_or_die(struct vmm *v, const char *who)
{
	int st;

	while (drain(v, 0))
		;
	if (waitpid(v->pid, &st, WNOHANG) != v->pid)
		return;
	fprintf(stderr, "snapbench: %s exited (%s %d) before its memory was read: ...%s\n", who,
		WIFEXITED(st) ? "status" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
		v->buf + (v->len > 200 ? v->len - 200 : 0));
	exit(1);
}

static void stop(struct vmm *v)
{
	if (v->api >= 0)
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

/* --- --linux and --qemu ------------------------------------------------------------ */

#define CLONES 4

/*
 * From /proc/PID/smaps: the private dirty KiB of guest RAM (the smallest
 * mapping of at least mib MiB: QEMU's TCG buffer, if any, is larger) and
 * of every other mapping (clean pages are the page cache's, shared).
 */
static void clone_memory(int pid, long mib, double *guest, double *vmm)
{
	char path[64], line[512];
	long size = 0, best = 0, dirty = 0;
	double all = 0, best_dirty = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "r");
	if (!f)
		die("cannot read a clone's smaps");
	/* A mapping's lines end with VmFlags: its figures are summed there. */
	while (fgets(line, sizeof(line), f)) {
		long v;

		if (sscanf(line, "Size: %ld kB", &v) == 1)
			size = v;
		else if (sscanf(line, "Private_Dirty: %ld kB", &v) == 1)
			dirty = v;
		else if (!strncmp(line, "VmFlags:", 8)) {
			all += dirty;
			if (size >= mib * 1024 && (!best || size < best)) {
				best = size;
				best_dirty = dirty;
			}
			size = dirty = 0;
		}
	}
	fclose(f);
	*guest = best_dirty;
	*vmm = all - best_dirty;
}

/* A QMP command's answer (events before it are kept in v->buf's stead: see qmp_event). */
static char qmp_events[1 << 14];

static void qmp_read_line(int fd, char *line, size_t len, int64_t end)
{
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char c;

		if (poll(&p, 1, (int)((end - now_us()) / 1000)) <= 0 || read(fd, &c, 1) != 1)
			die("QMP: no answer");
		if (c == '\n')
			break;
		line[n++] = c;
	}
	line[n] = '\0';
}

static void qmp(int fd, const char *cmd, char *answer, size_t len)
{
	int64_t end = now_us() + 30000000;

	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		die("QMP: cannot send");
	for (;;) {
		qmp_read_line(fd, answer, len, end);
		if (strstr(answer, "\"event\"")) {
			size_t k = strlen(qmp_events);

			snprintf(qmp_events + k, sizeof(qmp_events) - k, "%.200s\n", answer);
			continue;
		}
		if (strstr(answer, "\"error\"")) {
			fprintf(stderr, "snapbench: QMP %s: %s\n", cmd, answer);
			exit(1);
		}
		if (strstr(answer, "\"return\""))
			return;
	}
}

/* Wait (30 s) for the QMP event name (or find it among those seen). */
static void qmp_event(int fd, const char *name)
{
	char line[4096], want[64];
	int64_t end = now_us() + 30000000;

	snprintf(want, sizeof(want), "\"event\": \"%s\"", name);
	while (!strstr(qmp_events, want)) {
		qmp_read_line(fd, line, sizeof(line), end);
		if (strstr(line, want))
			break;
	}
	qmp_events[0] = '\0';
}

static int qmp_open(const char *path)
{
	char line[4096];
	int fd = connect_to(path);

	qmp_events[0] = '\0';
	qmp_read_line(fd, line, sizeof(line), now_us() + 30000000); /* the greeting */
	qmp(fd, "{\"execute\": \"qmp_capabilities\"}\n", line, sizeof(line));
	return fd;
}

/* Poll query-migrate until completed (dies if it failed). */
static void qmp_migrated(int q)
{
	char ans[4096];

	for (;;) {
		qmp(q, "{\"execute\": \"query-migrate\"}\n", ans, sizeof(ans));
		if (strstr(ans, "\"completed\""))
			return;
		if (strstr(ans, "\"failed\"") || strstr(ans, "\"cancelled\"")) {
			fprintf(stderr, "snapbench: QEMU's migration: %s\n", ans);
			exit(1);
		}
		usleep(1000);
	}
}

/*
 * A QEMU restored from a paused VM's stream stays paused (the stream
 * carries the run state): once the stream is in, cont, and its RESUME.
 */
static void qmp_resume(int q)
{
	char ans[4096];

	qmp_migrated(q);
	qmp(q, "{\"execute\": \"cont\"}\n", ans, sizeof(ans));
	qmp_event(q, "RESUME");
}

struct linux_vm {
	bool qemu;
	char *const *argv;       /* qemu: its command line, without -qmp, -incoming */
	int argc;
	const char *ember, *kernel, *initrd, *cmdline;
	long mib;
	bool no_clones;
	char state[512], mem[512], qsock[128];
};

/* argv of QEMU with extra words after it (NULL-ended). */
static char **qemu_argv(const struct linux_vm *l, char *const extra[])
{
	int n = 0;
	char **a;

	while (extra[n])
		n++;
	a = calloc((size_t)(l->argc + n + 1), sizeof(*a));
	if (!a)
		die("out of memory");
	memcpy(a, l->argv, (size_t)l->argc * sizeof(*a));
	memcpy(a + l->argc, extra, (size_t)n * sizeof(*a));
	return a;
}

static void linux_create(struct linux_vm *l)
{
	static struct vmm v;
	char body[2560], ans[4096], qarg[256];
	int64_t t0;
	double us;

	if (!l->qemu) {
		spawn(&v, l->ember);
		snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", \"initrd_path\": "
			 "\"%s\", \"boot_args\": \"%s\"}", l->kernel, l->initrd, l->cmdline);
		must(&v, "PUT", "/boot-source", body);
		snprintf(body, sizeof(body), "{\"vcpu_count\": 1, \"mem_size_mib\": %ld}", l->mib);
		must(&v, "PUT", "/machine-config", body);
		must(&v, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
		wait_for(&v, "BENCH-TICK 5\r", 0);
		must(&v, "PATCH", "/vm", "{\"state\": \"Paused\"}");
		snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", \"mem_file_path\": "
			 "\"%s\"}", l->state, l->mem);
		t0 = now_us();
		must(&v, "PUT", "/snapshot/create", body);
	} else {
		char *extra[] = { "-qmp", qarg, NULL };
		char **a;
		int q;

		snprintf(qarg, sizeof(qarg), "unix:%s,server=on,wait=off", l->qsock);
		unlink(l->qsock);
		a = qemu_argv(l, extra);
		spawn_argv(&v, a);
		free(a);
		q = qmp_open(l->qsock);
		wait_for(&v, "BENCH-TICK 5\r", 0);
		qmp(q, "{\"execute\": \"stop\"}\n", ans, sizeof(ans));
		snprintf(body, sizeof(body), "{\"execute\": \"migrate\", \"arguments\": "
			 "{\"uri\": \"exec:cat > %s\"}}\n", l->mem);
		t0 = now_us();
		qmp(q, body, ans, sizeof(ans));
		qmp_migrated(q);
		close(q);
	}
	us = (double)(now_us() - t0);
	report_stats("create-us", &us, 1);
	stop(&v);
}

/* Start a restore: ember (api: through its API, else --restore --resume) or QEMU -incoming. */
static int linux_restore_start(const struct linux_vm *l, struct vmm *v, bool api, int i)
{
	char path[140], qarg[256], inc[600];

	if (!l->qemu && api) {
		spawn(v, l->ember);
		return -1;
	}
	if (!l->qemu) {
		char *argv[] = { (char *)l->ember, "--no-api", "--restore", (char *)l->state,
				 "--restore-mem", (char *)l->mem, "--resume", NULL };

		spawn_argv(v, argv);
		return -1;
	}
	snprintf(path, sizeof(path), "%s.%d", l->qsock, i);
	unlink(path);
	snprintf(qarg, sizeof(qarg), "unix:%s,server=on,wait=on", path);
	snprintf(inc, sizeof(inc), "exec:cat %s", l->mem);
	{
		char *extra[] = { "-qmp", qarg, "-incoming", inc, NULL };
		char **a = qemu_argv(l, extra);

		spawn_argv(v, a);
		free(a);
	}
	return qmp_open(path);
}

static void linux_mode(struct linux_vm *l, int runs)
{
	static struct vmm v, clone[CLONES];
	double *restore = calloc(runs, sizeof(double)), *guest = calloc(runs, sizeof(double));
	double gk[CLONES], vk[CLONES], us;
	int qs[CLONES];
	char body[1200];
	int64_t t0;

	if (!restore || !guest)
		die("out of memory");
	linux_create(l);
	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", \"mem_backend\": "
		 "{\"backend_type\": \"File\", \"backend_path\": \"%s\"}, \"resume_vm\": true}",
		 l->state, l->mem);
	for (int i = 0; i < runs; i++) {
		int q;

		t0 = now_us();
		q = linux_restore_start(l, &v, true, i);
		if (l->qemu) {
			qmp_resume(q);
			close(q);
		} else {
			must(&v, "PUT", "/snapshot/load", body);
		}
		restore[i] = (double)(now_us() - t0);
		wait_for(&v, "BENCH-TICK", 0);
		guest[i] = (double)(now_us() - t0);
		stop(&v);
	}
	report_stats("restore-us", restore, runs);
	report_stats("restore-to-guest-us", guest, runs);
	if (l->no_clones)
		goto out;

	/* CLONES at once. */
	t0 = now_us();
	for (int i = 0; i < CLONES; i++)
		qs[i] = linux_restore_start(l, &clone[i], false, runs + i);
	for (int i = 0; i < CLONES; i++)
		if (qs[i] >= 0) {
			qmp_resume(qs[i]);
			close(qs[i]);
		}
	for (int i = 0; i < CLONES; i++)
		wait_for(&clone[i], "BENCH-TICK", 0);
	us = (double)(now_us() - t0);
	report_stats("clones-us", &us, 1);
	sleep(1);
	for (int i = 0; i < CLONES; i++) {
		alive_or_die(&clone[i], "a clone");
		clone_memory(clone[i].pid, l->mib, &gk[i], &vk[i]);
	}
	for (int i = 0; i < CLONES; i++)
		stop(&clone[i]);
	report_stats("clone-guest-kib", gk, CLONES);
	report_stats("clone-vmm-kib", vk, CLONES);
out:
	unlink(l->state);
	unlink(l->mem);
	free(restore);
	free(guest);
}

int main(int argc, char **argv)
{
	static struct vmm v;
	char body[2560], full[512], fmem[512], diff[512], dmem[512];
	double *load, *guest, *cpu;
	int runs;
	int64_t t0;
	size_t mark;

	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && (!strcmp(argv[1], "--linux") || !strcmp(argv[1], "--qemu"))) {
		static struct linux_vm l;
		const char *dir;

		l.qemu = !strcmp(argv[1], "--qemu");
		if (argc >= 3 && !strcmp(argv[2], "--no-clones")) {
			l.no_clones = true;
			argv[2] = argv[1];
			argv++;
			argc--;
		}
		if (l.qemu ? argc < 6 || strcmp(argv[4], "--") : argc != 9) {
			fprintf(stderr, "usage: snapbench --linux [--no-clones] RUNS EMBER KERNEL INITRD "
				"MEM_MIB DIR CMDLINE\n       snapbench --qemu [--no-clones] RUNS DIR -- "
				"QEMU-ARGV...\n");
			return 2;
		}
		runs = (int)num(argv[2], 1, 1000, "RUNS");
		if (l.qemu) {
			dir = argv[3];
			l.argv = argv + 5;
			l.argc = argc - 5;
			l.mib = 128;
			for (int i = 0; i + 1 < l.argc; i++)
				if (!strcmp(l.argv[i], "-m"))
					l.mib = num(l.argv[i + 1], 1, 65536, "-m");
		} else {
			l.ember = argv[3];
			l.kernel = argv[4];
			l.initrd = argv[5];
			l.mib = num(argv[6], 32, 65536, "MEM_MIB");
			dir = argv[7];
			l.cmdline = argv[8];
		}
		if (strlen(dir) > 400)
			die("DIR is too long");
		snprintf(sock, sizeof(sock), "/tmp/snapbench-%d.sock", (int)getpid());
		snprintf(l.qsock, sizeof(l.qsock), "/tmp/snapbench-%d.qmp", (int)getpid());
		snprintf(l.state, sizeof(l.state), "%s/snapbench-%d.state", dir, (int)getpid());
		snprintf(l.mem, sizeof(l.mem), "%s/snapbench-%d.mem", dir, (int)getpid());
		linux_mode(&l, runs);
		unlink(sock);
		return 0;
	}
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
