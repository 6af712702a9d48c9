// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --all: new processes, from the scheduler tracepoints. Every exec makes its process a candidate
 * in the shared filter map at once, and a fork of a traced process traces its child from its
 * first instruction (gunicorn and multiprocessing workers never exec). Userspace then decides,
 * within milliseconds, which candidates are Python and drops the others; collections that run
 * meanwhile are already recorded.
 *
 * Objects mapped later (dlopen, as uwsgi loads its python plugin and with it libpython) are seen
 * at the dynamic loader's debugger hook, _dl_debug_state(), which ld.so calls around every change
 * of its link map: once per dlopen or dlclose, never on a hot path.
 *
 * -- COMMAND (tree_only): only the command's process tree is followed, and a process of it that
 * is not Python yet is held at that hook until userspace has looked (see TRACED_WAITING).
 * -p --children: the trees of the processes given, and nothing held: they are not ours.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "filter.h"
#include "discover.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EEXIST	17
#define SIGSTOP	19
/* <link.h>: struct r_debug's r_state on 64-bit, and the value it has once a change is done. */
#define R_DEBUG_STATE_OFFSET	24
#define RT_CONSISTENT		0

/* Off: execs are reported but not made candidates (the GC programs ignore them until then). */
const volatile bool candidates_at_exec = true;
/* -- COMMAND, -p --children: execs, forks and loads of processes already in the filter only. */
const volatile bool tree_only = false;
/*
 * -- COMMAND: a waiting process is stopped at a load until userspace has looked. Not with
 * -p --children: a process gcpause did not start would stay stopped if gcpause died then.
 */
const volatile bool hold_waiting = false;
/* -p: only the execs of processes in the filter matter (a traced program replaced). */
const volatile bool report_traced_only = false;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, DISCOVER_RINGBUF_BYTES);
} discover_events SEC(".maps");

DEFINE_COUNTERS(discover_counters, DISCOVER_CNT_MAX)

/*
 * --all: processes that exec'd and whose loader has not finished mapping their initial objects:
 * that first "consistent" point of each program is not reported (its exec was, and the libpython
 * an executable links is found by then). LRU: a static program never reaches it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, GC_MAX_PIDS);
	__type(key, __u32);
	__type(value, __u8);
} startup_pending SEC(".maps");

static __always_inline void report(__u32 kind, __u32 pid, __u32 ppid, __u32 flags)
{
	struct discover_event *e = bpf_ringbuf_reserve(&discover_events, sizeof(*e), 0);

	if (!e) {
		count(DISCOVER_CNT_DROPPED);
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->kind = kind;
	e->pid = pid;
	e->ppid = ppid;
	e->flags = flags;
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u8 candidate = TRACED_CANDIDATE, one = 1, *state;
	long ret;

	if (report_traced_only && !bpf_map_lookup_elem(&traced_pids, &tgid))
		return 0;
	if (tree_only) {
		state = bpf_map_lookup_elem(&traced_pids, &tgid);
		if (!state)
			return 0;
		/* A new program: not known to be Python until userspace or the loader says so. */
		*state = TRACED_WAITING;
		report(DISCOVER_EXEC, tgid, 0, 0);
		return 0;
	}
	bpf_map_update_elem(&startup_pending, &tgid, &one, BPF_ANY);
	if (candidates_at_exec) {
		/*
		 * A confirmed process that execs stays traced until userspace looks, as a
		 * candidate: its new program is not known to be Python, and the loader hook must
		 * report what it loads (a fork of a traced Python that execs uwsgi dlopens its
		 * libpython within milliseconds, maybe before userspace has looked).
		 */
		ret = bpf_map_update_elem(&traced_pids, &tgid, &candidate, BPF_ANY);
		if (ret)
			count(DISCOVER_CNT_NO_SLOT);
	}
	report(DISCOVER_EXEC, tgid, 0, 0);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 tgid = BPF_CORE_READ(child, tgid);
	__u8 *state, inherited;

	/* A new thread shares its parent's tgid: only new processes matter. */
	if (tgid == ptgid)
		return 0;
	state = bpf_map_lookup_elem(&traced_pids, &ptgid);
	if (!state)
		return 0;
	inherited = *state;
	if (bpf_map_update_elem(&traced_pids, &tgid, &inherited, BPF_ANY))
		count(DISCOVER_CNT_NO_SLOT);
	/* A waiting child is a copy of a program that is not Python: nothing to look at yet. */
	if (inherited != TRACED_WAITING)
		report(DISCOVER_FORK, tgid, ptgid, 0);
	return 0;
}

/*
 * _dl_debug_state() of a dynamic loader; the cookie is the distance from it to the loader's
 * _r_debug, whose r_state says whether the link map is consistent again (after the objects were
 * mapped and relocated, before their constructors run) or about to change.
 */
SEC("uprobe")
int on_loader_change(struct pt_regs *ctx)
{
	__u64 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 r_debug = PT_REGS_IP(ctx) + bpf_get_attach_cookie(ctx);
	__u8 candidate = TRACED_CANDIDATE, *state;
	struct discover_event *e;
	__u32 key = tgid;
	int r_state;

	if (bpf_probe_read_user(&r_state, sizeof(r_state), (void *)(r_debug + R_DEBUG_STATE_OFFSET))
	    || r_state != RT_CONSISTENT)
		return 0;
	if (!tree_only && bpf_map_lookup_elem(&startup_pending, &key)) {
		bpf_map_delete_elem(&startup_pending, &key);
		return 0;
	}
	state = bpf_map_lookup_elem(&traced_pids, &key);
	if (state) {
		/* A Python process loading extension modules: the common case, and nothing to do. */
		if (*state == TRACED_CONFIRMED)
			return 0;
		if (*state == TRACED_WAITING) {
			/* Never held without the event that makes userspace let it go. */
			e = bpf_ringbuf_reserve(&discover_events, sizeof(*e), 0);
			if (!e) {
				count(DISCOVER_CNT_DROPPED);
				return 0;
			}
			e->ts_ns = bpf_ktime_get_ns();
			e->kind = DISCOVER_LOADED;
			e->pid = key;
			e->ppid = 0;
			e->flags = 0;
			if (hold_waiting && !bpf_send_signal(SIGSTOP))
				e->flags = DISCOVER_HELD;
			bpf_ringbuf_submit(e, 0);
			return 0;
		}
	} else {
		if (tree_only)
			return 0;
		/* Its first collections are recorded while userspace looks, as after an exec. */
		if (bpf_map_update_elem(&traced_pids, &key, &candidate, BPF_NOEXIST))
			count(DISCOVER_CNT_NO_SLOT);
	}
	report(DISCOVER_LOADED, key, 0, 0);
	return 0;
}

/* A tree's waiting process that exits leaves the filter (the tree may start thousands). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u8 *state;

	if (BPF_CORE_READ(task, pid) != tgid)
		return 0;
	state = bpf_map_lookup_elem(&traced_pids, &tgid);
	if (state && *state == TRACED_WAITING)
		bpf_map_delete_elem(&traced_pids, &tgid);
	return 0;
}
