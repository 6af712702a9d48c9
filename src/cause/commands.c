// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* gcpause diff BEFORE AFTER [--json] [--html OUT.html]: the command. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cause/cause.h"
#include "cause/diff.h"
#include "util/format.h"
#include "util/messages.h"
#include "cause/html.h"

#define MAX_SERVICES	16

static const char diff_usage[] =
"usage: gcpause diff BEFORE AFTER [--json] [--html OUT.html]\n"
"\n"
"Compares two recordings (gcpause --record FILE, or --json output) per service (processes\n"
"with one command name, a worker pool summed), per generation and for requests. Each change\n"
"has a confidence from the recordings' own interval-to-interval variation.\n";

/* Command names of the processes that collected or served, in order of first appearance. */
static int services_of(const struct recording *r, char names[][32], int n, int max)
{
	size_t i;
	int j;

	for (i = 0; i < r->nprocs && n < max; i++) {
		if (!r->procs[i].comm[0])
			continue;
		for (j = 0; j < n; j++)
			if (!strcmp(names[j], r->procs[i].comm))
				break;
		if (j == n)
			snprintf(names[n++], 32, "%s", r->procs[i].comm);
	}
	return n;
}

static void thresholds(char *buf, size_t len, const struct service_state *s)
{
	if (!s->processes)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%d/%d/%d%s", s->threshold[0], s->threshold[1],
			 s->threshold[2], s->thresholds_differ ? "*" : "");
}

static void print_state(FILE *out, const struct diff_result *d)
{
	const struct service_state *b = &d->state_before, *a = &d->state_after;
	char tb[64], ta[64], cb[FMT_COUNT_LEN], ca[FMT_COUNT_LEN];
	int g;

	if (!b->processes && !a->processes) {
		fprintf(out, "  GC state: not in these recordings (--no-gc-state?)\n");
		return;
	}
	fprintf(out, "  %-34s %14s %14s\n", "GC state (last read, summed)", "before", "after");
	thresholds(tb, sizeof(tb), b);
	thresholds(ta, sizeof(ta), a);
	fprintf(out, "  %-34s %14s %14s%s\n", "threshold", tb, ta, strcmp(tb, ta) ? "  changed" :
		"");
	if (b->thresholds_differ || a->thresholds_differ)
		fprintf(out, "  %-34s %s\n", "", "* the largest: the processes differ (a "
			"master that never ran the app, say)");
	fprintf(out, "  %-34s %14d %14d%s\n", "processes with GC disabled", b->disabled,
		a->disabled, b->disabled != a->disabled ? "  changed" : "");
	fprintf(out, "  %-34s %14s %14s%s\n", "frozen objects",
		fmt_count(cb, sizeof(cb), b->frozen), fmt_count(ca, sizeof(ca), a->frozen),
		b->frozen != a->frozen ? "  changed" : "");
	for (g = 0; g < REC_GENS; g++) {
		char name[40];

		snprintf(name, sizeof(name), "objects tracked in gen %d", g);
		fprintf(out, "  %-34s %14s %14s\n", name, fmt_count(cb, sizeof(cb), b->tracked[g]),
			fmt_count(ca, sizeof(ca), a->tracked[g]));
	}
}

static void print_metric(FILE *out, const struct diff_result *d, int m)
{
	char b[32], a[32], ci[32], change[32];
	struct metric_info mi;
	int dir = diff_direction(d, m);

	if (isnan(d->before[m]) && isnan(d->after[m]))
		return;
	metric_describe(m, &mi);
	diff_format_value(b, sizeof(b), m, d->before[m]);
	diff_format_value(a, sizeof(a), m, d->after[m]);
	if (isnan(d->before[m]) || isnan(d->after[m]) || !d->before[m])
		snprintf(change, sizeof(change), "-");
	else
		snprintf(change, sizeof(change), "%+.1f%%",
			 100 * (d->after[m] - d->before[m]) / fabs(d->before[m]));
	if (isnan(d->ci95[m]))
		snprintf(ci, sizeof(ci), "-");
	else
		diff_format_value(ci, sizeof(ci), m, d->ci95[m]);
	fprintf(out, "  %-34s %14s %14s %9s  ±%-9s %-6s%s\n", mi.name, b, a, change, ci,
		diff_confidence_name(d->confidence[m]), dir > 0 ? "  better" : dir < 0 ?
		"  WORSE" : "");
}

static void print_text(FILE *out, const struct recording *b, const struct recording *a,
		       const struct diff_result *d, int n)
{
	char verdict[1200];
	int i, m;

	fprintf(out, "gcpause diff: before %s (%.1f s), after %s (%.1f s)\n", b->path,
		(b->end_ns - b->start_ns) / 1e9, a->path, (a->end_ns - a->start_ns) / 1e9);
	for (i = 0; i < n; i++) {
		diff_verdict(&d[i], verdict, sizeof(verdict));
		fprintf(out, "\nverdict for %s: %s\n", d[i].service, verdict);
	}
	for (i = 0; i < n; i++) {
		fprintf(out, "\n=== service %s: %d process%s before, %d after ===\n", d[i].service,
			d[i].procs_before, d[i].procs_before == 1 ? "" : "es", d[i].procs_after);
		print_state(out, &d[i]);
		fprintf(out, "\n  %-34s %14s %14s %9s  %-10s %s\n", "figure", "before", "after",
			"change", "±95%", "confidence");
		for (m = 0; m < M_GEN_BASE; m++)
			print_metric(out, &d[i], m);
		for (m = M_GEN_BASE; m < M_COUNT; m++) {
			if ((m - M_GEN_BASE) % M_GEN_COUNT == 0)
				fputc('\n', out);
			print_metric(out, &d[i], m);
		}
	}
}

static struct json_object *num(double v)
{
	return isnan(v) || isinf(v) ? NULL : json_object_new_double(v);
}

static struct json_object *state_json(const struct service_state *s)
{
	struct json_object *o = json_object_new_object(), *t = json_object_new_array(),
			   *tr = json_object_new_array();
	int g;

	json_object_object_add(o, "processes", json_object_new_int(s->processes));
	json_object_object_add(o, "disabled", json_object_new_int(s->disabled));
	json_object_object_add(o, "frozen", json_object_new_int64(s->frozen));
	for (g = 0; g < REC_GENS; g++) {
		json_object_array_add(t, json_object_new_int(s->threshold[g]));
		json_object_array_add(tr, json_object_new_int64(s->tracked[g]));
	}
	json_object_object_add(o, "threshold", t);
	json_object_object_add(o, "tracked", tr);
	return o;
}

static void print_json(FILE *out, const struct diff_result *d, int n)
{
	struct json_object *root = json_object_new_object(), *svcs = json_object_new_array();
	char verdict[1200];
	int i, m;

	json_object_object_add(root, "type", json_object_new_string("diff"));
	for (i = 0; i < n; i++) {
		struct json_object *s = json_object_new_object(), *figs = json_object_new_array();

		diff_verdict(&d[i], verdict, sizeof(verdict));
		json_object_object_add(s, "service", json_object_new_string(d[i].service));
		json_object_object_add(s, "verdict", json_object_new_string(verdict));
		json_object_object_add(s, "processes_before",
				       json_object_new_int(d[i].procs_before));
		json_object_object_add(s, "processes_after", json_object_new_int(d[i].procs_after));
		json_object_object_add(s, "state_before", state_json(&d[i].state_before));
		json_object_object_add(s, "state_after", state_json(&d[i].state_after));
		for (m = 0; m < M_COUNT; m++) {
			struct json_object *f = json_object_new_object();
			struct metric_info mi;

			metric_describe(m, &mi);
			json_object_object_add(f, "name", json_object_new_string(mi.name));
			json_object_object_add(f, "before", num(d[i].before[m]));
			json_object_object_add(f, "after", num(d[i].after[m]));
			json_object_object_add(f, "ci95", num(d[i].ci95[m]));
			json_object_object_add(f, "confidence", json_object_new_string(
				diff_confidence_name(d[i].confidence[m])));
			json_object_object_add(f, "direction",
					       json_object_new_int(diff_direction(&d[i], m)));
			json_object_array_add(figs, f);
		}
		json_object_object_add(s, "figures", figs);
		json_object_array_add(svcs, s);
	}
	json_object_object_add(root, "services", svcs);
	fprintf(out, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
}

int cause_diff_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "html", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	char names[MAX_SERVICES][32], err[512];
	struct recording before, after;
	struct diff_result *d;
	const char *html = NULL;
	bool json = false;
	int c, n = 0, i, ret;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'H':
			html = optarg;
			break;
		case 'h':
			fputs(diff_usage, stdout);
			return 0;
		default:
			msg_error("diff: unknown option '%s' (see gcpause diff --help)",
				  argv[optind - 1]);
			return 2;
		}
	}
	if (argc - optind != 2) {
		msg_error("diff needs two recordings: gcpause diff BEFORE AFTER");
		return 2;
	}
	if (recording_load(argv[optind], &before, err, sizeof(err))) {
		msg_error("%s", err);
		return 1;
	}
	if (recording_load(argv[optind + 1], &after, err, sizeof(err))) {
		msg_error("%s", err);
		recording_free(&before);
		return 1;
	}
	n = services_of(&before, names, 0, MAX_SERVICES);
	n = services_of(&after, names, n, MAX_SERVICES);
	d = calloc(n ? n : 1, sizeof(*d));
	ret = d ? 0 : 1;
	for (i = 0; d && i < n; i++)
		diff_compare(&before, &after, names[i], &d[i]);
	if (d && !n) {
		msg_error("the recordings hold no traced process");
		ret = 1;
	} else if (d) {
		if (json)
			print_json(stdout, d, n);
		else
			print_text(stdout, &before, &after, d, n);
		if (html && report_html_write(html, &after, &before, err, sizeof(err))) {
			msg_error("%s", err);
			ret = 1;
		}
	}
	free(d);
	recording_free(&before);
	recording_free(&after);
	return ret;
}
