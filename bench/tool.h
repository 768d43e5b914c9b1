/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the bench tools share (each is one static binary built from one .c
 * file by bench/run.sh): the monotonic clock and numeric arguments. Define
 * TOOL_NAME, the name their error lines start with, before including this.
 */
#ifndef EMBER_BENCH_TOOL_H
#define EMBER_BENCH_TOOL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

#endif
