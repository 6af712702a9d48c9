// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Events of a run: collections and requests, to the statistics of their process. */
#include "run/app.h"
#include "fleet/exec_watch.h"
#include "fleet/fleet.h"
#include "http/session.h"
#include "util/messages.h"
#include "report/report.h"
#include "serve/serve.h"
#include "proc/proc.h"
#include "trace/gc_tracer.h"
#include "util/clock.h"
#include "report/gc_state_report.h"

int read_gc_events(struct app *app)
{
	int ret;

	/* From inside on_event (a process found gone meanwhile): the outer read goes on. */
	if (app->in_gc_callback)
		return 0;
	app->in_gc_callback = true;
	ret = tracer_consume(app->tracer);
	app->in_gc_callback = false;
	return ret;
}

/* Both event streams, GC first: requests are attributed only the collections already read. */
int consume_all(struct app *app)
{
	int ret = read_gc_events(app);

	if (app->http) {
		if (ret >= 0)
			ret = http_session_consume(app->http);
		read_gc_events(app);
		http_session_publish(app->http);
	}
	return ret;
}

/* The PID alone could name an earlier or later process: the start times tell. */
static bool same_process(const struct traced *p, const struct gc_event *e)
{
	return proc_ticks_from_boottime_ns(e->process_start_ns) == p->stats->target.start_ticks;
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
		if (!prev || !prev->stats || prev->stats->target.pid != p->stats->target.pid ||
		    prev->stats->target.start_ticks != p->stats->target.start_ticks)
			return NULL;
		p = prev;
	}
	return p;
}

void on_event(const struct gc_event *e, void *ctx)
{
	struct app *app = ctx;
	struct traced *p;

	/* An exec reported by now tells whether this collection is its old program's. */
	exec_watch_poll(app);
	p = find_proc(app, e->pid);
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
		fleet_on_unknown_pid(app, e->pid);
		p = find_proc(app, e->pid);
	}
	/* An event can trail its process's removal from the filter by a moment: still its own. */
	if (!p)
		return;
	/* A process that came and went under a traced one's PID before anyone looked. */
	if (!same_process(p, e)) {
		app->unattributed++;
		return;
	}
	if (stats_add(p->stats, e))
		msg_error("out of memory recording a collection of pid %u", e->pid);
	if (app->series)
		serve_record_gc(app, p, e);
	if (app->opts.json)
		report_json_gc(app->out, e);
	/*
	 * The heap a full collection leaves, for the recording's heap timeline; once a second at
	 * most: a walk over a large heap reads megabytes of the target's memory. Not with --all,
	 * where it would hold up the loop that must attach new processes at their exec.
	 */
	if (app->opts.json && !app->opts.no_gc_state && !app->fleet && e->gen >= 2 && !e->depth &&
	    clock_now_ns() - p->stats->gc_state.time_ns >= GC_STATE_MIN_GAP_NS) {
		gc_state_refresh(p->stats);
		gc_state_emit_json(app->out, e->pid, e->gen, &p->stats->gc_state);
	}
}

