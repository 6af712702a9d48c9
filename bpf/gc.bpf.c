// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Times CPython collections between the python:gc__start and python:gc__done USDT markers.
 *
 * The probes are attached once per binary for every process mapping it, so the first thing each
 * program does is drop processes that are not traced: other Pythons on the host pay one hash
 * lookup per collection and nothing more.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>
#include "gcpause.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Tests and future node-wide mode turn the per-process filter off. */
const volatile bool filter_pids = true;

struct thread_state {
	__u32 depth;
	__u32 pad;
	__u64 start_ns[GC_MAX_DEPTH];
	__s32 gen[GC_MAX_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GC_MAX_PIDS);
	__type(key, __u32);	/* tgid */
	__type(value, __u8);
} traced_pids SEC(".maps");

/* LRU so that a thread killed mid-collection cannot leak its slot forever. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, GC_MAX_THREADS);
	__type(key, __u32);	/* tid */
	__type(value, struct thread_state);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, GC_RINGBUF_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GC_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *val = bpf_map_lookup_elem(&counters, &which);

	if (val)
		*val += 1;
}

_Static_assert((GC_MAX_DEPTH & (GC_MAX_DEPTH - 1)) == 0, "GC_MAX_DEPTH must be a power of two");

/*
 * An index already checked against GC_MAX_DEPTH, masked again where clang cannot see the check:
 * the verifier loses a bound that clang has proven and optimised away.
 */
static __always_inline __u32 slot(__u32 depth)
{
	barrier_var(depth);
	return depth & (GC_MAX_DEPTH - 1);
}

static __always_inline bool is_traced(__u32 tgid)
{
	return !filter_pids || bpf_map_lookup_elem(&traced_pids, &tgid);
}

SEC("usdt")
int gc_start(struct pt_regs *ctx)
{
	static const struct thread_state zero;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct thread_state *ts;
	__u64 now = bpf_ktime_get_ns();
	__u32 depth;
	long gen;

	if (!is_traced(id >> 32))
		return 0;

	if (bpf_usdt_arg(ctx, 0, &gen)) {
		count(GC_CNT_ARG_FAIL);
		gen = -1;
	}

	ts = bpf_map_lookup_elem(&threads, &tid);
	if (!ts) {
		if (bpf_map_update_elem(&threads, &tid, &zero, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&threads, &tid)) {
			count(GC_CNT_NO_THREAD_SLOT);
			return 0;
		}
		ts = bpf_map_lookup_elem(&threads, &tid);
		if (!ts) {
			count(GC_CNT_NO_THREAD_SLOT);
			return 0;
		}
	}

	depth = ts->depth;
	if (depth >= GC_MAX_DEPTH) {
		/* Keep counting depth so the matching done is recognised and not mistaken. */
		ts->depth = depth + 1;
		count(GC_CNT_TOO_DEEP);
		return 0;
	}
	ts->depth = depth + 1;
	depth = slot(depth);
	ts->start_ns[depth] = now;
	ts->gen[depth] = gen;
	return 0;
}

SEC("usdt")
int gc_done(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct thread_state *ts;
	struct gc_event *e;
	__u64 now = bpf_ktime_get_ns();
	__u32 depth;
	long collected;

	if (!is_traced(id >> 32))
		return 0;

	ts = bpf_map_lookup_elem(&threads, &tid);
	if (!ts || ts->depth == 0) {
		/* The collection began before the probes were live: its start is unknown. */
		count(GC_CNT_UNMATCHED_DONE);
		return 0;
	}
	depth = ts->depth - 1;
	ts->depth = depth;
	if (depth >= GC_MAX_DEPTH)
		return 0;	/* already counted as too deep at its start */
	depth = slot(depth);

	if (bpf_usdt_arg(ctx, 0, &collected)) {
		count(GC_CNT_ARG_FAIL);
		collected = -1;
	}

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(GC_CNT_DROPPED);
		return 0;
	}
	e->start_ns = ts->start_ns[depth];
	e->duration_ns = now - e->start_ns;
	e->collected = collected;
	e->pid = id >> 32;
	e->tid = tid;
	e->gen = ts->gen[depth];
	e->depth = depth;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
