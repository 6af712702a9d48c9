/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The --http BPF programs: socket I/O of the processes the GC tracer filters in. */
#ifndef GCPAUSE_TRACE_HTTP_TRACER_H
#define GCPAUSE_TRACE_HTTP_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "http.h"

struct http_tracer;

typedef void (*http_io_fn)(const struct http_io *io, void *ctx);

/*
 * Loads and attaches the programs, sharing the process filter map traced_pids_fd. Returns 0, or
 * a negative errno with one line in err. *arrival_note is set to a line for the user when the
 * kernel's TCP tracepoints cannot be used (requests are then timed from the worker's first read).
 */
int http_tracer_open(struct http_tracer **out, int traced_pids_fd, http_io_fn on_io, void *ctx,
		     char *err, size_t err_len, char *arrival_note, size_t note_len);
int http_tracer_consume(struct http_tracer *ht);
void http_tracer_read_counters(struct http_tracer *ht, uint64_t counters[HTTP_CNT_MAX]);
void http_tracer_close(struct http_tracer *ht);

#endif /* GCPAUSE_TRACE_HTTP_TRACER_H */
