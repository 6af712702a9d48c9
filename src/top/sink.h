/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* gcpause top as a sink (stats/sink.h). */
#ifndef GCPAUSE_TOP_SINK_H
#define GCPAUSE_TOP_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "stats/sink.h"

/* Takes the terminal (stdin and stdout). One line in err on failure. */
int top_sink(struct sink *out, bool http, uint64_t interval_ns, char *err, size_t err_len);

#endif /* GCPAUSE_TOP_SINK_H */
