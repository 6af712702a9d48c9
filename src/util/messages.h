/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Lines for people on stderr, each starting "gcpause: ". */
#ifndef GCPAUSE_UTIL_MESSAGES_H
#define GCPAUSE_UTIL_MESSAGES_H

#include <stdbool.h>

/* An error, a warning or a note: always printed. */
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A status line; quiet (JSON output) suppresses it: consumers get the same facts as events. */
void msg_status(bool quiet, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* GCPAUSE_UTIL_MESSAGES_H */
