/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command line. */
#ifndef GCPAUSE_RUN_OPTIONS_H
#define GCPAUSE_RUN_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "probe/probe.h"
#include "util/version.h"

#define OPTIONS_ERR_LEN		256
#define OPTIONS_DEFAULT_SAMPLE_HZ	1000
#define OPTIONS_MAX_SAMPLE_HZ		10000
#define OPTIONS_DEFAULT_LISTEN	"127.0.0.1:9547"

/* The subcommands that trace (list only looks): what is done with what is seen. */
enum run_mode {
	MODE_TRACE,	/* "gcpause [trace]": a report (text or JSON) */
	MODE_LIST,	/* "gcpause list": the Python processes and how each would be probed */
	MODE_TOP,	/* "gcpause top": the live terminal view */
	MODE_SERVE,	/* "gcpause serve": the Prometheus exporter */
};

struct options {
	pid_t *pids;
	int npids;
	char **command;			/* after "--": start and trace it */
	uint64_t interval_ns;		/* 0: no interval reports */
	uint64_t duration_ns;		/* 0: until stopped */
	uint32_t ringbuf_bytes;
	enum probe_mode probe_mode;	/* --probe: a tier forced, or auto */
	enum run_mode mode;		/* the subcommand */
	bool all;			/* --all: every Python process, now and later */
	bool children;			/* --children: -p's processes and their descendants */
	/* --all filters: shell patterns, any of which may match */
	char **comm_patterns, **container_patterns, **exclude_patterns;
	int ncomm_patterns, ncontainer_patterns, nexclude_patterns;
	const char *listen;		/* serve: ADDR:PORT */
	bool per_pid;			/* serve: a pid label, one series per process */
	uint64_t expire_ns;		/* --all: exited processes and idle series kept this long */
	uint64_t rescan_ns;		/* --all: /proc scanned again this often */
	unsigned int max_processes;	/* --all: traced at once */
	unsigned int max_series;	/* serve: label sets exported */
	bool http;			/* also track HTTP requests */
	unsigned int sample_hz;		/* --sample: CPU samples a second, 0: exact mode */
	char **route_patterns;		/* --route: path templates, tried in order */
	int nroute_patterns;
	uint64_t hit_min_ns;		/* --hit-min: GC that makes a request a big hit */
	bool hit_min_set;
	bool json;
	bool verbose;
	bool no_gc_state;		/* --no-gc-state: the interpreter's GC state is not read */
	const char *record;		/* --record FILE: the JSON stream goes there */
};

enum options_result {
	OPTIONS_RUN = 0,
	OPTIONS_EXIT_OK,	/* --help or --version printed */
	OPTIONS_USAGE_ERROR,	/* message in err */
};

/* Parses argv; help and version text go to stdout. Free with options_free(). */
/* argv[0] is the subcommand's name (or the program's, for trace), mode the subcommand. */
enum options_result options_parse(int argc, char **argv, enum run_mode mode, struct options *o,
				  char *err, size_t err_len);
void options_free(struct options *o);

#endif /* GCPAUSE_RUN_OPTIONS_H */
