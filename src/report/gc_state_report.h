/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A traced process's GC state (stats_refresh_gc_state()), shown in text and JSON. */
#ifndef GCPAUSE_REPORT_GC_STATE_REPORT_H
#define GCPAUSE_REPORT_GC_STATE_REPORT_H

#include <stdio.h>
#include "probe/gc_state.h"

struct proc_stats;
struct json_object;

/* {"enabled":..., "threshold":[...], ...}, or NULL when s is not valid. */
struct json_object *gc_state_json(const struct gc_state *s);
/* One "  gc state: ..." line, nothing when s is not valid. */
void gc_state_print(FILE *out, const struct gc_state *s);
/* {"type":"gc_state","pid":...,"after_gen":2,...}: the state right after a long collection. */
void gc_state_emit_json(FILE *out, int pid, int after_gen, const struct gc_state *s);

#endif /* GCPAUSE_REPORT_GC_STATE_REPORT_H */
