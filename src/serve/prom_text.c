// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Prometheus text exposition format 0.0.4.
 *
 * Every family is written whole, with its # HELP and # TYPE lines, in the order of the emit_*
 * calls in prom_render(); a family without samples still has its header. Per-series samples
 * carry namespace, pod, pod_uid, container_id, command, program, service, python_version and pid,
 * in that order, then the family's own labels. A label whose value is empty is left out, and so is pid when it
 * is 0: Prometheus treats an empty label as an absent one, so writing it would only cost bytes.
 *
 * Generations 0, 1 and 2 appear in every series from its creation, so that rate() and increase()
 * have a zero to start from at the first collection; "other" (a generation CPython does not have)
 * only once it has been seen. With --http, both gc="clean" and gc="hit" appear likewise.
 *
 * Durations are kept in integer nanoseconds and written as exact decimals of seconds (no
 * floating point anywhere on the way): bucket bounds match the text of the usual Prometheus
 * buckets ("0.00025", "2.5") and _sum is exact to the nanosecond. Label values are escaped as
 * the format asks (backslash, double quote, newline) and made valid UTF-8, since a single bad
 * byte (a comm cut in the middle of a character) would make Prometheus reject the whole scrape.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/prom_text.h"

#define NSEC_PER_SEC	1000000000ULL
/* "18446744073.709551615" and a NUL fit; so does any uint64_t in decimal. */
#define NUM_LEN		32
/* Own labels of a sample: generation="other",le="0.00025" and the like. */
#define OWN_LEN		64

void prom_buf_free(struct prom_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

static int buf_reserve(struct prom_buf *b, size_t extra)
{
	size_t need, cap;
	char *data;

	if (__builtin_add_overflow(b->len, extra + 1, &need))
		return -ENOMEM;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < need) {
		if (__builtin_mul_overflow(cap, 2, &cap))
			return -ENOMEM;
	}
	data = realloc(b->data, cap);
	if (!data)
		return -ENOMEM;
	b->data = data;
	b->cap = cap;
	return 0;
}

static int buf_put(struct prom_buf *b, const char *s, size_t n)
{
	int err = buf_reserve(b, n);

	if (err)
		return err;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int buf_vprintf(struct prom_buf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n, err;

	va_copy(again, ap);
	err = buf_reserve(b, 0);
	if (err)
		goto cleanup;
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	if (n < 0) {
		err = -EINVAL;
		goto cleanup;
	}
	if ((size_t)n >= b->cap - b->len) {
		err = buf_reserve(b, n);
		if (err)
			goto cleanup;
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, again);
	}
	b->len += n;
cleanup:
	/* A failed attempt may have written past len; the string still ends at len. */
	if (b->data)
		b->data[b->len] = '\0';
	va_end(again);
	return err;
}

int prom_buf_printf(struct prom_buf *b, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return err;
}

/*
 * One rendering. Errors stick: once one is set every later write is skipped and prom_render()
 * reports it, which keeps the emit_* functions free of a check after each line.
 */
struct render {
	struct prom_buf *out;
	struct prom_buf prefix;		/* the current series' labels, escaped, without braces */
	int err;
};

static void put(struct render *r, const char *s, size_t n)
{
	if (!r->err)
		r->err = buf_put(r->out, s, n);
}

static void put_str(struct render *r, const char *s)
{
	put(r, s, strlen(s));
}

static void family(struct render *r, const char *name, const char *type, const char *help)
{
	if (!r->err)
		r->err = prom_buf_printf(r->out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
					 type);
}

/* name{prefix,own} value: braces only when there is a label, a comma only between two parts. */
static void sample(struct render *r, const char *name, const char *suffix, const char *own,
		   const char *value)
{
	bool has_prefix = r->prefix.len > 0, has_own = own && *own;

	put_str(r, name);
	put_str(r, suffix);
	if (has_prefix || has_own) {
		put(r, "{", 1);
		if (has_prefix)
			put(r, r->prefix.data, r->prefix.len);
		if (has_prefix && has_own)
			put(r, ",", 1);
		if (has_own)
			put_str(r, own);
		put(r, "}", 1);
	}
	put(r, " ", 1);
	put_str(r, value);
	put(r, "\n", 1);
}

static void fmt_u64(char *buf, uint64_t v)
{
	snprintf(buf, NUM_LEN, "%" PRIu64, v);
}

/* Exact decimal seconds, trailing zeros trimmed: 250000 -> "0.00025", 10^10 -> "10". */
static void fmt_seconds(char *buf, uint64_t ns)
{
	uint64_t sec = ns / NSEC_PER_SEC, frac = ns % NSEC_PER_SEC;
	int len;

	if (!frac) {
		fmt_u64(buf, sec);
		return;
	}
	len = snprintf(buf, NUM_LEN, "%" PRIu64 ".%09" PRIu64, sec, frac);
	while (buf[len - 1] == '0')
		buf[--len] = '\0';
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is not one. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		/* No overlong forms, no UTF-16 surrogates. */
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static void put_escaped(struct render *r, struct prom_buf *b, const char *value)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t n = strlen(value), len;

	while (n && !r->err) {
		len = utf8_seq_len(s, n);
		if (!len) {
			/* U+FFFD REPLACEMENT CHARACTER for each byte that starts no valid sequence */
			r->err = buf_put(b, "\xef\xbf\xbd", 3);
			len = 1;
		} else if (*s == '\\') {
			r->err = buf_put(b, "\\\\", 2);
		} else if (*s == '"') {
			r->err = buf_put(b, "\\\"", 2);
		} else if (*s == '\n') {
			r->err = buf_put(b, "\\n", 2);
		} else {
			r->err = buf_put(b, (const char *)s, len);
		}
		s += len;
		n -= len;
	}
}

static void add_label(struct render *r, const char *name, const char *value)
{
	if (!*value || r->err)
		return;
	if (r->prefix.len)
		r->err = buf_put(&r->prefix, ",", 1);
	if (!r->err)
		r->err = prom_buf_printf(&r->prefix, "%s=\"", name);
	put_escaped(r, &r->prefix, value);
	if (!r->err)
		r->err = buf_put(&r->prefix, "\"", 1);
}

static void clear_prefix(struct render *r)
{
	r->prefix.len = 0;
	if (r->prefix.data)
		r->prefix.data[0] = '\0';
}

static void set_series_prefix(struct render *r, const struct series *s)
{
	const struct series_labels *l = &s->labels;
	char pid[NUM_LEN] = "";

	clear_prefix(r);
	add_label(r, "namespace", l->ns);
	add_label(r, "pod", l->pod);
	add_label(r, "pod_uid", l->pod_uid);
	add_label(r, "container_id", l->container_id);
	add_label(r, "command", l->command);
	add_label(r, "program", l->program);
	add_label(r, "service", l->service);
	add_label(r, "python_version", l->python);
	if (l->pid)
		snprintf(pid, sizeof(pid), "%d", l->pid);
	add_label(r, "pid", pid);
}

static const char *const gen_names[SERIES_GENS] = { "0", "1", "2", "other" };
static const char *const req_class_names[SERIES_REQ_CLASSES] = {
	[SERIES_REQ_CLEAN] = "clean",
	[SERIES_REQ_HIT] = "hit",
};

static bool gen_shown(const struct series *s, int gen)
{
	return gen != SERIES_GEN_OTHER || s->gens[gen].count;
}

/* Buckets (cumulative, as the format wants them), _sum and _count of one labelled histogram. */
static void histogram(struct render *r, const char *name, const char *own,
		      const uint64_t *buckets, const uint64_t *bounds_ns, int nbounds,
		      uint64_t sum_ns, uint64_t count)
{
	char labels[OWN_LEN], le[NUM_LEN], value[NUM_LEN];
	uint64_t cumulative = 0;
	int i;

	for (i = 0; i <= nbounds; i++) {
		cumulative += buckets[i];
		if (i < nbounds)
			fmt_seconds(le, bounds_ns[i]);
		else
			strcpy(le, "+Inf");
		snprintf(labels, sizeof(labels), "%s,le=\"%s\"", own, le);
		fmt_u64(value, cumulative);
		sample(r, name, "_bucket", labels, value);
	}
	fmt_seconds(value, sum_ns);
	sample(r, name, "_sum", own, value);
	fmt_u64(value, count);
	sample(r, name, "_count", own, value);
}

static void emit_gc_pauses(struct render *r, const struct series_table *t)
{
	const char *name = "gcpause_gc_pause_seconds";
	const struct series *s;
	char own[OWN_LEN];
	int gen;

	family(r, name, "histogram", "Duration of CPython cyclic GC collections (pauses).");
	for (s = t ? series_first(t) : NULL; s; s = series_next(s)) {
		set_series_prefix(r, s);
		for (gen = 0; gen < SERIES_GENS; gen++) {
			const struct series_gen *g = &s->gens[gen];

			if (!gen_shown(s, gen))
				continue;
			snprintf(own, sizeof(own), "generation=\"%s\"", gen_names[gen]);
			histogram(r, name, own, g->buckets, series_gc_bounds_ns,
				  SERIES_GC_BUCKETS - 1, g->sum_ns, g->count);
		}
	}
}

enum gen_field { GEN_COUNT, GEN_SECONDS, GEN_COLLECTED };

static void emit_gc_counter(struct render *r, const struct series_table *t, const char *name,
			    const char *help, enum gen_field field)
{
	const struct series *s;
	char own[OWN_LEN], value[NUM_LEN];
	int gen;

	family(r, name, "counter", help);
	for (s = t ? series_first(t) : NULL; s; s = series_next(s)) {
		set_series_prefix(r, s);
		for (gen = 0; gen < SERIES_GENS; gen++) {
			const struct series_gen *g = &s->gens[gen];

			if (!gen_shown(s, gen))
				continue;
			if (field == GEN_COUNT)
				fmt_u64(value, g->count);
			else if (field == GEN_SECONDS)
				fmt_seconds(value, g->sum_ns);
			else
				fmt_u64(value, g->collected);
			snprintf(own, sizeof(own), "generation=\"%s\"", gen_names[gen]);
			sample(r, name, "", own, value);
		}
	}
}

static void emit_processes(struct render *r, const struct series_table *t)
{
	const char *name = "gcpause_python_processes";
	const struct series *s;
	char value[NUM_LEN];

	family(r, name, "gauge", "Traced Python processes in the series now.");
	for (s = t ? series_first(t) : NULL; s; s = series_next(s)) {
		set_series_prefix(r, s);
		fmt_u64(value, s->live);
		sample(r, name, "", NULL, value);
	}
}

/* The interpreters' own GC state, read from their memory at the scrape. */
static void emit_gc_state(struct render *r, const struct series_table *t)
{
	static const char *const names[] = { "gcpause_gc_tracked_objects",
					     "gcpause_gc_threshold" };
	static const char *const helps[] = {
		"Objects the collector tracks, per generation (len(gc.get_objects(gen))), summed "
		"over the series' processes.",
		"Collection threshold per generation (gc.get_threshold()), the largest of the "
		"series' processes.",
	};
	const struct series *s;
	char value[NUM_LEN], own[32];
	int f, g;

	for (f = 0; f < 2; f++) {
		family(r, names[f], "gauge", helps[f]);
		for (s = t ? series_first(t) : NULL; s; s = series_next(s)) {
			if (!s->gc_state_procs)
				continue;
			set_series_prefix(r, s);
			for (g = 0; g < 3; g++) {
				snprintf(own, sizeof(own), "generation=\"%d\"", g);
				fmt_u64(value, f ? (uint64_t)s->gc_threshold[g] :
					       (uint64_t)s->gc_tracked[g]);
				sample(r, names[f], "", own, value);
			}
		}
	}
	family(r, "gcpause_gc_frozen_objects", "gauge",
	       "Objects in the permanent generation (gc.get_freeze_count()), summed.");
	for (s = t ? series_first(t) : NULL; s; s = series_next(s)) {
		if (!s->gc_state_procs)
			continue;
		set_series_prefix(r, s);
		fmt_u64(value, (uint64_t)s->gc_frozen);
		sample(r, "gcpause_gc_frozen_objects", "", NULL, value);
	}
	family(r, "gcpause_gc_disabled_processes", "gauge",
	       "Processes of the series whose collector is disabled (gc.disable()).");
	for (s = t ? series_first(t) : NULL; s; s = series_next(s)) {
		if (!s->gc_state_procs)
			continue;
		set_series_prefix(r, s);
		fmt_u64(value, s->gc_disabled);
		sample(r, "gcpause_gc_disabled_processes", "", NULL, value);
	}
}

static void emit_requests(struct render *r, const struct series_table *t)
{
	const char *dur = "gcpause_http_request_duration_seconds";
	const char *gc = "gcpause_http_request_weighted_gc_seconds_total";
	const char *wall = "gcpause_http_gc_wall_seconds_total";
	const char *total = "gcpause_http_requests_total";
	const struct series *s;
	char own[OWN_LEN], value[NUM_LEN];
	int c;

	family(r, dur, "histogram",
	       "HTTP request latency, by whether a GC pause fell inside the request (gc=\"hit\").");
	for (s = t ? series_first(t) : NULL; s; s = series_next(s)) {
		if (!s->http)
			continue;
		set_series_prefix(r, s);
		for (c = 0; c < SERIES_REQ_CLASSES; c++) {
			const struct series_req *q = &s->http->req[c];

			snprintf(own, sizeof(own), "gc=\"%s\"", req_class_names[c]);
			histogram(r, dur, own, q->buckets, series_req_bounds_ns,
				  SERIES_REQ_BUCKETS - 1, q->sum_ns, q->count);
		}
	}

	family(r, gc, "counter", "GC pause time inside HTTP requests, summed over requests: a "
	       "pause that delayed n concurrent requests counts n times.");
	for (s = t ? series_first(t) : NULL; s; s = series_next(s)) {
		if (!s->http)
			continue;
		set_series_prefix(r, s);
		fmt_seconds(value, s->http->gc_ns);
		sample(r, gc, "", NULL, value);
	}

	family(r, wall, "counter", "GC pause wall time that overlapped at least one HTTP request "
	       "(each pause counted once).");
	for (s = t ? series_first(t) : NULL; s; s = series_next(s)) {
		if (!s->http)
			continue;
		set_series_prefix(r, s);
		fmt_seconds(value, s->http->gc_wall_ns);
		sample(r, wall, "", NULL, value);
	}

	family(r, total, "counter", "Answered HTTP requests, by whether a GC pause fell inside.");
	for (s = t ? series_first(t) : NULL; s; s = series_next(s)) {
		if (!s->http)
			continue;
		set_series_prefix(r, s);
		for (c = 0; c < SERIES_REQ_CLASSES; c++) {
			snprintf(own, sizeof(own), "gc=\"%s\"", req_class_names[c]);
			fmt_u64(value, s->http->req[c].count);
			sample(r, total, "", own, value);
		}
	}
}

/* An agent-wide sample: no series labels. */
static void agent_u64(struct render *r, const char *name, const char *own, uint64_t v)
{
	char value[NUM_LEN];

	fmt_u64(value, v);
	sample(r, name, "", own, value);
}

static void agent_family_u64(struct render *r, const char *name, const char *type,
			     const char *help, uint64_t v)
{
	family(r, name, type, help);
	agent_u64(r, name, NULL, v);
}

static void emit_agent(struct render *r, const struct series_table *t,
		       const struct agent_metrics *m)
{
	const char *name;
	char value[NUM_LEN];

	clear_prefix(r);
	name = "gcpause_events_dropped_total";
	family(r, name, "counter", "Events lost in the kernel (ring buffer full and the like).");
	agent_u64(r, name, "source=\"gc\"", m->gc_events_dropped);
	if (m->http)
		agent_u64(r, name, "source=\"http\"", m->http_events_dropped);
	if (m->discovery)
		agent_u64(r, name, "source=\"discovery\"", m->discovery_events_dropped);
	if (m->http) {
		name = "gcpause_http_unassembled_total";
		family(r, name, "counter", "--http: what was seen but could not be made into a "
		       "request, by reason: unanswered (the connection ended first), "
		       "unmatched_response (no request seen before it), cut (request line cut at "
		       "the capture's edge), overflow (pipelined past the queue), "
		       "untraced_process (answered in a process never traced).");
		agent_u64(r, name, "reason=\"unanswered\"", m->http_unassembled.unanswered);
		agent_u64(r, name, "reason=\"unmatched_response\"",
			  m->http_unassembled.unmatched_responses);
		agent_u64(r, name, "reason=\"cut\"", m->http_unassembled.cut);
		agent_u64(r, name, "reason=\"overflow\"", m->http_unassembled.overflow);
		agent_u64(r, name, "reason=\"untraced_process\"", m->http_unassembled.untraced);
	}

	agent_family_u64(r, "gcpause_processes_traced", "gauge",
			 "Python processes traced now.", m->processes_traced);
	agent_family_u64(r, "gcpause_processes_discovered_total", "counter",
			 "Python processes found.", m->processes_discovered);

	name = "gcpause_processes_skipped_total";
	family(r, name, "counter", "Processes not traced, by reason: limit (--max-processes), "
	       "unsupported (a Python that cannot be probed), filtered (--comm, --container, "
	       "--exclude), unreadable (its maps or binaries could not be read: maybe Python).");
	agent_u64(r, name, "reason=\"limit\"", m->processes_skipped_limit);
	agent_u64(r, name, "reason=\"unsupported\"", m->processes_skipped_unsupported);
	agent_u64(r, name, "reason=\"filtered\"", m->processes_skipped_filtered);
	agent_u64(r, name, "reason=\"unreadable\"", m->processes_skipped_unreadable);

	agent_family_u64(r, "gcpause_binaries_probed", "gauge",
			 "Python binaries with probes attached now.", m->binaries_probed);
	agent_family_u64(r, "gcpause_series", "gauge", "Label sets kept now.",
			 t ? series_count(t) : 0);
	agent_family_u64(r, "gcpause_series_dropped_total", "counter",
			 "Label sets not kept because the series limit was reached.",
			 m->series_dropped);
	agent_family_u64(r, "gcpause_series_expired_total", "counter",
			 "Label sets dropped after staying without a process.", m->series_expired);

	name = "gcpause_build_info";
	family(r, name, "gauge", "gcpause build; the value is always 1.");
	put_str(r, name);
	put(r, "{version=\"", 10);
	put_escaped(r, r->out, m->version ? m->version : "unknown");
	put(r, "\"} 1\n", 5);

	name = "gcpause_start_time_seconds";
	family(r, name, "gauge", "Start time of gcpause since the Unix epoch.");
	snprintf(value, sizeof(value), "%.6f", m->start_time_seconds);
	sample(r, name, "", NULL, value);
}

int prom_render(const struct series_table *t, const struct agent_metrics *m, struct prom_buf *out)
{
	struct render r = { .out = out };
	size_t start = out->len;

	emit_gc_pauses(&r, t);
	emit_gc_counter(&r, t, "gcpause_gc_collections_total", "CPython cyclic GC collections.",
			GEN_COUNT);
	emit_gc_counter(&r, t, "gcpause_gc_pause_time_seconds_total",
			"Time spent in CPython cyclic GC collections.", GEN_SECONDS);
	emit_gc_counter(&r, t, "gcpause_gc_collected_objects_total",
			"Objects the collections found unreachable (collected and uncollectable).",
			GEN_COLLECTED);
	emit_processes(&r, t);
	emit_gc_state(&r, t);
	if (m->http)
		emit_requests(&r, t);
	emit_agent(&r, t, m);

	prom_buf_free(&r.prefix);
	if (r.err) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return r.err;
}
