// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include "report/gc_state_report.h"
#include "util/messages.h"
#include "stats/stats.h"

static struct json_object *int_array(const int *v, int n)
{
	struct json_object *a = json_object_new_array();
	int i;

	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_int(v[i]));
	return a;
}

struct json_object *gc_state_json(const struct gc_state *s)
{
	struct json_object *o, *tracked;
	int i;

	if (!s->valid)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "time_ns", json_object_new_uint64(s->time_ns));
	json_object_object_add(o, "read_ns", json_object_new_uint64(s->read_ns));
	json_object_object_add(o, "enabled", json_object_new_boolean(s->enabled));
	json_object_object_add(o, "threshold", int_array(s->threshold, GC_STATE_GENS));
	json_object_object_add(o, "count", int_array(s->count, GC_STATE_GENS));
	tracked = json_object_new_array();
	for (i = 0; i < GC_STATE_GENS; i++)
		json_object_array_add(tracked, json_object_new_int64(s->tracked[i]));
	json_object_object_add(o, "tracked", tracked);
	json_object_object_add(o, "frozen", json_object_new_int64(s->frozen));
	json_object_object_add(o, "capped", json_object_new_boolean(s->capped));
	json_object_object_add(o, "approximate", json_object_new_boolean(s->approximate));
	json_object_object_add(o, "cpu_ns", json_object_new_uint64(s->cpu_ns));
	if (s->has_long_lived) {
		json_object_object_add(o, "long_lived_total",
				       json_object_new_int64(s->long_lived_total));
		json_object_object_add(o, "long_lived_pending",
				       json_object_new_int64(s->long_lived_pending));
	}
	return o;
}

void gc_state_print(FILE *out, const struct gc_state *s)
{
	if (!s->valid)
		return;
	fprintf(out, "  gc state: %s  threshold %d/%d/%d  count %d/%d/%d  tracked "
		"%s%lld/%lld/%lld  frozen %s%lld", s->enabled ? "enabled" : "DISABLED",
		s->threshold[0], s->threshold[1], s->threshold[2], s->count[0], s->count[1],
		s->count[2], s->capped ? ">=" : s->approximate ? "~" : "", (long long)s->tracked[0],
		(long long)s->tracked[1], (long long)s->tracked[2],
		s->capped ? ">=" : s->approximate ? "~" : "",
		(long long)s->frozen);
	if (s->has_long_lived)
		fprintf(out, "  long-lived %lld (+%lld pending)", (long long)s->long_lived_total,
			(long long)s->long_lived_pending);
	fputc('\n', out);
}

void gc_state_emit_json(FILE *out, int pid, int after_gen, const struct gc_state *s)
{
	struct json_object *state = gc_state_json(s), *o;

	if (!state)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("gc_state"));
	json_object_object_add(o, "pid", json_object_new_int(pid));
	json_object_object_add(o, "after_gen", json_object_new_int(after_gen));
	json_object_object_foreach(state, key, val)
		json_object_object_add(o, key, json_object_get(val));
	json_object_put(state);
	fprintf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}
