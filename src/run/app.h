/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The state of one tracing run (trace, top, serve): its loop, processes, events and sinks. */
#ifndef GCPAUSE_RUN_APP_H
#define GCPAUSE_RUN_APP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "run/launch.h"
#include "run/options.h"
#include "util/pidmap.h"
#include "stats/sink.h"
#include "stats/stats.h"
#include "trace/gc_tracer.h"

struct exec_watch;
struct fleet;

/* Outputs a run may have at once (a report, and room for more). */
#define MAX_SINKS	4

struct traced {
	struct proc_stats *stats;	/* NULL: a free slot */
	int pidfd;		/* -1 once the process is gone */
	bool exit_reported_in_interval;
	struct tracer_binary_id binary;	/* the probed binary it runs */
	/*
	 * -p, a program replaced by exec: image_ns is when this program started (0: before
	 * tracing began), prev_slot + 1 the slot of the process's previous program (0: none),
	 * replaced_ns when this program was replaced (0: not yet). A collection goes to the
	 * program that ran when it started.
	 */
	uint64_t image_ns;
	int prev_slot_plus1;
	uint64_t replaced_ns;
};

struct app {
	struct options opts;
	struct tracer *tracer;
	struct http_session *http;	/* --http, else NULL */
	struct sampler *sampler;	/* --sample, else NULL */
	struct fleet *fleet;		/* --all, -- COMMAND, else NULL */
	struct exec_watch *exec_watch;	/* -p: traced processes that exec, else NULL */
	struct sink sinks[MAX_SINKS];	/* the outputs, called in this order */
	int nsinks;
	/*
	 * No sink summarizes (serve): the statistics keep what requests need only, and a process
	 * is forgotten at its exit, counted in the sinks already.
	 */
	bool lean;
	/*
	 * GC events read from the ring buffer and not settled yet: the ring buffer's callback only
	 * copies, and the loop settles them after the read (a new process looked at, a process
	 * ended), so no decision is ever taken inside the callback.
	 */
	struct gc_event *batch;
	size_t batch_len, batch_next, batch_cap;
	bool quiet;			/* no status lines: JSON, or the screen is top's */
	/* Slots; their index is the pidfd's epoll data. Free slots are reused (--all). */
	struct traced *procs;
	int nprocs;			/* slots in use or freed: the high-water mark */
	int nalive;
	struct pidmap by_pid;		/* pid -> slot of its latest process */
	uint64_t start_ns, interval_start_ns;
	int epfd, sigfd, interval_fd, deadline_fd;
	int drain_fd;		/* the ring buffers are drained on this timer */
	int housekeeping_fd;		/* --all, serve: rescans, expiry, the server's timeouts */
	struct launch child;
	char command_output[PATH_MAX];	/* top -- COMMAND: where the command's output goes */
	bool launched;
	/* -- COMMAND not Python at its start: its pidfd, while it lives, keeps the run going */
	int child_pidfd;
	bool child_alive;
	char child_end[256];		/* how it ended, when no libpython was ever loaded */
	bool stop_requested;
	uint64_t unattributed;		/* GC_CNT_UNATTRIBUTED: kept here, not in the kernel */
	FILE *out;
};

/* How often userspace drains the HTTP ring buffer (it is never woken up by it). */
#define HTTP_DRAIN_NS		10000000ull
/*
 * How often userspace drains the GC ring buffer, which wakes it up only once half full: the
 * delay of a collection's report, and no wake-up per collection in the traced process.
 */
#define GC_DRAIN_NS		25000000ull

/* The event loop's sources: the high half of an epoll event's data. */
enum source {
	SRC_EVENTS = 1, SRC_DRAIN, SRC_SIGNAL, SRC_INTERVAL, SRC_DEADLINE, SRC_PROCESS, SRC_SINK,
	SRC_DISCOVERY, SRC_RETRY, SRC_HOUSEKEEPING, SRC_CHILD, SRC_BINARY,
};

/* Why tracing of a process that did not exit ended (the exit record's reason). */
#define APP_REASON_REWRITTEN	"stopped being traced: its binary was rewritten in place"
#define APP_REASON_EXEC		"replaced its program (exec)"
#define APP_REASON_EXEC_OTHER	"replaced its program (exec) with one that is not Python"
#define APP_REASON_EXEC_UNSUPPORTED \
	"replaced its program (exec) with a Python that cannot be traced"

int app_epoll_add(struct app *app, int fd, enum source src, uint32_t index);
/* Ends the run: --all would otherwise go on with no process left. */
void app_stop(struct app *app);

/* Opens a pidfd for t's process, checking that the PID still names it. */
int app_pidfd_open(const struct target *t);
/* Makes the probes live for t and starts its statistics; takes pidfd. */
int app_begin_tracing(struct app *app, const struct target *t, int pidfd, char *err,
		      size_t err_len);
/* The process of p is gone (exited, or exec'd another program: why says which). */
void app_process_gone(struct app *app, struct traced *p, const char *why);
/* app_process_gone() for a process whose next program is traced: it stays in the filter. */
void app_process_replaced(struct app *app, struct traced *p, const char *why);
/*
 * Ends the tracing of the processes whose binary the tracer found rewritten in place (and
 * whose probes it detached), with a line for each binary.
 */
void app_end_rewritten(struct app *app);
/* Frees an exited process's slot. */
void app_forget(struct app *app, struct traced *p);
struct traced *app_find_proc(struct app *app, pid_t pid);
/* app_find_proc() for http_session, which knows only the statistics. */
struct proc_stats *app_find_stats(pid_t pid, void *app);

/* The GC ring buffer's callback: a copy of e into the batch, nothing else. */
void app_queue_gc_event(const struct gc_event *e, void *app);
/*
 * Reads the GC ring buffer and settles every event read, in order. What settling does may call
 * it again (a process ends only after its last events): it goes on from the same batch.
 */
int app_read_gc_events(struct app *app);
/* A collection read, in order: to its process's statistics and the sinks. */
void app_settle_gc_event(struct app *app, const struct gc_event *e);
/* Reads both event streams, GC first: requests get only the collections already read. */
int app_drain(struct app *app);
/* A request, published by the HTTP session: to the sinks. */
void app_on_request(struct proc_stats *p, const struct http_sample *sample, void *app);

/* Summaries: every -i (top: every frame), and the total at the end. */
void app_interval(struct app *app);
void app_total(struct app *app);
/* The loop (run/loop.c): until every process is gone, or the run is stopped. */
int app_setup_loop(struct app *app, char *err, size_t err_len);
int app_start_timers(struct app *app, char *err, size_t err_len);
int app_run_loop(struct app *app);
/* --all (tree_only false), or the trees of -- COMMAND or -p --children: the fleet. */
int app_start_fleet(struct app *app, bool tree_only, char *err, size_t err_len);
/* Adds an output; its input fd, if it has one, joins the loop. */
int app_add_sink(struct app *app, const struct sink *s, char *err, size_t err_len);
void app_close_sinks(struct app *app);
/* -- COMMAND that is no Python yet: it exited (run/trace.c). */
void app_on_child_exit(struct app *app);

/* Calls op of every sink that has it, with the arguments after the sink's context. */
#define APP_SINKS(app, op, ...)							\
	do {									\
		struct sink *s_;						\
		for (s_ = (app)->sinks; s_ < (app)->sinks + (app)->nsinks; s_++)	\
			if (s_->ops->op)					\
				s_->ops->op(s_->ctx, __VA_ARGS__);		\
	} while (0)

#endif /* GCPAUSE_RUN_APP_H */
