/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Two recordings' figures for one service, their changes and confidences. */
#ifndef GCPAUSE_CAUSE_DIFF_H
#define GCPAUSE_CAUSE_DIFF_H

#include <stddef.h>
#include "cause/service_stats.h"

enum confidence { CONF_NONE, CONF_LOW, CONF_MEDIUM, CONF_HIGH };

struct diff_result {
	char service[32];
	int procs_before, procs_after;
	double before[M_COUNT], after[M_COUNT];
	double ci95[M_COUNT];		/* half-width of the change's 95% interval */
	double z[M_COUNT];
	enum confidence confidence[M_COUNT];
	struct service_state state_before, state_after;
};

void diff_compare(const struct recording *before, const struct recording *after,
		  const char *comm, struct diff_result *d);
const char *diff_confidence_name(enum confidence c);
int diff_direction(const struct diff_result *d, int m);
void diff_format_value(char *buf, size_t len, int m, double v);
/* "BETTER: ...", "WORSE: ...", "MIXED: ...", "NO CLEAR CHANGE: ...". */
void diff_verdict(const struct diff_result *d, char *buf, size_t len);

#endif /* GCPAUSE_CAUSE_DIFF_H */
