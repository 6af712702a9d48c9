// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "util/clock.h"
#include "http/assemble.h"
#include "http/route.h"
#include "run/http_session.h"
#include "trace/http_tracer.h"

/* Collections older than this are forgotten: no request is expected to last longer. */
#define GC_LOG_KEEP_NS	(600ull * 1000000000ull)
/*
 * A process's I/O is captured from its fork, but it is looked at (and its statistics made) a
 * little later: its requests wait this long for it, then count as untraced.
 */
#define UNKNOWN_PROC_WAIT_NS	(5000ull * 1000000ull)

struct http_session {
	struct http_tracer *tracer;
	struct http_conns *conns;
	http_find_proc_fn find;
	void *ctx;
	struct http_request *done;	/* completed, not yet published */
	size_t ndone, done_cap;
	http_sink_fn sink;		/* given every published request */
	char *const *route_patterns;
	int npatterns;
	uint64_t hit_min_ns;
	uint64_t untraced;		/* answered in a process never traced */
};

void http_session_set_options(struct http_session *s, char *const *route_patterns,
			      int npatterns, uint64_t hit_min_ns)
{
	s->route_patterns = route_patterns;
	s->npatterns = npatterns;
	s->hit_min_ns = hit_min_ns;
}

static void on_io(const struct http_io *io, void *ctx)
{
	struct http_session *s = ctx;

	http_conns_feed(s->conns, io);
}

static void on_request(const struct http_request *req, void *ctx)
{
	struct http_session *s = ctx;

	if (!req->status)
		return;
	if (s->ndone == s->done_cap) {
		size_t cap = s->done_cap ? 2 * s->done_cap : 256;
		struct http_request *grown = realloc(s->done, cap * sizeof(*grown));

		if (!grown)
			return;
		s->done = grown;
		s->done_cap = cap;
	}
	s->done[s->ndone++] = *req;
}

int http_session_open(struct http_session **out, int traced_pids_fd, http_find_proc_fn find,
		      http_sink_fn sink, void *ctx, char *err, size_t err_len, char *note,
		      size_t note_len)
{
	struct http_session *s = calloc(1, sizeof(*s));
	int ret;

	if (!s) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	s->find = find;
	s->ctx = ctx;
	s->sink = sink;
	s->hit_min_ns = HTTP_DEFAULT_HIT_MIN_NS;
	s->conns = http_conns_new(on_request, s);
	if (!s->conns) {
		snprintf(err, err_len, "out of memory");
		ret = -ENOMEM;
		goto cleanup;
	}
	ret = http_tracer_open(&s->tracer, traced_pids_fd, on_io, s, err, err_len, note,
			       note_len);
	if (ret)
		goto cleanup;
	*out = s;
	return 0;
cleanup:
	http_session_close(s);
	return ret;
}

int http_session_consume(struct http_session *s)
{
	return http_tracer_consume(s->tracer);
}

/* final: nothing more will be traced, so a request of a process not known now never will be. */
static void publish(struct http_session *s, bool final)
{
	uint64_t now = clock_now_ns();
	struct http_sample sample;
	struct proc_stats *p;
	size_t i, kept = 0;

	for (i = 0; i < s->ndone; i++) {
		p = s->find(s->done[i].pid, s->ctx);
		if (!p) {
			if (!final && now - s->done[i].end_ns < UNKNOWN_PROC_WAIT_NS)
				s->done[kept++] = s->done[i];
			else
				s->untraced++;
			continue;
		}
		if (!p->http && !p->log_gcs)
			continue;
		memset(&sample, 0, sizeof(sample));
		sample.req = s->done[i];
		http_route_template(sample.req.path, s->route_patterns, s->npatterns,
				    sample.req.route, sizeof(sample.req.route));
		sample.hit_min_ns = s->hit_min_ns;
		gc_log_overlap(&p->gc_log, sample.req.arrival_ns, sample.req.end_ns, &sample.gc);
		gc_log_cover(&p->gc_log, sample.req.arrival_ns, sample.req.end_ns,
			     sample.gc_wall_ns_by_gen);
		if (p->http)
			http_stats_add(p->http, &sample);
		if (p->http_interval)
			http_stats_add(p->http_interval, &sample);
		s->sink(p, &sample, s->ctx);
		gc_log_prune(&p->gc_log, sample.req.end_ns > GC_LOG_KEEP_NS ?
				 sample.req.end_ns - GC_LOG_KEEP_NS : 0);
	}
	s->ndone = kept;
}

void http_session_publish(struct http_session *s)
{
	publish(s, false);
}

void http_session_process_gone(struct http_session *s, pid_t pid)
{
	http_tracer_consume(s->tracer);
	http_conns_flush_pid(s->conns, pid);
	http_session_publish(s);
}

void http_session_finish(struct http_session *s)
{
	http_tracer_consume(s->tracer);
	http_conns_flush(s->conns);
	publish(s, true);
}

void http_session_losses(struct http_session *s, uint64_t *dropped, uint64_t *non_http,
			 struct http_unassembled *u)
{
	uint64_t counters[HTTP_CNT_MAX];

	http_tracer_read_counters(s->tracer, counters);
	*dropped = counters[HTTP_CNT_DROPPED] + counters[HTTP_CNT_NO_SLOT];
	*non_http = http_conns_non_http(s->conns);
	if (u) {
		http_conns_unassembled(s->conns, u);
		u->untraced = s->untraced;
	}
}

uint64_t http_session_bad_length(struct http_session *s)
{
	return http_conns_bad_length(s->conns);
}

void http_session_close(struct http_session *s)
{
	if (!s)
		return;
	http_conns_free(s->conns);
	http_tracer_close(s->tracer);
	free(s->done);
	free(s);
}
