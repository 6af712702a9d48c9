// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* gcpause advise RECORDING [--json]: the command, its text and its JSON. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cause/advise.h"
#include "cause/cause.h"
#include "util/format.h"
#include "util/messages.h"

#define MAX_SERVICES	16

static const char advise_usage[] =
"usage: gcpause advise RECORDING [--json]\n"
"\n"
"Options for each service's GC settings (gc.freeze(), gc.set_threshold(), gc.disable()), each\n"
"with its effects predicted by a model fitted to the recording's own pauses, and a 95% band.\n";

static const char *const figure_names[AF_COUNT] = {
	[AF_SHARE] = "GC share of wall time",
	[AF_RATE0] = "gen 0 collections/s",
	[AF_RATE1] = "gen 1 collections/s",
	[AF_RATE2] = "gen 2 collections/s",
	[AF_P50_0] = "gen 0 pause p50",
	[AF_P50_1] = "gen 1 pause p50",
	[AF_P50_2] = "gen 2 pause p50",
	[AF_MAX2] = "gen 2 pause max",
	[AF_GEN0_PER_1K] = "gen 0 collections per 1,000 requests",
	[AF_HIT2] = "requests hit by a gen-2 collection",
};

/* The figures' names in JSON. */
static const char *advice_figure_name(enum advice_figure f)
{
	return figure_names[f];
}

/* The figures one line of an option shows, in order. */
static const enum advice_figure shown[] = {
	AF_SHARE, AF_P50_2, AF_P50_0, AF_RATE0, AF_RATE2, AF_HIT2,
};

static void format(char *buf, size_t len, enum advice_figure f, double v)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (f == AF_SHARE || f == AF_HIT2)
		fmt_percent(buf, len, v);
	else if (f >= AF_P50_0 && f <= AF_MAX2)
		fmt_duration(buf, len, (uint64_t)llround(v));
	else
		snprintf(buf, len, v >= 100 ? "%.0f" : v >= 1 ? "%.1f" : "%.3f", v);
}

static const char *short_name(enum advice_figure f)
{
	static const char *const names[AF_COUNT] = {
		[AF_SHARE] = "GC share", [AF_RATE0] = "gen0/s", [AF_RATE1] = "gen1/s",
		[AF_RATE2] = "gen2/s", [AF_P50_0] = "gen0 p50", [AF_P50_1] = "gen1 p50",
		[AF_P50_2] = "gen2 p50", [AF_MAX2] = "gen2 max", [AF_GEN0_PER_1K] = "gen0/1k req",
		[AF_HIT2] = "req hit by gen2",
	};

	return names[f];
}

/* "gen2 p50 87.0ms -> 8.1ms (4.6ms-14.2ms)": now, predicted, and the 95% band. */
static void print_figure(FILE *out, const struct advice *a, const struct advice_option *o,
			 enum advice_figure f)
{
	char now[32], v[32], lo[32], hi[32];

	if (isnan(a->observed[f]) && isnan(o->p[f].v))
		return;
	format(now, sizeof(now), f, a->observed[f]);
	format(v, sizeof(v), f, o->p[f].v);
	format(lo, sizeof(lo), f, o->p[f].lo);
	format(hi, sizeof(hi), f, o->p[f].hi);
	if (isnan(o->p[f].v))
		fprintf(out, "    %-16s %10s -> %-10s\n", short_name(f), now, "none");
	else if (o->p[f].wide)
		fprintf(out, "    %-16s %10s -> %-10s (too uncertain: %s to %s)\n", short_name(f),
			now, v, lo, hi);
	else
		fprintf(out, "    %-16s %10s -> %-10s (%s to %s)\n", short_name(f), now, v, lo, hi);
}

static void print_option(FILE *out, const struct advice *a, int i)
{
	const struct advice_option *o = &a->opt[i];
	size_t k;

	fprintf(out, "\n  %s%s: %s\n", o->name, i == a->best ? " (recommended)" : "",
		o->code[0] ? o->code : "no change");
	if (o->note[0])
		fprintf(out, "    %s\n", o->note);
	if (o->disable && !o->fits)
		return;		/* its figures would be far outside what was seen */
	for (k = 0; k < sizeof(shown) / sizeof(shown[0]); k++)
		print_figure(out, a, o, shown[k]);
	if (a->requests)
		print_figure(out, a, o, AF_GEN0_PER_1K);
}

/* "130ms -> 4.49ms (787µs to 25.6ms)": now, predicted, its band, and whether it is usable. */
static void change(char *buf, size_t len, const struct advice *a, const struct advice_option *o,
		   enum advice_figure f)
{
	char now[32], v[32], lo[32], hi[32];

	format(now, sizeof(now), f, a->observed[f]);
	format(v, sizeof(v), f, o->p[f].v);
	format(lo, sizeof(lo), f, o->p[f].lo);
	format(hi, sizeof(hi), f, o->p[f].hi);
	snprintf(buf, len, "%s -> %s (%s to %s%s)", now, v, lo, hi, o->p[f].wide ?
		 ": too uncertain" : "");
}

/* The recommendation first, then what a freeze with a larger threshold would trade. */
static void print_summary(FILE *out, const struct advice *a)
{
	const struct advice_option *b = &a->opt[a->best];
	char x[160], y[160];
	int i;

	if (!a->best) {
		fprintf(out, "\nrecommended: no change: no option shortens the pauses a request "
			"meets without more GC time\n");
		return;
	}
	fprintf(out, "\nrecommended: %s: %s\n", b->name, b->code);
	change(x, sizeof(x), a, b, AF_P50_2);
	fprintf(out, "  gen-2 pause p50 %s\n", x);
	change(x, sizeof(x), a, b, AF_SHARE);
	change(y, sizeof(y), a, b, AF_P50_0);
	fprintf(out, "  GC share %s; gen-0 pause p50 %s\n", x, y);
	for (i = 1; i < a->nopt; i++) {
		const struct advice_option *o = &a->opt[i];

		if (i == a->best || !o->freeze || o->threshold0 == a->threshold[0] ||
		    o->p[AF_P50_0].v < 2 * b->p[AF_P50_0].v)
			continue;
		change(x, sizeof(x), a, o, AF_P50_2);
		change(y, sizeof(y), a, o, AF_P50_0);
		fprintf(out, "  the trade-off of %s: gen-0 pause p50 %s\n    for gen-2 pause "
			"p50 %s\n", o->name, y, x);
	}
}

static void print_text(FILE *out, const struct recording *r, const struct advice *a, int n)
{
	char c1[FMT_COUNT_LEN], c2[FMT_COUNT_LEN], c3[FMT_COUNT_LEN], c4[FMT_COUNT_LEN];
	int i, j;

	fprintf(out, "gcpause advise: %s (%.1f s)\n", r->path, (r->end_ns - r->start_ns) / 1e9);
	for (i = 0; i < n; i++) {
		const struct advice *s = &a[i];
		const struct pause_fit *f = &s->fit;

		fprintf(out, "\n=== service %s: %d process%s, %d collecting; threshold "
			"%d/%d/%d ===\n",
			s->service, s->processes, s->processes == 1 ? "" : "es", s->workers,
			s->threshold[0], s->threshold[1], s->threshold[2]);
		print_summary(out, s);
		fprintf(out, "\n  model, per worker: pause = %.3gns x scanned^%.2f over %zu "
			"per-second medians, residual x/%.2f%s\n",
			exp(f->ln_c), f->k, f->n, exp(f->s_res), f->ok ? "" :
			"; one scan size only: slope assumed 1");
		fprintf(out, "  a gen-0 collection scans %s objects (%s survive it), a gen-2 %s; "
			"gen 2 grew by %s\n", fmt_count(c1, sizeof(c1), llround(s->young0)),
			fmt_count(c2, sizeof(c2), llround(s->survivors0)),
			isnan(s->scan2) ? "-" : fmt_count(c3, sizeof(c3), llround(s->scan2)),
			fmt_count(c4, sizeof(c4), llround(s->young_old)));
		fprintf(out, "  each option: figure, now -> predicted (95%% band)\n");
		for (j = 0; j < s->nopt; j++)
			print_option(out, s, j);
	}
}

static struct json_object *num(double v)
{
	return isnan(v) || isinf(v) ? NULL : json_object_new_double(v);
}

static struct json_object *option_json(const struct advice *a, int i)
{
	const struct advice_option *o = &a->opt[i];
	struct json_object *j = json_object_new_object(), *figs = json_object_new_object();
	int f;

	json_object_object_add(j, "name", json_object_new_string(o->name));
	json_object_object_add(j, "code", json_object_new_string(o->code));
	json_object_object_add(j, "note", json_object_new_string(o->note));
	json_object_object_add(j, "freeze", json_object_new_boolean(o->freeze));
	json_object_object_add(j, "disable", json_object_new_boolean(o->disable));
	json_object_object_add(j, "threshold0", json_object_new_int(o->threshold0));
	json_object_object_add(j, "recommended", json_object_new_boolean(i == a->best));
	if (o->disable) {
		json_object_object_add(j, "period_s", json_object_new_double(o->period_s));
		json_object_object_add(j, "fits", json_object_new_boolean(o->fits));
	}
	for (f = 0; f < AF_COUNT; f++) {
		struct json_object *p = json_object_new_object();

		json_object_object_add(p, "now", num(a->observed[f]));
		json_object_object_add(p, "predicted", num(o->p[f].v));
		json_object_object_add(p, "lo95", num(o->p[f].lo));
		json_object_object_add(p, "hi95", num(o->p[f].hi));
		if (!isnan(o->p[f].v))
			json_object_object_add(p, "too_uncertain",
					       json_object_new_boolean(o->p[f].wide));
		json_object_object_add(figs, advice_figure_name(f), p);
	}
	json_object_object_add(j, "figures", figs);
	return j;
}

static void print_json(FILE *out, const struct advice *a, int n)
{
	struct json_object *root = json_object_new_object(), *svcs = json_object_new_array();
	int i, j, g;

	json_object_object_add(root, "type", json_object_new_string("advise"));
	for (i = 0; i < n; i++) {
		const struct advice *s = &a[i];
		struct json_object *o = json_object_new_object(), *m = json_object_new_object(),
				   *opts = json_object_new_array(), *t = json_object_new_array();

		json_object_object_add(o, "service", json_object_new_string(s->service));
		json_object_object_add(o, "processes", json_object_new_int(s->processes));
		json_object_object_add(o, "workers", json_object_new_int(s->workers));
		json_object_object_add(o, "requests", json_object_new_double(s->requests));
		json_object_object_add(o, "seconds", json_object_new_double(s->secs));
		for (g = 0; g < REC_GENS; g++)
			json_object_array_add(t, json_object_new_int(s->threshold[g]));
		json_object_object_add(o, "threshold", t);
		json_object_object_add(o, "heap_in_master",
				       json_object_new_boolean(s->heap_in_master));
		json_object_object_add(m, "points", json_object_new_int64(s->fit.n));
		json_object_object_add(m, "fitted", json_object_new_boolean(s->fit.ok));
		json_object_object_add(m, "c_ns", num(exp(s->fit.ln_c)));
		json_object_object_add(m, "k", num(s->fit.k));
		json_object_object_add(m, "residual_sigma_ln", num(s->fit.s_res));
		json_object_object_add(m, "gen0_scan", num(s->young0));
		json_object_object_add(m, "gen0_survivors", num(s->survivors0));
		json_object_object_add(m, "gen2_scan", num(s->scan2));
		json_object_object_add(m, "gen2_growth", num(s->young_old));
		json_object_object_add(m, "gen2_pending_limit", num(s->pending_limit));
		json_object_object_add(m, "garbage_per_s_worker", num(s->garbage_per_s));
		json_object_object_add(o, "model", m);
		for (j = 0; j < s->nopt; j++)
			json_object_array_add(opts, option_json(s, j));
		json_object_object_add(o, "options", opts);
		json_object_object_add(o, "recommended",
				       json_object_new_string(s->opt[s->best].name));
		json_object_array_add(svcs, o);
	}
	json_object_object_add(root, "services", svcs);
	fprintf(out, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
}

int cause_advise_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct advice *a = NULL;
	struct recording r;
	char err[512];
	bool json = false;
	int c, n = 0, ret = 0;
	size_t i;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(advise_usage, stdout);
			return 0;
		default:
			msg_error("advise: unknown option '%s' (see gcpause advise --help)",
				  argv[optind - 1]);
			return 2;
		}
	}
	if (argc - optind != 1) {
		msg_error("advise needs one recording: gcpause advise RECORDING");
		return 2;
	}
	if (recording_load(argv[optind], &r, err, sizeof(err))) {
		msg_error("%s", err);
		return 1;
	}
	a = calloc(MAX_SERVICES, sizeof(*a));
	for (i = 0; a && i < r.nprocs && n < MAX_SERVICES; i++) {
		int j, e;

		for (j = 0; j < n; j++)
			if (!strcmp(a[j].service, r.procs[i].comm))
				break;
		if (j < n || !r.procs[i].comm[0])
			continue;
		e = advise_service(&r, r.procs[i].comm, &a[n]);
		if (e == -ENOMEM)
			break;
		n += !e;	/* one that never collected, or without GC state, is left out */
	}
	if (!a || i < r.nprocs) {
		msg_error("out of memory");
		ret = 1;
	} else if (!n) {
		msg_error("%s: no service with collections and GC state to advise on (recorded "
			  "with --no-gc-state, or too short?)", r.path);
		ret = 1;
	} else if (json) {
		print_json(stdout, a, n);
	} else {
		print_text(stdout, &r, a, n);
	}
	free(a);
	recording_free(&r);
	return ret;
}
