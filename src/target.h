/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Finding, for one process, the binary that holds its interpreter's GC markers. */
#ifndef GCPAUSE_TARGET_H
#define GCPAUSE_TARGET_H

#include <stdint.h>
#include <sys/types.h>
#include "proc.h"
#include "pyelf.h"

#define TARGET_ERR_LEN	512

struct target {
	pid_t pid;
	uint64_t start_ticks;		/* tells it from a later process with the same PID */
	char comm[PROC_COMM_LEN];
	char binary[PROC_PATH_MAX];	/* as the process sees it, e.g. /usr/bin/python3.11 */
	char host_path[PROC_PATH_MAX];	/* to open from here, through /proc/PID/root */
	char root[PROC_PATH_MAX];	/* the process's root when it is not ours, else "" */
	char version[PYELF_VERSION_LEN];
	const char *probe;		/* "usdt" */
};

/*
 * Fills t for pid. On failure returns a negative errno and writes one line for the user in err:
 * -ESRCH no such process, -ENOEXEC not Python, -ENOTSUP Python without GC markers.
 */
int target_resolve(pid_t pid, struct target *t, char *err, size_t err_len);

#endif /* GCPAUSE_TARGET_H */
