// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The run as the fleet's host (fleet/fleet.h): the fleet decides, the run traces. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "fleet/fleet.h"
#include "run/app.h"

static bool lookup(void *run, pid_t pid, uint64_t *start_ticks, uint64_t *trace_start_ns)
{
	struct traced *p = app_find_proc(run, pid);

	if (!p || p->stats->exited)
		return false;
	*start_ticks = p->stats->process.start_ticks;
	*trace_start_ns = p->stats->trace_start_ns;
	return true;
}

static int begin(void *run, const struct target *t, char *err, size_t err_len)
{
	int fd = app_pidfd_open(t), ret;

	if (fd < 0)
		return -ESRCH;
	ret = app_begin_tracing(run, t, fd, err, err_len);
	if (ret)
		close(fd);
	return ret;
}

static void end(void *run, pid_t pid, const char *why)
{
	struct traced *p = app_find_proc(run, pid);

	if (p && !p->stats->exited)
		app_process_gone(run, p, why);
}

static void filter(void *run, pid_t pid, enum fleet_filter state)
{
	struct app *app = run;

	switch (state) {
	case FLEET_TRACED:
		tracer_add_pid(app->tracer, pid);
		break;
	case FLEET_WATCHED:
		tracer_watch_pid(app->tracer, pid);
		break;
	case FLEET_UNFILTERED:
		tracer_remove_pid(app->tracer, pid);
		break;
	}
}

static int filtered(void *run, pid_t **pids)
{
	return tracer_filtered_pids(((struct app *)run)->tracer, pids);
}

static int traced(void *run)
{
	return ((struct app *)run)->nalive;
}

static const struct fleet_host_ops host_ops = {
	.lookup = lookup,
	.begin = begin,
	.end = end,
	.filter = filter,
	.filtered = filtered,
	.traced = traced,
};

int app_start_fleet(struct app *app, bool tree_only, char *err, size_t err_len)
{
	const struct options *o = &app->opts;
	struct fleet_config cfg = {
		.tree_only = tree_only,
		/* Held at a load only in a command gcpause started, never in -p's trees. */
		.hold_waiting = tree_only && o->command,
		.filter_fd = tracer_filter_fd(app->tracer),
		.probe_mode = o->probe_mode,
		.comm_patterns = o->comm_patterns, .ncomm_patterns = o->ncomm_patterns,
		.container_patterns = o->container_patterns,
		.ncontainer_patterns = o->ncontainer_patterns,
		.exclude_patterns = o->exclude_patterns, .nexclude_patterns = o->nexclude_patterns,
		.max_processes = o->max_processes,
		.rescan_ns = o->rescan_ns,
		.verbose = o->verbose,
	};
	struct fleet_host host = { .ops = &host_ops, .run = app };
	int ret;

	ret = fleet_open(&app->fleet, &cfg, &host, err, err_len);
	if (ret)
		return ret;
	ret = app_epoll_add(app, fleet_retry_fd(app->fleet), SRC_RETRY, 0);
	if (!ret && fleet_discovery_fd(app->fleet) >= 0)
		ret = app_epoll_add(app, fleet_discovery_fd(app->fleet), SRC_DISCOVERY, 0);
	if (ret) {
		snprintf(err, err_len, "epoll_ctl: %s", strerror(-ret));
		return ret;
	}
	fleet_start(app->fleet);
	return 0;
}
