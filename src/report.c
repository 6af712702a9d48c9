// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "report.h"

const struct report_percentile report_percentiles[] = {
	{ "min", "min_ns", 0 },
	{ "p50", "p50_ns", 50 },
	{ "p90", "p90_ns", 90 },
	{ "p99", "p99_ns", 99 },
	{ "p99.9", "p999_ns", 99.9 },
	{ "max", "max_ns", 100 },
};
const int report_npercentiles = sizeof(report_percentiles) / sizeof(report_percentiles[0]);

uint64_t report_lost_events(const uint64_t counters[GC_CNT_MAX])
{
	/* An unmatched end is a collection already under way at attach, not a lost event. */
	return counters[GC_CNT_DROPPED] + counters[GC_CNT_TOO_DEEP] +
	       counters[GC_CNT_NO_THREAD_SLOT] + counters[GC_CNT_UNATTRIBUTED];
}

const struct http_stats *report_http_of(const struct report_summary *s,
					const struct proc_stats *p)
{
	if (!s->http)
		return NULL;
	return s->scope == STATS_TOTAL ? p->http : p->http_interval;
}

int report_http_all(const struct report_summary *s, struct http_stats *all)
{
	int i, ret = http_stats_init(all);

	for (i = 0; !ret && i < s->nprocs; i++)
		if (report_http_of(s, s->procs[i]))
			ret = http_stats_merge(all, report_http_of(s, s->procs[i]));
	if (ret)
		http_stats_free(all);
	return ret;
}
