/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Finding, for one process, its interpreter binary and how to probe it. */
#ifndef GCPAUSE_PROBE_TARGET_H
#define GCPAUSE_PROBE_TARGET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "proc/container.h"
#include "util/file_id.h"
#include "probe/probe.h"
#include "proc/proc.h"
#include "probe/elf/pyelf.h"

#define TARGET_ERR_LEN	1024

struct target {
	pid_t pid;
	uint64_t start_ticks;		/* tells it from a later process with the same PID */
	char comm[PROC_COMM_LEN];
	char binary[PROC_PATH_MAX];	/* as the process sees it, e.g. /usr/bin/python3.11 */
	char host_path[PROC_PATH_MAX];	/* to open from here, through /proc/PID/root */
	char root[PROC_PATH_MAX];	/* the process's root when it is not ours, else "" */
	struct file_id file;		/* host_path when the plan was made (zero: unknown) */
	char version[PYELF_VERSION_LEN];
	bool shared_lib;		/* the interpreter is a libpython, not the executable */
	bool stripped;			/* no .symtab in the interpreter binary */
	bool free_threaded;
	const char *probe;		/* the plan's tier name: "usdt", "symbol", "stripped" */
	struct container_info container;	/* --all: where it runs; empty otherwise */
	struct probe_plan plan;
};

/*
 * Fills t for pid, probing in mode. On failure returns a negative errno and writes one line for
 * the user in err: -ESRCH no such process, -ENOEXEC not Python, -ENOTSUP Python that cannot be
 * probed (err says what was found and why it is not enough).
 */
int target_resolve(pid_t pid, enum probe_mode mode, struct target *t, char *err, size_t err_len);

/*
 * What was learnt of each binary (by device, inode, size and modification time): whether it is
 * a Python interpreter and how to probe it. --all resolves every new process on a node, most of
 * them running the same few binaries; reading their symbols, DWARF or code again each time
 * would cost milliseconds to seconds per process.
 */
struct target_cache;

struct target_cache *target_cache_new(void);
void target_cache_free(struct target_cache *c);
/* target_resolve() with the cache (NULL: none). */
int target_resolve_cached(pid_t pid, enum probe_mode mode, struct target_cache *cache,
			  struct target *t, char *err, size_t err_len);

/*
 * Completes t for an interpreter binary already chosen (binary as the process sees it,
 * host_path to open): version, build flags and probe plan. Same error convention; err names
 * the binary, the caller adds who it belongs to.
 */
int target_plan(struct target *t, const char *binary, const char *host_path,
		const struct pyelf_info *info, enum probe_mode mode, char *err, size_t err_len);

#endif /* GCPAUSE_PROBE_TARGET_H */
