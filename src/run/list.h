/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* "gcpause list": the Python processes in sight and how each would be probed. */
#ifndef GCPAUSE_RUN_LIST_H
#define GCPAUSE_RUN_LIST_H

#include <stdio.h>
#include "run/options.h"

/* Prints the table (or NDJSON); returns the process exit code. */
int list_processes(FILE *out, const struct options *o);

#endif /* GCPAUSE_RUN_LIST_H */
