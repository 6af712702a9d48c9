/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Figures of one service (the processes of a recording with one command name, a worker pool
 * summed) over a time window: what gcpause diff compares and gcpause report draws.
 */
#ifndef GCPAUSE_CAUSE_SERVICE_STATS_H
#define GCPAUSE_CAUSE_SERVICE_STATS_H

#include <stdbool.h>
#include "cause/recording.h"

enum metric {
	M_RPS, M_REQ_P50, M_REQ_P95, M_REQ_P99, M_REQ_MAX, M_HIT_P99, M_TAIL_GC, M_GC_PER_1K,
	M_GC_NS_PER_1K, M_SHARE_WALL, M_SHARE_CPU, M_ALL_P99, M_ALL_MAX,
	M_GEN_BASE,	/* then per generation: */
	M_GEN_RATE = 0, M_GEN_P50, M_GEN_P95, M_GEN_P99, M_GEN_MAX, M_GEN_SHARE, M_GEN_COUNT,
	M_COUNT = M_GEN_BASE + REC_GENS * M_GEN_COUNT,
};

enum unit { U_RATE, U_NS, U_FRACTION, U_COUNT };

struct metric_info {
	char name[48];
	enum unit unit;
	bool higher_is_better;
};

void metric_describe(int m, struct metric_info *out);

/* What the service's processes' last GC state says, summed (thresholds: the largest). */
struct service_state {
	int processes, disabled;
	int threshold[REC_GENS];
	bool thresholds_differ;
	int64_t tracked[REC_GENS], frozen;
};

/* Whether pid belongs to the service named comm. */
bool service_has(const struct recording *r, const char *comm, int pid);
/* Processes of the service. */
int service_processes(const struct recording *r, const char *comm);
/* Every metric over [lo, hi) (NaN where undefined); whole: over the recording, with exact walls. */
void service_metrics(const struct recording *r, const char *comm, uint64_t lo, uint64_t hi,
		     bool whole, double v[M_COUNT]);
void service_state(const struct recording *r, const char *comm, struct service_state *s);
/* The exact q-quantile (0..1) of n values, sorted in place; NaN when n is 0. */
double quantile_sorted(double *v, size_t n, double q);

#endif /* GCPAUSE_CAUSE_SERVICE_STATS_H */
