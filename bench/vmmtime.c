/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmmtime: runs a command (a VMM) RUNS times and times each run from fork to
 * the first appearance of a marker and to its exit.
 *
 *   vmmtime [-n RUNS] [-m MARKER | -M MARKER] [-t SECS] [-l LABEL] [-o FILE]
 *           [-k FILE] [-T FILE] -- CMD [ARG]...
 *
 * The child's stdin is /dev/null; its stdout and stderr go to one pipe that
 * vmmtime reads (and copies to FILE, -o, the output of the last run).
 *   -m MARKER  READY is MARKER's first appearance in that output (the
 *              console);
 *   -M MARKER  the child's fd 3 is a second pipe (the marker pipe) and READY
 *              is MARKER's first appearance there. The VMM is told to write
 *              to /proc/self/fd/3 (ember: --boot-timer --log-path
 *              /proc/self/fd/3, MARKER "Guest-boot-time"; QEMU: an
 *              isa-debugcon chardev file on it): the console is then only
 *              copied, never searched, on the clock.
 *   -k FILE    when READY comes, the host KVM's statistics of the child's
 *              VM (debugfs, /sys/kernel/debug/kvm/PID-FD/: exits, pf_fixed,
 *              io_exits, ..., summed over its vCPUs) are written to FILE as
 *              "NAME VALUE" lines: the counts from the VM's creation to the
 *              marker (FILE is left empty without debugfs or a VM). They are
 *              read after READY's time is taken, off the clock.
 *   -T FILE    when READY comes, write "0" to FILE first (tracefs'
 *              tracing_on: a trace of the VM's exits ends at the marker).
 * One line per run on stdout:
 *
 *   LABEL RUN READY_US EOF_US EXIT_US USER_US SYS_US STATUS
 *
 * READY_US is -1 without a marker (or when it never appeared); EOF_US is
 * when the output pipe closed (during the child's exit); USER_US and
 * SYS_US are the child's CPU times (wait4), STATUS its exit status (128+N for
 * a signal). A run that exceeds SECS (default 60) is killed (STATUS 137),
 * after "vmmtime-diag:" lines to FILE (-o; else stderr): each of its
 * threads' state, wait channel and system call, and its VM's KVM exits
 * (debugfs), twice 1 s apart: a VMM stuck, or a guest.
 * Times are CLOCK_MONOTONIC from just before the fork. Built static (musl)
 * so that it also runs inside the nested test host, whose busybox `date`
 * has no sub-second format.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOOL_NAME "vmmtime"
#include "tool.h"

#define MARKER_MAX 200

#define KVM_DEBUGFS "/sys/kernel/debug/kvm"

static void usage(void)
{
	fprintf(stderr, "usage: vmmtime [-n RUNS] [-m MARKER | -M MARKER] [-t SECS] [-l LABEL] "
		"[-o FILE] [-k FILE] [-T FILE] -- CMD [ARG]...\n");
	exit(2);
}

static const char *kvm_out;   /* -k */
static const char *trace_off; /* -T */

/* The first line of a small file, its newline cut; "?" when unreadable. */
static void read_line(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		n = snprintf(buf, len, "?");
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

/* pid's VM's directory (the first KVM_DEBUGFS/PID-FD) into dir; false without one. */
static bool vm_dir(pid_t pid, char *dir, size_t len)
{
	char prefix[32];
	struct dirent *d;
	DIR *top = opendir(KVM_DEBUGFS);
	bool found = false;

	snprintf(prefix, sizeof(prefix), "%d-", (int)pid);
	while (top && !found && (d = readdir(top)))
		if (!strncmp(d->d_name, prefix, strlen(prefix))) {
			snprintf(dir, len, "%s/%s", KVM_DEBUGFS, d->d_name);
			found = true;
		}
	if (top)
		closedir(top);
	return found;
}

/*
 * Write the counters of pid's VM (vm_dir) to path as "NAME VALUE" lines;
 * an empty file when there is none.
 */
static void kvm_stats(pid_t pid, const char *path)
{
	char dir[300], file[600], buf[32];
	FILE *out = fopen(path, "we");
	struct dirent *d;
	DIR *vm;

	if (!out) {
		fprintf(stderr, "vmmtime: %s: %s\n", path, strerror(errno));
		return;
	}
	vm = vm_dir(pid, dir, sizeof(dir)) ? opendir(dir) : NULL;
	while (vm && (d = readdir(vm))) {
		unsigned long long v;
		char *end;

		if (d->d_type != DT_REG)
			continue;
		snprintf(file, sizeof(file), "%s/%s", dir, d->d_name);
		read_line(file, buf, sizeof(buf));
		v = strtoull(buf, &end, 10);
		if (end != buf && !*end)
			fprintf(out, "%s %llu\n", d->d_name, v);
	}
	if (vm)
		closedir(vm);
	fclose(out);
}

/* READY has come (its time taken): end the trace (-T), read the counters (-k). */
static void at_ready(pid_t pid)
{
	if (trace_off) {
		int fd = open(trace_off, O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, "0", 1) != 1)
			fprintf(stderr, "vmmtime: %s: %s\n", trace_off, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (kvm_out)
		kvm_stats(pid, kvm_out);
}

/* The "exits" counter of pid's VM (KVM_DEBUGFS/PID-FD/exits); -1 without one. */
static long long vm_exits(pid_t pid)
{
	char dir[300], file[310], buf[32];

	if (!vm_dir(pid, dir, sizeof(dir)))
		return -1;
	snprintf(file, sizeof(file), "%s/exits", dir);
	read_line(file, buf, sizeof(buf));
	return buf[0] == '?' ? -1 : strtoll(buf, NULL, 10);
}

/*
 * A run out of time, before it is killed: each of its threads' state, wait
 * channel and system call, and whether its VM still exits (1 s apart), as
 * "vmmtime-diag:" lines on fd out.
 */
static void diag(pid_t pid, int out, char last)
{
	char path[300], comm[64], stat[512], wchan[64], sys[128];
	long long e0 = vm_exits(pid), e1;
	struct dirent *d;
	DIR *task;

	if (last != '\n')
		dprintf(out, "\n"); /* a console cut in mid-line */
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	task = opendir(path);
	while (task && (d = readdir(task))) {
		const char *st;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, d->d_name);
		read_line(path, comm, sizeof(comm));
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, d->d_name);
		read_line(path, stat, sizeof(stat));
		st = strrchr(stat, ')');
		snprintf(path, sizeof(path), "/proc/%d/task/%s/wchan", (int)pid, d->d_name);
		read_line(path, wchan, sizeof(wchan));
		snprintf(path, sizeof(path), "/proc/%d/task/%s/syscall", (int)pid, d->d_name);
		read_line(path, sys, sizeof(sys));
		dprintf(out, "vmmtime-diag: thread %s (%s): state %c, wchan %s, syscall %.40s\n",
			d->d_name, comm, st && st[1] && st[2] ? st[2] : '?', wchan, sys);
	}
	if (task)
		closedir(task);
	sleep(1);
	e1 = vm_exits(pid);
	dprintf(out, "vmmtime-diag: its VM's KVM exits: %lld, 1 s later %lld\n", e0, e1);
}

/* A search for a marker in a stream that arrives in pieces. */
struct scan {
	const char *marker;
	size_t mlen;
	char window[2 * MARKER_MAX + 2]; /* the stream's tail: a marker split across reads */
	size_t wlen;
};

/* Feed n bytes; true when the marker has just been completed. */
static bool scan_feed(struct scan *s, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s->wlen == sizeof(s->window)) {
			memmove(s->window, s->window + s->wlen - (s->mlen - 1), s->mlen - 1);
			s->wlen = s->mlen - 1;
		}
		s->window[s->wlen++] = buf[i];
		if (s->wlen >= s->mlen && !memcmp(s->window + s->wlen - s->mlen, s->marker, s->mlen))
			return true;
	}
	return false;
}

/* The child: stdin /dev/null, stdout+stderr the output pipe, fd 3 the marker pipe. */
static void child(char **argv, int out_w, int mark_w)
{
	int nul = open("/dev/null", O_RDONLY);

	if (nul < 0 || dup2(nul, 0) < 0 || dup2(out_w, 1) < 0 || dup2(out_w, 2) < 0)
		_exit(126);
	if (mark_w >= 0) {
		/* dup2 onto itself would keep O_CLOEXEC. */
		if (mark_w == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(mark_w, 3) < 0)
			_exit(126);
	}
	execvp(argv[0], argv);
	dprintf(1, "vmmtime: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* One run; prints its line. Returns 0, or -1 if the command could not run. */
static int run_once(char **argv, const char *marker, bool on_fd3, long tmo_s,
		    const char *label, int run, const char *outpath)
{
	int p[2], m[2] = { -1, -1 }, out_fd = -1, status = 0;
	char last = '\n'; /* the output's last byte */
	struct scan sc = { .marker = marker, .mlen = marker ? strlen(marker) : 0 };
	int64_t t0, t_ready = -1, t_eof = -1, t_exit, deadline;
	struct rusage ru;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0 || (on_fd3 && pipe2(m, O_CLOEXEC) < 0)) {
		perror("vmmtime: pipe");
		return -1;
	}
	if (outpath) {
		out_fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out_fd < 0) {
			fprintf(stderr, "vmmtime: %s: %s\n", outpath, strerror(errno));
			return -1;
		}
	}
	t0 = now_us();
	pid = fork();
	if (pid < 0) {
		perror("vmmtime: fork");
		return -1;
	}
	if (pid == 0)
		child(argv, p[1], m[1]);
	close(p[1]);
	if (m[1] >= 0)
		close(m[1]);
	deadline = t0 + (int64_t)tmo_s * 1000000;
	/* Until the output pipe closes; the marker pipe is read as long as it is open. */
	for (;;) {
		struct pollfd pfd[2] = { { .fd = p[0], .events = POLLIN },
					 { .fd = m[0], .events = POLLIN } };
		int64_t left = deadline - now_us();
		char buf[4096];
		ssize_t n;

		if (left <= 0) {
			diag(pid, out_fd >= 0 ? out_fd : 2, out_fd >= 0 ? last : '\n');
			kill(pid, SIGKILL);
			break;
		}
		if (poll(pfd, m[0] >= 0 ? 2 : 1, (int)(left / 1000) + 1) < 0) {
			if (errno == EINTR)
				continue;
			perror("vmmtime: poll");
			kill(pid, SIGKILL);
			break;
		}
		if (m[0] >= 0 && pfd[1].revents) {
			n = read(m[0], buf, sizeof(buf));
			if (n > 0 && t_ready < 0 && scan_feed(&sc, buf, (size_t)n)) {
				t_ready = now_us();
				at_ready(pid);
			}
			if (n == 0 || (n < 0 && errno != EINTR)) {
				close(m[0]);
				m[0] = -1;
			}
		}
		if (!pfd[0].revents)
			continue;
		n = read(p[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			t_eof = now_us();
			break; /* EOF: the child (and anything it started) closed the pipe */
		}
		if (out_fd >= 0 && write(out_fd, buf, (size_t)n) != n)
			perror("vmmtime: write");
		last = buf[n - 1];
		if (!on_fd3 && sc.mlen && t_ready < 0 && scan_feed(&sc, buf, (size_t)n)) {
			t_ready = now_us();
			at_ready(pid);
		}
	}
	close(p[0]);
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("vmmtime: wait4");
			return -1;
		}
	}
	t_exit = now_us();
	/* What the child wrote to the marker pipe just before its exit. */
	if (m[0] >= 0) {
		char buf[4096];
		ssize_t n;

		fcntl(m[0], F_SETFL, O_NONBLOCK);
		while (t_ready < 0 && (n = read(m[0], buf, sizeof(buf))) > 0)
			if (scan_feed(&sc, buf, (size_t)n))
				t_ready = now_us();
		close(m[0]);
	}
	if (out_fd >= 0)
		close(out_fd);
	/* No marker while the VM lived: an empty statistics file. */
	if (kvm_out && t_ready < 0) {
		FILE *f = fopen(kvm_out, "we");

		if (f)
			fclose(f);
	}
	printf("%s %d %lld %lld %lld %lld %lld %d\n", label, run,
	       t_ready < 0 ? -1LL : (long long)(t_ready - t0),
	       t_eof < 0 ? -1LL : (long long)(t_eof - t0), (long long)(t_exit - t0),
	       (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
	       (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	long runs = 1, tmo = 60;
	const char *marker = NULL, *label = "run", *outpath = NULL;
	bool on_fd3 = false;
	int c;

	while ((c = getopt(argc, argv, "+n:m:M:t:l:o:k:T:")) != -1) {
		switch (c) {
		case 'n': runs = num(optarg, 1, 100000, "-n"); break;
		case 't': tmo = num(optarg, 1, 86400, "-t"); break;
		case 'm':
		case 'M':
			if (marker) {
				fprintf(stderr, "vmmtime: one marker only (-m or -M)\n");
				return 2;
			}
			marker = optarg;
			on_fd3 = c == 'M';
			if (!*marker || strlen(marker) > MARKER_MAX) {
				fprintf(stderr, "vmmtime: -%c needs 1 to %d characters\n", c, MARKER_MAX);
				return 2;
			}
			break;
		case 'l': label = optarg; break;
		case 'o': outpath = optarg; break;
		case 'k': kvm_out = optarg; break;
		case 'T': trace_off = optarg; break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	for (long i = 0; i < runs; i++)
		if (run_once(argv + optind, marker, on_fd3, tmo, label, (int)i, outpath) < 0)
			return 1;
	return 0;
}
