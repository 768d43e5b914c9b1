/* SPDX-License-Identifier: Apache-2.0 */
/* One-line error messages (core/ember.h): no other dependency, so pure code links it alone. */
#include "core/ember.h"

#include <stdarg.h>
#include <stdio.h>

int verrorf(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (!err || !errlen)
		return -1;
	vsnprintf(err, errlen, fmt, ap);
	for (char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return -1;
}

int errorf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verrorf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}
