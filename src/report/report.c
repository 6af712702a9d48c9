// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <math.h>
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

bool report_sampled_of(const struct report_summary *s, const struct proc_stats *p,
		       struct report_sampled *out)
{
	const struct stats_sampled *sp = &p->sampled;
	const struct gc_counts *from = s->scope == STATS_TOTAL ? &sp->start : &sp->interval_start;
	const struct sample_proc *base = s->scope == STATS_TOTAL ? NULL : &sp->interval_samples;
	uint64_t runs;
	double gc_s;
	int i;

	memset(out, 0, sizeof(*out));
	if (!sp->hz)
		return false;
	out->hz = sp->hz;
	out->final = sp->final;
	for (i = 0; i < 3; i++) {
		out->collections[i] = sp->last.collections[i] - from->collections[i];
		out->collected[i] = sp->last.collected[i] - from->collected[i];
	}
	out->samples = sp->samples.samples - (base ? base->samples : 0);
	out->gc_samples = sp->samples.gc_samples - (base ? base->gc_samples : 0);
	out->read_failed = sp->samples.read_failed - (base ? base->read_failed : 0);
	for (i = 0; i < SAMPLE_RUN_BUCKETS; i++)
		out->runs[i] = sp->samples.runs[i] - (base ? base->runs[i] : 0);
	out->resolution_ns = 1000000000ull / sp->hz;
	/*
	 * Each pause counts from its first sample to its last, plus a period: a pause much
	 * shorter than a period is caught with probability length * hz, so its expected share is
	 * its length; a longer one is known to about a period, descheduled moments included.
	 * Error: the short pauses' count of samples is about Poisson (3 sigma of gc_s * hz
	 * samples), and each pause's ends are within a period (their errors add as a random walk).
	 */
	out->gc_ns = sp->samples.pause_ns - (base ? base->pause_ns : 0);
	gc_s = out->gc_ns / 1e9;
	for (i = 0, runs = 0; i < SAMPLE_RUN_BUCKETS; i++)
		runs += out->runs[i];
	out->gc_err_ns = (uint64_t)(3e9 * sqrt(gc_s / sp->hz) +
				    out->resolution_ns * (1 + sqrt((double)runs)));
	out->max_pause_ns = sp->samples.max_pause_ns;
	return true;
}
