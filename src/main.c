// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gcpause: CPython garbage-collection pauses measured from outside the process.
 *
 * The subcommands, bpftool style. Those that trace share one run (run/trace.c) and differ in
 * its outputs; diff, report and advise read recordings and trace nothing (cause/).
 */
#include <string.h>
#include "cause/cause.h"
#include "run/trace.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv, enum run_mode mode);
	enum run_mode mode;
};

static int diff(int argc, char **argv, enum run_mode mode)
{
	return cause_diff_main(argc, argv);
}

static int report(int argc, char **argv, enum run_mode mode)
{
	return cause_report_main(argc, argv);
}

static int advise(int argc, char **argv, enum run_mode mode)
{
	return cause_advise_main(argc, argv);
}

static const struct command commands[] = {
	{ "trace", cmd_trace, MODE_TRACE },
	{ "top", cmd_trace, MODE_TOP },
	{ "serve", cmd_trace, MODE_SERVE },
	{ "list", cmd_trace, MODE_LIST },
	{ "diff", diff, MODE_TRACE },
	{ "report", report, MODE_TRACE },
	{ "advise", advise, MODE_TRACE },
};

int main(int argc, char **argv)
{
	size_t i;

	/* A subcommand's name is argv[0] of its own options. */
	for (i = 0; argc > 1 && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1, commands[i].mode);
	/* No subcommand: trace, whose options start right away (gcpause -p PID). */
	return cmd_trace(argc, argv, MODE_TRACE);
}
