// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gcpause diff BEFORE AFTER: two recordings compared per service, per generation and for
 * requests, each change with a confidence.
 *
 * The confidence comes from the recordings' own variation: each is cut into slices (its
 * report intervals, at least 5 and at most 30, else 10 equal ones), every figure is computed per
 * slice, and the change is set against the standard errors of the two slice means
 * (z = change / sqrt(se_before^2 + se_after^2)): "high" for |z| >= 3, "medium" for >= 2,
 * "low" below. The figures themselves are over each whole recording.
 */
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
#include "cause/service_stats.h"

#define MIN_SLICES	5
#define MAX_SLICES	30
#define DEFAULT_SLICES	10
/* A change is reported as one only if it is at least this large, relatively. */
#define MATERIAL	0.05

static int slices_of(const struct recording *r)
{
	if (r->nintervals >= MIN_SLICES)
		return r->nintervals > MAX_SLICES ? MAX_SLICES : r->nintervals;
	return DEFAULT_SLICES;
}

/* Mean's standard error of each metric over the recording's slices. */
static void slice_errors(const struct recording *r, const char *comm, double se[M_COUNT])
{
	int k = slices_of(r), i, m;
	uint64_t w = (r->end_ns - r->start_ns) / k;
	double sum[M_COUNT] = {}, sq[M_COUNT] = {}, v[M_COUNT];
	int n[M_COUNT] = {};

	for (i = 0; i < k; i++) {
		service_metrics(r, comm, r->start_ns + i * w, r->start_ns + (i + 1) * w, false, v);
		for (m = 0; m < M_COUNT; m++) {
			if (isnan(v[m]))
				continue;
			sum[m] += v[m];
			sq[m] += v[m] * v[m];
			n[m]++;
		}
	}
	for (m = 0; m < M_COUNT; m++) {
		double mean, var;

		if (n[m] < 2) {
			se[m] = NAN;
			continue;
		}
		mean = sum[m] / n[m];
		var = (sq[m] - n[m] * mean * mean) / (n[m] - 1);
		se[m] = sqrt(var > 0 ? var : 0) / sqrt(n[m]);
	}
}

void diff_compare(const struct recording *before, const struct recording *after,
		  const char *comm, struct diff_result *d)
{
	double se_b[M_COUNT], se_a[M_COUNT];
	int m;

	memset(d, 0, sizeof(*d));
	snprintf(d->service, sizeof(d->service), "%s", comm);
	d->procs_before = service_processes(before, comm);
	d->procs_after = service_processes(after, comm);
	service_metrics(before, comm, before->start_ns, before->end_ns, true, d->before);
	service_metrics(after, comm, after->start_ns, after->end_ns, true, d->after);
	service_state(before, comm, &d->state_before);
	service_state(after, comm, &d->state_after);
	slice_errors(before, comm, se_b);
	slice_errors(after, comm, se_a);
	for (m = 0; m < M_COUNT; m++) {
		double change = d->after[m] - d->before[m];
		double se = sqrt(se_b[m] * se_b[m] + se_a[m] * se_a[m]);

		d->ci95[m] = 1.96 * se;
		if (isnan(change) || isnan(se)) {
			d->confidence[m] = CONF_NONE;
			d->z[m] = NAN;
		} else {
			d->z[m] = se > 0 ? fabs(change) / se : change ? INFINITY : 0;
			d->confidence[m] = d->z[m] >= 3 ? CONF_HIGH : d->z[m] >= 2 ? CONF_MEDIUM :
					   CONF_LOW;
		}
	}
}

const char *diff_confidence_name(enum confidence c)
{
	static const char *const names[] = { "n/a", "low", "medium", "high" };

	return names[c];
}

/* +1 better, -1 worse, 0 no material change or not confident. */
int diff_direction(const struct diff_result *d, int m)
{
	struct metric_info mi;
	double rel;

	if (d->confidence[m] < CONF_MEDIUM || !d->before[m])
		return 0;
	rel = (d->after[m] - d->before[m]) / fabs(d->before[m]);
	if (fabs(rel) < MATERIAL)
		return 0;
	metric_describe(m, &mi);
	return (rel > 0) == mi.higher_is_better ? 1 : -1;
}

void diff_format_value(char *buf, size_t len, int m, double v)
{
	struct metric_info mi;

	metric_describe(m, &mi);
	if (isnan(v)) {
		snprintf(buf, len, "-");
		return;
	}
	switch (mi.unit) {
	case U_NS:
		fmt_duration(buf, len, (uint64_t)llround(v));
		break;
	case U_FRACTION:
		fmt_percent(buf, len, v);
		break;
	case U_RATE:
		snprintf(buf, len, "%.1f", v);
		break;
	case U_COUNT:
		snprintf(buf, len, "%.0f", v);
		break;
	}
}

static void describe_change(char *buf, size_t len, const struct diff_result *d, int m)
{
	char a[32], b[32];
	struct metric_info mi;

	metric_describe(m, &mi);
	diff_format_value(a, sizeof(a), m, d->before[m]);
	diff_format_value(b, sizeof(b), m, d->after[m]);
	snprintf(buf, len, "%s %s -> %s (%+.0f%%)", mi.name, a, b,
		 100 * (d->after[m] - d->before[m]) / fabs(d->before[m]));
}

/* The figures a verdict weighs, most important first. */
static const int key_with_requests[] = {
	M_REQ_MAX, M_REQ_P99, M_RPS, M_REQ_P50, M_SHARE_WALL,
	M_GEN_BASE + 2 * M_GEN_COUNT + M_GEN_MAX, M_GEN_BASE + M_GEN_P50,
};
static const int key_without_requests[] = {
	M_SHARE_WALL, M_ALL_MAX, M_ALL_P99, M_GEN_BASE + 2 * M_GEN_COUNT + M_GEN_MAX,
	M_GEN_BASE + M_GEN_P50,
};

void diff_verdict(const struct diff_result *d, char *buf, size_t len)
{
	bool reqs = !isnan(d->before[M_RPS]) && !isnan(d->after[M_RPS]);
	const int *keys = reqs ? key_with_requests : key_without_requests;
	int nkeys = reqs ? sizeof(key_with_requests) / sizeof(int) :
			   sizeof(key_without_requests) / sizeof(int);
	char better[512] = "", worse[512] = "", one[160];
	int i, nb = 0, nw = 0, dir;

	for (i = 0; i < nkeys; i++) {
		dir = diff_direction(d, keys[i]);
		if (!dir)
			continue;
		describe_change(one, sizeof(one), d, keys[i]);
		if (dir > 0 && nb++ < 3)
			snprintf(better + strlen(better), sizeof(better) - strlen(better), "%s%s",
				 nb > 1 ? ", " : "", one);
		else if (dir < 0 && nw++ < 3)
			snprintf(worse + strlen(worse), sizeof(worse) - strlen(worse), "%s%s",
				 nw > 1 ? ", " : "", one);
	}
	if (nb && nw)
		snprintf(buf, len, "MIXED: better %s; but worse %s", better, worse);
	else if (nb)
		snprintf(buf, len, "BETTER: %s", better);
	else if (nw)
		snprintf(buf, len, "WORSE: %s", worse);
	else
		snprintf(buf, len, "NO CLEAR CHANGE: no key figure moved by %.0f%% or more with "
			 "medium or high confidence", MATERIAL * 100);
}
