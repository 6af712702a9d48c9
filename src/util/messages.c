// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "util/format.h"
#include "util/messages.h"

/* Messages name processes and paths that other users choose: escaped for the terminal. */
static void vline(const char *fmt, va_list args)
{
	char *line = NULL;

	fputs("gcpause: ", stderr);
	if (vasprintf(&line, fmt, args) < 0)
		fmt_terminal_put(stderr, fmt, false);	/* out of memory: at least what it was */
	else
		fmt_terminal_put(stderr, line, false);
	fputc('\n', stderr);
	free(line);
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
