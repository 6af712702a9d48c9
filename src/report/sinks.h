/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The text report and the JSON stream, as sinks (stats/sink.h). */
#ifndef GCPAUSE_REPORT_SINKS_H
#define GCPAUSE_REPORT_SINKS_H

#include <stdbool.h>
#include <stdio.h>
#include "stats/sink.h"

/* The text summaries on f: the total, and every interval when intervals is set. */
int report_text_sink(struct sink *out, FILE *f, bool intervals);
/* Newline-delimited JSON on f: every event, and every summary. */
int report_json_sink(struct sink *out, FILE *f);

#endif /* GCPAUSE_REPORT_SINKS_H */
