// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The fleet's decisions against a fake /proc (struct fleet_proc_ops) and a fake run (struct
 * fleet_host): which processes are traced, which are let go and never looked at again in the
 * same incarnation, filters, the process limit, a PID reused, a Python that cannot be probed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "fleet/fleet.h"

#define MAX_FAKE	16

struct fake_proc {
	pid_t pid;
	const char *comm;
	uint64_t start;
	int resolve_ret;	/* 0: a Python that can be probed */
	int resolves;		/* how often the fleet resolved it */
	pid_t ppid;
};

struct traced {
	pid_t pid;
	uint64_t start;
	bool ended;
	const char *why;
};

static struct fake_proc procs[MAX_FAKE];
static int nprocs;
static struct traced traced[MAX_FAKE * 4];
static int ntraced;
static enum fleet_filter filters[1 << 16];

static struct fake_proc *fake(pid_t pid)
{
	int i;

	for (i = 0; i < nprocs; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

static void add(pid_t pid, const char *comm, uint64_t start, int resolve_ret)
{
	procs[nprocs++] = (struct fake_proc){ pid, comm, start, resolve_ret, 0, 0 };
}

static void add_child(pid_t pid, pid_t ppid, const char *comm, uint64_t start, int resolve_ret)
{
	procs[nprocs++] = (struct fake_proc){ pid, comm, start, resolve_ret, 0, ppid };
}

static int fake_identity(pid_t pid, char *comm, size_t len, uint64_t *start)
{
	struct fake_proc *p = fake(pid);

	if (!p)
		return -ESRCH;
	snprintf(comm, len, "%s", p->comm);
	*start = p->start;
	return 0;
}

static bool fake_same(pid_t pid, uint64_t start)
{
	struct fake_proc *p = fake(pid);

	return p && p->start == start;
}

static int fake_exe(pid_t pid, struct file_id *id)
{
	memset(id, 0, sizeof(*id));
	id->ino = pid;		/* every process its own executable: no verdict is shared */
	return fake(pid) ? 0 : -ESRCH;
}

static enum fleet_exe_kind fake_exe_kind(pid_t pid)
{
	struct fake_proc *p = fake(pid);

	return p && !p->resolve_ret ? FLEET_EXE_PYTHON : FLEET_EXE_OTHER;
}

static int fake_resolve(pid_t pid, enum probe_mode mode, struct target_cache *cache,
			struct target *t, char *err, size_t err_len)
{
	struct fake_proc *p = fake(pid);

	memset(t, 0, sizeof(*t));
	if (!p)
		return -ESRCH;
	p->resolves++;
	t->pid = pid;
	t->start_ticks = p->start;
	snprintf(t->comm, sizeof(t->comm), "%s", p->comm);
	snprintf(t->version, sizeof(t->version), "3.11.2");
	if (p->resolve_ret)
		snprintf(err, err_len, "pid %d: not probed (fake)", pid);
	return p->resolve_ret;
}

static void fake_container(pid_t pid, struct container_info *c)
{
	memset(c, 0, sizeof(*c));
}

static int fake_scan(void (*fn)(pid_t pid, void *ctx), void *ctx)
{
	int i;

	for (i = 0; i < nprocs; i++)
		fn(procs[i].pid, ctx);
	return 0;
}

static int fake_children(pid_t pid, void (*fn)(pid_t child, void *ctx), void *ctx)
{
	int i;

	for (i = 0; i < nprocs; i++)
		if (procs[i].ppid == pid)
			fn(procs[i].pid, ctx);
	return 0;
}

static const struct fleet_proc_ops fake_proc_ops = {
	.identity = fake_identity,
	.same_incarnation = fake_same,
	.exe = fake_exe,
	.exe_kind = fake_exe_kind,
	.resolve = fake_resolve,
	.container = fake_container,
	.scan = fake_scan,
	.children = fake_children,
};

static struct traced *live(pid_t pid)
{
	int i;

	for (i = ntraced - 1; i >= 0; i--)
		if (traced[i].pid == pid && !traced[i].ended)
			return &traced[i];
	return NULL;
}

static bool host_lookup(void *run, pid_t pid, uint64_t *start, uint64_t *since)
{
	struct traced *t = live(pid);

	if (!t)
		return false;
	*start = t->start;
	*since = 1;
	return true;
}

static int host_begin(void *run, const struct target *t, char *err, size_t err_len)
{
	traced[ntraced++] = (struct traced){ t->pid, t->start_ticks, false, NULL };
	filters[t->pid] = FLEET_TRACED;
	return 0;
}

static void host_end(void *run, pid_t pid, const char *why)
{
	struct traced *t = live(pid);

	assert_non_null(t);
	t->ended = true;
	t->why = why;
	filters[pid] = FLEET_UNFILTERED;
}

static void host_filter(void *run, pid_t pid, enum fleet_filter state)
{
	filters[pid] = state;
}

static int host_filtered(void *run, pid_t **out)
{
	pid_t *pids = calloc(1 << 16, sizeof(*pids));
	int n = 0, pid;

	for (pid = 1; pid < 1 << 16; pid++)
		if (filters[pid] != FLEET_UNFILTERED)
			pids[n++] = pid;
	*out = pids;
	return n;
}

static int host_traced(void *run)
{
	int i, n = 0;

	for (i = 0; i < ntraced; i++)
		n += !traced[i].ended;
	return n;
}

static const struct fleet_host_ops host_ops = {
	.lookup = host_lookup, .begin = host_begin, .end = host_end, .filter = host_filter,
	.filtered = host_filtered, .traced = host_traced,
};

static struct fleet *start(struct fleet_config *cfg)
{
	struct fleet_host host = { &host_ops, NULL };
	struct fleet *f;
	char err[256];

	cfg->proc = &fake_proc_ops;
	cfg->filter_fd = -1;
	if (!cfg->max_processes)
		cfg->max_processes = 1024;
	if (!cfg->rescan_ns)
		cfg->rescan_ns = 1;
	assert_int_equal(fleet_open(&f, cfg, &host, err, sizeof(err)), 0);
	fleet_start(f);
	return f;
}

static int setup(void **state)
{
	nprocs = ntraced = 0;
	memset(filters, 0, sizeof(filters));
	return 0;
}

static void test_scan_traces_python_only(void **state)
{
	struct fleet_config cfg = { 0 };
	struct fleet_counts c;
	struct fleet *f;

	add(100, "python3", 1000, 0);
	add(101, "bash", 1001, -ENOEXEC);
	add(102, "gunicorn", 1002, 0);
	f = start(&cfg);
	assert_int_equal(ntraced, 2);
	assert_non_null(live(100));
	assert_non_null(live(102));
	assert_int_equal(filters[101], FLEET_UNFILTERED);
	fleet_counts(f, &c);
	assert_int_equal(c.discovered, 2);
	/* Rejected once: neither a collection nor a rescan looks at it again. */
	fleet_on_unknown_pid(f, 101);
	fleet_housekeeping(f, (uint64_t)10e9);
	assert_int_equal(fake(101)->resolves, 1);
	/* The same PID, a new process: looked at anew. */
	fake(101)->start = 2000;
	fleet_on_unknown_pid(f, 101);
	assert_int_equal(fake(101)->resolves, 2);
	fleet_close(f);
}

static void test_comm_filter(void **state)
{
	char *pattern[] = { "guni*" };
	struct fleet_config cfg = { .comm_patterns = pattern, .ncomm_patterns = 1 };
	struct fleet_counts c;
	struct fleet *f;

	add(100, "python3", 1000, 0);
	add(102, "gunicorn", 1002, 0);
	f = start(&cfg);
	assert_int_equal(ntraced, 1);
	assert_non_null(live(102));
	fleet_counts(f, &c);
	assert_int_equal(c.skipped_filtered, 1);
	assert_int_equal(filters[100], FLEET_UNFILTERED);
	fleet_close(f);
}

static void test_limit_then_room(void **state)
{
	struct fleet_config cfg = { .max_processes = 1 };
	struct fleet_counts c;
	struct fleet *f;

	add(100, "python3", 1000, 0);
	add(102, "python3", 1002, 0);
	f = start(&cfg);
	assert_int_equal(ntraced, 1);
	fleet_counts(f, &c);
	assert_int_equal(c.skipped_limit, 1);
	/* Not rejected: once the first is gone, the next rescan traces the other. */
	host_end(NULL, 100, NULL);
	procs[0] = procs[1];
	nprocs = 1;
	fleet_housekeeping(f, (uint64_t)10e9);
	assert_int_equal(ntraced, 2);
	assert_non_null(live(102));
	fleet_close(f);
}

static void test_pid_reused(void **state)
{
	struct fleet_config cfg = { 0 };
	struct fleet *f;

	add(100, "python3", 1000, 0);
	f = start(&cfg);
	assert_non_null(live(100));
	/* The process exited unseen, another took its PID and collected. */
	fake(100)->start = 5000;
	fleet_on_unknown_pid(f, 100);
	assert_int_equal(ntraced, 2);
	assert_true(traced[0].ended && !traced[0].why);
	assert_int_equal(live(100)->start, 5000);
	fleet_close(f);
}

static void test_unprobeable_python(void **state)
{
	struct fleet_config cfg = { 0 };
	struct fleet_counts c;
	struct fleet *f;

	add(100, "python3", 1000, -ENOTSUP);
	f = start(&cfg);
	assert_int_equal(ntraced, 0);
	fleet_counts(f, &c);
	assert_int_equal(c.skipped_unsupported, 1);
	fleet_housekeeping(f, (uint64_t)10e9);
	assert_int_equal(fake(100)->resolves, 1);
	fleet_close(f);
}

/*
 * -p --children: the master is traced by the run; the descendants it has already are looked
 * at, each on its own (a shell between the master and a Python is watched, not traced), and
 * nothing outside its tree is, as tree mode never scans /proc.
 */
static void test_adopt_children(void **state)
{
	struct fleet_config cfg = { .tree_only = true };
	struct target master = { .pid = 100, .start_ticks = 1000 };
	struct fleet *f;
	char err[64];

	add(100, "gunicorn", 1000, 0);
	add_child(101, 100, "gunicorn", 1100, 0);
	add_child(102, 100, "sh", 1200, -ENOEXEC);
	add_child(103, 102, "python3", 1300, 0);
	add(200, "python3", 900, 0);
	f = start(&cfg);
	assert_int_equal(ntraced, 0);
	host_begin(NULL, &master, err, sizeof(err));
	fleet_adopt_children(f, 100);
	assert_int_equal(ntraced, 3);
	assert_non_null(live(101));
	assert_non_null(live(103));
	assert_null(live(200));
	assert_int_equal(filters[102], FLEET_WATCHED);
	assert_int_equal(filters[200], FLEET_UNFILTERED);
	assert_int_equal(fake(100)->resolves, 0);
	assert_int_equal(fake(200)->resolves, 0);
	/* Adopted again (two -p of one tree): each is decided once. */
	fleet_adopt_children(f, 100);
	assert_int_equal(ntraced, 3);
	assert_int_equal(fake(101)->resolves, 1);
	assert_int_equal(fake(102)->resolves, 1);
	fleet_close(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_scan_traces_python_only, setup),
		cmocka_unit_test_setup(test_comm_filter, setup),
		cmocka_unit_test_setup(test_limit_then_room, setup),
		cmocka_unit_test_setup(test_pid_reused, setup),
		cmocka_unit_test_setup(test_unprobeable_python, setup),
		cmocka_unit_test_setup(test_adopt_children, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
