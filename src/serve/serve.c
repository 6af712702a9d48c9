// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gcpause serve as a sink of its run (stats/sink.h): each process counts in the series of its
 * labels; a scrape renders the series and what the run hands over through its feed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "proc/container.h"
#include "proc/proc_identity.h"
#include "serve/metrics_server.h"
#include "serve/prom_text.h"
#include "serve/serve.h"
#include "serve/series.h"
#include "util/messages.h"
#include "util/pidmap.h"
#include "util/version.h"

struct serve {
	struct serve_opts opts;
	struct serve_feed feed;
	struct series_table *series;
	struct metrics_server *metrics;
	struct pidmap series_of;	/* pid -> the series its process counts in */
	double start_unix_seconds;	/* for gcpause_start_time_seconds */
};

static struct series *series_of(struct serve *sv, pid_t pid)
{
	uint64_t v;

	return pidmap_get(&sv->series_of, pid, &v) ? (struct series *)(uintptr_t)v : NULL;
}

static void labels_of(const struct serve *sv, const struct proc_stats *p,
		      struct series_labels *l)
{
	const struct stats_process *t = &p->process;
	struct proc_identity id;

	memset(l, 0, sizeof(*l));
	snprintf(l->ns, sizeof(l->ns), "%s", t->container.ns);
	snprintf(l->pod, sizeof(l->pod), "%s", t->container.pod);
	snprintf(l->pod_uid, sizeof(l->pod_uid), "%s", t->container.pod_uid);
	container_id_label(&t->container, l->container_id, sizeof(l->container_id));
	snprintf(l->command, sizeof(l->command), "%s", t->comm);
	/* python3.11 alone says little: hypercorn, tornado and scripts are told apart by this. */
	if (!proc_identity_read(t->pid, &id)) {
		proc_identity_program(&id, l->program, sizeof(l->program));
		/* A container is labelled already; a session's scope is not a service. */
		if (!t->container.id[0] && !t->container.pod_uid[0] &&
		    strstr(id.unit, ".service"))
			snprintf(l->service, sizeof(l->service), "%s", id.unit);
	}
	snprintf(l->python, sizeof(l->python), "%s", t->version);
	l->pid = sv->opts.per_pid ? t->pid : 0;
}

/* Joins the series of p's labels; without one (--max-series reached) it is traced unexported. */
static void on_attach(void *ctx, struct proc_stats *p)
{
	struct serve *sv = ctx;
	struct series_labels labels;
	struct series *s;

	labels_of(sv, p, &labels);
	s = series_get(sv->series, &labels);
	if (!s)
		return;
	if (pidmap_set(&sv->series_of, p->process.pid, (uintptr_t)s)) {
		msg_error("out of memory: pid %d is traced but not exported", p->process.pid);
		return;
	}
	series_hold(s);
}

static void on_collection(void *ctx, struct proc_stats *p, const struct gc_event *e)
{
	struct series *s = series_of(ctx, p->process.pid);

	if (s)
		series_add_gc(s, e->gen, e->duration_ns, e->collected);
}

static void on_request(void *ctx, struct proc_stats *p, const struct http_sample *sample)
{
	struct series *s = series_of(ctx, p->process.pid);

	if (s)
		series_add_request(s, http_latency(&sample->req), sample->gc.ns,
				   sample->gc_wall_ns_by_gen[0] + sample->gc_wall_ns_by_gen[1] +
				   sample->gc_wall_ns_by_gen[2]);
}

static void on_exit_(void *ctx, struct proc_stats *p)
{
	struct serve *sv = ctx;
	struct series *s = series_of(sv, p->process.pid);

	if (!s)
		return;
	series_release(s, p->end_ns);
	pidmap_del(&sv->series_of, p->process.pid);
}

/* The scrape's scratch fields of every series: the GC states summed anew. */
static void clear_gc_states(struct serve *sv)
{
	struct series *s;
	int g;

	/* The table hands out const series; these fields are the scrape's own scratch. */
	for (s = (struct series *)series_first(sv->series); s;
	     s = (struct series *)series_next(s)) {
		s->gc_state_procs = s->gc_disabled = 0;
		s->gc_frozen = 0;
		for (g = 0; g < 3; g++)
			s->gc_tracked[g] = s->gc_threshold[g] = 0;
	}
}

static void add_gc_state(void *ctx, struct proc_stats *p)
{
	const struct gc_state *st = &p->gc_state;
	struct series *s = series_of(ctx, p->process.pid);
	int g;

	if (!s || !st->valid)
		return;
	s->gc_state_procs++;
	s->gc_disabled += !st->enabled;
	s->gc_frozen += st->frozen;
	for (g = 0; g < 3; g++) {
		s->gc_tracked[g] += st->tracked[g];
		if (st->threshold[g] > s->gc_threshold[g])
			s->gc_threshold[g] = st->threshold[g];
	}
}

/* A scrape. The run drained its events just before handing the input over. */
static int render(void *ctx, struct prom_buf *out)
{
	struct serve *sv = ctx;
	struct agent_metrics m = {
		.version = GCPAUSE_VERSION,
		.http = sv->opts.http,
		.start_time_seconds = sv->start_unix_seconds,
	};

	sv->feed.fill(sv->feed.run, &m);
	if (sv->opts.gc_state) {
		clear_gc_states(sv);
		sv->feed.each_live(sv->feed.run, add_gc_state, sv);
	}
	m.series_dropped = series_table_dropped(sv->series);
	m.series_expired = series_table_expired(sv->series);
	return prom_render(sv->series, &m, out);
}

static int input_fd(void *ctx)
{
	return metrics_server_fd(((struct serve *)ctx)->metrics);
}

static int timeout_ms(void *ctx)
{
	return metrics_server_timeout_ms(((struct serve *)ctx)->metrics);
}

static enum sink_action input(void *ctx)
{
	metrics_server_run(((struct serve *)ctx)->metrics);
	return SINK_NONE;
}

/* Once a second: idle series expire, stalled clients time out. */
static void housekeeping(void *ctx, uint64_t now_ns)
{
	struct serve *sv = ctx;

	series_expire(sv->series, now_ns, sv->opts.expire_ns);
	metrics_server_run(sv->metrics);
}

static void close_serve(void *ctx)
{
	struct serve *sv = ctx;

	if (!sv)
		return;
	metrics_server_close(sv->metrics);
	series_table_free(sv->series);
	pidmap_free(&sv->series_of);
	free(sv);
}

static const struct sink_ops serve_ops = {
	.attach = on_attach,
	.collection = on_collection,
	.request = on_request,
	.exit = on_exit_,
	.input_fd = input_fd,
	.timeout_ms = timeout_ms,
	.input = input,
	.housekeeping = housekeeping,
	.close = close_serve,
};

int serve_sink(struct sink *out, const struct serve_opts *opts, const struct serve_feed *feed,
	       char *err, size_t err_len)
{
	struct serve *sv = calloc(1, sizeof(*sv));
	struct timespec now;
	int ret;

	if (!sv) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	sv->opts = *opts;
	sv->feed = *feed;
	clock_gettime(CLOCK_REALTIME, &now);
	sv->start_unix_seconds = now.tv_sec + now.tv_nsec / 1e9;
	sv->series = series_table_new(opts->max_series, opts->http);
	if (!sv->series) {
		snprintf(err, err_len, "out of memory");
		close_serve(sv);
		return -ENOMEM;
	}
	ret = metrics_server_open(&sv->metrics, opts->listen, render, sv, err, err_len);
	if (ret) {
		close_serve(sv);
		return ret;
	}
	msg_status(false, "serving /metrics and /healthz on %s (port %u)", opts->listen,
		   metrics_server_port(sv->metrics));
	out->ops = &serve_ops;
	out->ctx = sv;
	return 0;
}
