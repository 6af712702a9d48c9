/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What was running when each long pause began: the collecting thread and the request in flight
 * on it, from a recording; aggregated by route.
 */
#ifndef GCPAUSE_CAUSE_TRIGGERS_H
#define GCPAUSE_CAUSE_TRIGGERS_H

#include <stdint.h>
#include <stdio.h>
#include "cause/recording.h"

/* Long: generation 2 (or above), or at least slow_ns (0: generation alone decides). */
void triggers_print(FILE *out, const struct recording *r, uint64_t slow_ns);
/* The same as an HTML section. */
void triggers_html(FILE *out, const struct recording *r, uint64_t slow_ns);

#endif /* GCPAUSE_CAUSE_TRIGGERS_H */
