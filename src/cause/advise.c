// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gcpause advise's model: what one service's recording says about its collections (rates,
 * pauses, what each scans), and each option's effects predicted from that. docs/cause.md says
 * what is assumed and how the errors are made.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cause/advise.h"
#include "cause/service_stats.h"

#define SLICE_NS	1000000000ull
#define DISABLE_PERIOD_S	10.0

/* What the recording says beyond the advice's own fields: per generation counts and means. */
struct measured {
	size_t n[REC_GENS];
	double mean[REC_GENS], walls, mean_latency;
};

static double median(double *v, size_t n)
{
	return quantile_sorted(v, n, 0.5);
}

/* The exact reading of pid nearest t, or NULL. */
static const struct rec_state *nearest_state(const struct recording *r, int pid, uint64_t t)
{
	const struct rec_state *best = NULL;
	size_t lo = 0, hi = r->nstates, i;

	while (lo < hi) {	/* the first reading at or after t */
		size_t mid = (lo + hi) / 2;

		if (r->states[mid].time_ns < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < r->nstates; i++)
		if (r->states[i].pid == pid && r->states[i].exact) {
			best = &r->states[i];
			break;
		}
	for (i = lo; i-- > 0;)
		if (r->states[i].pid == pid && r->states[i].exact) {
			if (!best || t - r->states[i].time_ns < best->time_ns - t)
				best = &r->states[i];
			break;
		}
	return best;
}

static bool is_worker(const struct advice *a, const int *workers, int pid)
{
	int i;

	for (i = 0; i < a->workers; i++)
		if (workers[i] == pid)
			return true;
	return false;
}

/* The workers: the service's processes with at least a tenth of the busiest one's gen-0
 * collections (a gunicorn master collects a few times an hour, it is not a worker). */
static int find_workers(const struct recording *r, const char *comm, int *out, int max)
{
	size_t i, j, most = 0, *n = calloc(r->nprocs + 1, sizeof(*n));
	int w = 0;

	if (!n)
		return -ENOMEM;
	for (j = 0; j < r->ngcs; j++)
		for (i = 0; i < r->nprocs; i++)
			if (r->procs[i].pid == r->gcs[j].pid && r->gcs[j].gen == 0)
				n[i]++;
	for (i = 0; i < r->nprocs; i++)
		if (!strcmp(r->procs[i].comm, comm) && n[i] > most)
			most = n[i];
	for (i = 0; i < r->nprocs && w < max; i++)
		if (!strcmp(r->procs[i].comm, comm) && most && n[i] * 10 >= most)
			out[w++] = r->procs[i].pid;
	free(n);
	return w;
}

/* Per generation rates, pauses and shares; requests and those a gen-2 collection overlapped. */
static int measure_collections(const struct recording *r, const char *comm, struct advice *a,
			       struct measured *m)
{
	double *d[REC_GENS], sum[REC_GENS] = { 0 }, lat = 0;
	size_t i, j, hit = 0;
	int g, ret = 0;

	for (g = 0; g < REC_GENS; g++)
		d[g] = calloc(r->ngcs + 1, sizeof(double));
	if (!d[0] || !d[1] || !d[2]) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < r->ngcs; i++) {
		const struct rec_gc *e = &r->gcs[i];

		if (e->gen < 0 || e->gen >= REC_GENS || !service_has(r, comm, e->pid))
			continue;
		d[e->gen][m->n[e->gen]++] = e->dur_ns;
		sum[e->gen] += e->dur_ns;
	}
	for (g = 0; g < REC_GENS; g++) {
		a->observed[AF_RATE0 + g] = m->n[g] / a->secs;
		if (!m->n[g])
			continue;
		m->mean[g] = sum[g] / m->n[g];
		a->observed[AF_P50_0 + g] = median(d[g], m->n[g]);
		if (g == 2)
			a->observed[AF_MAX2] = d[g][m->n[g] - 1];
	}
	a->observed[AF_SHARE] = (sum[0] + sum[1] + sum[2]) / 1e9 / m->walls;
	for (i = 0; i < r->nreqs; i++) {
		const struct rec_req *q = &r->reqs[i];

		if (!service_has(r, comm, q->pid))
			continue;
		a->requests++;
		lat += q->latency_ns;
		for (j = 0; j < r->ngcs; j++) {
			const struct rec_gc *e = &r->gcs[j];

			if (e->gen == 2 && e->pid == q->pid && e->start_ns < q->end_ns &&
			    e->start_ns + e->dur_ns > q->arrival_ns) {
				hit++;
				break;
			}
		}
	}
	if (a->requests) {
		m->mean_latency = lat / a->requests;
		a->observed[AF_GEN0_PER_1K] = m->n[0] * 1000.0 / a->requests;
		if (m->n[2])
			a->observed[AF_HIT2] = hit / a->requests;
	}
out:
	for (g = 0; g < REC_GENS; g++)
		free(d[g]);
	return ret;
}

/* From the workers' exact GC-state readings: survivors per gen-0 collection, how much gen 2
 * grew (what a frozen heap's gen-2 collections would scan besides the young), and how much a
 * worker tracks and holds. */
static int measure_states(const struct recording *r, struct advice *a, const int *workers,
			  double *heap_per_worker)
{
	double t1 = 0, c1 = 0, tr = 0, heap = 0, growth = 0, llt = 0;
	size_t i, nt = 0, nll = 0;
	int w;

	for (i = 0; i < r->nstates; i++) {
		const struct rec_state *s = &r->states[i];

		if (!s->exact || !is_worker(a, workers, s->pid))
			continue;
		/* Summed before dividing: a reading just after a request holds many, one between
		 * requests few, and a ratio of each would be ruled by the small counts. */
		if (s->count[1] > 0) {
			t1 += s->tracked[1];
			c1 += s->count[1];
		}
		if (s->has_long_lived && s->long_lived_total > 0) {
			llt += s->long_lived_total;
			nll++;
		}
		tr += s->tracked[0] + s->tracked[1] + s->tracked[2];
		heap += s->tracked[0] + s->tracked[1] + s->tracked[2] + s->frozen;
		nt++;
	}
	for (w = 0; w < a->workers; w++) {
		int64_t lo = INT64_MAX, hi = 0;

		for (i = 0; i < r->nstates; i++)
			if (r->states[i].pid == workers[w] && r->states[i].exact) {
				lo = r->states[i].tracked[2] < lo ? r->states[i].tracked[2] : lo;
				hi = r->states[i].tracked[2] > hi ? r->states[i].tracked[2] : hi;
			}
		growth += hi > lo ? (double)(hi - lo) / a->workers : 0;
	}
	a->survivors0 = c1 ? t1 / c1 : 0;
	a->young_old = growth;
	a->pending_limit = nll ? llt / nll / 4 : 0;
	a->tracked = nt ? tr / nt : 0;
	*heap_per_worker = nt ? heap / nt : 0;
	return 0;
}

/* Whether an idle process of the service (the master) holds a heap like the workers': then the
 * workers' heaps are its own, forked (gunicorn --preload), and freezing it before fork keeps
 * them shared as well. */
static bool heap_in_master(const struct recording *r, const char *comm, const int *workers,
			   const struct advice *a, double heap_per_worker)
{
	size_t i;

	for (i = 0; i < r->nprocs; i++) {
		const struct rec_state *s = NULL;
		size_t j;

		if (strcmp(r->procs[i].comm, comm) || is_worker(a, workers, r->procs[i].pid))
			continue;
		for (j = 0; j < r->nstates; j++)
			if (r->states[j].pid == r->procs[i].pid && r->states[j].exact)
				s = &r->states[j];
		if (s && s->tracked[0] + s->tracked[1] + s->tracked[2] + s->frozen >=
		    heap_per_worker / 2)
			return true;
	}
	return false;
}

/* A collection as a point of the fit, keyed by worker, generation and second. */
struct point {
	uint64_t key;
	double x, y;
};

static int by_key(const void *a, const void *b)
{
	const struct point *p = a, *q = b;

	return p->key < q->key ? -1 : p->key > q->key;
}

/*
 * The points of the fit: for each worker, generation 0 or 2 and second of the recording, the
 * median pause against the objects scanned. Medians of slices, so that a pause stretched by a
 * preemption does not pull the line, and each slice weighs alike. Generation 1 is left out: what
 * it scans depends on where in its cycle the reading was taken, which is not known.
 */
static int fit_pauses(const struct recording *r, const char *comm, struct advice *a)
{
	size_t cap = r->ngcs + 1, n = 0, n2 = 0, np = 0, i, j;
	struct point *pt = calloc(cap, sizeof(*pt));
	double *x = calloc(cap, sizeof(double)), *y = calloc(cap, sizeof(double));
	double *gx = calloc(cap, sizeof(double)), *gy = calloc(cap, sizeof(double));
	int ret = 0;

	if (!pt || !x || !y || !gx || !gy) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < r->ngcs; i++) {
		const struct rec_gc *e = &r->gcs[i];
		const struct rec_state *s;

		if ((e->gen != 0 && e->gen != 2) || !service_has(r, comm, e->pid) || !e->dur_ns)
			continue;
		if (e->gen == 0) {
			pt[n].x = a->young0;
		} else {
			s = nearest_state(r, e->pid, e->start_ns);
			if (!s)
				continue;
			pt[n].x = a->young0 + s->tracked[1] + s->tracked[2];
			gx[n2++] = pt[n].x;
		}
		pt[n].y = e->dur_ns;
		pt[n].key = ((uint64_t)(unsigned)e->pid << 32) | (uint64_t)e->gen << 28 |
			    ((e->start_ns > r->start_ns ? e->start_ns - r->start_ns : 0) /
			     SLICE_NS & 0xfffffff);
		n++;
	}
	a->scan2 = n2 ? median(gx, n2) : NAN;
	qsort(pt, n, sizeof(*pt), by_key);
	for (i = 0; i < n; i = j) {
		size_t m = 0;

		for (j = i; j < n && pt[j].key == pt[i].key; j++, m++) {
			gx[m] = pt[j].x;
			gy[m] = pt[j].y;
		}
		x[np] = median(gx, m);
		y[np] = median(gy, m);
		np++;
	}
	pause_fit_points(x, y, np, &a->fit);
out:
	free(pt);
	free(x);
	free(y);
	free(gx);
	free(gy);
	return ret;
}

/*
 * Objects a gen-0 collection scans: the young generation at the trigger, which holds what it
 * found to be garbage and what survived into gen 1. Not less than the threshold: the count that
 * triggers it is allocations less deallocations, and the young generation holds at least that.
 * Also the spread of the gen-0 rate from second to second (per request when there are requests),
 * and the cyclic garbage a worker makes per second.
 */
static int measure_young(const struct recording *r, const char *comm, struct advice *a)
{
	size_t nsl = (size_t)(a->secs * 1e9 / SLICE_NS), i, nc = 0, full = 0;
	double *col = calloc(r->ngcs + 1, sizeof(double)), *per = calloc(nsl + 2, sizeof(double));
	double *req = calloc(nsl + 2, sizeof(double)), garbage = 0, sl = 0, sl2 = 0;

	if (!col || !per || !req) {
		free(col);
		free(per);
		free(req);
		return -ENOMEM;
	}
	for (i = 0; i < r->ngcs; i++) {
		const struct rec_gc *e = &r->gcs[i];
		size_t k;

		if (!service_has(r, comm, e->pid) || e->collected < 0)
			continue;
		garbage += e->collected;
		if (e->gen != 0)
			continue;
		col[nc++] = e->collected;
		k = e->start_ns > r->start_ns ? (e->start_ns - r->start_ns) / SLICE_NS : 0;
		if (k < nsl)
			per[k]++;
	}
	for (i = 0; i < r->nreqs; i++) {
		const struct rec_req *q = &r->reqs[i];
		size_t k = q->end_ns > r->start_ns ? (q->end_ns - r->start_ns) / SLICE_NS : 0;

		if (service_has(r, comm, q->pid) && k < nsl)
			req[k]++;
	}
	a->young0 = fmax(a->threshold[0], (nc ? median(col, nc) : 0) + a->survivors0);
	a->garbage_per_s = a->workers ? garbage / a->secs / a->workers : 0;
	/* Whole seconds only: the last, cut short, would look slow. */
	for (i = 0; i < nsl; i++) {
		double v = a->requests ? (req[i] ? per[i] / req[i] : 0) : per[i];

		if (v <= 0)
			continue;
		sl += log(v);
		sl2 += log(v) * log(v);
		full++;
	}
	a->rate0_sigma = full > 1 ? sqrt(fmax(0, (sl2 - sl * sl / full) / (full - 1)) / full) : 0;
	free(col);
	free(per);
	free(req);
	return 0;
}

static void set(struct prediction *p, double v, double sigma_ln)
{
	double f = band95(sigma_ln);

	p->v = v;
	p->lo = isnan(v) ? NAN : v / f;
	p->hi = isnan(v) ? NAN : v * f;
	p->wide = (p->hi - p->lo) / 2 > v;
}

/* A pause at a new scan size: the observed one scaled by the model's ratio (so the figure as
 * now is exactly what was seen), or the model's own value where nothing was seen. */
static double scaled_pause(const struct advice *a, double observed, double x_now, double x_new,
			   double *sigma)
{
	double now, v = pause_predict(&a->fit, x_new, sigma);

	if (isnan(observed) || isnan(x_now))
		return v;
	now = pause_predict(&a->fit, x_now, &(double){ 0 });
	return observed * v / now;
}

static void predict(const struct advice *a, const struct measured *m, struct advice_option *o)
{
	double t0 = a->threshold[0], c = a->young0 / t0, k = a->fit.k, rate[REC_GENS];
	double p50[REC_GENS], sp[REC_GENS], sr[REC_GENS], share = 0, var = 0, terms[REC_GENS];
	double y0 = o->threshold0 == t0 ? a->young0 : sqrt(c) * o->threshold0;
	double form = o->threshold0 == t0 ? 0 : log(c) / 4, q2, x1, x2, s0, base, sx, sx2;
	const double *obs = a->observed;
	int g;

	/* Generations 1 and 2 as often against gen 0 as now: the ratios carry CPython's rules as
	 * the service meets them (a gen-1 collection every threshold1 + 1 gen-0 ones, a gen-2 every
	 * threshold2 + 1 gen-1 ones and, in 3.8-3.13, once long_lived_pending exceeds a quarter of
	 * long_lived_total). Not seen: the rules alone, or fewer than once in what was seen. */
	rate[0] = obs[AF_RATE0] * a->young0 / y0;
	rate[1] = m->n[1] ? rate[0] * m->n[1] / m->n[0] : rate[0] / (a->threshold[1] + 1);
	q2 = fmax(a->threshold[2] + 1, m->n[1] + 1);
	rate[2] = m->n[2] ? rate[0] * m->n[2] / m->n[0] : rate[1] / q2;
	sr[0] = hypot(a->rate0_sigma, form);
	sr[1] = hypot(sr[0], m->n[1] ? 1 / sqrt(m->n[1]) : 0);
	sr[2] = hypot(sr[0], m->n[2] ? 1 / sqrt(m->n[2]) : 1);
	/* Survivors per gen-0 collection at another threshold: as many as now (a live set that a
	 * longer window does not grow) up to as large a share (objects living longer than either
	 * window); the geometric middle, the range taken as four sigmas. */
	s0 = a->survivors0 * sqrt(y0 / a->young0);
	base = a->threshold[1] * a->survivors0;
	x1 = y0 + a->threshold[1] * s0;
	sx = log((y0 + base * y0 / a->young0 + a->young_old) / (y0 + base + a->young_old)) / 4;
	p50[0] = scaled_pause(a, obs[AF_P50_0], a->young0, y0, &sp[0]);
	p50[1] = scaled_pause(a, obs[AF_P50_1], a->young0 + base, x1, &sp[1]);
	x2 = a->scan2 - a->young0 - base + x1;
	sx2 = sx;
	if (o->freeze) {
		/* Frozen, a gen-2 collection scans the young generations and the objects that
		 * reached gen 2 since and live on: at least what gen 2 grew by in the recording,
		 * at most (3.8-3.13) the quarter of long_lived_total that pending must pass
		 * before gen 2 runs at all. The geometric middle, the range four sigmas. */
		double lo = y0 + base + a->young_old;
		double hi = y0 + base * y0 / a->young0 + fmax(a->young_old, a->pending_limit);

		x2 = sqrt(lo * hi);
		sx2 = log(hi / lo) / 4;
	}
	p50[2] = scaled_pause(a, obs[AF_P50_2], a->scan2, x2, &sp[2]);
	for (g = 0; g < REC_GENS; g++)
		sp[g] = hypot(sp[g], k * form);
	sp[1] = hypot(sp[1], k * sx);
	sp[2] = hypot(sp[2], k * sx2);
	if (o->disable) {
		/* Nothing but the scheduled full collections, over the heap and the garbage
		 * piled up since the last one. */
		rate[0] = rate[1] = 0;
		rate[2] = a->workers / o->period_s;
		sr[2] = sr[0] = sr[1] = 0;
		x2 = (isnan(a->scan2) ? a->tracked : a->scan2) + a->garbage_per_s * o->period_s;
		p50[0] = p50[1] = NAN;
		p50[2] = scaled_pause(a, obs[AF_P50_2], a->scan2, x2, &sp[2]);
	}
	for (g = 0; g < REC_GENS; g++) {
		double mean = m->n[g] && !isnan(p50[g]) ? m->mean[g] * p50[g] /
			obs[AF_P50_0 + g] : p50[g];

		terms[g] = rate[g] && !isnan(mean) ? rate[g] * mean / 1e9 * a->secs / m->walls : 0;
		share += terms[g];
		set(&o->p[AF_RATE0 + g], rate[g], sr[g]);
		set(&o->p[AF_P50_0 + g], rate[g] ? p50[g] : NAN, sp[g]);
	}
	for (g = 0; g < REC_GENS; g++)
		if (share > 0)
			var += pow(terms[g] / share, 2) * (sr[g] * sr[g] + sp[g] * sp[g]);
	set(&o->p[AF_SHARE], share, sqrt(var));
	set(&o->p[AF_MAX2], m->n[2] && rate[2] ? p50[2] * obs[AF_MAX2] / obs[AF_P50_2] : NAN,
	    sp[2]);
	set(&o->p[AF_GEN0_PER_1K], a->requests ? obs[AF_GEN0_PER_1K] * rate[0] / obs[AF_RATE0] :
	    NAN, sr[0]);
	/* Requests hit: as many more as gen 2 comes more often, and as a longer pause overlaps
	 * more of them (a request and a pause overlap over their summed lengths). */
	set(&o->p[AF_HIT2], isnan(obs[AF_HIT2]) || !rate[2] ? NAN : obs[AF_HIT2] * rate[2] /
	    obs[AF_RATE2] * (m->mean_latency + p50[2]) / (m->mean_latency + obs[AF_P50_2]),
	    hypot(sr[2], sp[2] / 2));
}

static struct advice_option *add(struct advice *a, const char *name, bool freeze, int t0)
{
	struct advice_option *o = &a->opt[a->nopt++];
	int n;

	snprintf(o->name, sizeof(o->name), "%s", name);
	o->freeze = freeze;
	o->threshold0 = t0;
	n = snprintf(o->code, sizeof(o->code), "%s", freeze ? "gc.collect(2); gc.freeze()" : "");
	if (t0 != a->threshold[0])
		snprintf(o->code + n, sizeof(o->code) - n, "%sgc.set_threshold(%d, %d, %d)",
			 n ? "; " : "", t0, a->threshold[1], a->threshold[2]);
	if (freeze && a->processes == a->workers)
		snprintf(o->note, sizeof(o->note), "once warmed up (imports done, caches filled)");
	else if (freeze)
		snprintf(o->note, sizeof(o->note), "%s", a->heap_in_master ?
			 "in the master before fork (gunicorn --preload): the workers' heaps are "
			 "the master's, and stay shared" :
			 "in each worker once warmed up (its heap is built after fork, the master "
			 "has none of it)");
	return o;
}

/* The longest pause that comes at least once a minute in some worker: a request's p99 meets it. */
static double typical_worst(const struct advice *a, const struct advice_option *o)
{
	double worst = 0;
	int g;

	for (g = 0; g < REC_GENS; g++)
		if (o->p[AF_RATE0 + g].v * 60 >= a->workers && !isnan(o->p[AF_P50_0 + g].v))
			worst = fmax(worst, o->p[AF_P50_0 + g].v);
	return worst;
}

/* The option with the shortest pause a request meets, among those that do not cost more GC
 * time than now (a quarter more at most); the GC share breaks near ties (within 10%). */
static int recommend(const struct advice *a)
{
	double limit = 1.25 * a->opt[0].p[AF_SHARE].v, bw = 0, w;
	int best = -1, i;

	for (i = 1; i < a->nopt; i++) {
		const struct advice_option *o = &a->opt[i];

		if ((o->disable && !o->fits) || o->p[AF_SHARE].v > limit)
			continue;
		w = typical_worst(a, o);
		if (best < 0 || w < 0.9 * bw) {
			best = i;
			bw = w;
		} else if (w <= 1.1 * bw && o->p[AF_SHARE].v < a->opt[best].p[AF_SHARE].v) {
			best = i;
			bw = fmin(bw, w);
		}
	}
	return best < 0 ? 0 : best;
}

int advise_service(const struct recording *r, const char *comm, struct advice *a)
{
	static const int thresholds[] = { 10000, 50000 };
	struct service_state st;
	struct measured m = { 0 };
	double heap = 0;
	struct advice_option *o;
	int *workers, ret, i;
	size_t p;

	memset(a, 0, sizeof(*a));
	snprintf(a->service, sizeof(a->service), "%s", comm);
	for (i = 0; i < AF_COUNT; i++)
		a->observed[i] = NAN;
	a->processes = service_processes(r, comm);
	a->secs = (r->end_ns - r->start_ns) / 1e9;
	service_state(r, comm, &st);
	if (!st.processes || !st.threshold[0])
		return -ENOENT;		/* no GC state: --no-gc-state, or too short */
	memcpy(a->threshold, st.threshold, sizeof(a->threshold));
	for (p = 0; p < r->nprocs; p++)
		if (!strcmp(r->procs[p].comm, comm))
			m.walls += r->procs[p].wall_ns ? r->procs[p].wall_ns / 1e9 : a->secs;
	workers = calloc(r->nprocs + 1, sizeof(*workers));
	if (!workers)
		return -ENOMEM;
	ret = find_workers(r, comm, workers, r->nprocs);
	if (ret <= 0 || a->secs <= 0) {
		free(workers);
		return ret < 0 ? ret : -ENODATA;
	}
	a->workers = ret;
	ret = measure_collections(r, comm, a, &m);
	if (!ret)
		ret = measure_states(r, a, workers, &heap);
	if (!ret) {
		a->heap_in_master = heap_in_master(r, comm, workers, a, heap);
		ret = measure_young(r, comm, a);
	}
	if (!ret)
		ret = fit_pauses(r, comm, a);
	free(workers);
	if (ret)
		return ret;
	if (isnan(a->scan2))	/* no gen-2 collection seen: it would scan all that is tracked */
		a->scan2 = a->young0 + a->tracked;
	predict(a, &m, add(a, "as now", false, a->threshold[0]));
	predict(a, &m, add(a, "freeze", true, a->threshold[0]));
	for (i = 0; i < 2; i++) {
		char name[48];

		if (thresholds[i] == a->threshold[0])
			continue;
		snprintf(name, sizeof(name), "threshold %d", thresholds[i]);
		predict(a, &m, add(a, name, false, thresholds[i]));
		snprintf(name, sizeof(name), "freeze + threshold %d", thresholds[i]);
		predict(a, &m, add(a, name, true, thresholds[i]));
	}
	o = add(a, "disable + scheduled collect", false, a->threshold[0]);
	o->disable = true;
	o->period_s = DISABLE_PERIOD_S;
	snprintf(o->code, sizeof(o->code), "gc.disable(); gc.collect() every %.0f s (a timer, or "
		 "between requests)", o->period_s);
	predict(a, &m, o);
	/* It suits a service that spends a few percent in GC, mostly in young collections, and
	 * makes little cyclic garbage: that piles up until the next collection. */
	o->fits = a->observed[AF_SHARE] > 0.03 &&
		  m.n[0] * m.mean[0] + m.n[1] * m.mean[1] > m.n[2] * m.mean[2] &&
		  a->garbage_per_s * o->period_s < a->tracked / 4;
	snprintf(o->note, sizeof(o->note), "%s: %.0f cyclic garbage objects/s per worker pile "
		 "up (%.0f%% of its heap in %.0f s)%s",
		 o->fits ? "fits" : "does not fit", a->garbage_per_s,
		 a->tracked ? 100 * a->garbage_per_s * o->period_s / a->tracked : 0,
		 o->period_s, o->fits ? "; the risk: memory grows without bound if the "
		 "schedule stops" : "");
	a->best = recommend(a);
	return 0;
}
