// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The run's loop: one epoll set for the ring buffers' drain timer, signals, timers, process
 * exits (pidfds), discovery, and the sinks' inputs. Every decision is taken here, between
 * reads: callbacks only record.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "run/exec_watch.h"
#include "fleet/fleet.h"
#include "run/app.h"
#include "run/http_session.h"
#include "util/clock.h"
#include "util/messages.h"

/* --all and serve: rescans and expiry are checked, and stalled clients dropped, this often. */
#define HOUSEKEEPING_NS	1000000000ull

int app_add_sink(struct app *app, const struct sink *s, char *err, size_t err_len)
{
	int fd, ret, i = app->nsinks;

	if (i == MAX_SINKS) {
		snprintf(err, err_len, "too many outputs");
		return -E2BIG;
	}
	fd = s->ops->input_fd ? s->ops->input_fd(s->ctx) : -1;
	if (fd >= 0) {
		ret = app_epoll_add(app, fd, SRC_SINK, i);
		if (ret) {
			snprintf(err, err_len, "epoll_ctl: %s", strerror(-ret));
			return ret;
		}
	}
	/* Added only once it can be called: on failure, the caller still owns it. */
	app->sinks[i] = *s;
	app->nsinks++;
	return 0;
}

void app_close_sinks(struct app *app)
{
	int i;

	for (i = app->nsinks - 1; i >= 0; i--)
		if (app->sinks[i].ops->close)
			app->sinks[i].ops->close(app->sinks[i].ctx);
	app->nsinks = 0;
}

/* A sink's input: the events up to now are read first, so what it shows is current. */
static void sink_input(struct app *app, int i)
{
	const struct sink *s = &app->sinks[i];

	app_drain(app);
	switch (s->ops->input(s->ctx)) {
	case SINK_QUIT:
		app_stop(app);
		break;
	case SINK_REDRAW:
		app_interval(app);
		break;
	case SINK_NONE:
		break;
	}
}

/* The soonest a sink wants its input called without any (libmicrohttpd's timers); -1: none. */
static int sinks_timeout_ms(struct app *app)
{
	int i, t, soonest = -1;

	for (i = 0; i < app->nsinks; i++) {
		if (!app->sinks[i].ops->timeout_ms)
			continue;
		t = app->sinks[i].ops->timeout_ms(app->sinks[i].ctx);
		if (t >= 0 && (soonest < 0 || t < soonest))
			soonest = t;
	}
	return soonest;
}

static void on_timeout(struct app *app)
{
	int i;

	for (i = 0; i < app->nsinks; i++)
		if (app->sinks[i].ops->timeout_ms && app->sinks[i].ops->input)
			sink_input(app, i);
}

static bool any_sink_resizes(const struct app *app)
{
	int i;

	for (i = 0; i < app->nsinks; i++)
		if (app->sinks[i].ops->resize)
			return true;
	return false;
}

static void on_signal(struct app *app)
{
	struct signalfd_siginfo si;

	if (read(app->sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGWINCH) {
		if (any_sink_resizes(app)) {
			for (int i = 0; i < app->nsinks; i++)
				if (app->sinks[i].ops->resize)
					app->sinks[i].ops->resize(app->sinks[i].ctx);
			app_interval(app);
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
	int detached, i;

	/* --all: new processes found by a rescan, binaries unused and processes gone forgotten. */
	if (app->fleet) {
		fleet_housekeeping(app->fleet, now);
		detached = tracer_expire_binaries(app->tracer, now, app->opts.expire_ns);
		if (detached)
			msg_status(app->quiet, "%d binar%s unused for %.0f s: probes detached",
				   detached, detached == 1 ? "y" : "ies",
				   app->opts.expire_ns / 1e9);
		for (i = 0; i < app->nprocs; i++) {
			struct traced *p = &app->procs[i];

			if (p->stats && p->stats->exited &&
			    now - p->stats->end_ns >= app->opts.expire_ns)
				app_forget(app, p);
		}
	}
	app_drain(app);
	APP_SINKS(app, housekeeping, now);
}

int app_run_loop(struct app *app)
{
	struct epoll_event evs[16];
	uint64_t ticks;
	int n, i, ret;

	/*
	 * --all goes on with no process left, until stopped: others may come. serve too, so that
	 * the final values of processes given with -p are scraped.
	 */
	while (app->nalive > 0 || app->child_alive ||
	       ((app->opts.all || app->opts.mode == MODE_SERVE) && !app->stop_requested)) {
		n = epoll_wait(app->epfd, evs, 16, sinks_timeout_ms(app));
		if (n == 0)
			on_timeout(app);
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
				ret = app_drain(app);
				if (ret < 0 && ret != -EINTR) {
					msg_error("reading events: %s", strerror(-ret));
					return ret;
				}
				break;
			case SRC_SIGNAL:
				on_signal(app);
				break;
			case SRC_INTERVAL:
				if (read(app->interval_fd, &ticks, sizeof(ticks)) > 0)
					app_interval(app);
				break;
			case SRC_SINK:
				if (index < (uint32_t)app->nsinks && app->sinks[index].ops->input)
					sink_input(app, index);
				break;
			case SRC_DEADLINE:
				msg_status(app->quiet, "duration elapsed");
				app_stop(app);
				break;
			case SRC_PROCESS:
				/* An exec before the exit is told first: the program it ended in. */
				if (app->fleet)
					fleet_on_discovery(app->fleet);
				if (index < (uint32_t)app->nprocs && app->procs[index].pidfd >= 0)
					app_process_gone(app, &app->procs[index], NULL);
				break;
			case SRC_DISCOVERY:
				if (app->fleet)
					fleet_on_discovery(app->fleet);
				else
					exec_watch_on_discovery(app);
				break;
			case SRC_RETRY:
				if (app->fleet)
					fleet_on_retry(app->fleet);
				else
					exec_watch_on_retry(app);
				break;
			case SRC_HOUSEKEEPING:
				if (read(app->housekeeping_fd, &ticks, sizeof(ticks)) > 0)
					housekeeping(app);
				break;
			case SRC_CHILD:
				/* Its last events first: a worker traced just before it went. */
				app_drain(app);
				if (app->fleet)
					fleet_on_discovery(app->fleet);
				app_on_child_exit(app);
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

int app_setup_loop(struct app *app, char *err, size_t err_len)
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
	/* Ignored by default; told to the sinks that draw on the terminal. */
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
	if (!ret && (app->opts.all || app->opts.mode == MODE_SERVE)) {
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

int app_start_timers(struct app *app, char *err, size_t err_len)
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
