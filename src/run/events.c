// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Events of a run: collections and requests, to the statistics of their process and to the
 * sinks. The ring buffers' callbacks only copy; every decision (a process looked at, traced,
 * ended) is taken here, by the loop, after the read.
 */
#include <stdlib.h>
#include "run/exec_watch.h"
#include "fleet/fleet.h"
#include "proc/proc.h"
#include "run/app.h"
#include "run/http_session.h"
#include "util/clock.h"
#include "util/messages.h"

/* Events one read may hold at most: beyond, a read this long is a storm, and they count lost. */
#define MAX_BATCH	(1u << 22)

void app_queue_gc_event(const struct gc_event *e, void *ctx)
{
	struct app *app = ctx;

	if (app->batch_len == app->batch_cap) {
		size_t cap = app->batch_cap ? 2 * app->batch_cap : 1024;
		struct gc_event *grown = cap <= MAX_BATCH ?
			realloc(app->batch, cap * sizeof(*grown)) : NULL;

		if (!grown) {
			app->unattributed++;
			return;
		}
		app->batch = grown;
		app->batch_cap = cap;
	}
	app->batch[app->batch_len++] = *e;
}

int app_read_gc_events(struct app *app)
{
	int ret = tracer_consume(app->tracer);

	/* An exec read now tells whether a collection read before it was its old program's. */
	exec_watch_poll(app);
	while (app->batch_next < app->batch_len) {
		/* A copy: settling may read more events, and move the batch. */
		struct gc_event e = app->batch[app->batch_next++];

		app_settle_gc_event(app, &e);
	}
	app->batch_len = app->batch_next = 0;
	return ret;
}

int app_drain(struct app *app)
{
	int ret = app_read_gc_events(app);

	if (app->http) {
		if (ret >= 0)
			ret = http_session_consume(app->http);
		app_read_gc_events(app);
		http_session_publish(app->http);
	}
	return ret;
}

void app_on_request(struct proc_stats *p, const struct http_sample *sample, void *ctx)
{
	APP_SINKS((struct app *)ctx, request, p, sample);
}

/* The PID alone could name an earlier or later process: the start times tell. */
static bool same_process(const struct traced *p, const struct gc_event *e)
{
	return proc_ticks_from_boottime_ns(e->process_start_ns) == p->stats->process.start_ticks;
}

/*
 * -p: the program of p's process that ran e (an earlier one when e started before p's exec),
 * or NULL when that program's slot is gone (serve forgets ended ones).
 */
static struct traced *program_of(struct app *app, struct traced *p, const struct gc_event *e)
{
	while (p->image_ns && e->start_ns < p->image_ns) {
		struct traced *prev;

		prev = p->prev_slot_plus1 ? &app->procs[p->prev_slot_plus1 - 1] : NULL;
		if (!prev || !prev->stats || prev->stats->process.pid != p->stats->process.pid ||
		    prev->stats->process.start_ticks != p->stats->process.start_ticks)
			return NULL;
		p = prev;
	}
	return p;
}

/* Does a sink want the GC state after this collection? At most once a second per process. */
static bool wants_gc_state(const struct app *app, const struct traced *p,
			   const struct gc_event *e)
{
	int i;

	/* Not with --all, where a heap walk would hold up the attaching of new processes. */
	if (app->opts.no_gc_state || app->fleet || e->gen < 2 || e->depth ||
	    clock_now_ns() - p->stats->gc_state.time_ns < GC_STATE_MIN_GAP_NS)
		return false;
	for (i = 0; i < app->nsinks; i++)
		if (app->sinks[i].ops->gc_state)
			return true;
	return false;
}

void app_settle_gc_event(struct app *app, const struct gc_event *e)
{
	struct traced *p = app_find_proc(app, e->pid);

	if (app->exec_watch && p && same_process(p, e)) {
		p = program_of(app, p, e);
		if (!p) {
			app->unattributed++;
			return;
		}
		/* A collection of the program that replaced p's, not traced yet. */
		if (p->replaced_ns && e->start_ns >= p->replaced_ns) {
			exec_watch_defer(app, e);
			return;
		}
	} else if (app->exec_watch && !p) {
		/* serve forgot the replaced program already: held for the new one, if any. */
		exec_watch_defer(app, e);
		return;
	}

	/*
	 * --all: a candidate collecting before it was looked at (its exec event still queued), or
	 * a new process under an earlier one's PID. Decided now, so this collection counts.
	 */
	if (app->fleet && (!p || !same_process(p, e))) {
		fleet_on_unknown_pid(app->fleet, e->pid);
		p = app_find_proc(app, e->pid);
	}
	/*
	 * Not traced, and the fleet did not take it (gone before it could be looked at, say):
	 * counted, never dropped silently.
	 */
	if (!p) {
		app->unattributed++;
		return;
	}
	/* A process that came and went under a traced one's PID before anyone looked. */
	if (!same_process(p, e)) {
		app->unattributed++;
		return;
	}
	if (stats_add(p->stats, e))
		msg_error("out of memory recording a collection of pid %u", e->pid);
	APP_SINKS(app, collection, p->stats, e);
	/* The heap a full collection leaves, for the recording's heap timeline. */
	if (wants_gc_state(app, p, e)) {
		stats_refresh_gc_state(p->stats);
		APP_SINKS(app, gc_state, p->stats, e->gen);
	}
}
