/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the bench tools share (each is one static binary built from one .c
 * file by bench/run.sh): the monotonic clock, numeric arguments, the
 * median lines and the CPU time of a process's threads. Define
 * TOOL_NAME, the name their error lines start with, before including this.
 */
#ifndef EMBER_BENCH_TOOL_H
#define EMBER_BENCH_TOOL_H

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The decimal number S, from MIN to MAX, or one line naming WHAT and exit 2. */
static inline long num(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max) {
		fprintf(stderr, TOOL_NAME ": %s must be a number from %ld to %ld\n", what, min, max);
		exit(2);
	}
	return v;
}

static inline int tool_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* "NAME median M p10 A p90 B p99 C n N" of the n values in v (sorted here). */
static inline void report_stats(const char *name, double *v, int n)
{
	qsort(v, n, sizeof(*v), tool_cmp_double);
	printf("%s median %.1f p10 %.1f p90 %.1f p99 %.1f n %d\n", name, v[n / 2], v[n / 10],
	       v[n * 9 / 10], v[n * 99 / 100], n);
	fflush(stdout);
}

/*
 * The CPU time (us) pid's threads have used (/proc/PID/task/TID/schedstat,
 * counted as a thread leaves the CPU), leaving out those whose name starts
 * with skip (NULL: none). -1 if pid is gone.
 */
static inline double threads_cpu_us(int pid, const char *skip)
{
	char path[64];
	double total = 0;
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char p[320], comm[32] = "";
		unsigned long long ns;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		if (skip) {
			snprintf(p, sizeof(p), "/proc/%d/task/%s/comm", pid, e->d_name);
			f = fopen(p, "r");
			if (f && fgets(comm, sizeof(comm), f) && !strncmp(comm, skip, strlen(skip))) {
				fclose(f);
				continue;
			}
			if (f)
				fclose(f);
		}
		snprintf(p, sizeof(p), "/proc/%d/task/%s/schedstat", pid, e->d_name);
		f = fopen(p, "r");
		if (f && fscanf(f, "%llu", &ns) == 1)
			total += ns / 1e3;
		if (f)
			fclose(f);
	}
	closedir(d);
	return total;
}

#endif
