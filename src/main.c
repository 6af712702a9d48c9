// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gcpause: CPython garbage-collection pauses measured from outside the process.
 *
 * Flow: check privileges, resolve every target to the binary holding its GC markers, load the
 * BPF programs, attach once per binary, add the processes to the BPF filter, then wait on one
 * epoll set for events, signals, timers and process exits (pidfds).
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
#include "util/clock.h"
#include "cause/cause.h"
#include "proc/container.h"
#include "fleet/exec_watch.h"
#include "fleet/fleet.h"
#include "util/format.h"
#include "http/session.h"
#include "run/launch.h"
#include "run/list.h"
#include "util/messages.h"
#include "serve/metrics_server.h"
#include "run/options.h"
#include "run/privileges.h"
#include "report/report.h"
#include "serve/serve.h"
#include "stats/stats.h"
#include "top/top.h"
#include "probe/target.h"
#include "trace/gc_tracer.h"

#define ERR_LEN		1024
/* --all and serve: rescans and expiry are checked, and stalled clients dropped, this often. */
#define HOUSEKEEPING_NS	1000000000ull

#include "run/app.h"

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
	if (fleet_watch_loader_of(app, t->binary)) {
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
static void on_child_exit(struct app *app)
{
	struct traced *p = find_proc(app, app->child.pid);
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

	if (app->opts.top) {
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
	fleet_set_launched(app, t->pid);
	return launch_release(&app->child, err, err_len);
}

static void on_signal(struct app *app)
{
	struct signalfd_siginfo si;

	if (read(app->sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGWINCH) {
		if (app->top) {
			top_resize(app->top);
			refresh_top(app);
		}
		return;
	}
	/*
	 * A command we started gets the signal first and we keep tracing until it exits, so its
	 * shutdown collections are counted; a second signal stops at once.
	 */
	if (app->launched && (app->nalive || app->child_alive) && !app->stop_requested) {
		app->stop_requested = true;
		kill(app->child.pid, si.ssi_signo);
		msg_status(app->quiet, "waiting for pid %d to exit (signal again to stop now)",
			   app->child.pid);
		return;
	}
	app_stop(app);
}

/* Once a second in --all and serve: what no event tells. */
static void housekeeping(struct app *app)
{
	uint64_t now = clock_now_ns();

	if (app->fleet)
		fleet_housekeeping(app, now);
	if (app->series)
		serve_housekeeping(app, now);
}

static int run_loop(struct app *app)
{
	struct epoll_event evs[16];
	uint64_t ticks;
	int n, i, ret;

	/*
	 * --all goes on with no process left, until stopped: others may come. serve too, so that
	 * the final values of processes given with -p are scraped.
	 */
	while (app->nalive > 0 || app->child_alive ||
	       ((app->opts.all || app->series) && !app->stop_requested)) {
		/* libmicrohttpd may have work that no fd announces (see metrics_server_run). */
		n = epoll_wait(app->epfd, evs, 16,
			       app->metrics ? metrics_server_timeout_ms(app->metrics) : -1);
		if (n == 0 && app->metrics)
			metrics_server_run(app->metrics);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			msg_error("epoll_wait: %s", strerror(errno));
			return ret;
		}
		for (i = 0; i < n; i++) {
			enum source src = evs[i].data.u64 >> 32;
			uint32_t index = (uint32_t)evs[i].data.u64;

			switch (src) {
			case SRC_DRAIN:
				if (read(app->drain_fd, &ticks, sizeof(ticks)) <= 0)
					break;
				/* fall through */
			case SRC_EVENTS:
				ret = consume_all(app);
				if (ret < 0 && ret != -EINTR) {
					msg_error("reading events: %s", strerror(-ret));
					return ret;
				}
				break;
			case SRC_SIGNAL:
				on_signal(app);
				break;
			case SRC_INTERVAL:
				if (read(app->interval_fd, &ticks, sizeof(ticks)) <= 0)
					break;
				if (app->top)
					refresh_top(app);
				else
					report_interval(app);
				break;
			case SRC_KEYS:
				switch (top_keys(app->top)) {
				case TOP_QUIT:
					app_stop(app);
					break;
				case TOP_REDRAW:
					refresh_top(app);
					break;
				case TOP_NONE:
					break;
				}
				break;
			case SRC_DEADLINE:
				msg_status(app->quiet, "duration elapsed");
				app_stop(app);
				break;
			case SRC_PROCESS:
				if (index < (uint32_t)app->nprocs && app->procs[index].pidfd >= 0)
					app_process_gone(app, &app->procs[index], NULL);
				break;
			case SRC_DISCOVERY:
				if (app->fleet)
					fleet_on_discovery(app);
				else
					exec_watch_on_discovery(app);
				break;
			case SRC_RETRY:
				if (app->fleet)
					fleet_on_retry(app);
				else
					exec_watch_on_retry(app);
				break;
			case SRC_HOUSEKEEPING:
				if (read(app->housekeeping_fd, &ticks, sizeof(ticks)) > 0)
					housekeeping(app);
				break;
			case SRC_METRICS:
				serve_on_request(app);
				break;
			case SRC_CHILD:
				/* Its last events first: a worker traced just before it went. */
				consume_all(app);
				if (app->fleet)
					fleet_on_discovery(app);
				on_child_exit(app);
				break;
			case SRC_BINARY:
				tracer_check_binaries(app->tracer);
				app_end_rewritten(app);
				break;
			}
		}
	}
	return 0;
}

static int setup_loop(struct app *app, char *err, size_t err_len)
{
	sigset_t mask;
	int ret;

	app->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (app->epfd < 0) {
		snprintf(err, err_len, "epoll_create1: %s", strerror(errno));
		return -errno;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (app->opts.top)
		sigaddset(&mask, SIGWINCH);
	if (sigprocmask(SIG_BLOCK, &mask, NULL)) {
		snprintf(err, err_len, "sigprocmask: %s", strerror(errno));
		return -errno;
	}
	app->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (app->sigfd < 0) {
		snprintf(err, err_len, "signalfd: %s", strerror(errno));
		return -errno;
	}
	ret = app_epoll_add(app, app->sigfd, SRC_SIGNAL, 0);
	if (!ret)
		ret = app_epoll_add(app, tracer_epoll_fd(app->tracer), SRC_EVENTS, 0);
	if (!ret)
		ret = app_epoll_add(app, tracer_binary_watch_fd(app->tracer), SRC_BINARY, 0);
	/* Both ring buffers are drained on this timer: neither wakes us per event. */
	if (!ret) {
		app->drain_fd = clock_timerfd(app->http ? HTTP_DRAIN_NS : GC_DRAIN_NS, true);
		ret = app->drain_fd < 0 ? app->drain_fd :
		      app_epoll_add(app, app->drain_fd, SRC_DRAIN, 0);
	}
	if (!ret && app->opts.top)
		ret = app_epoll_add(app, STDIN_FILENO, SRC_KEYS, 0);
	if (!ret && (app->opts.all || app->opts.serve)) {
		app->housekeeping_fd = clock_timerfd(HOUSEKEEPING_NS, true);
		ret = app->housekeeping_fd < 0 ? app->housekeeping_fd :
		      app_epoll_add(app, app->housekeeping_fd, SRC_HOUSEKEEPING, 0);
	}
	if (ret) {
		snprintf(err, err_len, "epoll_ctl: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

static int start_timers(struct app *app, char *err, size_t err_len)
{
	int ret = 0;

	if (app->opts.interval_ns) {
		app->interval_fd = clock_timerfd(app->opts.interval_ns, true);
		ret = app->interval_fd < 0 ? app->interval_fd :
		      app_epoll_add(app, app->interval_fd, SRC_INTERVAL, 0);
	}
	if (!ret && app->opts.duration_ns) {
		app->deadline_fd = clock_timerfd(app->opts.duration_ns, false);
		ret = app->deadline_fd < 0 ? app->deadline_fd :
		      app_epoll_add(app, app->deadline_fd, SRC_DEADLINE, 0);
	}
	if (ret)
		snprintf(err, err_len, "timer: %s", strerror(-ret));
	return ret;
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

int main(int argc, char **argv)
{
	struct app app = { .epfd = -1, .sigfd = -1, .interval_fd = -1, .deadline_fd = -1,
			   .drain_fd = -1, .housekeeping_fd = -1, .child_pidfd = -1,
			   .child = { .gate_fd = -1, .exec_err_fd = -1 } };
	struct tracer_opts topts = { .on_event = on_event, .ctx = &app };
	struct target *targets = NULL;
	char err[ERR_LEN] = "";
	int ret, i, exit_code = 1;
	bool waiting = false;

	/* Subcommands that read recordings and trace nothing. */
	if (argc > 1 && (!strcmp(argv[1], "diff") || !strcmp(argv[1], "report")))
		return argv[1][0] == 'd' ? cause_diff_main(argc - 1, argv + 1) :
					   cause_report_main(argc - 1, argv + 1);
	switch (options_parse(argc, argv, &app.opts, err, sizeof(err))) {
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
	app.quiet = (app.opts.json && !app.opts.record) || app.opts.top;
	if (app.opts.top && (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO))) {
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

	if (app.opts.list) {
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
	if (app.opts.http) {
		char note[256];

		if (http_session_open(&app.http, tracer_filter_fd(app.tracer), find_stats, &app,
				      app.opts.json, app.out, err, sizeof(err), note, sizeof(note)))
			goto cleanup;
		if (note[0])
			msg_error("note: %s", note);
		http_session_set_options(app.http, app.opts.route_patterns,
					 app.opts.nroute_patterns, app.opts.hit_min_ns);
	}
	if (setup_loop(&app, err, sizeof(err)))
		goto cleanup;

	app.start_ns = clock_now_ns();
	app.interval_start_ns = app.start_ns;
	if (app.opts.serve && serve_start(&app, err, sizeof(err)))
		goto cleanup;
	if (app.opts.command) {
		/* The command's children are followed (gunicorn, uwsgi workers), as in --all. */
		ret = fleet_start(&app, true, err, sizeof(err));
		if (!ret)
			ret = launch_command(&app, targets, !waiting, err, sizeof(err));
	} else if (app.opts.all)
		ret = fleet_start(&app, false, err, sizeof(err));
	else if (!(ret = exec_watch_start(&app, err, sizeof(err))))
		/* Watched first: an exec right after a process is traced is not missed. */
		ret = attach_pids(&app, targets, err, sizeof(err));
	if (ret)
		goto cleanup;
	if (start_timers(&app, err, sizeof(err)))
		goto cleanup;
	if (app.opts.top) {
		if (top_open(&app.top, app.opts.http, app.opts.interval_ns, err, sizeof(err)))
			goto cleanup;
		refresh_top(&app);
	}
	if (app.opts.json && app.opts.all)
		report_json_ready(app.out, app.nalive, tracer_binary_count(app.tracer));
	msg_status(app.quiet, "%d process%s, %d binar%s probed; Ctrl-C to stop", app.nalive,
		   app.nprocs == 1 ? "" : "es", tracer_binary_count(app.tracer),
		   tracer_binary_count(app.tracer) == 1 ? "y" : "ies");

	if (run_loop(&app))
		goto cleanup;
	if (app.child_end[0] && !app.nprocs) {
		/* Nothing was Python: as for a command refused up front, one line and status 1. */
		snprintf(err, sizeof(err), "%s: not a Python program", app.child_end);
		goto cleanup;
	}
	consume_all(&app);
	if (app.http)
		http_session_finish(app.http);
	/* The terminal is the user's again before the summary is printed on it. */
	top_close(app.top);
	app.top = NULL;
	/* serve's figures were in its series, scraped: an agent's log wants no report. */
	if (app.opts.interval_ns && !app.opts.top && !app.opts.serve)
		report_interval(&app);
	if (!app.opts.serve)
		report_total(&app);
	if (app.command_output[0])
		msg_error("note: the command's output is in %s", app.command_output);
	err[0] = '\0';
	exit_code = 0;

cleanup:
	top_close(app.top);
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
	pidmap_free(&app.by_pid);
	fleet_close(app.fleet);
	if (app.child_pidfd >= 0)
		close(app.child_pidfd);
	exec_watch_close(app.exec_watch);
	serve_close(&app);
	if (app.housekeeping_fd >= 0)
		close(app.housekeeping_fd);
	free(targets);
	http_session_close(app.http);
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
