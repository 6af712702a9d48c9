// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The human report: a table per process and a histogram per generation, bcc-style bars. */
#include "report/gc_state_report.h"
#include <inttypes.h>
#include <string.h>
#include "util/format.h"
#include "proc/proc_identity.h"
#include "probe/probe.h"
#include "report/report.h"

#define BAR_WIDTH	40
#define MAX_HIST_ROWS	24
#define VALUE_WIDTH	8

/* printf pads by bytes; µ takes two, so pad by display columns instead. */
static void print_right(FILE *out, const char *s, int width)
{
	int pad = width - (int)fmt_display_width(s);

	fprintf(out, "%*s%s", pad > 0 ? pad : 0, "", s);
}

static void print_duration(FILE *out, uint64_t ns, int width)
{
	char buf[FMT_DURATION_LEN];

	print_right(out, fmt_duration(buf, sizeof(buf), ns), width);
}

static void print_header(FILE *out)
{
	int i;

	fprintf(out, "  %5s %8s %9s %7s", "gen", "count", "total", "gc%");
	for (i = 0; i < report_npercentiles; i++)
		fprintf(out, " %*s", VALUE_WIDTH, report_percentiles[i].text_name);
	fprintf(out, " %10s\n", "collected");
}

static void print_row(FILE *out, const char *label, const struct pause_stats *s, uint64_t wall_ns)
{
	char count[FMT_COUNT_LEN], share[FMT_PERCENT_LEN];
	const struct hist *h = &s->pauses;
	int i;

	fprintf(out, "  %5s %8s ", label, fmt_count(count, sizeof(count), h->count));
	print_duration(out, h->sum, 9);
	fprintf(out, " ");
	print_right(out, fmt_percent(share, sizeof(share), wall_ns ? (double)h->sum / wall_ns : 0),
		    7);
	for (i = 0; i < report_npercentiles; i++) {
		fprintf(out, " ");
		if (h->count)
			print_duration(out, hist_percentile(h, report_percentiles[i].pct),
				       VALUE_WIDTH);
		else
			print_right(out, "-", VALUE_WIDTH);
	}
	fprintf(out, " %10" PRId64 "\n", s->collected);
}

static void print_histogram(FILE *out, const char *title, const struct hist *h)
{
	struct hist_row rows[MAX_HIST_ROWS];
	char low[FMT_DURATION_LEN], high[FMT_DURATION_LEN], bar[BAR_WIDTH + 1];
	uint64_t peak;
	int n, i;

	n = hist_octaves(h, rows, MAX_HIST_ROWS);
	if (!n)
		return;
	peak = hist_rows_peak(rows, n);
	fprintf(out, "\n  %s\n  %21s : %-8s %s\n", title, "pause", "count", "distribution");
	for (i = 0; i < n; i++) {
		fmt_duration(low, sizeof(low), rows[i].low);
		fmt_duration(high, sizeof(high), rows[i].high + 1);
		fprintf(out, "  ");
		print_right(out, low, 9);
		fprintf(out, " -> ");
		print_right(out, high, 8);
		hist_bar(bar, BAR_WIDTH, rows[i].count, peak);
		fprintf(out, " : %-8" PRIu64 " |%s|\n", rows[i].count, bar);
	}
}

static void print_latency_row(FILE *out, const char *label, const struct hist *h)
{
	static const double pcts[] = { 50, 95, 99, 100 };
	char count[FMT_COUNT_LEN];
	unsigned int i;

	fprintf(out, "    %-10s %8s", label, fmt_count(count, sizeof(count), h->count));
	for (i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		fprintf(out, " ");
		if (h->count)
			print_duration(out, hist_percentile(h, pcts[i]), VALUE_WIDTH);
		else
			print_right(out, "-", VALUE_WIDTH);
	}
	fputc('\n', out);
}

/* "N overlapped ...; GC x of their y (z%)": how much of the tail a kind of hit explains. */
static void print_tail_part(FILE *out, uint64_t n, const char *what, uint64_t gc_ns,
			    uint64_t latency_ns)
{
	char gc[FMT_DURATION_LEN], lat[FMT_DURATION_LEN], share[FMT_PERCENT_LEN];

	fprintf(out, "%" PRIu64 " %s; GC %s of their %s (%s)", n, what,
		fmt_duration(gc, sizeof(gc), gc_ns), fmt_duration(lat, sizeof(lat), latency_ns),
		fmt_percent(share, sizeof(share), latency_ns ? (double)gc_ns / latency_ns : 0));
}

static void print_tail(FILE *out, const struct http_stats *s, double pct)
{
	char thr[FMT_DURATION_LEN], min[FMT_DURATION_LEN], what[64];
	struct http_tail t;

	http_stats_tail(s, pct, &t);
	fprintf(out, "  tail p%g (>= %s): %" PRIu64 " requests, ", pct,
		fmt_duration(thr, sizeof(thr), t.threshold_ns), t.requests);
	print_tail_part(out, t.gc_hit, "overlapped a collection", t.gc_ns, t.latency_ns);
	fprintf(out, "\n      of them ");
	print_tail_part(out, t.gen2_hit, "a generation-2 one", t.gen2_gc_ns, t.gen2_latency_ns);
	snprintf(what, sizeof(what), "had >= %s of GC",
		 fmt_duration(min, sizeof(min), s->hit_min_ns));
	fprintf(out, "\n      of them ");
	print_tail_part(out, t.big_hit, what, t.big_gc_ns, t.big_latency_ns);
	fputc('\n', out);
}

/* Always printed with --http: a silent zero and a silent loss look alike otherwise. */
static void report_text_unassembled(FILE *out, const struct http_unassembled *u)
{
	uint64_t n = u->unanswered + u->unmatched_responses + u->cut + u->overflow + u->untraced;

	fprintf(out, "\nrequests not assembled: %" PRIu64, n);
	if (n)
		fprintf(out, " (%" PRIu64 " read but the connection ended unanswered, %" PRIu64
			" responses to requests not seen, %" PRIu64 " request lines cut at the "
			"capture's edge, %" PRIu64 " past the pipeline queue, %" PRIu64 " in "
			"processes never traced)", u->unanswered, u->unmatched_responses, u->cut,
			u->overflow, u->untraced);
	fputc('\n', out);
}

static void print_http(FILE *out, const struct http_stats *s)
{
	char a[FMT_DURATION_LEN], b[FMT_DURATION_LEN], c[FMT_DURATION_LEN], label[32];
	int i, j;

	fprintf(out, "\n  HTTP requests (latency from arrival in the kernel to the response's "
		"last byte)\n    %-10s %8s %*s %*s %*s %*s\n", "", "count", VALUE_WIDTH, "p50",
		VALUE_WIDTH, "p95", VALUE_WIDTH, "p99", VALUE_WIDTH, "max");
	print_latency_row(out, "all", &s->latency);
	print_latency_row(out, "gc-hit", &s->gc_hit);
	print_latency_row(out, "clean", &s->clean);
	print_latency_row(out, "gen2-hit", &s->gen2_hit);
	snprintf(label, sizeof(label), "gc>=%s", fmt_duration(a, sizeof(a), s->hit_min_ns));
	print_latency_row(out, label, &s->big_hit);
	print_latency_row(out, "queued", &s->queue);
	if (!s->latency.count)
		return;
	print_tail(out, s, 95);
	print_tail(out, s, 99);
	fprintf(out, "  GC wall time that delayed at least one request: gen0 %s, gen1 %s, "
		"gen2 %s\n", fmt_duration(a, sizeof(a), s->gc_wall_ns_by_gen[0]),
		fmt_duration(b, sizeof(b), s->gc_wall_ns_by_gen[1]),
		fmt_duration(c, sizeof(c), s->gc_wall_ns_by_gen[2]));
	fprintf(out, "  GC in requests, request-weighted (a pause counts once per request it "
		"delayed): gen0 %s, gen1 %s, gen2 %s\n",
		fmt_duration(a, sizeof(a), s->request_weighted_gc_ns_by_gen[0]),
		fmt_duration(b, sizeof(b), s->request_weighted_gc_ns_by_gen[1]),
		fmt_duration(c, sizeof(c), s->request_weighted_gc_ns_by_gen[2]));
	if (s->arrival_from_read)
		fprintf(out, "  note: %" PRIu64 " requests timed from the worker's read (no kernel "
			"arrival stamp)\n", s->arrival_from_read);
	fprintf(out, "  slowest:\n");
	for (i = 0; i < s->nslowest; i++) {
		const struct http_sample *x = &s->slowest[i];

		fprintf(out, "    ");
		print_duration(out, http_latency(&x->req), VALUE_WIDTH);
		fprintf(out, "  %s %s %d  GC %s in %u collection%s", x->req.method,
			x->req.path, x->req.status, fmt_duration(a, sizeof(a), x->gc.ns),
			x->gc.count, x->gc.count == 1 ? "" : "s");
		for (j = 0; j < x->gc.nlisted; j++)
			fprintf(out, "%s gen%d %s", j ? "," : ":", x->gc.listed[j].gen,
				fmt_duration(b, sizeof(b), x->gc.listed[j].end_ns -
					     x->gc.listed[j].start_ns));
		fputc('\n', out);
	}
	fprintf(out, "  routes:\n");
	for (i = 0; i < s->nroutes; i++) {
		const struct http_route *r = &s->routes[i];

		fprintf(out, "    %-9s %-40.40s %8" PRIu64 "  p50 ", r->method, r->path,
			r->latency.count);
		print_duration(out, hist_percentile(&r->latency, 50), VALUE_WIDTH);
		fprintf(out, "  p99 ");
		print_duration(out, hist_percentile(&r->latency, 99), VALUE_WIDTH);
		fprintf(out, "  gc-hit %" PRIu64 "\n", r->gc_hit);
	}
}

/* GC per 1,000 requests, and GC's share of wall and CPU time. */
static void print_pool(FILE *out, const struct report_pool *pool)
{
	char pause[FMT_DURATION_LEN], per[FMT_DURATION_LEN], wall[FMT_PERCENT_LEN];
	char cpu[FMT_PERCENT_LEN];

	fprintf(out, "  GC: %" PRIu64 " collections, %s of pause", pool->collections,
		fmt_duration(pause, sizeof(pause), pool->pause_ns));
	if (pool->requests)
		fprintf(out, "; per 1,000 requests: %.1f collections, %s of pause",
			pool->collections * 1000.0 / pool->requests,
			fmt_duration(per, sizeof(per),
				     (uint64_t)(pool->pause_ns * 1000.0 / pool->requests)));
	fprintf(out, "\n  GC share: %s of wall time", fmt_percent(wall, sizeof(wall),
		pool->wall_ns ? (double)pool->pause_ns / pool->wall_ns : 0));
	if (pool->cpu_known && pool->cpu_ns)
		fprintf(out, ", %s of CPU time%s", fmt_percent(cpu, sizeof(cpu),
			(double)pool->pause_ns / pool->cpu_ns), pool->pause_ns > pool->cpu_ns ?
			" (pauses are wall time: the CPU was busy elsewhere during them)" : "");
	fputc('\n', out);
}

/* --sample: exact counts, and GC time and pauses to the sampling's resolution. */
static void print_sampled(FILE *out, const struct stats_sampled_view *r, uint64_t wall)
{
	char a[FMT_DURATION_LEN], b[FMT_DURATION_LEN], c[FMT_DURATION_LEN], pct[16];
	int i, last = -1;

	fprintf(out, "  sampled at %u Hz: counts from the interpreter's own counters%s; GC time "
		"and pauses from CPU samples, to %s\n", r->hz,
		r->final ? " (read at its exit)" : "",
		fmt_duration(a, sizeof(a), r->resolution_ns));
	fprintf(out, "  %-5s %12s %12s\n", "gen", "collections", "collected");
	for (i = 0; i < 3; i++)
		fprintf(out, "  %-5d %12" PRId64 " %12" PRId64 "\n", i, r->collections[i],
			r->collected[i]);
	fprintf(out, "  GC time ~%s (+/- %s)  %s of wall time  longest pause ~%s\n",
		fmt_duration(a, sizeof(a), r->gc_ns), fmt_duration(b, sizeof(b), r->gc_err_ns),
		fmt_percent(pct, sizeof(pct), wall ? (double)r->gc_ns / wall : 0),
		fmt_duration(c, sizeof(c), r->max_pause_ns));
	for (i = 0; i < SAMPLE_RUN_BUCKETS; i++)
		if (r->runs[i])
			last = i;
	if (last >= 0) {
		fprintf(out, "  pauses seen by the samples (a pause shorter than %s is seen in "
			"proportion to its length):\n", fmt_duration(a, sizeof(a), r->resolution_ns));
		for (i = 0; i <= last; i++)
			fprintf(out, "    %9s to %9s : %" PRIu64 "\n",
				fmt_duration(a, sizeof(a), (1ull << i) * r->resolution_ns),
				fmt_duration(b, sizeof(b), (2ull << i) * r->resolution_ns),
				r->runs[i]);
	}
	if (r->read_failed)
		fprintf(out, "  note: %" PRIu64 " samples could not read the interpreter's flag\n",
			r->read_failed);
}

static void print_process(FILE *out, const struct report_summary *s, const struct proc_stats *p)
{
	const struct proc_identity *ident = &p->identity;
	struct report_pool pool;
	char unit[PROC_UNIT_LEN], service[FMT_TERMINAL_LEN(PROC_UNIT_LEN)];
	const struct stats_process *t = &p->process;
	uint64_t wall = stats_wall_ns(p, s->scope, s->end_ns);
	/* A process whose tracing ended without its exit says why (an exec, say). */
	const char *end = !p->exited ? NULL : p->exit_reason ? p->exit_reason : "exited";
	struct pause_stats all;
	char label[16], title[48], walls[FMT_DURATION_LEN];
	/* What the process and its files named: escaped for the terminal. */
	char comm[FMT_TERMINAL_LEN(sizeof(t->comm))], version[FMT_TERMINAL_LEN(sizeof(t->version))];
	char root[FMT_TERMINAL_LEN(PROC_PATH_MAX)], binary[FMT_TERMINAL_LEN(PROC_PATH_MAX)];
	char id[FMT_TERMINAL_LEN(13)], ns[FMT_TERMINAL_LEN(sizeof(t->container.ns))];
	char pod[FMT_TERMINAL_LEN(sizeof(t->container.pod))];
	char caveat[FMT_TERMINAL_LEN(PROBE_TEXT_LEN)];
	struct stats_sampled_view sampled;
	int i;

	fprintf(out, "\npid %d %s  Python %s  %s%s%s  probe %s  traced %s%s%s%s", t->pid,
		fmt_terminal(comm, sizeof(comm), t->comm),
		fmt_terminal(version, sizeof(version), t->version[0] ? t->version : "?"),
		fmt_terminal(root, sizeof(root), t->root), t->root[0] ? ":" : "",
		fmt_terminal(binary, sizeof(binary), t->binary),
		t->probe, fmt_duration(walls, sizeof(walls), wall), end ? " (" : "", end ? end : "",
		end ? ")" : "");
	/* What tells it from others of the same command (list and top show the command line). */
	proc_identity_service(ident, unit, sizeof(unit));
	fmt_terminal(service, sizeof(service), unit);
	fprintf(out, "  parent %d", ident->ppid);
	if (ident->role != PROC_ROLE_SINGLE)
		fprintf(out, "  %s", proc_role_name(ident->role));
	if (strcmp(service, "-"))
		fprintf(out, "  service %s", service);
	for (i = 0; i < ident->nports; i++)
		fprintf(out, "%s%u", i ? "," : "  listening on ", ident->ports[i]);
	fputc('\n', out);
	if (t->container.id[0] || t->container.pod_uid[0]) {
		snprintf(id, sizeof(id), "%.12s", t->container.id[0] ? t->container.id : "?");
		fprintf(out, "  container %s%s%s%s%s\n", fmt_terminal(id, sizeof(id), id),
			t->container.pod[0] ? "  pod " : "",
			fmt_terminal(ns, sizeof(ns), t->container.ns),
			t->container.ns[0] && t->container.pod[0] ? "/" : "",
			fmt_terminal(pod, sizeof(pod), t->container.pod));
	}
	if (t->caveat[0])
		fprintf(out, "  note: %s\n", fmt_terminal(caveat, sizeof(caveat), t->caveat));
	if (t->incremental)
		fprintf(out, "  note: incremental collector: generation 1 is one increment of the "
			"old generation\n");
	if (stats_sampled_view(p, s->scope, &sampled)) {
		print_sampled(out, &sampled, wall);
		gc_state_print(out, &p->gc_state);
		return;
	}
	print_header(out);
	for (i = 0; i < p->ngens; i++) {
		const struct gen_stats *g = p->gens[i];

		snprintf(label, sizeof(label), "%d", g->gen);
		print_row(out, label, stats_scope(g, s->scope), wall);
	}
	stats_merge_all(p, s->scope, &all);
	print_row(out, "all", &all, wall);
	gc_state_print(out, &p->gc_state);

	for (i = 0; i < p->ngens; i++) {
		const struct pause_stats *g = stats_scope(p->gens[i], s->scope);

		snprintf(title, sizeof(title), "gen %d pauses", p->gens[i]->gen);
		print_histogram(out, title, &g->pauses);
	}
	if (report_http_of(s, p)) {
		print_http(out, report_http_of(s, p));
		report_pool(s, p, &pool);
		print_pool(out, &pool);
	}
}

void report_text_summary(FILE *out, const struct report_summary *s)
{
	char span[FMT_DURATION_LEN];
	uint64_t lost = summary_lost_events(s->counters);
	int i;

	fprintf(out, "\n=== gcpause %s: %s, %d process%s ===\n",
		s->scope == STATS_TOTAL ? "summary" : "interval",
		fmt_duration(span, sizeof(span), s->end_ns - s->start_ns), s->nprocs,
		s->nprocs == 1 ? "" : "es");
	for (i = 0; i < s->nprocs; i++)
		print_process(out, s, s->procs[i]);
	if (s->http && s->nprocs > 1) {
		struct http_stats all;

		if (!report_http_all(s, &all)) {
			struct report_pool pool;

			fprintf(out, "\nall %d processes, as one service", s->nprocs);
			print_http(out, &all);
			http_stats_free(&all);
			report_pool(s, NULL, &pool);
			print_pool(out, &pool);
		}
	}
	if (lost)
		fprintf(out, "\nWARNING: %" PRIu64 " collections lost (ring buffer full: %" PRIu64
			", nested too deep: %" PRIu64 ", thread table full: %" PRIu64
			", of a process gone under a reused PID: %" PRIu64 "); raise --ringbuf-kb\n",
			lost, s->counters[GC_CNT_DROPPED], s->counters[GC_CNT_TOO_DEEP],
			s->counters[GC_CNT_NO_THREAD_SLOT], s->counters[GC_CNT_UNATTRIBUTED]);
	if (s->http && s->http_dropped)
		fprintf(out, "\nWARNING: %" PRIu64 " socket events lost: some requests may be "
			"missing or cut short\n", s->http_dropped);
	if (s->http)
		report_text_unassembled(out, &s->http_unassembled);
	if (s->http && s->http_non_http)
		fprintf(out, "note: %" PRIu64 " connection%s carried no HTTP/1.x request, "
			"ignored\n", s->http_non_http, s->http_non_http == 1 ? "" : "s");
	if (s->http && s->http_bad_length)
		fprintf(out, "note: %" PRIu64 " request%s had a Content-Length no body can have; "
			"their body was not skipped\n", s->http_bad_length,
			s->http_bad_length == 1 ? "" : "s");
	if (s->counters[GC_CNT_UNMATCHED_DONE])
		fprintf(out, "note: %" PRIu64 " collection%s already under way at attach, not "
			"counted\n", s->counters[GC_CNT_UNMATCHED_DONE],
			s->counters[GC_CNT_UNMATCHED_DONE] == 1 ? " was" : "s were");
	if (s->counters[GC_CNT_NOT_COLLECTED])
		fprintf(out, "note: %" PRIu64 " call%s to the collection function returned without "
			"collecting (another collection was running), not counted\n",
			s->counters[GC_CNT_NOT_COLLECTED],
			s->counters[GC_CNT_NOT_COLLECTED] == 1 ? "" : "s");
	if (s->counters[GC_CNT_ARG_FAIL])
		fprintf(out, "note: %" PRIu64 " probe arguments or target reads failed (generation "
			"or collected shown as -1)\n", s->counters[GC_CNT_ARG_FAIL]);
	fflush(out);
}
