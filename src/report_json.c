// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Newline-delimited JSON: one object a line, times in CLOCK_MONOTONIC nanoseconds. */
#include <json-c/json.h>
#include "report.h"

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
static void add_pid_comm_version(struct json_object *obj, const struct target *t)
{
	add_i64(obj, "pid", t->pid);
	add_str(obj, "comm", t->comm);
	if (t->version[0])
		add_str(obj, "version", t->version);
	else
		json_object_object_add(obj, "version", NULL);
}

static void add_process_identity(struct json_object *obj, const struct target *t)
{
	add_pid_comm_version(obj, t);
	add_str(obj, "binary", t->binary);
	add_str(obj, "root", t->root[0] ? t->root : "/");
	add_str(obj, "probe", t->probe);
	add_str(obj, "probe_source", t->plan.source);
	if (t->plan.counters_source[0])
		add_str(obj, "generation_counters", t->plan.counters_source);
	if (t->plan.caveat[0])
		add_str(obj, "caveat", t->plan.caveat);
	if (t->plan.incremental)
		add_str(obj, "gen1", "increment");
	json_object_object_add(obj, "free_threaded", json_object_new_boolean(t->free_threaded));
}

void report_json_list_entry(FILE *out, const struct target *t, const char *error,
			    const char *build)
{
	struct json_object *obj = new_typed("process");

	add_pid_comm_version(obj, t);
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

	add_process_identity(obj, &p->target);
	add_u64(obj, "time_ns", p->trace_start_ns);
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

	add_i64(obj, "pid", p->target.pid);
	add_u64(obj, "time_ns", p->end_ns);
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

static struct json_object *process_json(const struct report_summary *s, const struct proc_stats *p)
{
	struct json_object *obj = json_object_new_object(), *gens;
	uint64_t wall = stats_wall_ns(p, s->scope, s->end_ns);
	struct pause_stats all;
	int i;

	add_process_identity(obj, &p->target);
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
	return obj;
}

void report_json_summary(FILE *out, const struct report_summary *s)
{
	struct json_object *obj = new_typed("summary"), *lost, *procs;
	int i;

	add_str(obj, "scope", s->scope == STATS_TOTAL ? "total" : "interval");
	add_u64(obj, "start_ns", s->start_ns);
	add_u64(obj, "end_ns", s->end_ns);
	add_u64(obj, "dropped_events", report_lost_events(s->counters));
	lost = json_object_new_object();
	add_u64(lost, "ringbuf_full", s->counters[GC_CNT_DROPPED]);
	add_u64(lost, "unmatched_done", s->counters[GC_CNT_UNMATCHED_DONE]);
	add_u64(lost, "too_deep", s->counters[GC_CNT_TOO_DEEP]);
	add_u64(lost, "no_thread_slot", s->counters[GC_CNT_NO_THREAD_SLOT]);
	add_u64(lost, "arg_read_failed", s->counters[GC_CNT_ARG_FAIL]);
	json_object_object_add(obj, "lost", lost);
	add_u64(obj, "calls_without_collection", s->counters[GC_CNT_NOT_COLLECTED]);
	procs = json_object_new_array();
	for (i = 0; i < s->nprocs; i++)
		json_object_array_add(procs, process_json(s, s->procs[i]));
	json_object_object_add(obj, "processes", procs);
	emit(out, obj);
}
