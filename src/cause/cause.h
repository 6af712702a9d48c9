/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Subcommands over recordings (--record or --json output): diff, report, advise. */
#ifndef GCPAUSE_CAUSE_CAUSE_H
#define GCPAUSE_CAUSE_CAUSE_H

/* gcpause diff BEFORE AFTER [--json]: argv[0] is "diff". Returns the exit status. */
int cause_diff_main(int argc, char **argv);
/* gcpause report RECORDING [--html OUT] [--trace OUT] [--before RECORDING]. */
int cause_report_main(int argc, char **argv);
/* gcpause advise RECORDING [--json]. */
int cause_advise_main(int argc, char **argv);

#endif /* GCPAUSE_CAUSE_CAUSE_H */
