/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Request latency aggregates of one process, split by whether a collection overlapped. */
#ifndef GCPAUSE_STATS_HTTP_STATS_H
#define GCPAUSE_STATS_HTTP_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include "stats/gc_log.h"
#include "stats/hist.h"
#include "http/assemble.h"

#define HTTP_SLOWEST		5
/* Distinct method + path kept; the rest share the last, "(other routes)". */
#define HTTP_MAX_ROUTES		64

/* One request with what the collections took of it. */
struct http_sample {
	struct http_request req;
	struct gc_overlap gc;
	/* Pause time inside it that no request published before had overlapped. */
	uint64_t gc_wall_ns_by_gen[GC_LOG_GENS];
	uint64_t hit_min_ns;		/* --hit-min: a "big hit" has at least this much GC */
};

static inline bool http_sample_gen2_hit(const struct http_sample *x)
{
	return x->gc.ns_by_gen[2] > 0;
}

static inline bool http_sample_big_hit(const struct http_sample *x)
{
	return x->gc.count && x->gc.ns >= x->hit_min_ns;
}

struct http_route {
	char method[HTTP_METHOD_LEN];
	char path[HTTP_ROUTE_LEN];	/* the route's template */
	struct hist latency;
	uint64_t gc_hit;
};

struct http_stats {
	struct hist latency, gc_hit, clean;	/* arrival to end of response */
	struct hist gen2_hit;			/* those a generation-2 collection overlapped */
	struct hist big_hit;			/* those with --hit-min of GC or more */
	uint64_t hit_min_ns;
	struct hist queue;			/* arrival to the worker's read */
	/*
	 * GC time inside requests summed over requests: a pause that delayed three concurrent
	 * requests counts three times. Can exceed the GC that happened.
	 */
	uint64_t request_weighted_gc_ns_by_gen[GC_LOG_GENS];
	/* Wall-clock GC time that overlapped at least one request: each pause at most once. */
	uint64_t gc_wall_ns_by_gen[GC_LOG_GENS];
	uint64_t arrival_from_read;		/* requests timed from the read (no TCP stamp) */
	/* Latency and GC time of every request: which ones form the tail is known at the end. */
	struct { uint64_t latency, gc_ns; bool gen2, big; } *tail_pool;
	size_t npool, pool_cap;
	struct http_sample slowest[HTTP_SLOWEST];
	int nslowest;
	struct http_route *routes;
	int nroutes;
};

/* Where the tail starts and what GC made of it. */
struct http_tail {
	uint64_t threshold_ns;		/* the percentile's latency */
	uint64_t requests, gc_hit, gc_ns, latency_ns;
	/* Of those: a generation 2 hit them, and --hit-min of GC or more did; with their GC. */
	uint64_t gen2_hit, gen2_gc_ns, gen2_latency_ns;
	uint64_t big_hit, big_gc_ns, big_latency_ns;
};

int http_stats_init(struct http_stats *s);
int http_stats_add(struct http_stats *s, const struct http_sample *sample);
/* Requests at or above the pct-th percentile of latency. */
/* Adds src's requests into dst (the figures of several processes together). */
int http_stats_merge(struct http_stats *dst, const struct http_stats *src);
void http_stats_tail(const struct http_stats *s, double pct, struct http_tail *t);
void http_stats_free(struct http_stats *s);

static inline uint64_t http_latency(const struct http_request *r)
{
	return r->end_ns > r->arrival_ns ? r->end_ns - r->arrival_ns : 0;
}

#endif /* GCPAUSE_STATS_HTTP_STATS_H */
