// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The traced processes of a run: their slots, from the start of tracing to their exit. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "run/app.h"
#include "util/clock.h"
#include "fleet/fleet.h"
#include "run/http_session.h"
#include "util/messages.h"
#include "probe/gc_state.h"
#include "trace/gc_tracer.h"
#include "trace/sampler.h"

int app_epoll_add(struct app *app, int fd, enum source src, uint32_t index)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)src << 32 | index };

	return epoll_ctl(app->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

void app_stop(struct app *app)
{
	app->stop_requested = true;
	app->nalive = 0;
	app->child_alive = false;
}

int app_pidfd_open(const struct target *t)
{
	int fd;

	fd = syscall(SYS_pidfd_open, t->pid, 0);
	if (fd < 0)
		return -errno;
	/* The PID was resolved a moment ago; make sure it still names the same process. */
	if (!proc_same_incarnation(t->pid, t->start_ticks)) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

struct traced *app_find_proc(struct app *app, pid_t pid)
{
	uint64_t slot;

	if (!pidmap_get(&app->by_pid, pid, &slot) || !app->procs[slot].stats)
		return NULL;
	return &app->procs[slot];
}

struct proc_stats *app_find_stats(pid_t pid, void *ctx)
{
	struct traced *p = app_find_proc(ctx, pid);

	return p ? p->stats : NULL;
}

/* A free slot, or a new one; NULL when out of memory. */
static struct traced *new_slot(struct app *app)
{
	struct traced *procs;
	int i;

	for (i = 0; i < app->nprocs; i++)
		if (!app->procs[i].stats)
			return &app->procs[i];
	procs = realloc(app->procs, (app->nprocs + 1) * sizeof(*procs));
	if (!procs)
		return NULL;
	app->procs = procs;
	memset(&procs[app->nprocs], 0, sizeof(*procs));
	procs[app->nprocs].pidfd = -1;
	return &procs[app->nprocs++];
}

static struct proc_stats *new_stats(struct app *app, const struct target *t)
{
	/* No summaries (serve keeps its figures in its series): only what requests need. */
	struct proc_stats *p = app->lean ? stats_new_lean(t, clock_now_ns()) :
					   stats_new(t, clock_now_ns());

	if (p && app->http && (app->lean ? stats_enable_gc_log(p) : stats_enable_http(p))) {
		stats_free(p);
		p = NULL;
	}
	return p;
}

/* The slot's statistics, filter entry and pidfd watch for t. */
static int start_slot(struct app *app, struct traced *p, const struct target *t, int pidfd,
		      char *err, size_t err_len)
{
	int ret;

	ret = tracer_add_pid(app->tracer, t->pid);
	if (ret) {
		snprintf(err, err_len, "pid %d: cannot add to the BPF filter: %s", t->pid,
			 strerror(-ret));
		return ret;
	}
	/* Taken after the filter update: every collection that starts from here is seen. */
	p->stats = new_stats(app, t);
	if (!p->stats || pidmap_set(&app->by_pid, t->pid, p - app->procs)) {
		stats_free(p->stats);
		p->stats = NULL;
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	ret = app_epoll_add(app, pidfd, SRC_PROCESS, p - app->procs);
	if (ret) {
		snprintf(err, err_len, "epoll: %s", strerror(-ret));
		pidmap_del(&app->by_pid, t->pid);
		stats_free(p->stats);
		p->stats = NULL;
		return ret;
	}
	p->pidfd = pidfd;
	p->exit_reported_in_interval = false;
	p->image_ns = 0;
	p->prev_slot_plus1 = 0;
	p->replaced_ns = 0;
	return 0;
}

/*
 * --sample: where t's interpreter keeps its "collecting" flag and its counters, found and
 * checked in its memory before anything else is done for it.
 */
static int sample_prepare(const struct target *t, struct gc_state_reader **reader,
			  uint64_t *collecting, uint64_t *stats, char *err, size_t err_len)
{
	char why[256];
	int minor = 0, ret;

	if (sscanf(t->version, "3.%d", &minor) != 1)
		minor = 0;
	ret = gc_state_open(t->pid, t->binary, t->host_path, minor, reader, why, sizeof(why));
	if (!ret) {
		ret = gc_state_sample_addrs(*reader, collecting, stats);
		snprintf(why, sizeof(why), "its GC state's layout (%s) does not say where the "
			 "collecting flag and the counters are", gc_state_source(*reader));
	}
	if (ret) {
		gc_state_close(*reader);
		*reader = NULL;
		snprintf(err, err_len, "pid %d (%s, Python %s): --sample cannot read its GC "
			 "state: %s", t->pid, t->comm, t->version[0] ? t->version : "?", why);
		return ret == -ESRCH ? ret : -ENOTSUP;
	}
	return 0;
}

int app_begin_tracing(struct app *app, const struct target *t, int pidfd, char *err,
		      size_t err_len)
{
	struct tracer_binary_id binary = { 0 };
	struct gc_state_reader *reader = NULL;
	uint64_t collecting = 0, stats = 0;
	struct traced *p;
	int ret;

	if (app->sampler) {
		/* No probe at all: the samples and the interpreter's counters say it all. */
		ret = sample_prepare(t, &reader, &collecting, &stats, err, err_len);
		if (ret)
			return ret;
	} else {
		ret = tracer_attach_binary(app->tracer, t->host_path, t->binary, &t->file,
					   &t->plan, &binary, err, err_len);
		/* Probes it replaced were on a file rewritten in place: their processes are told. */
		app_end_rewritten(app);
		if (ret)
			return ret;
	}
	p = new_slot(app);
	ret = p ? start_slot(app, p, t, pidfd, err, err_len) : -ENOMEM;
	if (!ret && reader) {
		ret = stats_sample_start(p->stats, reader, app->opts.sample_hz);
		reader = NULL;		/* the statistics own it */
		if (!ret)
			ret = sampler_add(app->sampler, t->pid, collecting, stats);
		if (ret) {
			snprintf(err, err_len, "pid %d: cannot start sampling it: %s", t->pid,
				 strerror(-ret));
			pidmap_del(&app->by_pid, t->pid);
			tracer_remove_pid(app->tracer, t->pid);
			epoll_ctl(app->epfd, EPOLL_CTL_DEL, pidfd, NULL);
			stats_free(p->stats);
			p->stats = NULL;
			p->pidfd = -1;
		}
	}
	if (ret) {
		if (!p)
			snprintf(err, err_len, "out of memory");
		gc_state_close(reader);
		tracer_release_binary(app->tracer, &binary, clock_now_ns());
		return ret;
	}
	p->binary = binary;
	app->nalive++;
	APP_SINKS(app, attach, p->stats);
	msg_status(app->quiet, "tracing pid %d (%s, Python %s, %s%s, %s: %s)%s%s", t->pid,
		   t->comm, t->version[0] ? t->version : "?", t->root, t->binary,
		   app->sampler ? "sampled" : t->probe,
		   app->sampler ? gc_state_source(p->stats->gc_reader) : t->plan.source,
		   t->container.id[0] ? " in container " : "",
		   t->container.id[0] ? t->container.id : "");
	if (t->plan.caveat[0])
		msg_status(app->quiet, "pid %d: note: %s", t->pid, t->plan.caveat);
	return 0;
}

static void report_exit_status(struct app *app, const struct proc_stats *ps)
{
	int status;

	if (app->launched && ps->process.pid == app->child.pid &&
	    waitpid(ps->process.pid, &status, WNOHANG) == ps->process.pid) {
		if (WIFEXITED(status))
			msg_status(app->quiet, "pid %d (%s) exited with status %d",
				   ps->process.pid, ps->process.comm, WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			msg_status(app->quiet, "pid %d (%s) killed by signal %d",
				   ps->process.pid, ps->process.comm, WTERMSIG(status));
	} else {
		msg_status(app->quiet, "pid %d (%s) %s", ps->process.pid, ps->process.comm,
			   ps->exit_reason ? ps->exit_reason : "exited");
	}
}

static void end_tracing(struct app *app, struct traced *p, const char *why, bool keep_filtered);

void app_process_gone(struct app *app, struct traced *p, const char *why)
{
	end_tracing(app, p, why, false);
}

void app_process_replaced(struct app *app, struct traced *p, const char *why)
{
	end_tracing(app, p, why, true);
}

static void end_tracing(struct app *app, struct traced *p, const char *why, bool keep_filtered)
{
	long slot = p - app->procs;
	struct proc_stats *ps;

	/*
	 * Its last collections (the shutdown ones among them) are already in the ring buffer.
	 * Reading them may trace new processes, and move the slots: p is found again after.
	 */
	app_read_gc_events(app);
	p = &app->procs[slot];
	ps = p->stats;
	if (app->http)
		http_session_process_gone(app->http, ps->process.pid);
	if (app->sampler) {
		struct sample_proc samples;

		/*
		 * Its counters as the kernel read them at its exit, when it could; else as last
		 * read (its memory, or a new program's after an exec, is not its own any more).
		 */
		if (!sampler_read(app->sampler, ps->process.pid, -1, &samples))
			stats_sample_set(ps, &samples);
		sampler_remove(app->sampler, ps->process.pid);
	}
	ps->exited = true;
	ps->exit_reason = why;
	ps->end_ns = clock_now_ns();
	if (!keep_filtered)
		tracer_remove_pid(app->tracer, ps->process.pid);
	tracer_release_binary(app->tracer, &p->binary, ps->end_ns);
	epoll_ctl(app->epfd, EPOLL_CTL_DEL, p->pidfd, NULL);
	close(p->pidfd);
	p->pidfd = -1;
	app->nalive--;
	report_exit_status(app, ps);
	APP_SINKS(app, exit, ps);
	/* The sinks have counted it already, and no summary will report it. */
	if (app->lean)
		app_forget(app, p);
}

void app_end_rewritten(struct app *app)
{
	struct tracer_binary_id id;
	char name[256];
	int i;

	while (tracer_next_changed(app->tracer, &id, name, sizeof(name))) {
		msg_error("warning: %s was rewritten in place (same file, new contents): its "
			  "probes are detached; a process that still maps it runs the new bytes",
			  name);
		/* app_process_gone() may trace new processes, and move the slots: by index. */
		for (i = 0; id.serial && i < app->nprocs; i++) {
			if (app->procs[i].stats && app->procs[i].pidfd >= 0 &&
			    app->procs[i].binary.serial == id.serial)
				app_process_gone(app, &app->procs[i], APP_REASON_REWRITTEN);
		}
	}
}

void app_forget(struct app *app, struct traced *p)
{
	uint64_t slot;

	pid_t pid = p->stats->process.pid;

	/* The PID may name a later process already, in another slot. */
	if (pidmap_get(&app->by_pid, pid, &slot) && slot == (uint64_t)(p - app->procs))
		pidmap_del(&app->by_pid, pid);
	stats_free(p->stats);
	p->stats = NULL;
}
