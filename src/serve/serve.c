// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "fleet/fleet.h"
#include "report/gc_state_report.h"
#include "http/session.h"
#include "util/messages.h"
#include "serve/metrics_server.h"
#include "serve/prom_text.h"
#include "serve/serve.h"
#include "serve/series.h"
#include "trace/gc_tracer.h"

static void record_request(struct proc_stats *ps, const struct http_sample *sample, void *ctx)
{
	struct traced *p = find_proc(ctx, ps->target.pid);

	if (p && p->series)
		series_add_request(p->series, http_latency(&sample->req), sample->gc.ns,
				   sample->gc_wall_ns_by_gen[0] + sample->gc_wall_ns_by_gen[1] +
				   sample->gc_wall_ns_by_gen[2]);
}

/* The GC state of every live process, read now, summed into its series. */
static void sum_gc_states(struct app *app)
{
	struct series *s;
	int i, g;

	/* The table hands out const series; these fields are the scrape's own scratch. */
	for (s = (struct series *)series_first(app->series); s;
	     s = (struct series *)series_next(s)) {
		s->gc_state_procs = s->gc_disabled = 0;
		s->gc_frozen = 0;
		for (g = 0; g < 3; g++)
			s->gc_tracked[g] = s->gc_threshold[g] = 0;
	}
	for (i = 0; i < app->nprocs; i++) {
		struct traced *p = &app->procs[i];
		const struct gc_state *st;

		if (!p->stats || !p->series || p->pidfd < 0)
			continue;
		gc_state_refresh(p->stats);
		st = &p->stats->gc_state;
		if (!st->valid)
			continue;
		s = p->series;
		s->gc_state_procs++;
		s->gc_disabled += !st->enabled;
		s->gc_frozen += st->frozen;
		for (g = 0; g < 3; g++) {
			s->gc_tracked[g] += st->tracked[g];
			if (st->threshold[g] > s->gc_threshold[g])
				s->gc_threshold[g] = st->threshold[g];
		}
	}
}

/* A scrape: everything the ring buffers hold is counted first, so it is never a step behind. */
static int render(void *ctx, struct prom_buf *out)
{
	struct app *app = ctx;
	uint64_t counters[GC_CNT_MAX], http_dropped = 0, non_http;
	struct agent_metrics m = {
		.version = GCPAUSE_VERSION,
		.http = app->http,
		.start_time_seconds = app->start_unix_seconds,
	};
	struct fleet_counts fc = { 0 };

	consume_all(app);
	if (!app->opts.no_gc_state)
		sum_gc_states(app);
	tracer_read_counters(app->tracer, counters);
	if (app->http)
		http_session_losses(app->http, &http_dropped, &non_http, &m.http_unassembled);
	if (app->fleet)
		fleet_counts(app, &fc);
	m.gc_events_dropped = counters[GC_CNT_DROPPED] + counters[GC_CNT_NO_THREAD_SLOT] +
			      counters[GC_CNT_TOO_DEEP] + app->unattributed;
	m.http_events_dropped = http_dropped;
	m.discovery = app->fleet;
	m.discovery_events_dropped = fc.discovery_dropped;
	m.processes_skipped_unreadable = fc.skipped_unreadable;
	m.processes_traced = app->nalive;
	m.processes_discovered = fc.discovered;
	m.processes_skipped_limit = fc.skipped_limit;
	m.processes_skipped_unsupported = fc.skipped_unsupported;
	m.processes_skipped_filtered = fc.skipped_filtered;
	m.binaries_probed = tracer_binary_count(app->tracer);
	m.series_dropped = series_table_dropped(app->series);
	m.series_expired = series_table_expired(app->series);
	return prom_render(app->series, &m, out);
}

int serve_start(struct app *app, char *err, size_t err_len)
{
	struct timespec now;
	int ret;

	clock_gettime(CLOCK_REALTIME, &now);
	app->start_unix_seconds = now.tv_sec + now.tv_nsec / 1e9;
	app->series = series_table_new(app->opts.max_series, app->opts.http);
	if (!app->series) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	if (app->http)
		http_session_set_sink(app->http, record_request);
	ret = metrics_server_open(&app->metrics, app->opts.listen, render, app, err, err_len);
	if (ret)
		return ret;
	ret = app_epoll_add(app, metrics_server_fd(app->metrics), SRC_METRICS, 0);
	if (ret) {
		snprintf(err, err_len, "epoll_ctl: %s", strerror(-ret));
		return ret;
	}
	msg_status(false, "serving /metrics and /healthz on %s (port %u)", app->opts.listen,
		   metrics_server_port(app->metrics));
	return 0;
}

void serve_record_gc(struct app *app, struct traced *p, const struct gc_event *e)
{
	if (p->series)
		series_add_gc(p->series, e->gen, e->duration_ns, e->collected);
}

void serve_on_request(struct app *app)
{
	metrics_server_run(app->metrics);
}

void serve_housekeeping(struct app *app, uint64_t now_ns)
{
	series_expire(app->series, now_ns, app->opts.expire_ns);
	metrics_server_run(app->metrics);
}

void serve_close(struct app *app)
{
	metrics_server_close(app->metrics);
	app->metrics = NULL;
	series_table_free(app->series);
	app->series = NULL;
}
