/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A summary: the processes' statistics over a window, and what was lost meanwhile. */
#ifndef GCPAUSE_STATS_SUMMARY_H
#define GCPAUSE_STATS_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>
#include "gc.h"
#include "http/assemble.h"
#include "stats/stats.h"

struct report_summary {
	enum stats_scope scope;
	uint64_t start_ns, end_ns;	/* the window this summary covers */
	uint64_t counters[GC_CNT_MAX];	/* losses since start, whatever the scope */
	bool http;			/* --http: request figures since start */
	uint64_t http_dropped, http_non_http, http_bad_length;
	struct http_unassembled http_unassembled;	/* seen, not made into requests */
	struct proc_stats **procs;
	int nprocs;
};

/* Collections lost, for every output alike: an unmatched end is a collection already under way
 * at attach, not a lost event. */
static inline uint64_t summary_lost_events(const uint64_t counters[GC_CNT_MAX])
{
	return counters[GC_CNT_DROPPED] + counters[GC_CNT_TOO_DEEP] +
	       counters[GC_CNT_NO_THREAD_SLOT] + counters[GC_CNT_UNATTRIBUTED];
}

#endif /* GCPAUSE_STATS_SUMMARY_H */
