// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cause/recording.h"

/* Appends one zeroed element to *arr (of *n, capacity *cap); NULL on ENOMEM. */
static void *grow(void **arr, size_t *n, size_t *cap, size_t size)
{
	void *p;

	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;

		p = realloc(*arr, ncap * size);
		if (!p)
			return NULL;
		*arr = p;
		*cap = ncap;
	}
	p = (char *)*arr + (*n)++ * size;
	memset(p, 0, size);
	return p;
}

static int64_t get_i64(struct json_object *o, const char *key, int64_t dflt)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? json_object_get_int64(v) : dflt;
}

static uint64_t get_u64(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && v ? json_object_get_uint64(v) : 0;
}

static void get_str(struct json_object *o, const char *key, char *buf, size_t len)
{
	struct json_object *v;

	buf[0] = '\0';
	if (json_object_object_get_ex(o, key, &v) && v && json_object_is_type(v, json_type_string))
		snprintf(buf, len, "%s", json_object_get_string(v));
}

static void get_array(struct json_object *o, const char *key, int64_t *out, int n)
{
	struct json_object *a;
	int i;

	if (!json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array))
		return;
	for (i = 0; i < n && i < (int)json_object_array_length(a); i++)
		out[i] = json_object_get_int64(json_object_array_get_idx(a, i));
}

struct caps {
	size_t procs, gcs, reqs, states;
};

static struct rec_proc *proc_of(struct recording *r, struct caps *c, int pid)
{
	struct rec_proc *p;
	size_t i;

	for (i = 0; i < r->nprocs; i++)
		if (r->procs[i].pid == pid)
			return &r->procs[i];
	p = grow((void **)&r->procs, &r->nprocs, &c->procs, sizeof(*p));
	if (p)
		p->pid = pid;
	return p;
}

static int add_state(struct recording *r, struct caps *c, int pid, struct json_object *o)
{
	struct rec_state *s = grow((void **)&r->states, &r->nstates, &c->states, sizeof(*s));
	int64_t v[REC_GENS] = { 0 }, cnt[REC_GENS] = { 0 };
	struct json_object *en, *ll;
	int i;

	if (!s)
		return -ENOMEM;
	s->pid = pid;
	s->time_ns = get_u64(o, "time_ns");
	s->cpu_ns = get_u64(o, "cpu_ns");
	s->enabled = json_object_object_get_ex(o, "enabled", &en) && json_object_get_boolean(en);
	s->exact = !get_i64(o, "capped", 0) && !get_i64(o, "approximate", 0);
	get_array(o, "threshold", v, REC_GENS);
	get_array(o, "count", cnt, REC_GENS);
	for (i = 0; i < REC_GENS; i++) {
		s->threshold[i] = (int)v[i];
		s->count[i] = (int)cnt[i];
	}
	get_array(o, "tracked", s->tracked, REC_GENS);
	s->frozen = get_i64(o, "frozen", 0);
	s->has_long_lived = json_object_object_get_ex(o, "long_lived_total", &ll) && ll;
	s->long_lived_total = get_i64(o, "long_lived_total", 0);
	s->long_lived_pending = get_i64(o, "long_lived_pending", 0);
	return 0;
}

static int add_summary(struct recording *r, struct caps *c, struct json_object *o)
{
	struct json_object *procs, *p, *st;
	char scope[16];
	size_t i;

	get_str(o, "scope", scope, sizeof(scope));
	if (!strcmp(scope, "interval"))
		r->nintervals++;
	if (!json_object_object_get_ex(o, "processes", &procs) ||
	    !json_object_is_type(procs, json_type_array))
		return 0;
	for (i = 0; i < json_object_array_length(procs); i++) {
		struct rec_proc *rp;

		p = json_object_array_get_idx(procs, i);
		rp = proc_of(r, c, (int)get_i64(p, "pid", -1));
		if (!rp)
			return -ENOMEM;
		if (!rp->comm[0])
			get_str(p, "comm", rp->comm, sizeof(rp->comm));
		if (!rp->version[0])
			get_str(p, "version", rp->version, sizeof(rp->version));
		if (!strcmp(scope, "total")) {
			rp->wall_ns = get_u64(p, "wall_ns");
			r->start_ns = get_u64(o, "start_ns");
			r->end_ns = get_u64(o, "end_ns");
		}
		if (json_object_object_get_ex(p, "gc_state", &st) && st &&
		    strcmp(scope, "total") && add_state(r, c, rp->pid, st))
			return -ENOMEM;
	}
	return 0;
}

static int add_line(struct recording *r, struct caps *c, struct json_object *o)
{
	char type[16];
	struct rec_proc *p;

	get_str(o, "type", type, sizeof(type));
	if (!strcmp(type, "gc")) {
		struct rec_gc *g = grow((void **)&r->gcs, &r->ngcs, &c->gcs, sizeof(*g));

		if (!g)
			return -ENOMEM;
		g->pid = (int)get_i64(o, "pid", -1);
		g->tid = (int)get_i64(o, "tid", -1);
		g->gen = (int)get_i64(o, "gen", -1);
		g->start_ns = get_u64(o, "start_ns");
		g->dur_ns = get_u64(o, "duration_ns");
		g->collected = get_i64(o, "collected", -1);
	} else if (!strcmp(type, "request")) {
		struct rec_req *q = grow((void **)&r->reqs, &r->nreqs, &c->reqs, sizeof(*q));

		if (!q)
			return -ENOMEM;
		q->pid = (int)get_i64(o, "pid", -1);
		q->tid = (int)get_i64(o, "tid", -1);
		q->status = (int)get_i64(o, "status", 0);
		q->gc_count = (int)get_i64(o, "gc_count", 0);
		get_str(o, "method", q->method, sizeof(q->method));
		/* The route template where the recording has one (long pauses by route). */
		get_str(o, "route", q->path, sizeof(q->path));
		if (!q->path[0])
			get_str(o, "path", q->path, sizeof(q->path));
		q->arrival_ns = get_u64(o, "arrival_ns");
		q->start_ns = get_u64(o, "start_ns");
		q->end_ns = get_u64(o, "end_ns");
		q->latency_ns = get_u64(o, "latency_ns");
		q->gc_ns = get_u64(o, "gc_ns");
	} else if (!strcmp(type, "attach")) {
		p = proc_of(r, c, (int)get_i64(o, "pid", -1));
		if (!p)
			return -ENOMEM;
		get_str(o, "comm", p->comm, sizeof(p->comm));
		get_str(o, "version", p->version, sizeof(p->version));
	} else if (!strcmp(type, "gc_state")) {
		return add_state(r, c, (int)get_i64(o, "pid", -1), o);
	} else if (!strcmp(type, "summary")) {
		return add_summary(r, c, o);
	}
	return 0;
}

static int by_time(const void *a, const void *b)
{
	const struct rec_state *x = a, *y = b;

	return x->time_ns < y->time_ns ? -1 : x->time_ns > y->time_ns;
}

int recording_load(const char *path, struct recording *r, char *err, size_t err_len)
{
	struct caps c = { 0 };
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int ret = 0;
	FILE *f;

	memset(r, 0, sizeof(*r));
	r->path = path;
	f = fopen(path, "re");
	if (!f) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while (!ret && (n = getline(&line, &cap, f)) > 0) {
		struct json_object *o;

		lineno++;
		if (n == 1 && line[0] == '\n')
			continue;
		o = json_tokener_parse(line);
		if (!o || !json_object_is_type(o, json_type_object)) {
			snprintf(err, err_len, "%s:%zu: not a gcpause JSON line (record with "
				 "--record FILE or --json)", path, lineno);
			ret = -EINVAL;
		} else {
			ret = add_line(r, &c, o);
			if (ret)
				snprintf(err, err_len, "out of memory reading %s", path);
		}
		json_object_put(o);
	}
	free(line);
	fclose(f);
	if (!ret && !r->end_ns) {
		snprintf(err, err_len, "%s: no total summary: not a complete gcpause recording",
			 path);
		ret = -EINVAL;
	}
	if (ret) {
		recording_free(r);
		return ret;
	}
	if (r->nstates)	/* qsort of NULL, even for none, is undefined */
		qsort(r->states, r->nstates, sizeof(*r->states), by_time);
	return 0;
}

void recording_free(struct recording *r)
{
	free(r->procs);
	free(r->gcs);
	free(r->reqs);
	free(r->states);
	memset(r, 0, sizeof(*r));
}

const struct rec_proc *recording_proc(const struct recording *r, int pid)
{
	size_t i;

	for (i = 0; i < r->nprocs; i++)
		if (r->procs[i].pid == pid)
			return &r->procs[i];
	return NULL;
}
