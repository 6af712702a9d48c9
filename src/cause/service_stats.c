// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cause/service_stats.h"

static const char *const gen_metric_names[M_GEN_COUNT] = {
	"collections/s", "pause p50", "pause p95", "pause p99", "pause max", "GC share of wall",
};

void metric_describe(int m, struct metric_info *out)
{
	static const struct metric_info base[M_GEN_BASE] = {
		[M_RPS] = { "requests/s", U_RATE, true },
		[M_REQ_P50] = { "request p50", U_NS, false },
		[M_REQ_P95] = { "request p95", U_NS, false },
		[M_REQ_P99] = { "request p99", U_NS, false },
		[M_REQ_MAX] = { "request max", U_NS, false },
		[M_HIT_P99] = { "gc-hit request p99", U_NS, false },
		[M_TAIL_GC] = { "p99 tail that overlapped GC", U_FRACTION, false },
		[M_GC_PER_1K] = { "collections per 1,000 requests", U_COUNT, false },
		[M_GC_NS_PER_1K] = { "GC time per 1,000 requests", U_NS, false },
		[M_SHARE_WALL] = { "GC share of wall time", U_FRACTION, false },
		[M_SHARE_CPU] = { "GC share of CPU time", U_FRACTION, false },
		[M_ALL_P99] = { "pause p99 (all gens)", U_NS, false },
		[M_ALL_MAX] = { "pause max (all gens)", U_NS, false },
	};
	int g, k;

	if (m < M_GEN_BASE) {
		*out = base[m];
		return;
	}
	g = (m - M_GEN_BASE) / M_GEN_COUNT;
	k = (m - M_GEN_BASE) % M_GEN_COUNT;
	snprintf(out->name, sizeof(out->name), "gen %d %s", g, gen_metric_names[k]);
	out->unit = k == M_GEN_RATE ? U_RATE : k == M_GEN_SHARE ? U_FRACTION : U_NS;
	out->higher_is_better = false;
}

bool service_has(const struct recording *r, const char *comm, int pid)
{
	const struct rec_proc *p = recording_proc(r, pid);

	return p && !strcmp(p->comm, comm);
}

int service_processes(const struct recording *r, const char *comm)
{
	size_t i;
	int n = 0;

	for (i = 0; i < r->nprocs; i++)
		n += !strcmp(r->procs[i].comm, comm);
	return n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double quantile_sorted(double *v, size_t n, double q)
{
	size_t rank;

	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	rank = (size_t)ceil(q * n);
	return v[rank ? rank - 1 : 0];
}

/* GC time over CPU time, per process between its first and last state with a CPU time. */
static double cpu_share(const struct recording *r, const char *comm)
{
	double gc_ns = 0, cpu_ns = 0;
	size_t i, j;

	for (i = 0; i < r->nprocs; i++) {
		const struct rec_state *first = NULL, *last = NULL;

		if (strcmp(r->procs[i].comm, comm))
			continue;
		for (j = 0; j < r->nstates; j++) {
			if (r->states[j].pid != r->procs[i].pid || !r->states[j].cpu_ns)
				continue;
			if (!first)
				first = &r->states[j];
			last = &r->states[j];
		}
		if (!first || last->cpu_ns <= first->cpu_ns)
			continue;
		cpu_ns += last->cpu_ns - first->cpu_ns;
		for (j = 0; j < r->ngcs; j++)
			if (r->gcs[j].pid == r->procs[i].pid &&
			    r->gcs[j].start_ns >= first->time_ns &&
			    r->gcs[j].start_ns + r->gcs[j].dur_ns <= last->time_ns)
				gc_ns += r->gcs[j].dur_ns;
	}
	return cpu_ns ? gc_ns / cpu_ns : NAN;
}

void service_metrics(const struct recording *r, const char *comm, uint64_t lo, uint64_t hi,
		     bool whole, double v[M_COUNT])
{
	size_t n = r->ngcs > r->nreqs ? r->ngcs : r->nreqs, i, nreq = 0, nhit = 0;
	size_t ngen[REC_GENS] = {};
	size_t nall = 0, tail_n = 0, tail_hit = 0;
	double *lat = calloc(n + 1, sizeof(double)), *hit = calloc(n + 1, sizeof(double));
	double *gen[REC_GENS], *all = calloc(n + 1, sizeof(double));
	double secs = (hi - lo) / 1e9, wall = 0, gc_total = 0, gen_total[REC_GENS] = {};
	double gc_in_req = 0, gc_count_in_req = 0, p99;
	int g, k;

	for (g = 0; g < REC_GENS; g++)
		gen[g] = calloc(n + 1, sizeof(double));
	for (k = 0; k < M_COUNT; k++)
		v[k] = NAN;
	if (!lat || !hit || !all || !gen[0] || !gen[1] || !gen[2])
		goto out;
	for (i = 0; i < r->nprocs; i++)
		if (!strcmp(r->procs[i].comm, comm))
			wall += whole && r->procs[i].wall_ns ? r->procs[i].wall_ns / 1e9 : secs;
	for (i = 0; i < r->ngcs; i++) {
		const struct rec_gc *e = &r->gcs[i];

		if (e->start_ns < lo || e->start_ns >= hi || !service_has(r, comm, e->pid))
			continue;
		g = e->gen < 0 ? 0 : e->gen >= REC_GENS ? REC_GENS - 1 : e->gen;
		gen[g][ngen[g]++] = e->dur_ns;
		all[nall++] = e->dur_ns;
		gen_total[g] += e->dur_ns;
		gc_total += e->dur_ns;
	}
	for (i = 0; i < r->nreqs; i++) {
		const struct rec_req *q = &r->reqs[i];

		if (q->end_ns < lo || q->end_ns >= hi || !service_has(r, comm, q->pid))
			continue;
		lat[nreq++] = q->latency_ns;
		if (q->gc_count)
			hit[nhit++] = q->latency_ns;
		gc_in_req += q->gc_ns;
		gc_count_in_req += q->gc_count;
	}
	if (nreq) {
		v[M_RPS] = secs > 0 ? nreq / secs : NAN;
		v[M_GC_PER_1K] = gc_count_in_req * 1000.0 / nreq;
		v[M_GC_NS_PER_1K] = gc_in_req * 1000.0 / nreq;
		v[M_REQ_P50] = quantile_sorted(lat, nreq, 0.50);
		v[M_REQ_P95] = quantile_sorted(lat, nreq, 0.95);
		p99 = v[M_REQ_P99] = quantile_sorted(lat, nreq, 0.99);
		v[M_REQ_MAX] = lat[nreq - 1];
		v[M_HIT_P99] = quantile_sorted(hit, nhit, 0.99);
		for (i = 0; i < r->nreqs; i++) {
			const struct rec_req *q = &r->reqs[i];

			if (q->end_ns < lo || q->end_ns >= hi || !service_has(r, comm, q->pid) ||
			    q->latency_ns < p99)
				continue;
			tail_n++;
			tail_hit += q->gc_count > 0;
		}
		v[M_TAIL_GC] = tail_n ? (double)tail_hit / tail_n : NAN;
	}
	if (wall > 0)
		v[M_SHARE_WALL] = gc_total / 1e9 / wall;
	if (whole)
		v[M_SHARE_CPU] = cpu_share(r, comm);
	v[M_ALL_P99] = quantile_sorted(all, nall, 0.99);
	v[M_ALL_MAX] = nall ? all[nall - 1] : NAN;
	for (g = 0; g < REC_GENS; g++) {
		double *m = v + M_GEN_BASE + g * M_GEN_COUNT;

		m[M_GEN_RATE] = secs > 0 ? ngen[g] / (whole && wall ? wall /
			service_processes(r, comm) : secs) : NAN;
		m[M_GEN_SHARE] = wall > 0 ? gen_total[g] / 1e9 / wall : NAN;
		if (!ngen[g])
			continue;
		m[M_GEN_P50] = quantile_sorted(gen[g], ngen[g], 0.50);
		m[M_GEN_P95] = quantile_sorted(gen[g], ngen[g], 0.95);
		m[M_GEN_P99] = quantile_sorted(gen[g], ngen[g], 0.99);
		m[M_GEN_MAX] = gen[g][ngen[g] - 1];
	}
out:
	free(lat);
	free(hit);
	free(all);
	for (g = 0; g < REC_GENS; g++)
		free(gen[g]);
}

void service_state(const struct recording *r, const char *comm, struct service_state *s)
{
	size_t i, j;
	int g;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < r->nprocs; i++) {
		const struct rec_state *last = NULL;

		if (strcmp(r->procs[i].comm, comm))
			continue;
		for (j = 0; j < r->nstates; j++)
			if (r->states[j].pid == r->procs[i].pid)
				last = &r->states[j];
		if (!last)
			continue;
		s->processes++;
		s->disabled += !last->enabled;
		s->frozen += last->frozen;
		for (g = 0; g < REC_GENS; g++) {
			s->tracked[g] += last->tracked[g];
			if (s->processes > 1 && last->threshold[g] != s->threshold[g])
				s->thresholds_differ = true;
			if (last->threshold[g] > s->threshold[g])
				s->threshold[g] = last->threshold[g];
		}
	}
}
