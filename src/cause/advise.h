/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * gcpause advise: options for one service's GC settings, each with effects predicted from a
 * model fitted to the service's own collections (cause/gc_model.h), and their errors.
 */
#ifndef GCPAUSE_CAUSE_ADVISE_H
#define GCPAUSE_CAUSE_ADVISE_H

#include <stdbool.h>
#include "cause/gc_model.h"
#include "cause/recording.h"

/* A predicted figure: v, and its 95% band [lo, hi]; v NaN when not predicted. */
struct prediction {
	double v, lo, hi;
	bool wide;	/* the band's half-width exceeds the value: not a usable prediction */
};

enum advice_figure {
	AF_SHARE,		/* GC share of wall time */
	AF_RATE0, AF_RATE1, AF_RATE2,	/* collections/s, the pool summed */
	AF_P50_0, AF_P50_1, AF_P50_2,	/* pause p50 (ns) */
	AF_MAX2,		/* gen-2 pause max (ns) */
	AF_GEN0_PER_1K,		/* gen-0 collections per 1,000 requests */
	AF_HIT2,		/* share of requests a gen-2 collection overlapped */
	AF_COUNT,
};

#define ADVICE_OPTIONS	8

struct advice_option {
	char name[48];		/* "freeze + threshold 50000" */
	char code[160];		/* what to run in the process */
	bool freeze, disable;
	int threshold0;
	double period_s;	/* disable: a full collection every period_s */
	bool fits;		/* disable: whether it suits this service */
	char note[200];
	struct prediction p[AF_COUNT];
};

struct advice {
	char service[32];
	int processes, workers;		/* workers: the processes that collect */
	bool heap_in_master;		/* an idle process holds a heap like the workers' */
	double secs, requests;
	int threshold[REC_GENS];
	double observed[AF_COUNT];
	/* The model's inputs, measured. */
	struct pause_fit fit;
	double young0;		/* objects a gen-0 collection scans: collected + survivors */
	double survivors0;	/* per gen-0 collection, into gen 1 */
	double young_old;	/* gen 2 grew by this: scanned once the rest is frozen */
	double pending_limit;	/* 3.8-3.13: long_lived_total / 4, what pending must pass */
	double scan2;		/* objects a gen-2 collection scans now */
	double rate0_sigma;	/* ln: gen-0 collection rate's own spread */
	double garbage_per_s;	/* cyclic garbage found per second and worker */
	double tracked;		/* objects a worker tracks (its exact readings' mean) */
	int nopt, best;
	struct advice_option opt[ADVICE_OPTIONS];
};

/* The advice for the processes named comm. 0, or -ENODATA when they never collected. */
int advise_service(const struct recording *r, const char *comm, struct advice *a);

#endif /* GCPAUSE_CAUSE_ADVISE_H */
