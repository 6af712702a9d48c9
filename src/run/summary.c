// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The summaries of a run, handed to its sinks: every interval (top's frames) and the total at
 * the end.
 */
#include <stdlib.h>
#include <string.h>
#include "run/app.h"
#include "run/http_session.h"
#include "trace/gc_tracer.h"
#include "trace/sampler.h"
#include "util/clock.h"

/*
 * CPU time read for every process at the summary's end: GC's share of it is reported. With
 * --sample, the interpreters' counters and the samples too.
 */
static void sample_cpu(struct app *app)
{
	struct sample_proc samples;
	int i;

	for (i = 0; i < app->nprocs; i++) {
		struct proc_stats *p = app->procs[i].stats;

		if (!p)
			continue;
		stats_sample_cpu(p);
		if (app->sampler && !p->exited &&
		    !sampler_read(app->sampler, p->process.pid, stats_sample_refresh(p),
				  &samples))
			stats_sample_set(p, &samples);
	}
}

static int summary_window(struct app *app, struct report_summary *s, enum stats_scope scope,
			  uint64_t end)
{
	memset(s, 0, sizeof(*s));
	s->scope = scope;
	s->start_ns = scope == STATS_TOTAL ? app->start_ns : app->interval_start_ns;
	s->end_ns = end;
	tracer_read_counters(app->tracer, s->counters);
	s->counters[GC_CNT_UNATTRIBUTED] = app->unattributed;
	s->procs = calloc(app->nprocs ? app->nprocs : 1, sizeof(*s->procs));
	if (!s->procs)
		return -1;
	sample_cpu(app);
	s->http = app->http;
	if (app->http) {
		http_session_losses(app->http, &s->http_dropped, &s->http_non_http,
				    &s->http_unassembled);
		s->http_bad_length = http_session_bad_length(app->http);
	}
	return 0;
}

/* The GC state of every process in the summary, read now from its memory. */
static void refresh_gc_states(struct app *app, struct report_summary *s)
{
	int i;

	if (app->opts.no_gc_state)
		return;
	for (i = 0; i < s->nprocs; i++)
		stats_refresh_gc_state(s->procs[i]);
}

static bool any_sink_has_interval(const struct app *app, bool lists_all)
{
	int i;

	for (i = 0; i < app->nsinks; i++)
		if (app->sinks[i].ops->interval &&
		    app->sinks[i].ops->interval_lists_all == lists_all)
			return true;
	return false;
}

static void interval_to_sinks(struct app *app, const struct report_summary *s, bool lists_all)
{
	int i;

	for (i = 0; i < app->nsinks; i++)
		if (app->sinks[i].ops->interval &&
		    app->sinks[i].ops->interval_lists_all == lists_all)
			app->sinks[i].ops->interval(app->sinks[i].ctx, s);
}

void app_interval(struct app *app)
{
	uint64_t end = clock_now_ns();
	struct report_summary s;
	int i;

	app_drain(app);
	if (summary_window(app, &s, STATS_INTERVAL, end))
		return;
	/* Every process there is (top: its rows stay while they are kept). */
	if (any_sink_has_interval(app, true)) {
		for (i = 0; i < app->nprocs; i++)
			if (app->procs[i].stats)
				s.procs[s.nprocs++] = app->procs[i].stats;
		refresh_gc_states(app, &s);
		interval_to_sinks(app, &s, true);
	}
	/* A report: a process that exited in an earlier interval has nothing more to say. */
	if (any_sink_has_interval(app, false)) {
		s.nprocs = 0;
		for (i = 0; i < app->nprocs; i++) {
			struct traced *p = &app->procs[i];

			if (!p->stats || (p->stats->exited && p->exit_reported_in_interval))
				continue;
			s.procs[s.nprocs++] = p->stats;
			if (p->stats->exited)
				p->exit_reported_in_interval = true;
		}
		refresh_gc_states(app, &s);
		interval_to_sinks(app, &s, false);
	}
	free(s.procs);
	/* The "last interval" window starts again at end. */
	for (i = 0; i < app->nprocs; i++)
		if (app->procs[i].stats)
			stats_reset_interval(app->procs[i].stats, end);
	app->interval_start_ns = end;
}

void app_total(struct app *app)
{
	struct report_summary s;
	int i;

	if (summary_window(app, &s, STATS_TOTAL, clock_now_ns()))
		return;
	for (i = 0; i < app->nprocs; i++)
		if (app->procs[i].stats)
			s.procs[s.nprocs++] = app->procs[i].stats;
	refresh_gc_states(app, &s);
	APP_SINKS(app, total, &s);
	free(s.procs);
}
