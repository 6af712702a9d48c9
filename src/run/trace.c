// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gcpause trace, top, serve and list: a tracing run from its options to its end.
 *
 * Flow: check privileges, resolve every target to the binary holding its GC markers, load the
 * BPF programs, choose the outputs (sinks), attach once per binary, add the processes to the
 * BPF filter, then run the loop (run/loop.c) until every process is gone or the run is
 * stopped, and hand the sinks the total.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "run/exec_watch.h"
#include "fleet/fleet.h"
#include "probe/target.h"
#include "proc/container.h"
#include "report/sinks.h"
#include "run/app.h"
#include "run/http_session.h"
#include "run/launch.h"
#include "run/list.h"
#include "run/options.h"
#include "run/privileges.h"
#include "run/trace.h"
#include "serve/serve.h"
#include "top/sink.h"
#include "trace/sampler.h"
#include "util/clock.h"
#include "util/format.h"
#include "util/messages.h"

#define ERR_LEN		1024

static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char *text = NULL;
	int n;

	/* Without -v, errors are reported by gcpause in one line of its own. */
	if (!verbose)
		return 0;
	/* libbpf names the binaries it attaches to: escaped, its own line breaks kept. */
	n = vasprintf(&text, fmt, args);
	if (n < 0)
		return n;
	fmt_terminal_put(stderr, text, true);
	free(text);
	return n;
}

static int attach_pids(struct app *app, const struct target *targets, char *err, size_t err_len)
{
	int i, ret, fd;

	for (i = 0; i < app->opts.npids; i++) {
		fd = app_pidfd_open(&targets[i]);
		if (fd < 0) {
			snprintf(err, err_len, "pid %d: %s", targets[i].pid,
				 fd == -ESRCH ? "exited before tracing began" : strerror(-fd));
			return fd;
		}
		ret = app_begin_tracing(app, &targets[i], fd, err, err_len);
		if (ret) {
			close(fd);
			return ret;
		}
	}
	return 0;
}

/*
 * The command is no Python program, but may load a libpython later (uwsgi's plugin): it runs in
 * the filter as waiting, and the loader hook traces it, or a child of it, once one is mapped.
 */
static int watch_command(struct app *app, struct target *t, char *err, size_t err_len)
{
	int ret;

	ret = tracer_watch_pid(app->tracer, t->pid);
	if (ret) {
		snprintf(err, err_len, "pid %d: cannot add to the BPF filter: %s", t->pid,
			 strerror(-ret));
		return ret;
	}
	if (fleet_watch_loader_of(app->fleet, t->binary)) {
		snprintf(err, err_len, "%.900s: not a Python program, and libraries it would load "
			 "later cannot be watched here (see above)", t->binary);
		return -ENOEXEC;
	}
	app->child_pidfd = syscall(SYS_pidfd_open, t->pid, 0);
	if (app->child_pidfd < 0) {
		snprintf(err, err_len, "pidfd_open: %s", strerror(errno));
		return -errno;
	}
	ret = app_epoll_add(app, app->child_pidfd, SRC_CHILD, 0);
	if (ret) {
		snprintf(err, err_len, "epoll_ctl: %s", strerror(-ret));
		return ret;
	}
	app->child_alive = true;
	msg_status(app->quiet, "pid %d (%s) is not Python yet: traced once it, or a process it "
		   "starts, loads a libpython", t->pid, t->comm);
	return 0;
}

/* The command exited; if it was traced, its slot said so already. */
void app_on_child_exit(struct app *app)
{
	struct traced *p = app_find_proc(app, app->child.pid);
	int status;

	epoll_ctl(app->epfd, EPOLL_CTL_DEL, app->child_pidfd, NULL);
	close(app->child_pidfd);
	app->child_pidfd = -1;
	app->child_alive = false;
	if (p || waitpid(app->child.pid, &status, WNOHANG) != app->child.pid)
		return;
	if (WIFEXITED(status))
		snprintf(app->child_end, sizeof(app->child_end),
			 "pid %d (%s) exited with status %d without loading a libpython",
			 app->child.pid, app->opts.command[0], WEXITSTATUS(status));
	else
		snprintf(app->child_end, sizeof(app->child_end),
			 "pid %d (%s) killed by signal %d without loading a libpython",
			 app->child.pid, app->opts.command[0],
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	/* Processes it started were traced: its end is only news. */
	if (app->nprocs) {
		msg_status(app->quiet, "%s", app->child_end);
		app->child_end[0] = '\0';
	}
}

static int launch_command(struct app *app, struct target *t, bool python, char *err,
			  size_t err_len)
{
	char comm[PROC_COMM_LEN];
	int ret, fd, out = -1;

	if (app->opts.mode == MODE_TOP) {
		const char *tmp = getenv("TMPDIR");

		/* mkstemps: a name nobody could have planted a link at, opened exclusively. */
		if (!tmp || tmp[0] != '/')
			tmp = "/tmp";
		if (snprintf(app->command_output, sizeof(app->command_output),
			     "%s/gcpause-top-XXXXXX.log", tmp) >= (int)sizeof(app->command_output)) {
			snprintf(err, err_len, "TMPDIR is too long: %s", tmp);
			app->command_output[0] = '\0';
			return -ENAMETOOLONG;
		}
		out = mkstemps(app->command_output, 4);
		if (out < 0) {
			snprintf(err, err_len, "cannot create a file for the command's output: %s",
				 strerror(errno));
			app->command_output[0] = '\0';
			return -errno;
		}
	}
	ret = launch_fork(app->opts.command, out, &app->child, err, err_len);
	if (out >= 0)
		close(out);
	if (ret)
		return ret;
	app->launched = true;
	t->pid = app->child.pid;
	/* Its start time tells its collections from those of a later process with its PID. */
	if (proc_read_identity(t->pid, comm, sizeof(comm), &t->start_ticks)) {
		snprintf(err, err_len, "pid %d: cannot read /proc/%d/stat", t->pid, t->pid);
		return -ESRCH;
	}
	if (!python) {
		ret = watch_command(app, t, err, err_len);
		return ret ? ret : launch_release(&app->child, err, err_len);
	}
	fd = syscall(SYS_pidfd_open, t->pid, 0);
	if (fd < 0) {
		snprintf(err, err_len, "pidfd_open: %s", strerror(errno));
		return -errno;
	}
	ret = app_begin_tracing(app, t, fd, err, err_len);
	if (ret) {
		close(fd);
		return ret;
	}
	fleet_set_launched(app->fleet, t->pid);
	return launch_release(&app->child, err, err_len);
}

static void fill_metrics(void *ctx, struct agent_metrics *m)
{
	struct app *app = ctx;
	uint64_t counters[GC_CNT_MAX], http_dropped = 0, non_http;
	struct fleet_counts fc = { 0 };

	tracer_read_counters(app->tracer, counters);
	if (app->http)
		http_session_losses(app->http, &http_dropped, &non_http, &m->http_unassembled);
	if (app->fleet)
		fleet_counts(app->fleet, &fc);
	counters[GC_CNT_UNATTRIBUTED] = app->unattributed;
	m->gc_events_dropped = summary_lost_events(counters);
	m->http_events_dropped = http_dropped;
	m->discovery = app->fleet;
	m->discovery_events_dropped = fc.discovery_dropped;
	m->processes_skipped_unreadable = fc.skipped_unreadable;
	m->processes_traced = app->nalive;
	m->processes_discovered = fc.discovered;
	m->processes_skipped_limit = fc.skipped_limit;
	m->processes_skipped_unsupported = fc.skipped_unsupported;
	m->processes_skipped_filtered = fc.skipped_filtered;
	m->binaries_probed = tracer_binary_count(app->tracer);
}

static void each_live(void *ctx, void (*each)(void *serve, struct proc_stats *p), void *serve)
{
	struct app *app = ctx;
	int i;

	for (i = 0; i < app->nprocs; i++) {
		struct traced *p = &app->procs[i];

		if (!p->stats || p->pidfd < 0)
			continue;
		stats_refresh_gc_state(p->stats);
		each(serve, p->stats);
	}
}

/* Every target is checked before anything is loaded, so bad input fails fast and alone. */
static int resolve_targets(struct app *app, struct target **out, char *err, size_t err_len)
{
	struct target *targets;
	int i, ret;

	if (app->opts.all)
		return 0;
	targets = calloc(app->opts.command ? 1 : app->opts.npids, sizeof(*targets));
	if (!targets) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	*out = targets;
	if (app->opts.command)
		return launch_resolve(app->opts.command, app->opts.probe_mode, targets, err,
				      err_len);
	for (i = 0; i < app->opts.npids; i++) {
		ret = target_resolve(app->opts.pids[i], app->opts.probe_mode, &targets[i], err,
				     err_len);
		if (ret)
			return ret;
		container_read(targets[i].pid, &targets[i].container);
	}
	return 0;
}

/* The outputs of the run, by its mode; top's comes later, once the terminal may be taken. */
static int choose_sinks(struct app *app, char *err, size_t err_len)
{
	struct serve_opts so = {
		.listen = app->opts.listen, .max_series = app->opts.max_series,
		.expire_ns = app->opts.expire_ns, .http = app->opts.http,
		.per_pid = app->opts.per_pid, .gc_state = !app->opts.no_gc_state,
	};
	struct serve_feed feed = { .fill = fill_metrics, .each_live = each_live, .run = app };
	struct sink s;
	int ret;

	switch (app->opts.mode) {
	case MODE_SERVE:
		ret = serve_sink(&s, &so, &feed, err, err_len);
		break;
	case MODE_TOP:
		/* The total, on the terminal given back, after top's last frame. */
		ret = report_text_sink(&s, app->out, false);
		break;
	default:
		ret = app->opts.json ? report_json_sink(&s, app->out) :
				       report_text_sink(&s, app->out, true);
		break;
	}
	if (ret) {
		if (ret == -ENOMEM)
			snprintf(err, err_len, "out of memory");
		return ret;
	}
	ret = app_add_sink(app, &s, err, err_len);
	if (ret) {
		s.ops->close(s.ctx);
		return ret;
	}
	/* No sink summarizes (serve): statistics keep only what requests need. */
	app->lean = !s.ops->interval && !s.ops->total;
	return 0;
}

static int open_top(struct app *app, char *err, size_t err_len)
{
	struct sink s;
	int ret;

	ret = top_sink(&s, app->opts.http, app->opts.interval_ns, err, err_len);
	if (ret)
		return ret;
	ret = app_add_sink(app, &s, err, err_len);
	if (ret) {
		s.ops->close(s.ctx);
		return ret;
	}
	/* The first frame now, not a second later. */
	app_interval(app);
	return 0;
}

int cmd_trace(int argc, char **argv, enum run_mode mode)
{
	struct app app = { .epfd = -1, .sigfd = -1, .interval_fd = -1, .deadline_fd = -1,
			   .drain_fd = -1, .housekeeping_fd = -1, .child_pidfd = -1,
			   .child = { .gate_fd = -1, .exec_err_fd = -1 } };
	struct tracer_opts topts = { .on_event = app_queue_gc_event, .ctx = &app };
	struct target *targets = NULL;
	char err[ERR_LEN] = "";
	int ret, i, exit_code = 1;
	bool waiting = false;

	switch (options_parse(argc, argv, mode, &app.opts, err, sizeof(err))) {
	case OPTIONS_EXIT_OK:
		options_free(&app.opts);
		return 0;
	case OPTIONS_USAGE_ERROR:
		msg_error("%s", err);
		options_free(&app.opts);	/* what was parsed before the error */
		return 2;
	case OPTIONS_RUN:
		break;
	}
	verbose = app.opts.verbose;
	app.quiet = (app.opts.json && !app.opts.record) || mode == MODE_TOP;
	if (mode == MODE_TOP && (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO))) {
		msg_error("top needs a terminal on stdin and stdout; for a report use gcpause "
			  "-p PID (text) or --json");
		options_free(&app.opts);
		return 1;
	}
	libbpf_set_print(libbpf_print);
	app.out = stdout;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (app.opts.record) {
		app.out = fopen(app.opts.record, "we");
		if (!app.out) {
			msg_error("cannot write %s: %s", app.opts.record, strerror(errno));
			return 1;
		}
		setvbuf(app.out, NULL, _IOLBF, 0);
	}

	if (mode == MODE_LIST) {
		/* Listing reads /proc and ELF files only, but other users' maps need privileges. */
		exit_code = list_processes(stdout, &app.opts);
		goto cleanup;
	}
	if (privileges_check(err, sizeof(err)))
		goto cleanup;
	ret = resolve_targets(&app, &targets, err, sizeof(err));
	if (ret < 0)
		goto cleanup;
	waiting = ret == LAUNCH_NOT_PYTHON_YET;
	err[0] = '\0';

	topts.ringbuf_bytes = app.opts.ringbuf_bytes;
	topts.wakeup_bytes = app.opts.ringbuf_bytes / 2;
	if (tracer_open(&app.tracer, &topts, err, sizeof(err)))
		goto cleanup;
	if (app.opts.sample_hz &&
	    sampler_open(&app.sampler, app.opts.sample_hz, err, sizeof(err)))
		goto cleanup;
	if (app.opts.http) {
		char note[256];

		if (http_session_open(&app.http, tracer_filter_fd(app.tracer), app_find_stats,
				      app_on_request, &app, err, sizeof(err), note, sizeof(note)))
			goto cleanup;
		if (note[0])
			msg_error("note: %s", note);
		http_session_set_options(app.http, app.opts.route_patterns,
					 app.opts.nroute_patterns, app.opts.hit_min_ns);
	}
	if (app_setup_loop(&app, err, sizeof(err)))
		goto cleanup;

	app.start_ns = clock_now_ns();
	app.interval_start_ns = app.start_ns;
	if (choose_sinks(&app, err, sizeof(err)))
		goto cleanup;
	if (app.opts.command) {
		/* The command's children are followed (gunicorn, uwsgi workers), as in --all. */
		ret = app_start_fleet(&app, true, err, sizeof(err));
		if (!ret)
			ret = launch_command(&app, targets, !waiting, err, sizeof(err));
	} else if (app.opts.all) {
		ret = app_start_fleet(&app, false, err, sizeof(err));
	} else if (app.opts.children) {
		/*
		 * The fleet's tree owns discovery, execs of the processes given included (as in
		 * -- COMMAND's tree): exec_watch would read the same events and decide twice.
		 * Probes first, then the processes, then the children they have already: a
		 * fork meanwhile is seen by the kernel's filter or by the walk, or by both.
		 */
		ret = app_start_fleet(&app, true, err, sizeof(err));
		if (!ret)
			ret = attach_pids(&app, targets, err, sizeof(err));
		for (i = 0; !ret && i < app.opts.npids; i++)
			fleet_adopt_children(app.fleet, targets[i].pid);
	} else if (!(ret = exec_watch_start(&app, err, sizeof(err))))
		/* Watched first: an exec right after a process is traced is not missed. */
		ret = attach_pids(&app, targets, err, sizeof(err));
	if (ret)
		goto cleanup;
	if (app_start_timers(&app, err, sizeof(err)))
		goto cleanup;
	if (mode == MODE_TOP && open_top(&app, err, sizeof(err)))
		goto cleanup;
	if (app.opts.all)
		APP_SINKS(&app, ready, app.nalive, tracer_binary_count(app.tracer));
	msg_status(app.quiet, "%d process%s, %d binar%s probed; Ctrl-C to stop", app.nalive,
		   app.nprocs == 1 ? "" : "es", tracer_binary_count(app.tracer),
		   tracer_binary_count(app.tracer) == 1 ? "y" : "ies");

	if (app_run_loop(&app))
		goto cleanup;
	if (app.child_end[0] && !app.nprocs) {
		/* Nothing was Python: as for a command refused up front, one line and status 1. */
		snprintf(err, sizeof(err), "%s: not a Python program", app.child_end);
		goto cleanup;
	}
	app_drain(&app);
	if (app.http)
		http_session_finish(app.http);
	/* The terminal is the user's again before the summary is printed on it. */
	for (i = 0; i < app.nsinks; i++)
		if (app.sinks[i].ops->stop)
			app.sinks[i].ops->stop(app.sinks[i].ctx);
	/* The last, partial interval, then the whole run. */
	if (app.opts.interval_ns)
		app_interval(&app);
	app_total(&app);
	if (app.command_output[0])
		msg_error("note: the command's output is in %s", app.command_output);
	err[0] = '\0';
	exit_code = 0;

cleanup:
	/* top gives the terminal back before the error is printed on it. */
	app_close_sinks(&app);
	if (err[0])
		msg_error("%s", err);
	if (app.launched && app.child.gate_fd >= 0) {
		/* Never released: the child sees EOF on its gate and exits without running. */
		close(app.child.gate_fd);
		waitpid(app.child.pid, NULL, 0);
	}
	for (i = 0; i < app.nprocs; i++) {
		if (app.procs[i].pidfd >= 0)
			close(app.procs[i].pidfd);
		stats_free(app.procs[i].stats);
	}
	free(app.procs);
	free(app.batch);
	pidmap_free(&app.by_pid);
	fleet_close(app.fleet);
	if (app.child_pidfd >= 0)
		close(app.child_pidfd);
	exec_watch_close(app.exec_watch);
	if (app.housekeeping_fd >= 0)
		close(app.housekeeping_fd);
	free(targets);
	http_session_close(app.http);
	sampler_close(app.sampler);
	tracer_close(app.tracer);
	if (app.interval_fd >= 0)
		close(app.interval_fd);
	if (app.deadline_fd >= 0)
		close(app.deadline_fd);
	if (app.drain_fd >= 0)
		close(app.drain_fd);
	if (app.sigfd >= 0)
		close(app.sigfd);
	if (app.epfd >= 0)
		close(app.epfd);
	if (app.out && app.out != stdout) {
		if (fclose(app.out) && !exit_code) {
			msg_error("writing %s: %s", app.opts.record, strerror(errno));
			exit_code = 1;
		} else if (!exit_code) {
			msg_status(false, "recording written to %s", app.opts.record);
		}
	}
	options_free(&app.opts);
	return exit_code;
}
