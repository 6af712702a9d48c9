// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The summaries of a run, from the same aggregates whatever the output: text, JSON or top. */
#include <stdlib.h>
#include <string.h>
#include "run/app.h"
#include "util/clock.h"
#include "report/gc_state_report.h"
#include "http/session.h"
#include "report/report.h"
#include "top/top.h"
#include "trace/gc_tracer.h"

/* CPU time read for every process at the summary's end: GC's share of it is reported. */
static void sample_cpu(struct app *app)
{
	int i;

	for (i = 0; i < app->nprocs; i++)
		if (app->procs[i].stats)
			stats_sample_cpu(app->procs[i].stats);
}

static void summary_window(struct app *app, struct report_summary *s, enum stats_scope scope,
			   uint64_t end)
{
	memset(s, 0, sizeof(*s));
	s->scope = scope;
	s->start_ns = scope == STATS_TOTAL ? app->start_ns : app->interval_start_ns;
	s->end_ns = end;
	tracer_read_counters(app->tracer, s->counters);
	s->counters[GC_CNT_UNATTRIBUTED] = app->unattributed;
	s->procs = calloc(app->nprocs ? app->nprocs : 1, sizeof(*s->procs));
	sample_cpu(app);
	s->http = app->http;
	if (app->http) {
		http_session_losses(app->http, &s->http_dropped, &s->http_non_http,
				    &s->http_unassembled);
		s->http_bad_length = http_session_bad_length(app->http);
	}
}

/* The processes in the slots (exited ones still kept included). */
static void add_every_process(struct app *app, struct report_summary *s)
{
	int i;

	for (i = 0; i < app->nprocs; i++)
		if (app->procs[i].stats)
			s->procs[s->nprocs++] = app->procs[i].stats;
}


/* The "last interval" window starts again at end. */
static void start_interval(struct app *app, uint64_t end)
{
	int i;

	for (i = 0; i < app->nprocs; i++)
		if (app->procs[i].stats)
			stats_reset_interval(app->procs[i].stats, end);
	app->interval_start_ns = end;
}

/* The GC state of every process in the report, read now from its memory. */
static void refresh_gc_states(struct app *app, struct report_summary *s)
{
	int i;

	if (app->opts.no_gc_state)
		return;
	for (i = 0; i < s->nprocs; i++)
		gc_state_refresh(s->procs[i]);
}

static void print_summary(struct app *app, struct report_summary *s)
{
	refresh_gc_states(app, s);
	if (app->opts.json)
		report_json_summary(app->out, s);
	else
		report_text_summary(app->out, s);
}

/* top: a fresh frame; the "last interval" window starts again. */
void refresh_top(struct app *app)
{
	struct report_summary s;
	uint64_t end = clock_now_ns();

	consume_all(app);
	summary_window(app, &s, STATS_INTERVAL, end);
	if (!s.procs)
		return;
	add_every_process(app, &s);
	refresh_gc_states(app, &s);
	top_draw(app->top, s.procs, s.nprocs, report_lost_events(s.counters), end);
	free(s.procs);
	start_interval(app, end);
}

void report_interval(struct app *app)
{
	uint64_t end = clock_now_ns();
	struct report_summary s;
	int i;

	consume_all(app);
	summary_window(app, &s, STATS_INTERVAL, end);
	if (!s.procs)
		return;
	/* A process that exited in an earlier interval has nothing more to say. */
	for (i = 0; i < app->nprocs; i++) {
		struct traced *p = &app->procs[i];

		if (!p->stats || (p->stats->exited && p->exit_reported_in_interval))
			continue;
		s.procs[s.nprocs++] = p->stats;
		if (p->stats->exited)
			p->exit_reported_in_interval = true;
	}
	print_summary(app, &s);
	free(s.procs);
	start_interval(app, end);
}

void report_total(struct app *app)
{
	struct report_summary s;

	summary_window(app, &s, STATS_TOTAL, clock_now_ns());
	if (!s.procs)
		return;
	add_every_process(app, &s);
	print_summary(app, &s);
	free(s.procs);
}

