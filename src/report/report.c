// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "report/report.h"

const struct report_percentile report_percentiles[] = {
	{ "min", "min_ns", 0 },
	{ "p50", "p50_ns", 50 },
	{ "p90", "p90_ns", 90 },
	{ "p99", "p99_ns", 99 },
	{ "p99.9", "p999_ns", 99.9 },
	{ "max", "max_ns", 100 },
};
const int report_npercentiles = sizeof(report_percentiles) / sizeof(report_percentiles[0]);

static void add_process(const struct report_summary *s, const struct proc_stats *p,
			struct report_pool *out)
{
	const struct http_stats *h = report_http_of(s, p);
	struct pause_stats all;
	uint64_t cpu;

	stats_merge_all(p, s->scope, &all);
	out->processes++;
	out->collections += all.pauses.count;
	out->pause_ns += all.pauses.sum;
	out->requests += h ? h->latency.count : 0;
	out->wall_ns += stats_wall_ns(p, s->scope, s->end_ns);
	if (stats_cpu_ns(p, s->scope, &cpu))
		out->cpu_ns += cpu;
	else
		out->cpu_known = false;
}

void report_pool(const struct report_summary *s, const struct proc_stats *p,
		 struct report_pool *out)
{
	int i;

	memset(out, 0, sizeof(*out));
	out->cpu_known = true;
	if (p) {
		add_process(s, p, out);
		return;
	}
	for (i = 0; i < s->nprocs; i++)
		add_process(s, s->procs[i], out);
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
