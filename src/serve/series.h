/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `gcpause serve`: collections and requests aggregated by label set (container, command, Python
 * version, optionally PID) for Prometheus.
 *
 * A series only ever grows: a process leaving it keeps its contributions there, so every counter
 * stays monotonic for as long as the series lives, whatever the churn of processes. Buckets are
 * Prometheus's own bounds compared in integer nanoseconds, so counts are exact at the edges, and
 * a series has a fixed size: the table holds at most max_series of them and frees the ones that
 * stayed without a process for long enough.
 */
#ifndef GCPAUSE_SERVE_SERIES_H
#define GCPAUSE_SERVE_SERIES_H

#include <stdbool.h>
#include <stdint.h>

#define SERIES_GENS		4	/* generations 0, 1, 2, and "other" for any other value */
#define SERIES_GEN_OTHER	3
#define SERIES_GC_BUCKETS	17	/* 16 bounds, then +Inf */
#define SERIES_REQ_BUCKETS	15	/* 14 bounds, then +Inf */

/* Upper bounds (le, inclusive) of every bucket but the last, +Inf, one. */
extern const uint64_t series_gc_bounds_ns[SERIES_GC_BUCKETS - 1];
extern const uint64_t series_req_bounds_ns[SERIES_REQ_BUCKETS - 1];

struct series_labels {
	char ns[64];		/* Kubernetes namespace, "" outside a pod */
	char pod[254];
	char pod_uid[37];
	char container_id[96];	/* "containerd://<64hex>" or "" */
	char command[16];	/* the process's comm */
	char program[64];	/* the script or module a Python runs ("gunicorn"), "" if none */
	char service[96];	/* outside containers: its systemd service unit, else "" */
	char python[24];	/* Python version "3.11.2" */
	int pid;		/* 0 unless per-PID series were asked for */
};

/* Bucket counts are per bucket, not cumulative; sums saturate instead of wrapping. */
struct series_gen {
	uint64_t buckets[SERIES_GC_BUCKETS];
	uint64_t count;
	uint64_t sum_ns;
	uint64_t collected;	/* objects */
};

enum series_req_class { SERIES_REQ_CLEAN, SERIES_REQ_HIT, SERIES_REQ_CLASSES };

struct series_req {
	uint64_t buckets[SERIES_REQ_BUCKETS];
	uint64_t count;
	uint64_t sum_ns;
};

struct series_http {
	struct series_req req[SERIES_REQ_CLASSES];	/* by enum series_req_class */
	uint64_t gc_ns;		/* GC pause time inside requests, request-weighted */
	uint64_t gc_wall_ns;	/* GC wall time that overlapped at least one request */
};

/* Read-only outside series.c. */
struct series {
	struct series_labels labels;	/* NUL-terminated, zero-padded */
	unsigned int live;		/* processes in the series now */
	bool idle_known;		/* idle_since_ns is set */
	uint64_t idle_since_ns;
	struct series_gen gens[SERIES_GENS];
	struct series_http *http;	/* NULL unless the table was made for --http */
	/* The GC state of its live processes, summed at each scrape (threshold: the largest). */
	unsigned int gc_state_procs, gc_disabled;
	int64_t gc_tracked[3], gc_frozen;
	int gc_threshold[3];
	/* table bookkeeping */
	uint64_t hash;
	struct series *hash_next;
	struct series *prev, *next;	/* creation order, which is the order of the output */
};

struct series_table;

/* NULL with errno set: EINVAL for max_series 0, ENOMEM. */
struct series_table *series_table_new(unsigned int max_series, bool http);
void series_table_free(struct series_table *t);

/*
 * Finds or creates the series of these labels (keyed by all of them; a value too long for its
 * field is cut). NULL when max_series exist already, counted in series_table_dropped(), or when
 * memory runs out.
 */
struct series *series_get(struct series_table *t, const struct series_labels *l);

/*
 * A process joins / leaves the series: the live count is a gauge, and a series becomes idle when
 * the last process leaves. A series that was never held is idle from the first series_expire()
 * that sees it. Releasing more than was held is ignored.
 */
void series_hold(struct series *s);
void series_release(struct series *s, uint64_t now_ns);

/* gen outside 0..2 counts as "other"; a negative collected adds nothing. */
void series_add_gc(struct series *s, int gen, uint64_t pause_ns, int64_t collected);
/*
 * --http: one answered request; gc_ns is the GC pause time inside it (0: none, "clean"),
 * gc_wall_ns the part of it no request published before had overlapped.
 */
void series_add_request(struct series *s, uint64_t latency_ns, uint64_t gc_ns,
			uint64_t gc_wall_ns);

/*
 * Frees the series with no live process that have been idle for idle_ns or more; returns how
 * many. Pointers to them must not be used afterwards (no process holds them, so none should be).
 */
unsigned int series_expire(struct series_table *t, uint64_t now_ns, uint64_t idle_ns);

unsigned int series_count(const struct series_table *t);
bool series_table_http(const struct series_table *t);
/* series_get() calls refused because the table was full, since it was made. */
uint64_t series_table_dropped(const struct series_table *t);
/* Series freed by series_expire(), since the table was made. */
uint64_t series_table_expired(const struct series_table *t);

/* Iteration in creation order: for (s = series_first(t); s; s = series_next(s)). */
const struct series *series_first(const struct series_table *t);
const struct series *series_next(const struct series *s);

#endif /* GCPAUSE_SERVE_SERIES_H */
