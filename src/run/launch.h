/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Starting a command under trace: find its interpreter first, run it once the probes are live. */
#ifndef GCPAUSE_RUN_LAUNCH_H
#define GCPAUSE_RUN_LAUNCH_H

#include <stddef.h>
#include <sys/types.h>
#include "probe/target.h"

struct launch {
	pid_t pid;
	int gate_fd;		/* writing to it lets the child exec */
	int exec_err_fd;	/* the child reports a failed exec here; EOF means it ran */
};

/* launch_resolve(): a program with no interpreter in it or linked to it (t->binary is it). */
#define LAUNCH_NOT_PYTHON_YET	1

/*
 * Finds, without running it, the command's interpreter binary and how to probe it: the program
 * (through PATH and "#!" lines, /usr/bin/env included) or the libpython it links. Fills t except
 * pid and start time. Same error convention as target_resolve(), and LAUNCH_NOT_PYTHON_YET for a
 * program that may load a libpython later (uwsgi): it is started and watched.
 */
int launch_resolve(char *const argv[], enum probe_mode mode, struct target *t, char *err,
		   size_t err_len);

/*
 * Forks a child that waits for launch_release() before it execs argv. With output_fd >= 0, the
 * child's stdin is /dev/null and its stdout and stderr go to output_fd: the terminal is someone
 * else's (gcpause top).
 */
int launch_fork(char *const argv[], int output_fd, struct launch *l, char *err, size_t err_len);

/* Lets the child exec; returns 0 once it runs, or -errno of the failed exec. */
int launch_release(struct launch *l, char *err, size_t err_len);

/* Pure helpers, exposed for tests. */
int launch_find_in_path(const char *cmd, const char *path_env, char *out, size_t len);
/* Interpreter and first argument of a "#!" line; -ENOEXEC when the file has none. */
int launch_parse_shebang(const char *line, char *interp, size_t interp_len, char *arg,
			 size_t arg_len);

#endif /* GCPAUSE_RUN_LAUNCH_H */
