/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every output implements: the text report, JSON, top and serve's series are sinks the run
 * calls, in the order it was given them; the run includes none of their headers. A sink leaves
 * unset what it has no use for. Callbacks never call back into the run's loop.
 */
#ifndef GCPAUSE_STATS_SINK_H
#define GCPAUSE_STATS_SINK_H

#include <stdbool.h>
#include <stdint.h>
#include "gc.h"
#include "stats/http_stats.h"
#include "stats/stats.h"
#include "stats/summary.h"

/* What the run does after a sink's input (top's keys). */
enum sink_action { SINK_NONE, SINK_REDRAW, SINK_QUIT };

struct sink_ops {
	/* --all: tracing began with this many processes and binaries. */
	void (*ready)(void *ctx, int processes, int binaries);
	/* The tracing of p began. */
	void (*attach)(void *ctx, struct proc_stats *p);
	/* A collection of p, in its statistics already. */
	void (*collection)(void *ctx, struct proc_stats *p, const struct gc_event *e);
	/* p's GC state, read after a full collection of generation gen (at most once a second). */
	void (*gc_state)(void *ctx, struct proc_stats *p, int gen);
	/* A request of p, in its statistics already. */
	void (*request)(void *ctx, struct proc_stats *p, const struct http_sample *sample);
	/* The tracing of p ended (p->exit_reason says why, NULL: it exited). */
	void (*exit)(void *ctx, struct proc_stats *p);
	/* Every -i (top: every frame), the window since the last one. */
	void (*interval)(void *ctx, const struct report_summary *s);
	/* Tracing stopped: release what the user needs back (top: the terminal). */
	void (*stop)(void *ctx);
	/* The run's end: the whole run. */
	void (*total)(void *ctx, const struct report_summary *s);
	/* An fd the run's loop watches for the sink (-1: none), and what to do when it is ready
	 * or timeout_ms (-1: none) has passed. The run drains the events first. */
	int (*input_fd)(void *ctx);
	int (*timeout_ms)(void *ctx);
	enum sink_action (*input)(void *ctx);
	/* The terminal was resized (SIGWINCH). */
	void (*resize)(void *ctx);
	/* Once a second, with the time now. */
	void (*housekeeping)(void *ctx, uint64_t now_ns);
	void (*close)(void *ctx);
	/* Intervals list every process, the exited ones too (else each exit once). */
	bool interval_lists_all;
};

struct sink {
	const struct sink_ops *ops;
	void *ctx;
};

#endif /* GCPAUSE_STATS_SINK_H */
