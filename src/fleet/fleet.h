/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --all: which processes are traced. Candidates come from the exec and fork tracepoints, from
 * /proc scans (at start, then every --rescan), and from a collection of a process not known yet;
 * each is resolved once per incarnation (PID and start time), filtered, and traced or let go.
 */
#ifndef GCPAUSE_FLEET_FLEET_H
#define GCPAUSE_FLEET_FLEET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct app;
struct fleet;

struct fleet_counts {
	uint64_t discovered;		/* Python processes traced */
	uint64_t skipped_limit;		/* --max-processes reached */
	uint64_t skipped_unsupported;	/* Python that cannot be probed, or unreadable */
	uint64_t skipped_filtered;	/* --comm, --container, --exclude */
	uint64_t skipped_unreadable;	/* its maps or binaries could not be read */
	uint64_t discovery_dropped;	/* exec/fork events lost (a rescan finds them later) */
};

/*
 * Loads the discovery probes, then traces every Python process there is; with tree_only
 * (-- COMMAND), only the processes put in the filter by the caller and their descendants.
 */
int fleet_start(struct app *app, bool tree_only, char *err, size_t err_len);
/* -- COMMAND: pid, traced already, execs the planned interpreter: not a new program. */
void fleet_set_launched(struct app *app, pid_t pid);
/* Hooks the dynamic loader of the executable at exe, so that its dlopens are seen. */
int fleet_watch_loader_of(struct app *app, const char *exe);
/* The discovery ring buffer is readable. */
void fleet_on_discovery(struct app *app);
/* A collection of an unknown process: decide about it now, before its event is counted. */
void fleet_on_unknown_pid(struct app *app, pid_t pid);
/* The retry timer fired: processes whose libpython was not mapped yet at exec. */
void fleet_on_retry(struct app *app);
/* About once a second: rescans /proc when due. */
void fleet_housekeeping(struct app *app, uint64_t now_ns);
void fleet_counts(struct app *app, struct fleet_counts *out);
void fleet_close(struct fleet *f);

#endif /* GCPAUSE_FLEET_FLEET_H */
