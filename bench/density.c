/* SPDX-License-Identifier: Apache-2.0 */
/*
 * density: how many VMs start and reach their readiness marker within a
 * time window, started one after another (-p 1) or with up to PAR booting at
 * once. Every VM that is ready stays alive until the window is over; a new
 * one starts whenever one is ready (or has failed).
 *
 *   density -w SECS -p PAR -c CAP -M MARKER [-m CONSOLE_MARKER] [-a MIB]
 *           [-g MS] [-l LABEL] [-d DIR] -- CMD [ARG]...
 *
 * Each VM is CMD with stdin /dev/null, stdout and stderr a file
 * DIR/LABEL-N.out (its console, never read on the clock) and fd 3 a pipe:
 * the VM is ready at the first appearance of MARKER there (see vmmtime.c
 * for how ember and QEMU are told to write it). The window starts just
 * before the first fork. No VM starts after the window, after CAP VMs, or
 * while /proc/meminfo's MemAvailable is under MIB MiB (-a, default 256).
 * After the window, GRACE ms (-g, default 2000) for the consoles to catch
 * up, then every VM still running (with its process group) gets SIGKILL
 * and is waited for.
 * CONSOLE_MARKER (-m) is then looked for in each console file: a VM that
 * was ready by its marker but whose console lacks it is counted in NOCON.
 *
 * Output, one line per VM, then a summary:
 *
 *   LABEL vm N START_US READY_US STATE
 *   LABEL sum READY STARTED FAILED NOCON STOP MINAVAIL_MIB
 *
 * START_US and READY_US are from the start of the window (READY_US -1: no
 * marker within it); STATE is "ready", "failed" (it exited before its
 * marker), "late" (marker after the window), "booting" (no marker yet
 * when the window ended), and "-nocon" is appended when the console lacks
 * CONSOLE_MARKER. READY counts the VMs ready within the window, FAILED the
 * failed ones; STOP says what stopped new starts: "window", "cap" or
 * "mem"; MINAVAIL_MIB is the lowest MemAvailable seen at a start (-1:
 * unknown). Exit status 0, 1 on a host failure, 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOOL_NAME "density"
#include "tool.h"

#define MARKER_MAX 200
#define CAP_MAX    256

enum state { BOOTING, READY, LATE, FAILED };
static const char *const state_name[] = { "booting", "ready", "late", "failed" };

struct vm {
	pid_t pid;
	int fd;           /* the marker pipe, -1 once closed */
	enum state state;
	int64_t start, ready;
	char window[2 * MARKER_MAX + 2];
	size_t wlen;
};

static struct vm vms[CAP_MAX];

static void usage(void)
{
	fprintf(stderr, "usage: density -w SECS -p PAR -c CAP -M MARKER [-m CONSOLE_MARKER] "
		"[-a MIB] [-g MS] [-l LABEL] [-d DIR] -- CMD [ARG]...\n");
	exit(2);
}

/* MemAvailable in KiB, or -1 when /proc/meminfo does not say. */
static long mem_available_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Feed n bytes of v's marker pipe; true when the marker has just been completed. */
static bool scan_feed(struct vm *v, const char *marker, size_t mlen, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v->wlen == sizeof(v->window)) {
			memmove(v->window, v->window + v->wlen - (mlen - 1), mlen - 1);
			v->wlen = mlen - 1;
		}
		v->window[v->wlen++] = buf[i];
		if (v->wlen >= mlen && !memcmp(v->window + v->wlen - mlen, marker, mlen))
			return true;
	}
	return false;
}

/* Start VM n: 0, or -1 (with a message) when it could not be started. */
static int start_vm(struct vm *v, int n, char **argv, const char *dir, const char *label)
{
	char path[PATH_MAX];
	int m[2], out;

	if (snprintf(path, sizeof(path), "%s/%s-%d.out", dir, label, n) >= (int)sizeof(path)) {
		fprintf(stderr, "density: console path too long\n");
		return -1;
	}
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		fprintf(stderr, "density: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (pipe2(m, O_CLOEXEC) < 0) {
		perror("density: pipe");
		close(out);
		return -1;
	}
	v->start = now_us();
	v->pid = fork();
	if (v->pid < 0) {
		perror("density: fork");
		close(out);
		close(m[0]);
		close(m[1]);
		return -1;
	}
	if (v->pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		setpgid(0, 0); /* its own group: anything it starts ends with it */
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(126);
		/* dup2 onto itself would keep O_CLOEXEC. */
		if (m[1] == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(m[1], 3) < 0)
			_exit(126);
		execvp(argv[0], argv);
		dprintf(2, "density: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(v->pid, v->pid); /* as the child does: whichever runs first */
	close(out);
	close(m[1]);
	v->fd = m[0];
	v->state = BOOTING;
	v->ready = -1;
	return 0;
}

/* Does the file hold the string? */
static bool file_has(const char *path, const char *s)
{
	static char buf[1 << 20];
	size_t n;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf), f); /* the marker comes early: 1 MiB is plenty */
	fclose(f);
	return memmem(buf, n, s, strlen(s)) != NULL;
}

int main(int argc, char **argv)
{
	long secs = 0, par = 0, cap = 0, min_mib = 256, grace_ms = 2000;
	const char *marker = NULL, *con_marker = NULL, *label = "density", *dir = ".";
	const char *stop = "window";
	int c, started = 0, booting = 0, ready = 0, failed = 0, nocon = 0, rc = 0;
	int64_t t0, end;
	long min_kb = -1;
	size_t mlen;

	while ((c = getopt(argc, argv, "+w:p:c:M:m:a:g:l:d:")) != -1) {
		switch (c) {
		case 'w': secs = num(optarg, 1, 3600, "-w"); break;
		case 'p': par = num(optarg, 1, CAP_MAX, "-p"); break;
		case 'c': cap = num(optarg, 1, CAP_MAX, "-c"); break;
		case 'a': min_mib = num(optarg, 0, 1 << 20, "-a"); break;
		case 'g': grace_ms = num(optarg, 0, 600000, "-g"); break;
		case 'M': marker = optarg; break;
		case 'm': con_marker = optarg; break;
		case 'l': label = optarg; break;
		case 'd': dir = optarg; break;
		default: usage();
		}
	}
	if (optind >= argc || !secs || !par || !cap || !marker)
		usage();
	mlen = strlen(marker);
	if (!mlen || mlen > MARKER_MAX || (con_marker && !*con_marker)) {
		fprintf(stderr, "density: a marker needs 1 to %d characters\n", MARKER_MAX);
		return 2;
	}
	if (!*label || strchr(label, '/')) {
		fprintf(stderr, "density: -l needs a name without '/'\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);

	t0 = now_us();
	end = t0 + (int64_t)secs * 1000000;
	for (;;) {
		struct pollfd pfd[CAP_MAX];
		int idx[CAP_MAX], np = 0;
		int64_t now = now_us();

		if (now >= end)
			break;
		while (booting < par && !strcmp(stop, "window")) {
			long kb;

			if (started == cap) {
				stop = "cap";
				break;
			}
			kb = mem_available_kb();
			if (kb >= 0 && (min_kb < 0 || kb < min_kb))
				min_kb = kb;
			if (kb >= 0 && kb < min_mib * 1024) {
				stop = "mem";
				break;
			}
			if (start_vm(&vms[started], started, argv + optind, dir, label) < 0) {
				rc = 1;
				goto out;
			}
			started++;
			booting++;
		}
		for (int i = 0; i < started; i++) {
			if (vms[i].fd < 0)
				continue;
			pfd[np] = (struct pollfd){ .fd = vms[i].fd, .events = POLLIN };
			idx[np++] = i;
		}
		if (poll(pfd, np, (int)((end - now_us()) / 1000) + 1) < 0) {
			if (errno == EINTR)
				continue;
			perror("density: poll");
			rc = 1;
			break;
		}
		now = now_us();
		for (int k = 0; k < np; k++) {
			struct vm *v = &vms[idx[k]];
			char buf[4096];
			ssize_t n;

			if (!pfd[k].revents)
				continue;
			n = read(v->fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n > 0 && v->state == BOOTING && scan_feed(v, marker, mlen, buf, (size_t)n)) {
				v->ready = now - t0;
				v->state = now <= end ? READY : LATE;
				booting--;
				ready += v->state == READY;
			}
			if (n <= 0) { /* the VM is gone (or closed the pipe) */
				close(v->fd);
				v->fd = -1;
				if (v->state == BOOTING) {
					v->state = FAILED;
					booting--;
					failed++;
				}
			}
		}
	}
out:
	/* The consoles catch up; then every VM ends. */
	if (grace_ms)
		usleep((useconds_t)grace_ms * 1000);
	for (int i = 0; i < started; i++) {
		kill(-vms[i].pid, SIGKILL);
		kill(vms[i].pid, SIGKILL);
	}
	for (int i = 0; i < started; i++) {
		while (waitpid(vms[i].pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (vms[i].fd >= 0)
			close(vms[i].fd);
	}
	for (int i = 0; i < started; i++) {
		struct vm *v = &vms[i];
		const char *suffix = "";
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s-%d.out", dir, label, i);
		if (v->state == READY && con_marker && !file_has(path, con_marker)) {
			suffix = "-nocon";
			nocon++;
		}
		printf("%s vm %d %lld %lld %s%s\n", label, i, (long long)(v->start - t0),
		       v->state == READY ? (long long)v->ready : -1LL, state_name[v->state], suffix);
	}
	printf("%s sum %d %d %d %d %s %ld\n", label, ready, started, failed, nocon, stop,
	       min_kb < 0 ? -1L : min_kb / 1024);
	return rc;
}
