/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Recent collections of one process, to tell how much of a time window was GC. */
#ifndef GCPAUSE_STATS_GC_LOG_H
#define GCPAUSE_STATS_GC_LOG_H

#include <stddef.h>
#include <stdint.h>

#define GC_LOG_GENS	3	/* generations told apart in an overlap; others count as 2 */

/* Parts of a pause some request overlapped, disjoint and sorted. */
#define GC_LOG_COVER	4

struct gc_log_entry {
	uint64_t start_ns, end_ns;
	int gen;
	int ncover;
	struct { uint64_t from, to; } cover[GC_LOG_COVER];
};

struct gc_log {
	struct gc_log_entry *entries;	/* sorted by start_ns */
	size_t n, cap;
};

/* Pauses listed with a request (the longest first), for the slowest requests' report. */
#define GC_OVERLAP_LISTED	4

struct gc_overlap {
	uint64_t ns;			/* pause time inside the window */
	uint32_t count;			/* collections overlapping it */
	uint64_t ns_by_gen[GC_LOG_GENS];
	int nlisted;
	struct gc_log_entry listed[GC_OVERLAP_LISTED];	/* whole pauses, not clipped */
};

/* Records a collection; returns -ENOMEM when it cannot. */
int gc_log_add(struct gc_log *log, uint64_t start_ns, uint64_t end_ns, int gen);
/* Pause time of the logged collections inside [from, to]. */
void gc_log_overlap(const struct gc_log *log, uint64_t from, uint64_t to, struct gc_overlap *o);
/*
 * Marks the pause time inside [from, to] as overlapped by a request; adds to newly_by_gen
 * what no request had overlapped before. Summed over requests, that is the wall-clock GC time
 * that delayed at least one request, each pause counted once however many it delayed.
 */
void gc_log_cover(struct gc_log *log, uint64_t from, uint64_t to,
		  uint64_t newly_by_gen[GC_LOG_GENS]);
/* Forgets collections that ended before before_ns. */
void gc_log_prune(struct gc_log *log, uint64_t before_ns);
void gc_log_free(struct gc_log *log);

#endif /* GCPAUSE_STATS_GC_LOG_H */
