/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* gcpause report RECORDING --html / --trace: pictures of a recording. */
#ifndef GCPAUSE_CAUSE_HTML_H
#define GCPAUSE_CAUSE_HTML_H

#include <stddef.h>
#include "cause/recording.h"

/*
 * A self-contained page (inline SVG, no script, no network) for r; with before, the two
 * overlaid. Returns 0 or -errno with one line in err.
 */
int report_html_write(const char *path, const struct recording *r,
		      const struct recording *before, char *err, size_t err_len);
/* Chrome trace-event JSON (object form) of r's pauses and requests. */
int trace_export_write(const char *path, const struct recording *r, char *err, size_t err_len);

#endif /* GCPAUSE_CAUSE_HTML_H */
