/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A traced process's GC state: kept fresh in its statistics, shown in text and JSON. */
#ifndef GCPAUSE_REPORT_GC_STATE_REPORT_H
#define GCPAUSE_REPORT_GC_STATE_REPORT_H

#include <stdio.h>
#include "probe/gc_state.h"

/* Reports at which a process's GC state is looked for before it is given up. */
#define GC_STATE_OPEN_TRIES	5

struct proc_stats;
struct json_object;

/* Reads p's GC state now (the reader is made on first use); a failure leaves it invalid. */
void gc_state_refresh(struct proc_stats *p);
/* {"enabled":..., "threshold":[...], ...}, or NULL when s is not valid. */
struct json_object *gc_state_json(const struct gc_state *s);
/* One "  gc state: ..." line, nothing when s is not valid. */
void gc_state_print(FILE *out, const struct gc_state *s);
/* {"type":"gc_state","pid":...,"after_gen":2,...}: the state right after a long collection. */
void gc_state_emit_json(FILE *out, int pid, int after_gen, const struct gc_state *s);

#endif /* GCPAUSE_REPORT_GC_STATE_REPORT_H */
