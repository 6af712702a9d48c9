// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "probe/target.h"
#include "stats/stats.h"

static void pause_stats_init(struct pause_stats *s)
{
	hist_init(&s->pauses);
	s->collected = 0;
}

static struct gen_stats *gen_new(int gen)
{
	struct gen_stats *g = malloc(sizeof(*g));

	if (!g)
		return NULL;
	g->gen = gen;
	pause_stats_init(&g->total);
	pause_stats_init(&g->interval);
	return g;
}

static void start_identity(struct proc_stats *p)
{
	proc_identity_read(p->process.pid, &p->identity);
	p->cpu_known = !proc_cpu_ns(p->process.pid, &p->cpu_start_ns);
	p->cpu_interval_start_ns = p->cpu_now_ns = p->cpu_start_ns;
}

void stats_sample_cpu(struct proc_stats *p)
{
	uint64_t ns;

	if (p->exited)
		return;
	/* -- COMMAND: first read before its exec; a server may bind after attach. */
	proc_identity_refresh(p->process.pid, &p->identity, p->identity_refreshes < 10);
	p->identity_refreshes++;
	if (p->cpu_known && !proc_cpu_ns(p->process.pid, &ns) && ns >= p->cpu_now_ns)
		p->cpu_now_ns = ns;
}

bool stats_cpu_ns(const struct proc_stats *p, enum stats_scope scope, uint64_t *ns)
{
	if (!p->cpu_known)
		return false;
	*ns = p->cpu_now_ns - (scope == STATS_TOTAL ? p->cpu_start_ns : p->cpu_interval_start_ns);
	return true;
}

_Static_assert(STATS_VERSION_LEN == PYELF_VERSION_LEN, "the version is copied whole");

/* What the outputs show of t; its strings are copies. */
static int set_process(struct stats_process *sp, const struct target *t)
{
	sp->pid = t->pid;
	sp->start_ticks = t->start_ticks;
	memcpy(sp->comm, t->comm, sizeof(sp->comm));
	memcpy(sp->version, t->version, sizeof(sp->version));
	sp->probe = t->probe;
	sp->free_threaded = t->free_threaded;
	snprintf(sp->counters_source, sizeof(sp->counters_source), "%s", t->plan.counters_source);
	sp->incremental = t->plan.incremental;
	sp->container = t->container;
	sp->binary = strdup(t->binary);
	sp->host_path = strdup(t->host_path);
	sp->root = strdup(t->root);
	sp->probe_source = strdup(t->plan.source);
	sp->caveat = strdup(t->plan.caveat);
	return sp->binary && sp->host_path && sp->root && sp->probe_source && sp->caveat ?
	       0 : -ENOMEM;
}

/* What every process's statistics start from: its identity and the start of tracing. */
static struct proc_stats *stats_alloc(const struct target *t, uint64_t trace_start_ns)
{
	struct proc_stats *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (set_process(&p->process, t)) {
		stats_free(p);
		return NULL;
	}
	p->trace_start_ns = trace_start_ns;
	p->interval_start_ns = trace_start_ns;
	return p;
}

struct proc_stats *stats_new(const struct target *t, uint64_t trace_start_ns)
{
	struct proc_stats *p = stats_alloc(t, trace_start_ns);
	int gen;

	if (!p)
		return NULL;
	start_identity(p);
	for (gen = 0; gen < STATS_STANDARD_GENS; gen++) {
		if (!stats_gen(p, gen)) {
			stats_free(p);
			return NULL;
		}
	}
	return p;
}

struct proc_stats *stats_new_lean(const struct target *t, uint64_t trace_start_ns)
{
	struct proc_stats *p = stats_alloc(t, trace_start_ns);

	if (p)
		p->lean = true;
	return p;
}

static struct http_stats *http_stats_new(void)
{
	struct http_stats *h = malloc(sizeof(*h));

	if (h && http_stats_init(h)) {
		free(h);
		h = NULL;
	}
	return h;
}

static void http_stats_delete(struct http_stats *h)
{
	if (h) {
		http_stats_free(h);
		free(h);
	}
}

int stats_enable_http(struct proc_stats *p)
{
	p->http = http_stats_new();
	p->http_interval = http_stats_new();
	p->log_gcs = true;
	return p->http && p->http_interval ? 0 : -ENOMEM;
}

int stats_enable_gc_log(struct proc_stats *p)
{
	p->log_gcs = true;
	return 0;
}

void stats_free(struct proc_stats *p)
{
	int i;

	if (!p)
		return;
	http_stats_delete(p->http);
	http_stats_delete(p->http_interval);
	gc_log_free(&p->gc_log);
	gc_state_close(p->gc_reader);
	for (i = 0; i < p->ngens; i++)
		free(p->gens[i]);
	free(p->process.binary);
	free(p->process.host_path);
	free(p->process.root);
	free(p->process.probe_source);
	free(p->process.caveat);
	free(p);
}

struct gen_stats *stats_gen(struct proc_stats *p, int gen)
{
	int i;

	for (i = 0; i < p->ngens; i++)
		if (p->gens[i]->gen == gen)
			return p->gens[i];
	if (p->ngens == STATS_MAX_GENS)
		return p->gens[STATS_MAX_GENS - 1];
	p->gens[p->ngens] = gen_new(gen);
	if (!p->gens[p->ngens])
		return NULL;
	/* Keep slots sorted by generation so every output lists them in order. */
	for (i = p->ngens; i > 0 && p->gens[i - 1]->gen > gen; i--) {
		struct gen_stats *tmp = p->gens[i - 1];

		p->gens[i - 1] = p->gens[i];
		p->gens[i] = tmp;
	}
	p->ngens++;
	return p->gens[i];
}

static void pause_stats_add(struct pause_stats *s, const struct gc_event *e)
{
	hist_add(&s->pauses, e->duration_ns);
	s->collected += e->collected;
}

int stats_add(struct proc_stats *p, const struct gc_event *e)
{
	struct gen_stats *g;

	if (p->log_gcs &&
	    gc_log_add(&p->gc_log, e->start_ns, e->start_ns + e->duration_ns, e->gen))
		return -ENOMEM;
	if (p->lean)
		return 0;
	g = stats_gen(p, e->gen);
	if (!g)
		return -ENOMEM;
	pause_stats_add(&g->total, e);
	pause_stats_add(&g->interval, e);
	return 0;
}

void stats_merge_all(const struct proc_stats *p, enum stats_scope scope, struct pause_stats *out)
{
	int i;

	pause_stats_init(out);
	for (i = 0; i < p->ngens; i++) {
		const struct pause_stats *s = stats_scope(p->gens[i], scope);

		hist_merge(&out->pauses, &s->pauses);
		out->collected += s->collected;
	}
}

uint64_t stats_wall_ns(const struct proc_stats *p, enum stats_scope scope, uint64_t now_ns)
{
	uint64_t from = scope == STATS_TOTAL ? p->trace_start_ns : p->interval_start_ns;
	uint64_t to = p->exited ? p->end_ns : now_ns;

	if (from < p->trace_start_ns)
		from = p->trace_start_ns;
	return to > from ? to - from : 0;
}

void stats_reset_interval(struct proc_stats *p, uint64_t now_ns)
{
	int i;

	p->sampled.interval_start = p->sampled.last;
	p->sampled.interval_samples = p->sampled.samples;
	p->interval_start_ns = now_ns;
	p->cpu_interval_start_ns = p->cpu_now_ns;
	for (i = 0; i < p->ngens; i++)
		pause_stats_init(&p->gens[i]->interval);
	if (p->http_interval) {
		http_stats_free(p->http_interval);
		if (http_stats_init(p->http_interval)) {
			free(p->http_interval);
			p->http_interval = NULL;
		}
	}
}

/* Reports at which a process's GC state is looked for before it is given up. */
#define GC_STATE_OPEN_TRIES	5

void stats_refresh_gc_state(struct proc_stats *p)
{
	struct gc_state fresh;
	char why[256];
	int minor = 0;

	if (p->exited || p->gc_state_off)
		return;
	if (!p->gc_reader) {
		int ret = -ENOTSUP;

		if (sscanf(p->process.version, "3.%d", &minor) == 1)
			ret = gc_state_open(p->process.pid, p->process.binary, p->process.host_path,
					    minor, &p->gc_reader, why, sizeof(why));
		if (ret == -ESRCH)
			return;
		/* The lists may have been mid-collection at each look: tried again at later reports. */
		if (ret == -ENOTSUP && minor && ++p->gc_state_failures < GC_STATE_OPEN_TRIES)
			return;
		if (ret) {
			/* Said once: the reports go on without it. */
			p->gc_state_off = true;
			snprintf(p->gc_state_note, sizeof(p->gc_state_note), "%s",
				 minor ? why : "unknown version");
			return;
		}
	}
	/* A process gone meanwhile keeps its last state. */
	if (gc_state_read(p->gc_reader, &fresh) == 0)
		p->gc_state = fresh;
}

int stats_sample_start(struct proc_stats *p, struct gc_state_reader *reader, unsigned int hz)
{
	char *source = strdup(gc_state_source(reader));

	p->gc_reader = reader;
	p->sampled.hz = hz;
	/* What the outputs say of its probes: none, samples. */
	p->process.probe = "sampled";
	if (source) {
		free(p->process.probe_source);
		p->process.probe_source = source;
	}
	if (gc_state_read_counters(reader, &p->sampled.start))
		return -ESRCH;
	p->sampled.interval_start = p->sampled.last = p->sampled.start;
	return 0;
}

int64_t stats_sample_refresh(struct proc_stats *p)
{
	struct gc_counts now;

	if (!p->sampled.hz || p->sampled.final || gc_state_read_counters(p->gc_reader, &now))
		return -1;
	p->sampled.last = now;
	return now.collections[0] + now.collections[1] + now.collections[2];
}

void stats_sample_set(struct proc_stats *p, const struct sample_proc *samples)
{
	if (!p->sampled.hz || p->sampled.final)
		return;
	p->sampled.samples = *samples;
	if (samples->exit_read) {
		gc_counts_from_stats((const int64_t *)samples->exit_stats, &p->sampled.last);
		p->sampled.final = true;
	}
}

bool stats_sampled_view(const struct proc_stats *p, enum stats_scope scope,
			struct stats_sampled_view *out)
{
	const struct stats_sampled *sp = &p->sampled;
	const struct gc_counts *from = scope == STATS_TOTAL ? &sp->start : &sp->interval_start;
	const struct sample_proc *base = scope == STATS_TOTAL ? NULL : &sp->interval_samples;
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
