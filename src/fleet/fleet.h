/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --all, -- COMMAND and -p --children: which processes are traced. Candidates come from the
 * exec and fork tracepoints, the dynamic loader's hook, /proc scans (--all: at start, then
 * every --rescan; a tree: its processes' children at start), and a collection of a process not
 * known yet; each is resolved once per incarnation (PID and start time), filtered, and traced
 * or let go. The fleet decides; the run it is given (struct fleet_host) does the tracing, so
 * the decisions can be tested on their own.
 */
#ifndef GCPAUSE_FLEET_FLEET_H
#define GCPAUSE_FLEET_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "probe/probe.h"
#include "probe/target.h"
#include "proc/container.h"
#include "util/file_id.h"

struct fleet;

struct fleet_counts {
	uint64_t discovered;		/* Python processes traced */
	uint64_t skipped_limit;		/* --max-processes reached */
	uint64_t skipped_unsupported;	/* Python that cannot be probed, or unreadable */
	uint64_t skipped_filtered;	/* --comm, --container, --exclude */
	uint64_t skipped_unreadable;	/* its maps or binaries could not be read */
	uint64_t discovery_dropped;	/* exec/fork events lost (a rescan finds them later) */
};

/* A process's place in the kernel's filter (bpf/filter.h). */
enum fleet_filter {
	FLEET_UNFILTERED,	/* out of it */
	FLEET_TRACED,		/* traced: a confirmed Python */
	FLEET_WATCHED,		/* a tree's process, not Python (yet): forks and loads followed */
};

/* What the fleet asks of the run: look up, begin and end the tracing of a process. */
struct fleet_host_ops {
	/* The process traced under pid (not ended): its start time and when tracing began. */
	bool (*lookup)(void *run, pid_t pid, uint64_t *start_ticks, uint64_t *trace_start_ns);
	/* Begins tracing t: 0, -ESRCH (gone), -ESTALE (its binary changed: try again later), or
	 * another negative errno with one line in err. */
	int (*begin)(void *run, const struct target *t, char *err, size_t err_len);
	/* Ends the tracing of pid's process; why: the reason, NULL when it exited. */
	void (*end)(void *run, pid_t pid, const char *why);
	/* Puts pid in the kernel's filter as state (FLEET_UNFILTERED: takes it out). */
	void (*filter)(void *run, pid_t pid, enum fleet_filter state);
	/* The PIDs in the kernel's filter, in a malloc'ed array; their number, or -errno. */
	int (*filtered)(void *run, pid_t **pids);
	/* Processes traced now. */
	int (*traced)(void *run);
};

struct fleet_host {
	const struct fleet_host_ops *ops;
	void *run;
};

/* What an executable is to the fleet, from its ELF headers. */
enum fleet_exe_kind { FLEET_EXE_OTHER, FLEET_EXE_PYTHON, FLEET_EXE_NEEDS_LIBPYTHON };

/*
 * How the fleet reads processes: /proc by default (fleet_proc_host), a fake in the unit tests.
 * The functions return 0 or a negative errno (-ESRCH: the process is gone).
 */
struct fleet_proc_ops {
	/* Its command and start time (clock ticks since boot, /proc/PID/stat). */
	int (*identity)(pid_t pid, char *comm, size_t len, uint64_t *start_ticks);
	/* The PID still names the process that started at start_ticks. */
	bool (*same_incarnation)(pid_t pid, uint64_t start_ticks);
	/* Its executable's identity (the verdicts are cached by it), and what it is. */
	int (*exe)(pid_t pid, struct file_id *id);
	enum fleet_exe_kind (*exe_kind)(pid_t pid);
	/* The whole target: the binary holding its collector, and how to probe it. */
	int (*resolve)(pid_t pid, enum probe_mode mode, struct target_cache *cache,
		       struct target *t, char *err, size_t err_len);
	/* Its container, if it runs in one. */
	void (*container)(pid_t pid, struct container_info *c);
	/* Calls fn for every process there is. */
	int (*scan)(void (*fn)(pid_t pid, void *ctx), void *ctx);
	/* Calls fn for every child of pid. */
	int (*children)(pid_t pid, void (*fn)(pid_t child, void *ctx), void *ctx);
};
extern const struct fleet_proc_ops fleet_proc_host;

struct fleet_config {
	const struct fleet_proc_ops *proc;	/* NULL: fleet_proc_host */
	bool tree_only;			/* -- COMMAND, -p --children: a tree, no scans */
	/*
	 * -- COMMAND: a process of the tree that is not Python yet is stopped when it loads
	 * objects, until looked at. Only for a command gcpause started (see docs/design.md).
	 */
	bool hold_waiting;
	int filter_fd;			/* the kernel filter map, shared with discovery; -1: none
					 * (no discovery probes: scans only) */
	enum probe_mode probe_mode;
	char **comm_patterns, **container_patterns, **exclude_patterns;
	int ncomm_patterns, ncontainer_patterns, nexclude_patterns;
	unsigned int max_processes;
	uint64_t rescan_ns;
	bool verbose;
};

/* Loads the discovery probes (without them: scans only, with a note). One line in err. */
int fleet_open(struct fleet **out, const struct fleet_config *cfg, const struct fleet_host *host,
	       char *err, size_t err_len);
/* Hooks our own loader and, for --all, scans /proc: call once the run can trace. */
void fleet_start(struct fleet *f);
/* The fds the run's loop watches: discovery events (-1: none), and the retry timer. */
int fleet_discovery_fd(const struct fleet *f);
int fleet_retry_fd(const struct fleet *f);
/*
 * -p --children: pid is traced; its descendants that exist already are looked at now (its
 * forks from now on are followed by the kernel's filter). Call after fleet_start().
 */
void fleet_adopt_children(struct fleet *f, pid_t pid);
/* -- COMMAND, Python: the process launched, traced before its exec(s). */
void fleet_set_launched(struct fleet *f, pid_t pid);
/* Hooks the dynamic loader of the executable at exe; -ENOENT without discovery. */
int fleet_watch_loader_of(struct fleet *f, const char *exe);
/* Discovery events are waiting. */
void fleet_on_discovery(struct fleet *f);
/* A collection of a process not traced (or under an earlier one's PID): decided now. */
void fleet_on_unknown_pid(struct fleet *f, pid_t pid);
/* The retry timer fired. */
void fleet_on_retry(struct fleet *f);
/* About once a second: rescans /proc when due. */
void fleet_housekeeping(struct fleet *f, uint64_t now_ns);
void fleet_counts(const struct fleet *f, struct fleet_counts *out);
void fleet_close(struct fleet *f);

#endif /* GCPAUSE_FLEET_FLEET_H */
