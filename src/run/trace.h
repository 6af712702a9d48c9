/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The subcommands that trace: trace (the default), top, serve; and list, which only looks. */
#ifndef GCPAUSE_RUN_TRACE_H
#define GCPAUSE_RUN_TRACE_H

#include "run/options.h"

/* argv[0] is the subcommand's name (the program's for trace). Returns the exit status. */
int cmd_trace(int argc, char **argv, enum run_mode mode);

#endif /* GCPAUSE_RUN_TRACE_H */
