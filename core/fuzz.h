/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the libFuzzer targets (FOLDER/fuzz_*.c) share: an assertion that
 * names the failed condition and aborts, which libFuzzer reports as a crash
 * with the input that caused it.
 */
#ifndef EMBER_CORE_FUZZ_H
#define EMBER_CORE_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define ASSERT(c)                                                                 \
	do {                                                                      \
		if (!(c)) {                                                       \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c);   \
			abort();                                                  \
		}                                                                 \
	} while (0)

#endif
