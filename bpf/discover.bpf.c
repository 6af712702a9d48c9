// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --all: new processes, from the scheduler tracepoints. Every exec makes its process a candidate
 * in the shared filter map at once, and a fork of a traced process traces its child from its
 * first instruction (gunicorn and multiprocessing workers never exec). Userspace then decides,
 * within milliseconds, which candidates are Python and drops the others; collections that run
 * meanwhile are already recorded.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "gcpause.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EEXIST	17

/* Off: execs are reported but not made candidates (the GC programs ignore them until then). */
const volatile bool candidates_at_exec = true;
/* -p: only the execs of processes in the filter matter (a traced program replaced). */
const volatile bool report_traced_only = false;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, DISCOVER_RINGBUF_BYTES);
} discover_events SEC(".maps");

DEFINE_COUNTERS(discover_counters, DISCOVER_CNT_MAX)

static __always_inline void report(__u32 kind, __u32 pid, __u32 ppid)
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
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u8 candidate = TRACED_CANDIDATE;
	long ret;

	if (report_traced_only && !bpf_map_lookup_elem(&traced_pids, &tgid))
		return 0;
	if (candidates_at_exec) {
		/* NOEXIST: a confirmed process that execs stays traced until userspace looks. */
		ret = bpf_map_update_elem(&traced_pids, &tgid, &candidate, BPF_NOEXIST);
		if (ret && ret != -EEXIST)
			count(DISCOVER_CNT_NO_SLOT);
	}
	report(DISCOVER_EXEC, tgid, 0);
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
	report(DISCOVER_FORK, tgid, ptgid);
	return 0;
}
