// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Newline-delimited JSON: one object a line, times in CLOCK_MONOTONIC nanoseconds. */
#include "report/gc_state_report.h"
#include <json-c/json.h>
#include "proc/proc_identity.h"
#include "probe/target.h"
#include "report/report.h"

static void emit(FILE *out, struct json_object *obj)
{
	int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;

	fprintf(out, "%s\n", json_object_to_json_string_ext(obj, flags));
	fflush(out);
	json_object_put(obj);
}

static void add_u64(struct json_object *obj, const char *key, uint64_t v)
{
	json_object_object_add(obj, key, json_object_new_uint64(v));
}

static void add_i64(struct json_object *obj, const char *key, int64_t v)
{
	json_object_object_add(obj, key, json_object_new_int64(v));
}

static void add_str(struct json_object *obj, const char *key, const char *v)
{
	json_object_object_add(obj, key, json_object_new_string(v));
}

static struct json_object *new_typed(const char *type)
{
	struct json_object *obj = json_object_new_object();

	add_str(obj, "type", type);
	return obj;
}

/* Who a process is: the first keys of every object about one. */
static void add_pid_comm_version(struct json_object *obj, pid_t pid, const char *comm,
				 const char *version)
{
	add_i64(obj, "pid", pid);
	add_str(obj, "comm", comm);
	if (version[0])
		add_str(obj, "version", version);
	else
		json_object_object_add(obj, "version", NULL);
}

/* "container": {"id", "runtime", "pod", "pod_uid", "namespace"}, only for a containerised one. */
static void add_container(struct json_object *obj, const struct container_info *c)
{
	struct json_object *co;

	if (!c->id[0] && !c->pod_uid[0])
		return;
	co = json_object_new_object();
	if (!co)
		return;
	add_str(co, "id", c->id);
	add_str(co, "runtime", c->runtime);
	add_str(co, "pod", c->pod);
	add_str(co, "pod_uid", c->pod_uid);
	add_str(co, "namespace", c->ns);
	json_object_object_add(obj, "container", co);
}

static void add_process_identity(struct json_object *obj, const struct stats_process *t)
{
	add_pid_comm_version(obj, t->pid, t->comm, t->version);
	add_container(obj, &t->container);
	add_str(obj, "binary", t->binary);
	add_str(obj, "root", t->root[0] ? t->root : "/");
	add_str(obj, "probe", t->probe);
	add_str(obj, "probe_source", t->probe_source);
	if (t->counters_source[0])
		add_str(obj, "generation_counters", t->counters_source);
	if (t->caveat[0])
		add_str(obj, "caveat", t->caveat);
	if (t->incremental)
		add_str(obj, "gen1", "increment");
	json_object_object_add(obj, "free_threaded", json_object_new_boolean(t->free_threaded));
}

static void add_gc_overlap(struct json_object *obj, const struct gc_overlap *gc)
{
	struct json_object *by_gen = json_object_new_array();
	int g;

	add_u64(obj, "gc_ns", gc->ns);
	add_u64(obj, "gc_count", gc->count);
	for (g = 0; g < GC_LOG_GENS; g++)
		json_object_array_add(by_gen, json_object_new_uint64(gc->ns_by_gen[g]));
	json_object_object_add(obj, "gc_ns_by_gen", by_gen);
}

/* pauses: list the longest collections inside it too (for the slowest requests). */
static struct json_object *request_json(const struct http_sample *sample, bool pauses)
{
	const struct http_request *r = &sample->req;
	struct json_object *obj = new_typed("request");

	add_i64(obj, "pid", r->pid);
	add_i64(obj, "tid", r->tid);
	add_i64(obj, "fd", r->fd);
	add_str(obj, "method", r->method);
	add_str(obj, "path", r->path);
	add_str(obj, "route", r->route);
	add_i64(obj, "status", r->status);
	add_u64(obj, "arrival_ns", r->arrival_ns);
	add_u64(obj, "start_ns", r->start_ns);
	add_u64(obj, "first_byte_ns", r->first_byte_ns);
	add_u64(obj, "end_ns", r->end_ns);
	add_u64(obj, "queue_ns", r->start_ns - r->arrival_ns);
	add_u64(obj, "service_ns", r->end_ns - r->start_ns);
	add_u64(obj, "latency_ns", http_latency(r));
	add_str(obj, "arrival_source", r->arrival_from_tcp ? "tcp" : "read");
	add_gc_overlap(obj, &sample->gc);
	if (pauses) {
		struct json_object *arr = json_object_new_array(), *pause;
		int i;

		for (i = 0; i < sample->gc.nlisted; i++) {
			const struct gc_log_entry *e = &sample->gc.listed[i];

			pause = json_object_new_object();
			add_i64(pause, "gen", e->gen);
			add_u64(pause, "start_ns", e->start_ns);
			add_u64(pause, "duration_ns", e->end_ns - e->start_ns);
			json_object_array_add(arr, pause);
		}
		json_object_object_add(obj, "pauses", arr);
	}
	return obj;
}

void report_json_request(FILE *out, const struct http_sample *sample)
{
	emit(out, request_json(sample, false));
}

static struct json_object *latency_json(const struct hist *h)
{
	struct json_object *obj = json_object_new_object();
	static const struct { const char *name; double pct; } pcts[] = {
		{ "p50_ns", 50 }, { "p95_ns", 95 }, { "p99_ns", 99 }, { "max_ns", 100 },
	};
	unsigned int i;

	add_u64(obj, "count", h->count);
	for (i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
		json_object_object_add(obj, pcts[i].name, h->count ?
				       json_object_new_uint64(hist_percentile(h, pcts[i].pct)) :
				       NULL);
	return obj;
}

static struct json_object *tail_json(const struct http_stats *s, double pct)
{
	struct json_object *obj = json_object_new_object();
	struct http_tail t;

	http_stats_tail(s, pct, &t);
	add_u64(obj, "threshold_ns", t.threshold_ns);
	add_u64(obj, "requests", t.requests);
	add_u64(obj, "gc_hit", t.gc_hit);
	add_u64(obj, "gc_ns", t.gc_ns);
	add_u64(obj, "latency_ns", t.latency_ns);
	add_u64(obj, "gen2_hit", t.gen2_hit);
	add_u64(obj, "gen2_gc_ns", t.gen2_gc_ns);
	add_u64(obj, "gen2_latency_ns", t.gen2_latency_ns);
	add_u64(obj, "big_hit", t.big_hit);
	add_u64(obj, "big_gc_ns", t.big_gc_ns);
	add_u64(obj, "big_latency_ns", t.big_latency_ns);
	return obj;
}

static struct json_object *http_json(const struct http_stats *s)
{
	struct json_object *obj = json_object_new_object(), *arr, *route, *by_gen;
	int i;

	add_u64(obj, "requests", s->latency.count);
	add_u64(obj, "arrival_from_read", s->arrival_from_read);
	json_object_object_add(obj, "latency", latency_json(&s->latency));
	json_object_object_add(obj, "gc_hit", latency_json(&s->gc_hit));
	json_object_object_add(obj, "clean", latency_json(&s->clean));
	json_object_object_add(obj, "gen2_hit", latency_json(&s->gen2_hit));
	json_object_object_add(obj, "big_hit", latency_json(&s->big_hit));
	add_u64(obj, "hit_min_ns", s->hit_min_ns);
	json_object_object_add(obj, "queue", latency_json(&s->queue));
	arr = json_object_new_object();
	json_object_object_add(arr, "p95", tail_json(s, 95));
	json_object_object_add(arr, "p99", tail_json(s, 99));
	json_object_object_add(obj, "tail", arr);
	by_gen = json_object_new_array();
	for (i = 0; i < GC_LOG_GENS; i++)
		json_object_array_add(by_gen, json_object_new_uint64(
					      s->request_weighted_gc_ns_by_gen[i]));
	json_object_object_add(obj, "request_weighted_gc_ns_by_gen", by_gen);
	by_gen = json_object_new_array();
	for (i = 0; i < GC_LOG_GENS; i++)
		json_object_array_add(by_gen, json_object_new_uint64(s->gc_wall_ns_by_gen[i]));
	json_object_object_add(obj, "gc_wall_ns_by_gen", by_gen);
	arr = json_object_new_array();
	for (i = 0; i < s->nslowest; i++)
		json_object_array_add(arr, request_json(&s->slowest[i], true));
	json_object_object_add(obj, "slowest", arr);
	arr = json_object_new_array();
	for (i = 0; i < s->nroutes; i++) {
		route = latency_json(&s->routes[i].latency);
		add_str(route, "method", s->routes[i].method);
		add_str(route, "route", s->routes[i].path);
		add_u64(route, "gc_hit", s->routes[i].gc_hit);
		json_object_array_add(arr, route);
	}
	json_object_object_add(obj, "routes", arr);
	return obj;
}

/* Parent, command line, listening ports, pool role, service: to tell processes apart. */
static void add_identity(struct json_object *obj, pid_t pid)
{
	struct json_object *ports = json_object_new_array();
	char service[PROC_UNIT_LEN];
	struct proc_identity id;
	int i;

	if (proc_identity_read(pid, &id)) {
		json_object_put(ports);
		return;
	}
	add_i64(obj, "ppid", id.ppid);
	add_str(obj, "cmdline", id.cmdline);
	for (i = 0; i < id.nports; i++)
		json_object_array_add(ports, json_object_new_int(id.ports[i]));
	json_object_object_add(obj, "listen_ports", ports);
	add_str(obj, "role", id.role == PROC_ROLE_MASTER ? "master" :
			     id.role == PROC_ROLE_WORKER ? "worker" : "single");
	proc_identity_service(&id, service, sizeof(service));
	add_str(obj, "service", service);
	if (id.unit[0])
		add_str(obj, "systemd_unit", id.unit);
}

void report_json_list_entry(FILE *out, const struct target *t, const char *error,
			    const char *build)
{
	struct json_object *obj = new_typed("process");

	add_pid_comm_version(obj, t->pid, t->comm, t->version);
	add_identity(obj, t->pid);
	add_container(obj, &t->container);
	add_str(obj, "root", t->root[0] ? t->root : "/");
	if (t->binary[0]) {
		add_str(obj, "binary", t->binary);
		add_str(obj, "build", build);
		json_object_object_add(obj, "shared", json_object_new_boolean(t->shared_lib));
		json_object_object_add(obj, "stripped", json_object_new_boolean(t->stripped));
		json_object_object_add(obj, "free_threaded",
				       json_object_new_boolean(t->free_threaded));
	}
	if (error) {
		json_object_object_add(obj, "probe", NULL);
		add_str(obj, "error", error);
	} else {
		add_str(obj, "probe", t->probe);
		add_str(obj, "probe_source", t->plan.source);
		if (t->plan.caveat[0])
			add_str(obj, "caveat", t->plan.caveat);
	}
	emit(out, obj);
}

void report_json_attach(FILE *out, const struct proc_stats *p)
{
	struct json_object *obj = new_typed("attach");

	add_process_identity(obj, &p->process);
	add_u64(obj, "time_ns", p->trace_start_ns);
	emit(out, obj);
}

void report_json_ready(FILE *out, int processes, int binaries)
{
	struct json_object *obj = new_typed("ready");

	add_i64(obj, "processes", processes);
	add_i64(obj, "binaries", binaries);
	emit(out, obj);
}

void report_json_gc(FILE *out, const struct gc_event *e)
{
	struct json_object *obj = new_typed("gc");

	add_i64(obj, "pid", e->pid);
	add_i64(obj, "tid", e->tid);
	add_i64(obj, "gen", e->gen);
	add_u64(obj, "start_ns", e->start_ns);
	add_u64(obj, "duration_ns", e->duration_ns);
	add_i64(obj, "collected", e->collected);
	add_i64(obj, "depth", e->depth);
	emit(out, obj);
}

void report_json_exit(FILE *out, const struct proc_stats *p)
{
	struct json_object *obj = new_typed("exit");

	add_i64(obj, "pid", p->process.pid);
	add_u64(obj, "time_ns", p->end_ns);
	if (p->exit_reason)
		add_str(obj, "reason", p->exit_reason);
	emit(out, obj);
}

/* Statistics of one generation, or of all of them merged when gen is NULL. */
static struct json_object *pause_json(const struct pause_stats *s, uint64_t wall_ns,
				      const int *gen)
{
	struct json_object *obj = json_object_new_object(), *buckets;
	const struct hist *h = &s->pauses;
	unsigned int i;
	int k;

	if (gen)
		add_i64(obj, "gen", *gen);
	add_u64(obj, "count", h->count);
	add_u64(obj, "total_ns", h->sum);
	json_object_object_add(obj, "gc_share",
			       json_object_new_double(wall_ns ? (double)h->sum / wall_ns : 0));
	for (k = 0; k < report_npercentiles; k++)
		json_object_object_add(obj, report_percentiles[k].json_name,
				       h->count ? json_object_new_uint64(hist_percentile(
							  h, report_percentiles[k].pct))
						: NULL);
	json_object_object_add(obj, "mean_ns",
			       h->count ? json_object_new_uint64(hist_mean(h)) : NULL);
	add_i64(obj, "collected", s->collected);

	/* Only non-empty buckets: a full dump would be 1920 entries of mostly zeros. */
	buckets = json_object_new_array();
	for (i = 0; h->count && i < HIST_BUCKETS; i++) {
		struct json_object *b;

		if (!h->buckets[i])
			continue;
		b = json_object_new_object();
		add_u64(b, "low_ns", hist_bucket_low(i));
		add_u64(b, "high_ns", hist_bucket_high(i));
		add_u64(b, "count", h->buckets[i]);
		json_object_array_add(buckets, b);
	}
	json_object_object_add(obj, "histogram", buckets);
	return obj;
}

static struct json_object *pool_json(const struct report_pool *pool)
{
	struct json_object *obj = json_object_new_object(), *per;

	add_i64(obj, "processes", pool->processes);
	add_u64(obj, "collections", pool->collections);
	add_u64(obj, "pause_ns", pool->pause_ns);
	add_u64(obj, "requests", pool->requests);
	add_u64(obj, "wall_ns", pool->wall_ns);
	json_object_object_add(obj, "cpu_ns", pool->cpu_known ?
			       json_object_new_uint64(pool->cpu_ns) : NULL);
	per = json_object_new_object();
	json_object_object_add(per, "collections", pool->requests ? json_object_new_double(
				       pool->collections * 1000.0 / pool->requests) : NULL);
	json_object_object_add(per, "pause_ns", pool->requests ? json_object_new_double(
				       pool->pause_ns * 1000.0 / pool->requests) : NULL);
	json_object_object_add(obj, "per_1000_requests", per);
	json_object_object_add(obj, "share_of_wall", pool->wall_ns ? json_object_new_double(
				       (double)pool->pause_ns / pool->wall_ns) : NULL);
	json_object_object_add(obj, "share_of_cpu", pool->cpu_known && pool->cpu_ns ?
			       json_object_new_double((double)pool->pause_ns / pool->cpu_ns) :
			       NULL);
	return obj;
}

/* "sampled": --sample's figures (docs/json.md). */
static struct json_object *sampled_json(const struct stats_sampled_view *r)
{
	struct json_object *obj = json_object_new_object(), *a, *b, *runs;
	int i;

	add_u64(obj, "hz", r->hz);
	a = json_object_new_array();
	b = json_object_new_array();
	for (i = 0; i < 3; i++) {
		json_object_array_add(a, json_object_new_int64(r->collections[i]));
		json_object_array_add(b, json_object_new_int64(r->collected[i]));
	}
	json_object_object_add(obj, "collections", a);
	json_object_object_add(obj, "collected", b);
	json_object_object_add(obj, "counts_at_exit", json_object_new_boolean(r->final));
	add_u64(obj, "samples", r->samples);
	add_u64(obj, "gc_samples", r->gc_samples);
	add_u64(obj, "read_failed", r->read_failed);
	add_u64(obj, "gc_ns", r->gc_ns);
	add_u64(obj, "gc_error_ns", r->gc_err_ns);
	add_u64(obj, "resolution_ns", r->resolution_ns);
	add_u64(obj, "max_pause_ns", r->max_pause_ns);
	runs = json_object_new_array();
	for (i = 0; i < SAMPLE_RUN_BUCKETS; i++) {
		struct json_object *run;

		if (!r->runs[i])
			continue;
		run = json_object_new_object();
		add_u64(run, "low_ns", (1ull << i) * r->resolution_ns);
		add_u64(run, "high_ns", (2ull << i) * r->resolution_ns);
		add_u64(run, "count", r->runs[i]);
		json_object_array_add(runs, run);
	}
	json_object_object_add(obj, "pauses", runs);
	return obj;
}

static struct json_object *process_json(const struct report_summary *s, const struct proc_stats *p)
{
	struct json_object *obj = json_object_new_object(), *gens;
	uint64_t wall = stats_wall_ns(p, s->scope, s->end_ns);
	struct stats_sampled_view sampled;
	struct pause_stats all;
	int i;

	add_process_identity(obj, &p->process);
	add_u64(obj, "trace_start_ns", p->trace_start_ns);
	add_u64(obj, "wall_ns", wall);
	json_object_object_add(obj, "exited", json_object_new_boolean(p->exited));
	if (p->exited)
		add_u64(obj, "exit_ns", p->end_ns);
	gens = json_object_new_array();
	for (i = 0; i < p->ngens; i++) {
		json_object_array_add(gens, pause_json(stats_scope(p->gens[i], s->scope), wall,
							&p->gens[i]->gen));
	}
	json_object_object_add(obj, "generations", gens);
	stats_merge_all(p, s->scope, &all);
	json_object_object_add(obj, "all", pause_json(&all, wall, NULL));
	if (report_http_of(s, p)) {
		struct report_pool pool;

		json_object_object_add(obj, "http", http_json(report_http_of(s, p)));
		report_pool(s, p, &pool);
		json_object_object_add(json_object_object_get(obj, "http"), "gc_vs_requests",
				       pool_json(&pool));
	}
	if (stats_sampled_view(p, s->scope, &sampled))
		json_object_object_add(obj, "sampled", sampled_json(&sampled));
	if (p->gc_state.valid)
		json_object_object_add(obj, "gc_state", gc_state_json(&p->gc_state));
	else if (p->gc_state_note[0])
		add_str(obj, "gc_state_unavailable", p->gc_state_note);
	return obj;
}

void report_json_summary(FILE *out, const struct report_summary *s)
{
	struct json_object *obj = new_typed("summary"), *lost, *procs;
	int i;

	add_str(obj, "scope", s->scope == STATS_TOTAL ? "total" : "interval");
	add_u64(obj, "start_ns", s->start_ns);
	add_u64(obj, "end_ns", s->end_ns);
	add_u64(obj, "dropped_events", summary_lost_events(s->counters));
	lost = json_object_new_object();
	add_u64(lost, "ringbuf_full", s->counters[GC_CNT_DROPPED]);
	add_u64(lost, "unmatched_done", s->counters[GC_CNT_UNMATCHED_DONE]);
	add_u64(lost, "too_deep", s->counters[GC_CNT_TOO_DEEP]);
	add_u64(lost, "no_thread_slot", s->counters[GC_CNT_NO_THREAD_SLOT]);
	add_u64(lost, "arg_read_failed", s->counters[GC_CNT_ARG_FAIL]);
	add_u64(lost, "unattributed", s->counters[GC_CNT_UNATTRIBUTED]);
	json_object_object_add(obj, "lost", lost);
	add_u64(obj, "calls_without_collection", s->counters[GC_CNT_NOT_COLLECTED]);
	if (s->http) {
		add_u64(obj, "http_dropped_events", s->http_dropped);
		add_u64(obj, "non_http_connections", s->http_non_http);
		add_u64(obj, "bad_content_length", s->http_bad_length);
		lost = json_object_new_object();
		add_u64(lost, "unanswered_requests", s->http_unassembled.unanswered);
		add_u64(lost, "unmatched_responses", s->http_unassembled.unmatched_responses);
		add_u64(lost, "cut_request_lines", s->http_unassembled.cut);
		add_u64(lost, "pipeline_overflow", s->http_unassembled.overflow);
		add_u64(lost, "untraced_process", s->http_unassembled.untraced);
		json_object_object_add(obj, "http_unassembled", lost);
	}
	procs = json_object_new_array();
	for (i = 0; i < s->nprocs; i++)
		json_object_array_add(procs, process_json(s, s->procs[i]));
	json_object_object_add(obj, "processes", procs);
	if (s->http) {
		struct http_stats all;

		if (!report_http_all(s, &all)) {
			struct report_pool pool;
			struct json_object *h = http_json(&all);

			report_pool(s, NULL, &pool);
			json_object_object_add(h, "gc_vs_requests", pool_json(&pool));
			json_object_object_add(obj, "http_all", h);
			http_stats_free(&all);
		}
	}
	emit(out, obj);
}
