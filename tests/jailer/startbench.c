// SPDX-License-Identifier: Apache-2.0
/*
 * startbench N CMD [ARGS...]: runs CMD N times (CMD ends by exec-ing
 * `probe now`, which prints now=<CLOCK_MONOTONIC ns> first thing) and prints
 * the median, minimum and maximum of fork-to-exec time (from just before
 * fork() to the probe's first instruction of main, so it includes starting
 * CMD) and of the whole run, in microseconds. Exits 1 if any run fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static void show(const char *what, long long *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	printf("%s: median %.0f us, min %.0f us, max %.0f us (%d runs)\n", what,
	       (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) / 1e3, v[0] / 1e3,
	       v[n - 1] / 1e3, n);
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[1]) : 0;
	long long *exec_ns, *total_ns;

	if (n < 1 || n > 10000) {
		fprintf(stderr, "usage: startbench N CMD [ARGS...]\n");
		return 2;
	}
	exec_ns = calloc((size_t)n, sizeof(*exec_ns));
	total_ns = calloc((size_t)n, sizeof(*total_ns));
	for (int i = 0; i < n; i++) {
		char out[4096];
		size_t len = 0;
		ssize_t r;
		int p[2], st;
		long long t0, t_exec;
		char *s;
		pid_t pid;

		if (pipe(p) < 0)
			return 1;
		t0 = now_ns();
		pid = fork();
		if (pid == 0) {
			dup2(p[1], 1);
			close(p[0]);
			close(p[1]);
			execv(argv[2], argv + 2);
			_exit(127);
		}
		close(p[1]);
		while ((r = read(p[0], out + len, sizeof(out) - 1 - len)) > 0)
			len += (size_t)r;
		out[len] = 0;
		close(p[0]);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		total_ns[i] = now_ns() - t0;
		s = strstr(out, "now=");
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !s) {
			fprintf(stderr, "startbench: run %d failed (status 0x%x, output '%s')\n", i, st,
				out);
			return 1;
		}
		t_exec = atoll(s + 4);
		exec_ns[i] = t_exec - t0;
	}
	show("start-to-exec", exec_ns, n);
	show("start-to-exit", total_ns, n);
	return 0;
}
