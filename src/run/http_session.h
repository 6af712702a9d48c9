/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* --http: from socket I/O events to requests, their GC share, and their aggregates. */
#ifndef GCPAUSE_RUN_HTTP_SESSION_H
#define GCPAUSE_RUN_HTTP_SESSION_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include "http/assemble.h"
#include "stats/stats.h"

struct http_session;

/* The traced process pid's statistics, or NULL when it is not traced. */
typedef struct proc_stats *(*http_find_proc_fn)(pid_t pid, void *ctx);

/* Called with each published request, once in its process's statistics, and the open's ctx. */
typedef void (*http_sink_fn)(struct proc_stats *p, const struct http_sample *sample, void *ctx);
/*
 * Loads the HTTP probes, sharing the GC tracer's process filter; each request is published to
 * sink. Returns 0, or a negative errno with one line in err; note gets a line for the user
 * when the kernel's arrival stamps are not available.
 */
int http_session_open(struct http_session **out, int traced_pids_fd, http_find_proc_fn find,
		      http_sink_fn sink, void *ctx, char *err, size_t err_len, char *note,
		      size_t note_len);
/*
 * --route patterns (kept, not copied: they must outlive the session) and --hit-min: the GC a
 * request must overlap to count as a big hit.
 */
#define HTTP_DEFAULT_HIT_MIN_NS	1000000ull
void http_session_set_options(struct http_session *s, char *const *route_patterns,
			      int npatterns, uint64_t hit_min_ns);
/* Reads waiting I/O events; requests that completed wait for publish. */
int http_session_consume(struct http_session *s);
/*
 * Attributes the completed requests their GC time and records them. Call after the GC events
 * up to now were consumed: a response written after a collection ended is then always seen
 * after that collection.
 */
void http_session_publish(struct http_session *s);
/* pid exited: its answered requests complete, and are published. */
void http_session_process_gone(struct http_session *s, pid_t pid);
/* End of tracing: everything in flight that was answered completes, and is published. */
void http_session_finish(struct http_session *s);
/*
 * I/O events lost, connections whose traffic was not HTTP, and what was seen but could not be
 * assembled into requests (u may be NULL).
 */
void http_session_losses(struct http_session *s, uint64_t *dropped, uint64_t *non_http,
			 struct http_unassembled *u);
/* Requests with a Content-Length no body can have (their body was not skipped). */
uint64_t http_session_bad_length(struct http_session *s);
void http_session_close(struct http_session *s);

#endif /* GCPAUSE_RUN_HTTP_SESSION_H */
