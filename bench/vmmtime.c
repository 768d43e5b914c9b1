/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmmtime: runs a command (a VMM) RUNS times and times each run from fork to
 * the first appearance of MARKER in its output and to its exit.
 *
 *   vmmtime [-n RUNS] [-m MARKER] [-t SECS] [-l LABEL] [-o FILE] -- CMD [ARG]...
 *
 * The child's stdin is /dev/null; its stdout and stderr go to one pipe that
 * vmmtime reads (and copies to FILE, -o, the output of the last run). One
 * line per run on stdout:
 *
 *   LABEL RUN READY_US EOF_US EXIT_US USER_US SYS_US STATUS
 *
 * READY_US is -1 without a marker (or when it never appeared); EOF_US is
 * when the output pipe closed (during the child's exit); USER_US and
 * SYS_US are the child's CPU times (wait4), STATUS its exit status (128+N for
 * a signal). A run that exceeds SECS (default 60) is killed (STATUS 137).
 * Built static (musl) so that it also runs inside the nested test host,
 * whose busybox `date` has no sub-second format.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void usage(void)
{
	fprintf(stderr, "usage: vmmtime [-n RUNS] [-m MARKER] [-t SECS] [-l LABEL] [-o FILE] -- CMD [ARG]...\n");
	exit(2);
}

static long num(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max) {
		fprintf(stderr, "vmmtime: %s must be a number from %ld to %ld\n", what, min, max);
		exit(2);
	}
	return v;
}

/* One run; prints its line. Returns 0, or -1 if the command could not run. */
static int run_once(char **argv, const char *marker, long tmo_s, const char *label,
		    int run, const char *outpath)
{
	int p[2], out_fd = -1, status = 0;
	size_t mlen = marker ? strlen(marker) : 0;
	char window[512] = ""; /* tail of the output, to find a marker split across reads */
	size_t wlen = 0;
	int64_t t0, t_ready = -1, t_eof = -1, t_exit, deadline;
	struct rusage ru;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
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
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		if (nul < 0 || dup2(nul, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
			_exit(126);
		execvp(argv[0], argv);
		dprintf(p[1], "vmmtime: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	deadline = t0 + (int64_t)tmo_s * 1000000;
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		int64_t left = deadline - now_us();
		char buf[4096];
		ssize_t n;

		if (left <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&pfd, 1, (int)(left / 1000) + 1) < 0) {
			if (errno == EINTR)
				continue;
			perror("vmmtime: poll");
			kill(pid, SIGKILL);
			break;
		}
		if (!pfd.revents)
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
		if (mlen && t_ready < 0) {
			int64_t t = now_us();
			size_t i;

			for (i = 0; i < (size_t)n; i++) {
				if (wlen == sizeof(window) - 1) {
					memmove(window, window + wlen - mlen, mlen);
					wlen = mlen;
				}
				window[wlen++] = buf[i];
				window[wlen] = 0;
				if (wlen >= mlen && !memcmp(window + wlen - mlen, marker, mlen)) {
					t_ready = t;
					break;
				}
			}
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
	if (out_fd >= 0)
		close(out_fd);
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
	int c;

	while ((c = getopt(argc, argv, "+n:m:t:l:o:")) != -1) {
		switch (c) {
		case 'n': runs = num(optarg, 1, 100000, "-n"); break;
		case 't': tmo = num(optarg, 1, 86400, "-t"); break;
		case 'm':
			marker = optarg;
			if (!*marker || strlen(marker) > 200) {
				fprintf(stderr, "vmmtime: -m needs 1 to 200 characters\n");
				return 2;
			}
			break;
		case 'l': label = optarg; break;
		case 'o': outpath = optarg; break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	for (long i = 0; i < runs; i++)
		if (run_once(argv + optind, marker, tmo, label, (int)i, outpath) < 0)
			return 1;
	return 0;
}
