// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A recording in the Chrome trace-event format (JSON object form), for Perfetto and
 * chrome://tracing: each collection a complete slice ("ph":"X") on its thread, with generation
 * and objects collected; each request an async slice ("b"/"e", so that requests served
 * concurrently on one thread, by greenlets say, need not nest) on a track of its own per thread.
 * Timestamps are microseconds from the start of the recording, with nanosecond decimals.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cause/html.h"

/* Requests get their own track beside the collecting thread's: its tid plus this. */
#define REQUEST_TRACK	1000000000

static double us(const struct recording *r, uint64_t ns)
{
	return ns >= r->start_ns ? (ns - r->start_ns) / 1e3 : -((r->start_ns - ns) / 1e3);
}

static struct json_object *event(const char *name, const char *ph, int pid, long tid)
{
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "name", json_object_new_string(name));
	json_object_object_add(e, "ph", json_object_new_string(ph));
	json_object_object_add(e, "pid", json_object_new_int(pid));
	json_object_object_add(e, "tid", json_object_new_int64(tid));
	return e;
}

static void meta(struct json_object *arr, const char *what, int pid, long tid, const char *name)
{
	struct json_object *e = event(what, "M", pid, tid), *args = json_object_new_object();

	json_object_object_add(args, "name", json_object_new_string(name));
	json_object_object_add(e, "args", args);
	json_object_array_add(arr, e);
}

int trace_export_write(const char *path, const struct recording *r, char *err, size_t err_len)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	int (*named)[2] = NULL;
	size_t i, j, nnamed = 0;
	char name[160];
	int ret = 0;
	FILE *f;

	for (i = 0; i < r->nprocs; i++) {
		snprintf(name, sizeof(name), "%s (pid %d)", r->procs[i].comm, r->procs[i].pid);
		meta(arr, "process_name", r->procs[i].pid, 0, name);
	}
	/* One name per request track: threads are few, a list of those named will do. */
	for (i = 0; i < r->nreqs; i++) {
		const struct rec_req *q = &r->reqs[i];
		int (*grown)[2];

		for (j = 0; j < nnamed; j++)
			if (named[j][0] == q->pid && named[j][1] == q->tid)
				break;
		if (j < nnamed)
			continue;
		grown = realloc(named, (nnamed + 1) * sizeof(*named));
		if (!grown)
			continue;
		named = grown;
		named[nnamed][0] = q->pid;
		named[nnamed++][1] = q->tid;
		snprintf(name, sizeof(name), "requests read by thread %d", q->tid);
		meta(arr, "thread_name", q->pid, REQUEST_TRACK + (long)q->tid, name);
	}
	free(named);
	for (i = 0; i < r->ngcs; i++) {
		const struct rec_gc *g = &r->gcs[i];
		struct json_object *e, *args = json_object_new_object();

		snprintf(name, sizeof(name), "gc gen %d", g->gen);
		e = event(name, "X", g->pid, g->tid);
		json_object_object_add(e, "cat", json_object_new_string("gc"));
		json_object_object_add(e, "ts", json_object_new_double(us(r, g->start_ns)));
		json_object_object_add(e, "dur", json_object_new_double(g->dur_ns / 1e3));
		json_object_object_add(args, "gen", json_object_new_int(g->gen));
		json_object_object_add(args, "collected", json_object_new_int64(g->collected));
		json_object_object_add(e, "args", args);
		json_object_array_add(arr, e);
	}
	for (i = 0; i < r->nreqs; i++) {
		const struct rec_req *q = &r->reqs[i];
		struct json_object *b, *e, *args = json_object_new_object();
		long tid = REQUEST_TRACK + (long)q->tid;

		snprintf(name, sizeof(name), "%s %s", q->method, q->path);
		b = event(name, "b", q->pid, tid);
		e = event(name, "e", q->pid, tid);
		json_object_object_add(b, "cat", json_object_new_string("request"));
		json_object_object_add(e, "cat", json_object_new_string("request"));
		json_object_object_add(b, "id", json_object_new_int64((int64_t)i + 1));
		json_object_object_add(e, "id", json_object_new_int64((int64_t)i + 1));
		json_object_object_add(b, "ts", json_object_new_double(us(r, q->arrival_ns)));
		json_object_object_add(e, "ts", json_object_new_double(us(r, q->end_ns)));
		json_object_object_add(args, "status", json_object_new_int(q->status));
		json_object_object_add(args, "latency_ns", json_object_new_int64(q->latency_ns));
		json_object_object_add(args, "gc_ns", json_object_new_int64(q->gc_ns));
		json_object_object_add(args, "gc_count", json_object_new_int(q->gc_count));
		json_object_object_add(b, "args", args);
		json_object_array_add(arr, b);
		json_object_array_add(arr, e);
	}
	json_object_object_add(root, "traceEvents", arr);
	json_object_object_add(root, "displayTimeUnit", json_object_new_string("ms"));
	f = fopen(path, "we");
	if (!f) {
		snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
		json_object_put(root);
		return -errno;
	}
	fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
					     JSON_C_TO_STRING_NOSLASHESCAPE), f);
	fputc('\n', f);
	if (fclose(f)) {
		snprintf(err, err_len, "writing %s: %s", path, strerror(errno));
		ret = -errno;
	}
	json_object_put(root);
	return ret;
}
