/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `gcpause serve`: the series and the agent's own figures in Prometheus text format 0.0.4. */
#ifndef GCPAUSE_SERVE_PROM_TEXT_H
#define GCPAUSE_SERVE_PROM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/assemble.h"
#include "serve/series.h"

/* Growable text; data is NUL-terminated whenever it is not NULL. Start from all zeroes. */
struct prom_buf {
	char *data;
	size_t len, cap;
};

void prom_buf_free(struct prom_buf *b);
/* Appends; 0 or -ENOMEM, in which case b is as it was. */
int prom_buf_printf(struct prom_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Whole-agent figures, from the caller. */
struct agent_metrics {
	uint64_t gc_events_dropped, http_events_dropped;
	struct http_unassembled http_unassembled;	/* --http: seen, not made into requests */
	uint64_t discovery_events_dropped;	/* --all: exec/fork events lost */
	bool discovery;				/* --all: the discovery source exists */
	uint64_t processes_traced;	/* gauge */
	uint64_t processes_discovered;	/* counter: Python processes found */
	uint64_t processes_skipped_limit, processes_skipped_unsupported, processes_skipped_filtered;
	uint64_t processes_skipped_unreadable;
	uint64_t binaries_probed;	/* gauge */
	uint64_t series_dropped, series_expired;
	double start_time_seconds;	/* unix time */
	const char *version;		/* gcpause version, for build_info; NULL: "unknown" */
	bool http;
};

/* Appends the whole exposition to out (t NULL: no series); 0, or -ENOMEM with out as it was. */
int prom_render(const struct series_table *t, const struct agent_metrics *m, struct prom_buf *out);

#endif /* GCPAUSE_SERVE_PROM_TEXT_H */
