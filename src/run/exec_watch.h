/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * -p: a traced process that replaces its program (exec). The exec tracepoint reports the execs
 * of the processes in the filter; the new program is looked at (again every few milliseconds
 * while the dynamic loader has not mapped its libpython yet) and, when it is Python, traced
 * under the same PID, each collection counted for the program that ran it; else the process's
 * tracing ends, with a line saying so.
 */
#ifndef GCPAUSE_RUN_EXEC_WATCH_H
#define GCPAUSE_RUN_EXEC_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include "gc.h"

struct app;
struct exec_watch;

/*
 * Loads the exec probe and sets app->exec_watch. A kernel without BTF tracepoints gets a note
 * (execs then go unnoticed) and no watch. Returns 0, or a negative errno with one line in err.
 */
int exec_watch_start(struct app *app, char *err, size_t err_len);
/* The exec ring buffer is readable. */
void exec_watch_on_discovery(struct app *app);
/* The timer of the new programs to look at fired. */
void exec_watch_on_retry(struct app *app);
/* Reads the execs reported so far: a collection read next must know if its program is gone. */
void exec_watch_poll(struct app *app);
/*
 * e is a collection of a program that replaced a traced one and is not traced yet: kept until
 * it is (true), or counted as unattributed when nobody waits for that program (false).
 */
bool exec_watch_defer(struct app *app, const struct gc_event *e);
void exec_watch_close(struct exec_watch *w);

#endif /* GCPAUSE_RUN_EXEC_WATCH_H */
