// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include "messages.h"

static void vline(const char *fmt, va_list args)
{
	fputs("gcpause: ", stderr);
	vfprintf(stderr, fmt, args);
	fputc('\n', stderr);
}

void msg_error(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vline(fmt, args);
	va_end(args);
}

void msg_status(bool quiet, const char *fmt, ...)
{
	va_list args;

	if (quiet)
		return;
	va_start(args, fmt);
	vline(fmt, args);
	va_end(args);
}
