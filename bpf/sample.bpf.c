// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --sample: no probe in the collection path. A CPU-clock perf event on every CPU fires HZ times
 * a second; when it interrupts a thread of a sampled Python, this reads its interpreter's
 * "collecting" flag. The samples taken while it was set, over HZ, are the GC time; a thread's
 * consecutive ones are one pause. The cost is HZ per CPU, whatever the collection rate.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "sample.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The sampling period: a pause is known to one. */
const volatile __u64 period_ns = 1000000;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SAMPLE_MAX_PIDS);
	__type(key, __u32);
	__type(value, struct sample_proc);
} sampled SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SAMPLE_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct sample_run);
} runs SEC(".maps");

static __always_inline void close_run(struct sample_proc *p, const struct sample_run *r)
{
	__u64 ns = r->last_ns - r->first_ns + period_ns;
	__u32 bucket = sample_bucket(ns / period_ns);

	__sync_fetch_and_add(&p->runs[bucket & (SAMPLE_RUN_BUCKETS - 1)], 1);
	__sync_fetch_and_add(&p->pause_ns, ns);
	if (ns > p->max_pause_ns)
		p->max_pause_ns = ns;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), now;
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct sample_proc *p = bpf_map_lookup_elem(&sampled, &tgid);
	struct sample_run *r, fresh = {};
	__s64 stats[9];
	int collecting = 0;
	__s64 collections;

	if (!p)
		return 0;
	__sync_fetch_and_add(&p->samples, 1);
	if (bpf_probe_read_user(&collecting, sizeof(collecting), (void *)p->collecting_addr)) {
		__sync_fetch_and_add(&p->read_failed, 1);
		return 0;
	}
	now = bpf_ktime_get_ns();
	r = bpf_map_lookup_elem(&runs, &tid);
	if (!collecting) {
		if (r) {
			close_run(p, r);
			bpf_map_delete_elem(&runs, &tid);
		}
		return 0;
	}
	__sync_fetch_and_add(&p->gc_samples, 1);
	/* A collection counts itself when it ends: the same sum, the same collection. */
	if (bpf_probe_read_user(stats, sizeof(stats), (void *)p->stats_addr))
		collections = -1;
	else
		collections = stats[0] + stats[3] + stats[6];
	if (r && r->collections == collections && collections >= 0) {
		r->len++;
		r->last_ns = now;
		return 0;
	}
	if (r)
		close_run(p, r);
	fresh.first_ns = now;
	fresh.last_ns = now;
	fresh.collections = collections;
	fresh.tgid = tgid;
	fresh.len = 1;
	bpf_map_update_elem(&runs, &tid, &fresh, BPF_ANY);
	return 0;
}

/*
 * The process's last thread exits: its counters, read now, are the final ones (the tracepoint
 * fires before the memory is released on 6.16+; earlier kernels fail the read, and userspace
 * keeps its last reading).
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct sample_proc *p = bpf_map_lookup_elem(&sampled, &tgid);

	if (!p || !p->stats_addr || BPF_CORE_READ(task, signal, live.counter))
		return 0;
	if (!bpf_probe_read_user(p->exit_stats, sizeof(p->exit_stats), (void *)p->stats_addr))
		p->exit_read = 1;
	return 0;
}
