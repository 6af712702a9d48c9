// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A collection runs on the thread whose allocation crossed the threshold (or that called
 * gc.collect()): the request that thread was serving when the pause began is the one that
 * triggered it. Requests are matched by process and thread, from the worker's read of the
 * request to its last write; on a thread serving several at once (greenlets) every one in
 * flight is named. Routes are the request paths (query strings are not recorded).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "util/format.h"
#include "cause/triggers.h"

#define MAX_ROUTES	64
#define MAX_ROWS	40

struct route {
	char name[112];
	int count;
	uint64_t total_ns, max_ns;
};

static bool is_long(const struct rec_gc *g, uint64_t slow_ns)
{
	return g->gen >= 2 || (slow_ns && g->dur_ns >= slow_ns);
}

/* The first request in flight on g's thread when g began, NULL if none; *n: how many. */
static const struct rec_req *in_flight(const struct recording *r, const struct rec_gc *g, int *n)
{
	const struct rec_req *found = NULL;
	size_t i;

	*n = 0;
	for (i = 0; i < r->nreqs; i++) {
		const struct rec_req *q = &r->reqs[i];
		uint64_t from = q->start_ns ? q->start_ns : q->arrival_ns;

		if (q->pid != g->pid || q->tid != g->tid || g->start_ns < from ||
		    g->start_ns >= q->end_ns)
			continue;
		if (!found)
			found = q;
		(*n)++;
	}
	return found;
}

static int by_total(const void *a, const void *b)
{
	const struct route *x = a, *y = b;

	return x->total_ns < y->total_ns ? 1 : x->total_ns > y->total_ns ? -1 : 0;
}

static int collect_routes(const struct recording *r, uint64_t slow_ns, struct route *routes)
{
	int nroutes = 0, n, i;
	size_t k;

	for (k = 0; k < r->ngcs; k++) {
		const struct rec_gc *g = &r->gcs[k];
		const struct rec_req *q;
		char name[112];

		if (!is_long(g, slow_ns))
			continue;
		q = in_flight(r, g, &n);
		if (q)
			snprintf(name, sizeof(name), "%s %s", q->method, q->path);
		else
			snprintf(name, sizeof(name), "(no request in flight on the thread)");
		for (i = 0; i < nroutes && strcmp(routes[i].name, name); i++)
			;
		if (i == nroutes && nroutes == MAX_ROUTES - 1) {
			/* The last row gathers the routes beyond the table: every pause is counted. */
			snprintf(name, sizeof(name), "(other routes)");
			for (i = 0; i < nroutes && strcmp(routes[i].name, name); i++)
				;
		}
		if (i == nroutes) {
			memset(&routes[i], 0, sizeof(routes[i]));
			snprintf(routes[i].name, sizeof(routes[i].name), "%s", name);
			nroutes++;
		}
		routes[i].count++;
		routes[i].total_ns += g->dur_ns;
		if (g->dur_ns > routes[i].max_ns)
			routes[i].max_ns = g->dur_ns;
	}
	qsort(routes, nroutes, sizeof(*routes), by_total);
	return nroutes;
}

void triggers_print(FILE *out, const struct recording *r, uint64_t slow_ns)
{
	struct route routes[MAX_ROUTES];
	char d[FMT_DURATION_LEN], t[FMT_DURATION_LEN];
	int nroutes, rows = 0, n, i;
	size_t k;

	fprintf(out, "long pauses in %s (generation 2%s%s): the thread that collected and the "
		"request in flight on it\n", r->path, slow_ns ? ", or at least " : "",
		slow_ns ? fmt_duration(d, sizeof(d), slow_ns) : "");
	fprintf(out, "  %10s %8s %8s %4s %10s  %s\n", "at", "pid", "tid", "gen", "pause",
		"request");
	for (k = 0; k < r->ngcs; k++) {
		const struct rec_gc *g = &r->gcs[k];
		const struct rec_req *q;

		if (!is_long(g, slow_ns))
			continue;
		if (rows++ >= MAX_ROWS)
			continue;
		q = in_flight(r, g, &n);
		snprintf(t, sizeof(t), "%.3fs", (g->start_ns - r->start_ns) / 1e9);
		fprintf(out, "  %10s %8d %8d %4d %10s  ", t, g->pid, g->tid, g->gen,
			fmt_duration(d, sizeof(d), g->dur_ns));
		if (q)
			fprintf(out, "%s %s%s\n", q->method, q->path, n > 1 ? " (and others)" : "");
		else
			fprintf(out, "-\n");
	}
	if (!rows) {
		fprintf(out, "  none\n");
		return;
	}
	if (rows > MAX_ROWS)
		fprintf(out, "  ... and %d more (the routes below count them all)\n",
			rows - MAX_ROWS);
	nroutes = collect_routes(r, slow_ns, routes);
	fprintf(out, "\nlong pauses by route of the request in flight\n  %6s %10s %10s  %s\n",
		"count", "total", "max", "route");
	for (i = 0; i < nroutes; i++) {
		char tot[FMT_DURATION_LEN];

		fprintf(out, "  %6d %10s %10s  %s\n", routes[i].count,
			fmt_duration(tot, sizeof(tot), routes[i].total_ns),
			fmt_duration(d, sizeof(d), routes[i].max_ns), routes[i].name);
	}
}

static void esc(FILE *f, const char *s)
{
	for (; *s; s++)
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else
			fputc(*s, f);
}

void triggers_html(FILE *f, const struct recording *r, uint64_t slow_ns)
{
	struct route routes[MAX_ROUTES];
	char d[FMT_DURATION_LEN], tot[FMT_DURATION_LEN];
	int nroutes = collect_routes(r, slow_ns, routes), i;

	fputs("<h2>Long pauses by the request in flight</h2>\n<table id=\"triggers\"><tr>"
	      "<th>route</th><th>pauses</th><th>total</th><th>max</th></tr>\n", f);
	for (i = 0; i < nroutes; i++) {
		fputs("<tr><td>", f);
		esc(f, routes[i].name);
		fprintf(f, "</td><td>%d</td><td>%s</td><td>%s</td></tr>\n", routes[i].count,
			fmt_duration(tot, sizeof(tot), routes[i].total_ns),
			fmt_duration(d, sizeof(d), routes[i].max_ns));
	}
	if (!nroutes)
		fputs("<tr><td>no generation-2 collection</td><td>0</td><td>-</td>"
		      "<td>-</td></tr>\n", f);
	fputs("</table>\n", f);
}
