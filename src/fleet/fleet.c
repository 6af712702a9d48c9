// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util/clock.h"
#include "trace/discovery.h"
#include "util/file_id.h"
#include "fleet/fleet.h"
#include "probe/elf/loader.h"
#include "util/messages.h"
#include "util/pidmap.h"
#include "probe/target.h"

/*
 * A new process's libpython is mapped by the dynamic loader a moment after exec: look again
 * every RETRY_STEP_NS for RETRY_WINDOW_NS.
 */
#define RETRY_STEP_NS		(5 * 1000000ull)
#define RETRY_WINDOW_NS		(1000 * 1000000ull)
/*
 * A forked child is traced by the BPF filter from its first instruction, but looked at only
 * this much later: most children of a Python process (subprocess) exec another program within
 * a millisecond or two, and would otherwise be reported as a traced process that vanished. A
 * collection of the child has it looked at too, but collections are read on the drain timer
 * (25 ms): a worker that forks, collects and exits within that (a pool's short tasks) is only
 * traced if this look comes first. Its collections are counted as lost if neither does.
 */
#define FORK_LOOK_DELAY_NS	(10 * 1000000ull)
/* Without the exec and fork tracepoints, /proc is scanned at least this often. */
#define POLL_ONLY_RESCAN_NS	(1000 * 1000000ull)
#define MAX_RETRIES		256
/* -p --children: descendants looked for this deep at most (a pool's master, its workers). */
#define ADOPT_MAX_DEPTH		16
/* Executables remembered: Python, linked against a libpython, or neither. */
#define EXE_CACHE_SIZE		256
/*
 * A rejected incarnation that was judged by its executable alone, at exec: the next rescan
 * looks at its mappings once, for a libpython loaded later with dlopen (uwsgi's plugin).
 */
#define REJECTED_PROVISIONAL	(1ull << 63)

/* Where a candidate came from. */
enum origin { FROM_SCAN, FROM_EXEC, FROM_FORK, FROM_COLLECTION, FROM_RETRY, FROM_LOADED };

struct retry {
	pid_t pid;
	uint64_t exec_ns;	/* 0: a fork's child */
	uint64_t due_ns;
};

struct exe_verdict {
	struct file_id id;
	enum fleet_exe_kind kind;
};

struct fleet {
	struct fleet_config cfg;
	struct fleet_host host;
	const struct fleet_proc_ops *proc;
	bool tree_only;			/* -- COMMAND, -p --children: a process tree, no scans */
	pid_t launched;			/* -- COMMAND, Python: traced before its exec(s) */
	struct discovery *discovery;
	struct target_cache *cache;
	/* pid -> start time of an incarnation that was looked at and not traced */
	struct pidmap rejected, rejected_next;
	bool scanning;			/* a rescan builds rejected_next */
	struct retry retries[MAX_RETRIES];
	int nretries;
	int retry_fd;
	uint64_t last_scan_ns;
	struct exe_verdict exes[EXE_CACHE_SIZE];
	unsigned int nexes, exes_victim;
	bool limit_reported;
	struct fleet_counts counts;
	/* Discovery events read and not handled yet: the ring buffer's callback only copies. */
	struct discover_event *events;
	size_t nevents, events_next, events_cap;
};

static void consider(struct fleet *f, pid_t pid, enum origin origin, uint64_t exec_ns);
static bool untraced(struct fleet *f, pid_t pid);
static void filter(struct fleet *f, pid_t pid, enum fleet_filter state);
static void queue_retry(struct fleet *f, pid_t pid, uint64_t exec_ns, uint64_t due_ns);

static void queue_discover_event(const struct discover_event *e, void *ctx)
{
	struct fleet *f = ctx;

	if (f->nevents == f->events_cap) {
		size_t cap = f->events_cap ? 2 * f->events_cap : 256;
		struct discover_event *grown = realloc(f->events, cap * sizeof(*grown));

		if (!grown) {
			/* As if the kernel had dropped it: the next rescan finds the process. */
			f->counts.discovery_dropped++;
			return;
		}
		f->events = grown;
		f->events_cap = cap;
	}
	f->events[f->nevents++] = *e;
}

static void handle_discover_event(struct fleet *f, const struct discover_event *e)
{

	switch (e->kind) {
	case DISCOVER_FORK:
		queue_retry(f, e->pid, 0, clock_now_ns() + FORK_LOOK_DELAY_NS);
		break;
	case DISCOVER_LOADED:
		/* Held by the kernel until here: its libpython, if that was one, is probed now. */
		consider(f, e->pid, FROM_LOADED, e->ts_ns);
		if ((e->flags & DISCOVER_HELD) && kill(e->pid, SIGCONT) && errno != ESRCH)
			msg_error("pid %u: cannot let it go on (SIGCONT): %s", e->pid,
				  strerror(errno));
		break;
	default:
		/*
		 * The command was traced before it exec'd its interpreter (perhaps through
		 * /usr/bin/env): the program is the one planned, and stays confirmed.
		 */
		if (e->pid == (__u32)f->launched && !untraced(f, e->pid)) {
			filter(f, e->pid, FLEET_TRACED);
			break;
		}
		consider(f, e->pid, FROM_EXEC, e->ts_ns);
		break;
	}
}

void fleet_set_launched(struct fleet *f, pid_t pid)
{
	if (f)
		f->launched = pid;
}

static void scan_one(pid_t pid, void *ctx)
{
	consider(ctx, pid, FROM_SCAN, 0);
}

static void filter(struct fleet *f, pid_t pid, enum fleet_filter state)
{
	f->host.ops->filter(f->host.run, pid, state);
}

static bool untraced(struct fleet *f, pid_t pid)
{
	uint64_t ticks, since;

	return !f->host.ops->lookup(f->host.run, pid, &ticks, &since);
}

/* A retry or a fork's look is queued for pid: that decides, not a scan meanwhile. */
static bool retry_pending(const struct fleet *f, pid_t pid)
{
	int i;

	for (i = 0; i < f->nretries; i++)
		if (f->retries[i].pid == pid)
			return true;
	return false;
}

/*
 * Entries of the BPF filter nobody traces, nor waits to look at: candidates whose exec event
 * was lost, or that exited before they were looked at. The filter keeps only what is traced.
 */
static void sweep_filter(struct fleet *f)
{
	pid_t *pids = NULL;
	int n, i;

	n = f->host.ops->filtered(f->host.run, &pids);
	for (i = 0; i < n; i++) {
		if (!untraced(f, pids[i]) || retry_pending(f, pids[i]))
			continue;
		consider(f, pids[i], FROM_SCAN, 0);
		if (untraced(f, pids[i]) && !retry_pending(f, pids[i]))
			filter(f, pids[i], FLEET_UNFILTERED);
	}
	free(pids);
}

static void rescan(struct fleet *f, uint64_t now_ns)
{

	/* The rejected set is rebuilt from the processes that still exist. */
	f->scanning = true;
	f->proc->scan(scan_one, f);
	f->scanning = false;
	pidmap_free(&f->rejected);
	f->rejected = f->rejected_next;
	memset(&f->rejected_next, 0, sizeof(f->rejected_next));
	sweep_filter(f);
	f->last_scan_ns = now_ns;
}

/* Hooks the dynamic loader of the executable at exe (a path to open from here). */
static void watch_loader_of(struct fleet *f, pid_t pid, const char *exe)
{
	char interp[PROC_PATH_MAX], host[PROC_PATH_MAX], err[TARGET_ERR_LEN];

	if (!f->discovery || loader_interp_of(exe, interp, sizeof(interp)))
		return;
	if (pid > 0 && proc_host_path(pid, interp, host, sizeof(host)))
		return;
	if (discovery_watch_loader(f->discovery, pid > 0 ? host : interp, err, sizeof(err)) &&
	    f->cfg.verbose)
		msg_error("note: %s", err);
}

int fleet_watch_loader_of(struct fleet *f, const char *exe)
{
	if (!f || !f->discovery)
		return -ENOENT;
	watch_loader_of(f, 0, exe);
	return 0;
}

int fleet_open(struct fleet **out, const struct fleet_config *cfg, const struct fleet_host *host,
	       char *err, size_t err_len)
{
	struct fleet *f = calloc(1, sizeof(*f));
	enum discovery_scope scope;
	int ret;

	*out = f;
	if (!f) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	f->cfg = *cfg;
	f->host = *host;
	f->proc = cfg->proc ? cfg->proc : &fleet_proc_host;
	f->tree_only = cfg->tree_only;
	f->retry_fd = -1;
	f->cache = target_cache_new();
	if (!f->cache) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	/* Without a filter (the unit tests), scans only, and nothing to say about it. */
	scope = !f->tree_only ? DISCOVERY_ALL : cfg->hold_waiting ? DISCOVERY_TREE :
		DISCOVERY_CHILDREN;
	ret = cfg->filter_fd < 0 ? 0 :
	      discovery_open(&f->discovery, cfg->filter_fd, scope, queue_discover_event, f, err,
			     err_len);
	if (ret && f->tree_only) {
		msg_error("note: %s; children and libraries loaded later are not followed", err);
		err[0] = '\0';
	} else if (ret) {
		/* A kernel without tp_btf (before 5.5) still has /proc: scans, more often. */
		msg_error("note: %s; new processes are found by scanning /proc every %.1f s instead",
			  err, POLL_ONLY_RESCAN_NS / 1e9);
		err[0] = '\0';
		if (f->cfg.rescan_ns > POLL_ONLY_RESCAN_NS)
			f->cfg.rescan_ns = POLL_ONLY_RESCAN_NS;
	}
	f->retry_fd = clock_timerfd_oneshot();
	if (f->retry_fd < 0) {
		snprintf(err, err_len, "timerfd: %s", strerror(-f->retry_fd));
		return f->retry_fd;
	}
	return 0;
}

void fleet_start(struct fleet *f)
{
	/* Most processes of a node share one loader: ours. Others are hooked as they are seen. */
	watch_loader_of(f, 0, "/proc/self/exe");
	/* Probes first, then the scan: a process started in between is seen by one or the other. */
	if (!f->tree_only)
		rescan(f, clock_now_ns());
}

struct adopt {
	struct fleet *f;
	int depth;
};

static void adopt_one(pid_t pid, void *ctx)
{
	struct adopt *a = ctx, deeper = { a->f, a->depth + 1 };

	/* As a fork's child is, once looked at: traced if Python, else watched for its forks. */
	consider(a->f, pid, FROM_SCAN, 0);
	if (deeper.depth < ADOPT_MAX_DEPTH)
		a->f->proc->children(pid, adopt_one, &deeper);
}

void fleet_adopt_children(struct fleet *f, pid_t pid)
{
	struct adopt a = { f, 0 };

	if (f && f->proc->children)
		f->proc->children(pid, adopt_one, &a);
}

int fleet_discovery_fd(const struct fleet *f)
{
	return f->discovery ? discovery_epoll_fd(f->discovery) : -1;
}

int fleet_retry_fd(const struct fleet *f)
{
	return f->retry_fd;
}

void fleet_on_discovery(struct fleet *f)
{

	discovery_consume(f->discovery);
	while (f->events_next < f->nevents) {
		/* A copy: handling one may read events again, and move the queue. */
		struct discover_event e = f->events[f->events_next++];

		handle_discover_event(f, &e);
	}
	f->nevents = f->events_next = 0;
}

void fleet_on_unknown_pid(struct fleet *f, pid_t pid)
{
	consider(f, pid, FROM_COLLECTION, 0);
}

static void arm_retry_timer(struct fleet *f)
{
	uint64_t first = UINT64_MAX;
	int i;

	for (i = 0; i < f->nretries; i++)
		if (f->retries[i].due_ns < first)
			first = f->retries[i].due_ns;
	clock_timerfd_arm_at(f->retry_fd, f->nretries ? first : 0);
}

void fleet_on_retry(struct fleet *f)
{
	struct retry due[MAX_RETRIES];
	uint64_t ticks, now = clock_now_ns();
	int n = 0, i, kept = 0;

	if (read(f->retry_fd, &ticks, sizeof(ticks)) <= 0)
		return;
	/* The due ones leave the queue first: consider() may queue some again. */
	for (i = 0; i < f->nretries; i++) {
		if (f->retries[i].due_ns <= now)
			due[n++] = f->retries[i];
		else
			f->retries[kept++] = f->retries[i];
	}
	f->nretries = kept;
	for (i = 0; i < n; i++)
		consider(f, due[i].pid, due[i].exec_ns ? FROM_RETRY : FROM_FORK,
			 due[i].exec_ns);
	arm_retry_timer(f);
}

static void queue_retry(struct fleet *f, pid_t pid, uint64_t exec_ns, uint64_t due_ns)
{
	/* Full: a fork's child or a slow loader is then left to the next rescan. */
	if (f->nretries == MAX_RETRIES)
		return;
	f->retries[f->nretries++] = (struct retry){ pid, exec_ns, due_ns };
	arm_retry_timer(f);
}

/*
 * What the process's executable is, remembered by inode: most execs on a node run a few
 * programs over and over, and reading their ELF headers each time would cost more than the
 * exec itself.
 */
static enum fleet_exe_kind exe_kind(struct fleet *f, pid_t pid)
{
	struct exe_verdict *e;
	struct file_id id;
	unsigned int i;
	char exe[64];

	if (f->proc->exe(pid, &id))
		return FLEET_EXE_OTHER;
	for (i = 0; i < f->nexes; i++)
		if (file_id_equal(&f->exes[i].id, &id))
			return f->exes[i].kind;
	e = &f->exes[file_cache_slot(&f->nexes, &f->exes_victim, EXE_CACHE_SIZE)];
	e->id = id;
	/* A new executable may come with a loader of its own (a container's glibc). */
	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	watch_loader_of(f, pid, exe);
	e->kind = f->proc->exe_kind(pid);
	return e->kind;
}

static bool any_match(char **patterns, int n, const char *value)
{
	int i;

	for (i = 0; value[0] && i < n; i++)
		if (!fnmatch(patterns[i], value, 0))
			return true;
	return false;
}

/* A pattern matches a container by its ID (or the start of it), its pod or NAMESPACE/POD. */
static bool container_matches(char **patterns, int n, const struct container_info *c)
{
	char ns_pod[CONTAINER_NS_LEN + CONTAINER_POD_LEN + 1];
	int i;

	snprintf(ns_pod, sizeof(ns_pod), "%s/%s", c->ns, c->pod);
	for (i = 0; i < n; i++) {
		size_t len = strlen(patterns[i]);

		if (!strcmp(patterns[i], "-") && !c->id[0])
			return true;
		if (c->id[0] && len >= 4 && !strncmp(c->id, patterns[i], len))
			return true;
	}
	return any_match(patterns, n, c->id) || any_match(patterns, n, c->pod) ||
	       (c->pod[0] && any_match(patterns, n, ns_pod));
}

static bool selected(const struct fleet_config *o, const struct target *t)
{
	if (o->ncomm_patterns && !any_match(o->comm_patterns, o->ncomm_patterns, t->comm))
		return false;
	if (o->ncontainer_patterns &&
	    !container_matches(o->container_patterns, o->ncontainer_patterns, &t->container))
		return false;
	return !any_match(o->exclude_patterns, o->nexclude_patterns, t->comm) &&
	       !container_matches(o->exclude_patterns, o->nexclude_patterns, &t->container);
}

/*
 * Not traced: out of the BPF filter, and not looked at again in this incarnation (verdict is
 * its start time; or'ed with REJECTED_PROVISIONAL, the next rescan looks once more).
 */
static void reject(struct fleet *f, pid_t pid, uint64_t verdict)
{

	/* -- COMMAND: still of the command's tree, watched for a libpython and for its forks. */
	if (f->tree_only)
		filter(f, pid, FLEET_WATCHED);
	else
		filter(f, pid, FLEET_UNFILTERED);
	pidmap_set(&f->rejected, pid, verdict);
	if (f->scanning)
		pidmap_set(&f->rejected_next, pid, verdict);
}

/* A Python that cannot be probed: said once, and nothing to wait for in it. */
static void refuse_unsupported(struct fleet *f, pid_t pid, uint64_t start_ticks, const char *err)
{
	f->counts.skipped_unsupported++;
	msg_error("%s", err);
	reject(f, pid, start_ticks);
	if (f->tree_only)
		filter(f, pid, FLEET_UNFILTERED);
}

static bool already_decided(struct fleet *f, pid_t pid, uint64_t start_ticks, enum origin origin,
			    uint64_t exec_ns)
{
	uint64_t rejected_ticks, traced_ticks, trace_start_ns;

	if (f->host.ops->lookup(f->host.run, pid, &traced_ticks, &trace_start_ns)) {
		if (traced_ticks != start_ticks) {
			/* Its pidfd has not been read yet: the PID names a new process. */
			f->host.ops->end(f->host.run, pid, NULL);
		} else if (origin == FROM_EXEC && exec_ns <= trace_start_ns) {
			/*
			 * An exec from before this program was looked at (sh -c 'exec python'
			 * with its first exec read late): the program traced is the newer one.
			 */
			return true;
		} else if (origin == FROM_EXEC) {
			f->host.ops->end(f->host.run, pid, "replaced its program (exec)");
		} else {
			return true;
		}
	}
	if (pidmap_get(&f->rejected, pid, &rejected_ticks) &&
	    (rejected_ticks & ~REJECTED_PROVISIONAL) == start_ticks) {
		/* A new program in the same process deserves a new look, as does a provisional
		 * verdict at a rescan. */
		if (origin == FROM_EXEC || origin == FROM_LOADED ||
		    (origin == FROM_SCAN && (rejected_ticks & REJECTED_PROVISIONAL))) {
			pidmap_del(&f->rejected, pid);
			return false;
		}
		if (f->scanning)
			pidmap_set(&f->rejected_next, pid, rejected_ticks);
		return true;
	}
	return false;
}

static void consider(struct fleet *f, pid_t pid, enum origin origin, uint64_t exec_ns)
{
	char comm[PROC_COMM_LEN], err[TARGET_ERR_LEN];
	uint64_t start_ticks;
	struct target t;
	int ret;

	if (pid == getpid())
		return;
	if (f->proc->identity(pid, comm, sizeof(comm), &start_ticks)) {
		uint64_t ticks, since;

		/*
		 * Gone already; a traced one is seen through its pidfd, but one that exec'd
		 * another program after its tracing began ended there, not at its exit.
		 */
		if (origin == FROM_EXEC && f->host.ops->lookup(f->host.run, pid, &ticks, &since) &&
		    exec_ns > since)
			f->host.ops->end(f->host.run, pid, "replaced its program (exec)");
		if (untraced(f, pid))
			filter(f, pid, FLEET_UNFILTERED);
		return;
	}
	if (already_decided(f, pid, start_ticks, origin, exec_ns))
		return;
	/* Its libpython may not be mapped yet: the queued look decides, not a scan meanwhile. */
	if (origin == FROM_SCAN && retry_pending(f, pid))
		return;
	/* The common exec on a node: a program that is not Python, known by its inode. */
	if (origin == FROM_EXEC && exe_kind(f, pid) == FLEET_EXE_OTHER) {
		reject(f, pid, start_ticks | REJECTED_PROVISIONAL);
		return;
	}
	ret = f->proc->resolve(pid, f->cfg.probe_mode, f->cache, &t, err, sizeof(err));
	if (ret == -ESRCH || t.start_ticks != start_ticks ||
	    (ret && !f->proc->same_incarnation(pid, start_ticks))) {
		filter(f, pid, FLEET_UNFILTERED);
		return;
	}
	if (ret == -ENOEXEC) {
		if ((origin == FROM_EXEC || origin == FROM_RETRY) &&
		    clock_now_ns() - exec_ns < RETRY_WINDOW_NS &&
		    exe_kind(f, pid) == FLEET_EXE_NEEDS_LIBPYTHON) {
			queue_retry(f, pid, exec_ns, clock_now_ns() + RETRY_STEP_NS);
			return;
		}
		reject(f, pid, start_ticks);
		return;
	}
	if (ret == -EACCES || ret == -EPERM) {
		/* Not known to be Python: no line for every such process of a node, unless -v. */
		f->counts.skipped_unreadable++;
		if (f->cfg.verbose)
			msg_error("%s", err);
		reject(f, pid, start_ticks);
		return;
	}
	if (ret) {
		refuse_unsupported(f, pid, start_ticks, err);
		return;
	}
	f->proc->container(pid, &t.container);
	if (!selected(&f->cfg, &t)) {
		f->counts.skipped_filtered++;
		reject(f, pid, start_ticks);
		return;
	}
	if ((unsigned int)f->host.ops->traced(f->host.run) >= f->cfg.max_processes) {
		f->counts.skipped_limit++;
		if (!f->limit_reported)
			msg_error("--max-processes %u reached: pid %d (%s) and later ones are not "
				  "traced (counted in gcpause_processes_skipped_total)",
				  f->cfg.max_processes, pid, t.comm);
		f->limit_reported = true;
		/* Not rejected: a later rescan may find room for it. */
		filter(f, pid, FLEET_UNFILTERED);
		return;
	}
	ret = f->host.ops->begin(f->host.run, &t, err, sizeof(err));
	if (ret == -ESRCH) {
		filter(f, pid, FLEET_UNFILTERED);
		return;
	}
	if (ret == -ESTALE) {
		/* Its binary changed while it was being probed: planned again in a moment. */
		queue_retry(f, pid, clock_now_ns(), clock_now_ns() + RETRY_STEP_NS);
		return;
	}
	if (ret) {
		if (!f->proc->same_incarnation(pid, start_ticks)) {
			filter(f, pid, FLEET_UNFILTERED);
			return;
		}
		refuse_unsupported(f, pid, start_ticks, err);
		return;
	}
	f->counts.discovered++;
}

void fleet_housekeeping(struct fleet *f, uint64_t now_ns)
{
	if (!f->tree_only && now_ns - f->last_scan_ns >= f->cfg.rescan_ns)
		rescan(f, now_ns);
}

void fleet_counts(const struct fleet *f, struct fleet_counts *out)
{
	uint64_t counters[DISCOVER_CNT_MAX];

	*out = f->counts;
	if (!f->discovery)
		return;
	discovery_read_counters(f->discovery, counters);
	out->discovery_dropped += counters[DISCOVER_CNT_DROPPED] + counters[DISCOVER_CNT_NO_SLOT];
}

void fleet_close(struct fleet *f)
{
	if (!f)
		return;
	discovery_close(f->discovery);
	target_cache_free(f->cache);
	pidmap_free(&f->rejected);
	pidmap_free(&f->rejected_next);
	if (f->retry_fd >= 0)
		close(f->retry_fd);
	free(f->events);
	free(f);
}
