// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gcpause report RECORDING: a self-contained HTML page of a recording (inline SVG: no script, no
 * style sheet or font fetched, nothing but the file), and the command that writes it and the
 * Chrome trace. With a second recording (--before, or gcpause diff --html) the two are
 * overlaid: histograms side by side, timelines one above the other on one scale, heap lines in
 * two colours.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cause/cause.h"
#include "cause/diff.h"
#include "util/format.h"
#include "util/messages.h"
#include "cause/html.h"
#include "cause/service_stats.h"
#include "cause/triggers.h"

#define W		900
#define H		220
#define PAD_L		70
#define PAD_B		30
#define PAD_T		14
#define HIST_LO_NS	1000.0		/* histogram bins: 1 µs ... */
#define HIST_BINS	28		/* ... doubling 28 times: to 2.7 minutes */
#define COLUMNS		(W - PAD_L - 10)

static const char *const side_colour[2] = { "#d95f02", "#1b6ac9" };	/* after, before */
static const char *const gen_colour[REC_GENS] = { "#66a61e", "#e6ab02", "#d7191c" };

static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static void axis_label(FILE *f, double x, double y, const char *anchor, const char *text)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"%s\">", x, y,
		anchor);
	esc(f, text);
	fputs("</text>\n", f);
}

static int bin_of(uint64_t ns)
{
	int b = ns <= HIST_LO_NS ? 0 : (int)floor(log2(ns / HIST_LO_NS));

	return b >= HIST_BINS ? HIST_BINS - 1 : b;
}

/* Pauses of generation gen per bin, for one recording. */
static void gen_hist(const struct recording *r, int gen, uint64_t bins[HIST_BINS])
{
	size_t i;

	memset(bins, 0, HIST_BINS * sizeof(*bins));
	for (i = 0; i < r->ngcs; i++)
		if (r->gcs[i].gen == gen || (gen == REC_GENS - 1 && r->gcs[i].gen > gen))
			bins[bin_of(r->gcs[i].dur_ns)]++;
}

static void histogram(FILE *f, const struct recording *r, const struct recording *before,
		      int gen)
{
	uint64_t bins[2][HIST_BINS], peak = 1;
	const struct recording *rs[2] = { r, before };
	double bw = (double)COLUMNS / HIST_BINS;
	char lab[32];
	int s, b, sides = before ? 2 : 1;

	for (s = 0; s < sides; s++) {
		gen_hist(rs[s], gen, bins[s]);
		for (b = 0; b < HIST_BINS; b++)
			if (bins[s][b] > peak)
				peak = bins[s][b];
	}
	fprintf(f, "<h3>Generation %d pauses</h3>\n<svg id=\"hist-gen%d\" width=\"%d\" "
		"height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">\n", gen, gen, W, H);
	for (s = 0; s < sides; s++)
		for (b = 0; b < HIST_BINS; b++) {
			double h = bins[s][b] ? (H - PAD_B - PAD_T) *
				   log10(1 + bins[s][b]) / log10(1 + peak) : 0;
			double x = PAD_L + b * bw + (sides == 2 ? (1 - s) * bw / 2 : 0);

			if (!bins[s][b])
				continue;
			fprintf(f, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				"height=\"%.1f\" fill=\"%s\"><title>%s: %llu</title></rect>\n", x,
				H - PAD_B - h, bw / sides - 1, h, side_colour[s],
				s ? "before" : "after", (unsigned long long)bins[s][b]);
		}
	for (b = 0; b <= HIST_BINS; b += 3) {
		fmt_duration(lab, sizeof(lab), (uint64_t)(HIST_LO_NS * pow(2, b)));
		axis_label(f, PAD_L + b * bw, H - PAD_B + 14, "middle", lab);
	}
	snprintf(lab, sizeof(lab), "%llu", (unsigned long long)peak);
	axis_label(f, PAD_L - 6, PAD_T + 10, "end", lab);
	axis_label(f, PAD_L - 6, H - PAD_B, "end", "0");
	axis_label(f, PAD_L - 40, PAD_T + 30, "middle", "count (log)");
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n", PAD_L,
		H - PAD_B, W - 10, H - PAD_B);
	fputs("</svg>\n", f);
}

/* y of a duration on the timeline's log scale, 10 µs to 10 s. */
static double y_of(double ns, int top, int height)
{
	double lo = log10(1e4), hi = log10(1e10), v = log10(ns < 1e4 ? 1e4 : ns > 1e10 ? 1e10 : ns);

	return top + height - (v - lo) / (hi - lo) * height;
}

/*
 * Pauses (per generation) and request latencies against time. Per pixel column only the longest
 * of each kind is drawn: a recording holds 10^5 events, a column shows one anyway.
 */
static void timeline_panel(FILE *f, const struct recording *r, int top, int height,
			   const char *label, double span_ns)
{
	double *colmax = calloc((REC_GENS + 1) * COLUMNS, sizeof(double));
	size_t i;
	int c, k;

	if (!colmax)
		return;
	for (i = 0; i < r->ngcs; i++) {
		const struct rec_gc *g = &r->gcs[i];
		int gen = g->gen < 0 ? 0 : g->gen >= REC_GENS ? REC_GENS - 1 : g->gen;

		c = (int)((g->start_ns - r->start_ns) / span_ns * (COLUMNS - 1));
		if (c >= 0 && c < COLUMNS && g->dur_ns > colmax[gen * COLUMNS + c])
			colmax[gen * COLUMNS + c] = g->dur_ns;
	}
	for (i = 0; i < r->nreqs; i++) {
		const struct rec_req *q = &r->reqs[i];

		c = (int)((q->end_ns - r->start_ns) / span_ns * (COLUMNS - 1));
		if (c >= 0 && c < COLUMNS && q->latency_ns > colmax[REC_GENS * COLUMNS + c])
			colmax[REC_GENS * COLUMNS + c] = q->latency_ns;
	}
	axis_label(f, PAD_L + 4, top + 12, "start", label);
	for (k = REC_GENS; k >= 0; k--)
		for (c = 0; c < COLUMNS; c++) {
			double v = colmax[k * COLUMNS + c];

			if (!v)
				continue;
			if (k == REC_GENS)
				fprintf(f, "<rect class=\"req\" x=\"%d\" y=\"%.1f\" width=\"1\" "
					"height=\"2\" fill=\"#888\"/>\n", PAD_L + c,
					y_of(v, top, height) - 1);
			else
				fprintf(f, "<circle class=\"pause gen%d\" cx=\"%d\" "
					"cy=\"%.1f\" r=\"%d\" fill=\"%s\" fill-opacity=\"0.8\"/>\n",
					k, PAD_L + c, y_of(v, top, height), k + 2, gen_colour[k]);
		}
	for (k = 4; k <= 10; k += 2) {
		char lab[FMT_DURATION_LEN];

		fmt_duration(lab, sizeof(lab), (uint64_t)pow(10, k));
		axis_label(f, PAD_L - 6, y_of(pow(10, k), top, height) + 4, "end", lab);
		double y = y_of(pow(10, k), top, height);

		fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
			PAD_L, W - 10, y, y);
	}
	free(colmax);
}

static double span_of(const struct recording *r, const struct recording *before)
{
	double a = r->end_ns - r->start_ns, b = before ? before->end_ns - before->start_ns : 0;

	return (a > b ? a : b) > 0 ? (a > b ? a : b) : 1;
}

static void time_axis(FILE *f, int y, double span_ns)
{
	char lab[32];
	int t;

	for (t = 0; t <= 10; t++) {
		snprintf(lab, sizeof(lab), "%.1fs", span_ns / 1e9 * t / 10);
		axis_label(f, PAD_L + (COLUMNS - 1) * t / 10.0, y, "middle", lab);
	}
}

static void timeline(FILE *f, const struct recording *r, const struct recording *before)
{
	int panels = before ? 2 : 1, ph = 200, height = panels * (ph + 10) + PAD_B;
	double span = span_of(r, before);

	fprintf(f, "<h2>Pauses and request latencies over time</h2>\n<p>Each dot the longest "
		"pause of its generation in a pixel column (gen 0 green, gen 1 yellow, gen 2 red); "
		"grey ticks the slowest request ending there. Log scale.</p>\n<svg id=\"timeline\" "
		"width=\"%d\" height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">\n", W, height);
	if (before) {
		timeline_panel(f, before, 5, ph, "before", span);
		timeline_panel(f, r, ph + 15, ph, "after", span);
	} else {
		timeline_panel(f, r, 5, ph, "", span);
	}
	time_axis(f, height - 8, span);
	fputs("</svg>\n", f);
}

/* Heap (objects tracked in all generations plus frozen) of one process over time. */
static void heap_lines(FILE *f, const struct recording *r, const char *colour, double span_ns,
		       double peak, const char *side)
{
	size_t i, j;

	for (i = 0; i < r->nprocs; i++) {
		int points = 0;

		for (j = 0; j < r->nstates; j++) {
			const struct rec_state *s = &r->states[j];
			double heap = s->tracked[0] + s->tracked[1] + s->tracked[2] + s->frozen;
			double x = PAD_L + (s->time_ns - r->start_ns) / span_ns * (COLUMNS - 1);
			double y = PAD_T + (H - PAD_B - PAD_T) * (1 - heap / peak);

			if (s->pid != r->procs[i].pid || s->time_ns < r->start_ns)
				continue;
			if (!points++)
				fprintf(f, "<polyline class=\"heap %s\" fill=\"none\" "
					"stroke=\"%s\" stroke-width=\"1.5\" points=\"", side,
					colour);
			fprintf(f, "%.1f,%.1f ", x, y);
		}
		if (points)
			fprintf(f, "\"><title>%s pid %d</title></polyline>\n", side,
				r->procs[i].pid);
	}
}

static double heap_peak(const struct recording *r)
{
	double peak = 0;
	size_t j;

	for (j = 0; r && j < r->nstates; j++) {
		const struct rec_state *s = &r->states[j];
		double heap = s->tracked[0] + s->tracked[1] + s->tracked[2] + s->frozen;

		if (heap > peak)
			peak = heap;
	}
	return peak;
}

static void heap(FILE *f, const struct recording *r, const struct recording *before)
{
	double span = span_of(r, before), peak = heap_peak(r), pb = heap_peak(before);
	char lab[FMT_COUNT_LEN];

	if (pb > peak)
		peak = pb;
	fprintf(f, "<h2>Heap over time</h2>\n<p>Objects the collector tracks (all generations "
		"and the frozen ones) per process, read from its memory at each report and after "
		"each generation-2 collection.%s</p>\n<svg id=\"heap\" width=\"%d\" height=\"%d\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n", before ? " Blue before, orange after." :
		"", W, H);
	if (!peak) {
		axis_label(f, W / 2, H / 2, "middle", "no GC state in this recording");
		fputs("</svg>\n", f);
		return;
	}
	if (before)
		heap_lines(f, before, side_colour[1], span, peak, "before");
	heap_lines(f, r, side_colour[0], span, peak, "after");
	axis_label(f, PAD_L - 6, PAD_T + 10, "end", fmt_count(lab, sizeof(lab), (uint64_t)peak));
	axis_label(f, PAD_L - 6, H - PAD_B, "end", "0");
	time_axis(f, H - 8, span);
	fputs("</svg>\n", f);
}

static void figures(FILE *f, const struct recording *r, const struct recording *before)
{
	char names[16][32];
	int n = 0, i, m;
	size_t p;

	for (p = 0; p < r->nprocs && n < 16; p++) {
		for (i = 0; i < n && strcmp(names[i], r->procs[p].comm); i++)
			;
		if (i == n && r->procs[p].comm[0])
			snprintf(names[n++], 32, "%s", r->procs[p].comm);
	}
	for (i = 0; i < n; i++) {
		struct diff_result d;
		char v[2][32], verdict[1200];

		if (before) {
			diff_compare(before, r, names[i], &d);
			diff_verdict(&d, verdict, sizeof(verdict));
		} else {
			memset(&d, 0, sizeof(d));
			service_metrics(r, names[i], r->start_ns, r->end_ns, true, d.after);
		}
		fprintf(f, "<h2>Service ");
		esc(f, names[i]);
		fprintf(f, " (%d process%s)</h2>\n", service_processes(r, names[i]),
			service_processes(r, names[i]) == 1 ? "" : "es");
		if (before) {
			fputs("<p class=\"verdict\"><b>", f);
			esc(f, verdict);
			fputs("</b></p>\n", f);
		}
		fprintf(f, "<table class=\"figures\"><tr><th>figure</th>%s<th>%s</th>%s</tr>\n",
			before ? "<th>before</th>" : "", before ? "after" : "value",
			before ? "<th>confidence</th>" : "");
		for (m = 0; m < M_COUNT; m++) {
			struct metric_info mi;

			if (isnan(d.after[m]) && (!before || isnan(d.before[m])))
				continue;
			metric_describe(m, &mi);
			diff_format_value(v[0], sizeof(v[0]), m, d.before[m]);
			diff_format_value(v[1], sizeof(v[1]), m, d.after[m]);
			fprintf(f, "<tr><td>%s</td>", mi.name);
			if (before)
				fprintf(f, "<td>%s</td>", v[0]);
			fprintf(f, "<td>%s</td>", v[1]);
			if (before)
				fprintf(f, "<td>%s</td>", diff_confidence_name(d.confidence[m]));
			fputs("</tr>\n", f);
		}
		fputs("</table>\n", f);
	}
}

int report_html_write(const char *path, const struct recording *r,
		      const struct recording *before, char *err, size_t err_len)
{
	FILE *f = fopen(path, "we");
	int g;

	if (!f) {
		snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
		return -errno;
	}
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<title>gcpause report</title>\n<style>body{font-family:sans-serif;margin:20px;"
	      "max-width:960px}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
	      "padding:2px 8px;text-align:right}td:first-child{text-align:left}"
	      "svg{background:#fafafa;border:1px solid #eee}</style></head><body>\n", f);
	fputs("<h1>gcpause report</h1>\n<p id=\"recordings\">", f);
	if (before) {
		fputs("before: ", f);
		esc(f, before->path);
		fprintf(f, " (%.1f s) <span style=\"color:%s\">&#9632;</span>; after: ",
			(before->end_ns - before->start_ns) / 1e9, side_colour[1]);
	}
	esc(f, r->path);
	fprintf(f, " (%.1f s)%s</p>\n", (r->end_ns - r->start_ns) / 1e9, before ?
		" <span style=\"color:#d95f02\">&#9632;</span>" : "");
	figures(f, r, before);
	fputs("<h2>Pause histograms</h2>\n", f);
	for (g = 0; g < REC_GENS; g++)
		histogram(f, r, before, g);
	timeline(f, r, before);
	heap(f, r, before);
	triggers_html(f, r, 0);
	fputs("</body></html>\n", f);
	if (fclose(f)) {
		snprintf(err, err_len, "writing %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

static const char report_usage[] =
"usage: gcpause report RECORDING [--html OUT.html] [--trace OUT.json] [--before RECORDING]\n"
"                               [--slow SEC]\n"
"\n"
"Without --html or --trace: the long pauses (generation 2, or at least --slow SEC), each with\n"
"the thread that collected and the request in flight on it, and their totals by route.\n"
"Pictures of a recording (gcpause --record FILE, or --json output): --html a self-contained\n"
"page (pause histograms per generation, pauses against request latencies over time, the heap\n"
"over time; with --before, the two recordings overlaid); --trace the Chrome trace-event\n"
"format, for Perfetto or chrome://tracing.\n";

int cause_report_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "html", required_argument, NULL, 'H' },
		{ "trace", required_argument, NULL, 'T' },
		{ "before", required_argument, NULL, 'B' },
		{ "slow", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *html = NULL, *trace = NULL, *before_path = NULL;
	uint64_t slow_ns = 0;
	struct recording r, before;
	char err[512];
	int c, ret = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			html = optarg;
			break;
		case 'T':
			trace = optarg;
			break;
		case 'B':
			before_path = optarg;
			break;
		case 'S':
			if (fmt_parse_seconds(optarg, &slow_ns)) {
				msg_error("invalid --slow '%s': expected seconds > 0", optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(report_usage, stdout);
			return 0;
		default:
			msg_error("report: unknown option or missing value '%s' (see gcpause "
				  "report --help)", argv[optind - 1]);
			return 2;
		}
	}
	if (argc - optind != 1) {
		msg_error("usage: gcpause report RECORDING [--html OUT.html] [--trace OUT.json] "
			  "[--slow SEC]");
		return 2;
	}
	if (recording_load(argv[optind], &r, err, sizeof(err))) {
		msg_error("%s", err);
		return 1;
	}
	if (before_path && recording_load(before_path, &before, err, sizeof(err))) {
		msg_error("%s", err);
		recording_free(&r);
		return 1;
	}
	if (!html && !trace)
		triggers_print(stdout, &r, slow_ns);
	if (html && report_html_write(html, &r, before_path ? &before : NULL, err, sizeof(err)))
		ret = 1;
	if (!ret && trace && trace_export_write(trace, &r, err, sizeof(err)))
		ret = 1;
	if (ret)
		msg_error("%s", err);
	recording_free(&r);
	if (before_path)
		recording_free(&before);
	return ret;
}
