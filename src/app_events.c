// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Events of a run: collections and requests, to the statistics of their process. */
#include "app.h"
#include "http_session.h"
#include "messages.h"
#include "report.h"
#include "tracer.h"

struct traced *find_proc(struct app *app, pid_t pid)
{
	int i;

	for (i = 0; i < app->nprocs; i++)
		if (app->procs[i].stats->target.pid == pid)
			return &app->procs[i];
	return NULL;
}

struct proc_stats *find_stats(pid_t pid, void *ctx)
{
	struct traced *p = find_proc(ctx, pid);

	return p ? p->stats : NULL;
}

/* Both event streams, GC first: requests are attributed only the collections already read. */
int consume_all(struct app *app)
{
	int ret = tracer_consume(app->tracer);

	if (app->http) {
		if (ret >= 0)
			ret = http_session_consume(app->http);
		tracer_consume(app->tracer);
		http_session_publish(app->http);
	}
	return ret;
}

void on_event(const struct gc_event *e, void *ctx)
{
	struct app *app = ctx;
	struct traced *p = find_proc(app, e->pid);

	/* An event can trail its process's removal from the filter by a moment: still its own. */
	if (!p)
		return;
	if (stats_add(p->stats, e))
		msg_error("out of memory recording a collection of pid %u", e->pid);
	if (app->opts.json)
		report_json_gc(app->out, e);
}

