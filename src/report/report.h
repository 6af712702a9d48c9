/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Output: the text report and newline-delimited JSON, from the same aggregates. */
#ifndef GCPAUSE_REPORT_REPORT_H
#define GCPAUSE_REPORT_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "gc.h"
#include "stats/stats.h"
#include "stats/summary.h"

/* Percentiles every output reports, in this order. */
struct report_percentile {
	const char *text_name, *json_name;
	double pct;
};
extern const struct report_percentile report_percentiles[];
extern const int report_npercentiles;

/* A process's requests in the summary's scope (since start, or this interval), or NULL. */
const struct http_stats *report_http_of(const struct report_summary *s,
					const struct proc_stats *p);

/* The requests of every process of the summary together; free with http_stats_free(). */
int report_http_all(const struct report_summary *s, struct http_stats *all);

/* A process's, or a pool's, collections against its requests, wall and CPU time. */
struct report_pool {
	int processes;
	uint64_t collections, pause_ns, requests;
	uint64_t wall_ns;		/* summed over the processes (process-seconds) */
	uint64_t cpu_ns;		/* user + system, summed */
	bool cpu_known;			/* every process's CPU time could be read */
};

/* The figures of p, or of every process of the summary when p is NULL. */
void report_pool(const struct report_summary *s, const struct proc_stats *p,
		 struct report_pool *out);


void report_text_summary(FILE *out, const struct report_summary *s);

/* --all: the processes there were at start are traced; later ones come as they start. */
void report_json_ready(FILE *out, int processes, int binaries);
void report_json_attach(FILE *out, const struct proc_stats *p);
void report_json_gc(FILE *out, const struct gc_event *e);
void report_json_exit(FILE *out, const struct proc_stats *p);
void report_json_summary(FILE *out, const struct report_summary *s);
/* One HTTP request with its GC share (--http --json). */
void report_json_request(FILE *out, const struct http_sample *sample);

/* One line of "gcpause list --json"; error is NULL when the process can be probed. */
void report_json_list_entry(FILE *out, const struct target *t, const char *error,
			    const char *build);

#endif /* GCPAUSE_REPORT_REPORT_H */
