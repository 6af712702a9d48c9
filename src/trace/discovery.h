/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* --all: new processes from the scheduler's exec and fork tracepoints, and /proc scans. */
#ifndef GCPAUSE_TRACE_DISCOVERY_H
#define GCPAUSE_TRACE_DISCOVERY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "discover.h"

struct discovery;

typedef void (*discovery_event_fn)(const struct discover_event *e, void *ctx);

/*
 * Loads and attaches the exec and fork probes, sharing the GC tracer's process filter (every
 * exec becomes a candidate there). DISCOVERY_TREE (-- COMMAND): only the processes already in
 * it are followed, and one waiting for a libpython is held at its loads. DISCOVERY_CHILDREN
 * (-p --children): the same, holding nothing. DISCOVERY_PIDS (-p): only the execs of
 * processes in the filter are reported, none becomes a candidate, and forks are not followed.
 * Returns 0, or a negative errno with one line in err.
 */
enum discovery_scope { DISCOVERY_ALL, DISCOVERY_TREE, DISCOVERY_CHILDREN, DISCOVERY_PIDS };

int discovery_open(struct discovery **out, int traced_pids_fd, enum discovery_scope scope,
		   discovery_event_fn on_event, void *ctx, char *err, size_t err_len);
/*
 * Hooks the dynamic loader at host_path (once per file): its processes report DISCOVER_LOADED
 * when a dlopen has mapped new objects. -ENOENT: that loader has no hook (err says so).
 */
int discovery_watch_loader(struct discovery *d, const char *host_path, char *err,
			   size_t err_len);
/* Readable when events wait. */
int discovery_epoll_fd(struct discovery *d);
int discovery_consume(struct discovery *d);
void discovery_read_counters(struct discovery *d, uint64_t counters[DISCOVER_CNT_MAX]);
void discovery_close(struct discovery *d);

/* Calls fn for every process in /proc (by its tgid), in no particular order. */
int discovery_scan_proc(void (*fn)(pid_t pid, void *ctx), void *ctx);

#endif /* GCPAUSE_TRACE_DISCOVERY_H */
