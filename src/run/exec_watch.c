// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "run/app.h"
#include "util/clock.h"
#include "proc/container.h"
#include "trace/discovery.h"
#include "run/exec_watch.h"
#include "util/messages.h"
#include "proc/proc.h"
#include "probe/elf/pyelf.h"
#include "probe/target.h"
#include "trace/gc_tracer.h"

/* The dynamic loader maps a libpython a moment after the exec: looked at again this often. */
#define EXEC_RETRY_STEP_NS	(5 * 1000000ull)
#define EXEC_RETRY_WINDOW_NS	(1000 * 1000000ull)
/* Collections of new programs held until they are traced: a few per program at most. */
#define MAX_DEFERRED		4096

struct pending_exec {
	pid_t pid;
	int slot;		/* the replaced program's */
	uint64_t exec_ns;
	uint64_t due_ns;
};

struct exec_watch {
	struct discovery *discovery;
	int retry_fd;
	struct pending_exec *pending;	/* grows: an exec is never refused a look */
	int npending, pending_cap;
	struct gc_event *deferred;
	int ndeferred;
};

static struct pending_exec *pending_of(struct exec_watch *w, pid_t pid)
{
	int i;

	for (i = 0; i < w->npending; i++)
		if (w->pending[i].pid == pid)
			return &w->pending[i];
	return NULL;
}

static void arm_timer(struct exec_watch *w)
{
	uint64_t first = UINT64_MAX;
	int i;

	for (i = 0; i < w->npending; i++)
		if (w->pending[i].due_ns < first)
			first = w->pending[i].due_ns;
	clock_timerfd_arm_at(w->retry_fd, w->npending ? first : 0);
}

static void on_exec(const struct discover_event *e, void *ctx)
{
	struct app *app = ctx;
	struct exec_watch *w = app->exec_watch;
	struct traced *p = app_find_proc(app, e->pid);
	struct pending_exec *pe;

	if (e->kind != DISCOVER_EXEC || !p || p->stats->exited)
		return;
	/* An exec from before this program was traced (the start of the run). */
	if (e->ts_ns <= p->stats->trace_start_ns)
		return;
	pe = pending_of(w, e->pid);
	if (pe) {
		/* Replaced again before it was looked at: the latest program is the one. */
		pe->exec_ns = e->ts_ns;
		return;
	}
	/* From now on its collections are the new program's. */
	p->replaced_ns = e->ts_ns;
	if (w->npending == w->pending_cap) {
		int cap = w->pending_cap ? 2 * w->pending_cap : 16;
		struct pending_exec *grown = realloc(w->pending, cap * sizeof(*grown));

		if (!grown) {
			/* Its new program's collections are counted lost (exec_watch_defer). */
			msg_error("out of memory: pid %d (%s) replaced its program (exec), which is "
				  "not looked at", e->pid, p->stats->process.comm);
			return;
		}
		w->pending = grown;
		w->pending_cap = cap;
	}
	w->pending[w->npending++] = (struct pending_exec){
		.pid = e->pid, .slot = p - app->procs, .exec_ns = e->ts_ns,
		.due_ns = clock_now_ns(),
	};
	arm_timer(w);
}

void exec_watch_poll(struct app *app)
{
	if (app->exec_watch)
		discovery_consume(app->exec_watch->discovery);
}

void exec_watch_on_discovery(struct app *app)
{
	exec_watch_poll(app);
}

bool exec_watch_defer(struct app *app, const struct gc_event *e)
{
	struct exec_watch *w = app->exec_watch;

	if (!pending_of(w, e->pid) || w->ndeferred == MAX_DEFERRED) {
		app->unattributed++;
		return false;
	}
	w->deferred[w->ndeferred++] = *e;
	return true;
}

/* The held collections of pid: counted (the new program is traced) or not. */
static void release_deferred(struct app *app, pid_t pid, bool count)
{
	struct exec_watch *w = app->exec_watch;
	struct gc_event *held;
	int i, n = 0, kept = 0;

	held = malloc((w->ndeferred ? w->ndeferred : 1) * sizeof(*held));
	for (i = 0; i < w->ndeferred; i++) {
		if (w->deferred[i].pid != (__u32)pid)
			w->deferred[kept++] = w->deferred[i];
		else if (held)
			held[n++] = w->deferred[i];
		else
			app->unattributed++;
	}
	w->ndeferred = kept;
	for (i = 0; i < n; i++) {
		if (count)
			app_settle_gc_event(app, &held[i]);
		else
			app->unattributed++;
	}
	free(held);
}

/* Linked against a libpython that the dynamic loader may not have mapped yet. */
static bool needs_libpython(pid_t pid)
{
	char exe[64], soname[256], runpath[16];

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	return !pyelf_find_needed(exe, "libpython", soname, sizeof(soname), runpath,
				  sizeof(runpath)) && soname[0];
}

/* Looks at the program that replaced pe's; false when it must be looked at again later. */
static bool look_at_new_program(struct app *app, struct pending_exec *pe)
{
	char err[TARGET_ERR_LEN], exe[PROC_PATH_MAX] = "?";
	struct traced *old = &app->procs[pe->slot], *new;
	uint64_t start_ticks;
	struct target t;
	int ret, fd;

	if (!old->stats || old->stats->exited || old->stats->process.pid != pe->pid) {
		/* It exited meanwhile, and its pidfd said so. */
		release_deferred(app, pe->pid, false);
		return true;
	}
	start_ticks = old->stats->process.start_ticks;
	ret = target_resolve(pe->pid, app->opts.probe_mode, &t, err, sizeof(err));
	if (ret && !proc_same_incarnation(pe->pid, start_ticks)) {
		/* Gone: its pidfd tells. */
		release_deferred(app, pe->pid, false);
		return true;
	}
	if (ret == -ENOEXEC && clock_now_ns() - pe->exec_ns < EXEC_RETRY_WINDOW_NS &&
	    needs_libpython(pe->pid)) {
		pe->due_ns = clock_now_ns() + EXEC_RETRY_STEP_NS;
		return false;
	}
	if (ret) {
		proc_exe_path(pe->pid, exe, sizeof(exe));
		if (ret == -ENOEXEC)
			msg_status(app->quiet, "pid %d (%s) now runs %s, not Python: no longer "
				   "traced", pe->pid, old->stats->process.comm, exe);
		else
			msg_error("%s", err);
		app_process_gone(app, old, ret == -ENOEXEC ? APP_REASON_EXEC_OTHER :
						 APP_REASON_EXEC_UNSUPPORTED);
		release_deferred(app, pe->pid, false);
		return true;
	}
	container_read(pe->pid, &t.container);
	fd = app_pidfd_open(&t);
	if (fd < 0) {
		release_deferred(app, pe->pid, false);
		return true;
	}
	/* Its last collections are read first; the new program's are held meanwhile. */
	app_process_replaced(app, old, APP_REASON_EXEC);
	ret = app_begin_tracing(app, &t, fd, err, sizeof(err));
	if (ret) {
		close(fd);
		msg_error("%s", err);
		tracer_remove_pid(app->tracer, pe->pid);
		release_deferred(app, pe->pid, false);
		return true;
	}
	new = app_find_proc(app, pe->pid);
	new->image_ns = pe->exec_ns;
	new->prev_slot_plus1 = pe->slot + 1;
	release_deferred(app, pe->pid, true);
	return true;
}

void exec_watch_on_retry(struct app *app)
{
	struct exec_watch *w = app->exec_watch;
	struct pending_exec due;
	uint64_t ticks, now = clock_now_ns();
	int i;

	if (read(w->retry_fd, &ticks, sizeof(ticks)) <= 0)
		return;
	/* One at a time from the queue: looking at one reads events, which may queue others. */
	for (i = 0; i < w->npending;) {
		if (w->pending[i].due_ns > now) {
			i++;
			continue;
		}
		due = w->pending[i];
		if (look_at_new_program(app, &due)) {
			/* Found again by PID: the queue may have moved meanwhile. */
			struct pending_exec *pe = pending_of(w, due.pid);

			if (pe)
				*pe = w->pending[--w->npending];
			/* Held again meanwhile (a program between two execs): nobody waits now. */
			release_deferred(app, due.pid, false);
			i = 0;
		} else {
			struct pending_exec *pe = pending_of(w, due.pid);

			if (pe)
				pe->due_ns = due.due_ns;
			i++;
		}
	}
	arm_timer(w);
}

int exec_watch_start(struct app *app, char *err, size_t err_len)
{
	struct exec_watch *w = calloc(1, sizeof(*w));
	int ret;

	if (!w || !(w->deferred = calloc(MAX_DEFERRED, sizeof(*w->deferred)))) {
		free(w);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	w->retry_fd = -1;
	ret = discovery_open(&w->discovery, tracer_filter_fd(app->tracer), DISCOVERY_PIDS, on_exec,
			     app, err, err_len);
	if (ret) {
		msg_error("note: %s; a traced process that replaces its program (exec) is not "
			  "noticed", err);
		err[0] = '\0';
		exec_watch_close(w);
		return 0;
	}
	app->exec_watch = w;
	w->retry_fd = clock_timerfd_oneshot();
	if (w->retry_fd < 0) {
		snprintf(err, err_len, "timerfd: %s", strerror(-w->retry_fd));
		return w->retry_fd;
	}
	ret = app_epoll_add(app, w->retry_fd, SRC_RETRY, 0);
	if (!ret)
		ret = app_epoll_add(app, discovery_epoll_fd(w->discovery), SRC_DISCOVERY, 0);
	if (ret) {
		snprintf(err, err_len, "epoll_ctl: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

void exec_watch_close(struct exec_watch *w)
{
	if (!w)
		return;
	discovery_close(w->discovery);
	if (w->retry_fd >= 0)
		close(w->retry_fd);
	free(w->deferred);
	free(w->pending);
	free(w);
}
