/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The state of one gcpause run, shared by its event loop (main.c) and its reports (summary.c). */
#ifndef GCPAUSE_APP_H
#define GCPAUSE_APP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "launch.h"
#include "options.h"
#include "stats.h"

struct traced {
	struct proc_stats *stats;
	int pidfd;		/* -1 once the process is gone */
	bool exit_reported_in_interval;
};

struct app {
	struct options opts;
	struct tracer *tracer;
	struct http_session *http;	/* --http, else NULL */
	struct top *top;		/* gcpause top, else NULL */
	bool quiet;			/* no status lines: JSON, or the screen is top's */
	struct traced *procs;
	int nprocs, nalive;
	uint64_t start_ns, interval_start_ns;
	int epfd, sigfd, interval_fd, deadline_fd;
	int http_drain_fd;		/* --http: the ring buffer is drained on this timer */
	struct launch child;
	char command_output[64];	/* top -- COMMAND: where the command's output goes */
	bool launched;
	bool stop_requested;
	FILE *out;
};

struct traced *find_proc(struct app *app, pid_t pid);
/* find_proc() for http_session, which knows only the statistics. */
struct proc_stats *find_stats(pid_t pid, void *app);
/* A collection, from the tracer. */
void on_event(const struct gc_event *e, void *app);
/* Reads both event streams, GC first: requests get only the collections already read. */
int consume_all(struct app *app);

/* Summaries: every -i, and the total at the end; top refreshes its screen instead. */
void report_interval(struct app *app);
void report_total(struct app *app);
void refresh_top(struct app *app);

#endif /* GCPAUSE_APP_H */
