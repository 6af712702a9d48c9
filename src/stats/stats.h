/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Per-process, per-generation pause aggregates, since start and for the current interval. */
#ifndef GCPAUSE_STATS_STATS_H
#define GCPAUSE_STATS_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include "stats/gc_log.h"
#include "probe/gc_state.h"
#include "gc.h"
#include "sample.h"
#include "stats/hist.h"
#include "stats/http_stats.h"
#include "proc/container.h"
#include "proc/proc.h"
#include "proc/proc_identity.h"

struct target;

/* A Python version string ("3.11.2"): probe/elf/pyelf.h's length, checked in stats.c. */
#define STATS_VERSION_LEN	24

/* Who the statistics are of: what the outputs show of a process, not how it is probed. */
struct stats_process {
	pid_t pid;
	uint64_t start_ticks;		/* tells it from a later process with the same PID */
	char comm[PROC_COMM_LEN];
	char version[STATS_VERSION_LEN];
	char *binary;			/* the interpreter binary, as the process sees it */
	char *host_path;		/* the same, to open from here (the GC-state reader) */
	char *root;			/* the process's root when it is not ours, else "" */
	const char *probe;		/* the probe tier: "usdt", "symbol", "stripped" */
	char *probe_source;		/* where the tier found its points, for the user */
	char *caveat;			/* what the probes cannot tell, "" if nothing */
	char counters_source[32];	/* 3.13+: where the generation counters' offsets came from */
	bool incremental;		/* 3.14.0-3.14.4: gen 1 is an increment of the old heap */
	bool free_threaded;
	struct container_info container;	/* --all: where it runs; empty otherwise */
};

/* Distinct generation values kept apart; a rarer extra value shares the last slot. */
#define STATS_MAX_GENS		8
/* Generations always reported, even when they had no collection. */
#define STATS_STANDARD_GENS	3

struct pause_stats {
	struct hist pauses;		/* nanoseconds */
	int64_t collected;
};

struct gen_stats {
	int gen;
	struct pause_stats total, interval;
};

/*
 * --sample: no event per collection. The interpreter's own counters (exact counts) and the CPU
 * samples taken while it was collecting (GC time, pauses to 1 / hz).
 */
struct stats_sampled {
	unsigned int hz;		/* 0: not sampled */
	struct gc_counts start, interval_start, last;	/* counters at attach, interval, latest */
	bool final;			/* last was read at its exit */
	struct sample_proc samples, interval_samples;	/* latest, and at the interval's start */
};

struct proc_stats {
	struct stats_process process;
	uint64_t trace_start_ns;	/* probes live for this process from here */
	uint64_t interval_start_ns;
	uint64_t end_ns;		/* exit time, 0 while it runs */
	bool exited;
	const char *exit_reason;	/* NULL: it exited; else what ended its tracing */
	bool lean;			/* no per-generation figures: serve keeps them elsewhere */
	bool log_gcs;			/* keep gc_log: its requests need their collections */
	int ngens;
	struct gen_stats *gens[STATS_MAX_GENS];
	struct http_stats *http;	/* --http: its requests, else NULL */
	struct http_stats *http_interval;	/* --http: the same, for the current interval */
	struct gc_log gc_log;		/* --http: recent collections, to overlap requests */
	struct proc_identity identity;	/* parent, command line, ports, role */
	int identity_refreshes;		/* summaries that looked for a late listening port */
	/* CPU time (user + system): at attach, at the interval's start, at the last sample. */
	bool cpu_known;
	uint64_t cpu_start_ns, cpu_interval_start_ns, cpu_now_ns;
	struct gc_state_reader *gc_reader;	/* its interpreter's GC state, once read */
	struct gc_state gc_state;	/* as last read */
	bool gc_state_off;		/* not readable (gc_state_note says why) or not wanted */
	int gc_state_failures;		/* layouts that did not check out, so far */
	char gc_state_note[256];
	struct stats_sampled sampled;
};

enum stats_scope { STATS_TOTAL, STATS_INTERVAL };

struct proc_stats *stats_new(const struct target *t, uint64_t trace_start_ns);
/* Statistics that only log collections for overlaps, when enabled (serve). */
struct proc_stats *stats_new_lean(const struct target *t, uint64_t trace_start_ns);
/* Starts keeping requests for p (--http), and the collections they overlap. */
int stats_enable_http(struct proc_stats *p);
/* Only the collections, for requests counted elsewhere. */
int stats_enable_gc_log(struct proc_stats *p);
void stats_free(struct proc_stats *p);

/* Records one collection. Returns -ENOMEM when a new generation slot cannot be made. */
int stats_add(struct proc_stats *p, const struct gc_event *e);

/* Generation slot for gen, created if needed (gens 0-2 always exist), NULL on ENOMEM. */
struct gen_stats *stats_gen(struct proc_stats *p, int gen);

static inline const struct pause_stats *stats_scope(const struct gen_stats *g,
						    enum stats_scope scope)
{
	return scope == STATS_TOTAL ? &g->total : &g->interval;
}

/* All generations merged, for one scope. */
void stats_merge_all(const struct proc_stats *p, enum stats_scope scope, struct pause_stats *out);

/* Traced wall time in the scope, up to now or to the exit. */
uint64_t stats_wall_ns(const struct proc_stats *p, enum stats_scope scope, uint64_t now_ns);

/* Starts a new interval at now_ns. */
void stats_reset_interval(struct proc_stats *p, uint64_t now_ns);
/* Reads p's CPU time now, if it still runs (an exited one keeps its last sample). */
void stats_sample_cpu(struct proc_stats *p);
/*
 * --sample: takes reader (whose layout says where the counters are) and starts from its
 * counters now. Returns 0 or -ESRCH.
 */
int stats_sample_start(struct proc_stats *p, struct gc_state_reader *reader, unsigned int hz);
/* Reads the counters now; their collections summed over the generations, -1 if unread. */
int64_t stats_sample_refresh(struct proc_stats *p);
/* The latest samples; the counters as the kernel read them at its exit, if it did. */
void stats_sample_set(struct proc_stats *p, const struct sample_proc *samples);
/* --sample's figures of p in a scope, for the outputs. */
struct stats_sampled_view {
	unsigned int hz;
	int64_t collections[3], collected[3];	/* exact: the interpreter's own counters */
	bool final;			/* read at its exit (else: as of the last reading) */
	uint64_t samples, gc_samples, read_failed;
	uint64_t gc_ns;			/* GC wall time: the pauses seen, summed */
	uint64_t gc_err_ns;		/* 3 standard deviations of that estimate */
	uint64_t resolution_ns;		/* 1 / hz: a pause is known to this much */
	uint64_t runs[SAMPLE_RUN_BUCKETS];	/* pauses by samples: [2^i, 2^(i+1)) / hz */
	uint64_t max_pause_ns;		/* the longest pause: its samples / hz (whole run) */
};
/* false when p was not sampled. */
bool stats_sampled_view(const struct proc_stats *p, enum stats_scope scope,
			struct stats_sampled_view *out);

/* Reads p's GC state now (the reader is made on first use); a failure leaves it invalid. */
void stats_refresh_gc_state(struct proc_stats *p);
/* CPU time p used in scope, up to its last sample; false when unknown. */
bool stats_cpu_ns(const struct proc_stats *p, enum stats_scope scope, uint64_t *ns);

#endif /* GCPAUSE_STATS_STATS_H */
