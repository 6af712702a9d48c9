/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* gc.bpf.c and its loader (src/trace/gc_tracer.c): collection events, probe configurations. */
#ifndef GCPAUSE_BPF_GC_H
#define GCPAUSE_BPF_GC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include "filter.h"

/* Deepest nesting of collections on one thread that is tracked; deeper ones are counted. */
#define GC_MAX_DEPTH		4
/* Threads that can be inside a collection at once. */
#define GC_MAX_THREADS		16384
/* Default ring buffer size: 1 MiB holds ~21k events, seconds of the worst GC storm. */
#define GC_RINGBUF_BYTES	(1 << 20)

/* Function probes: configurations (one per probed function), indexed by the BPF cookie. */
#define GC_MAX_FUNC_CONFIGS	64
/* Generations whose collection counters are compared to find which one a collection was. */
#define GC_COUNTED_GENS		3

enum gc_counter {
	GC_CNT_DROPPED = 0,	/* ring buffer full: event lost */
	GC_CNT_UNMATCHED_DONE,	/* gc__done without a start: attached mid-collection */
	GC_CNT_TOO_DEEP,	/* nesting deeper than GC_MAX_DEPTH */
	GC_CNT_NO_THREAD_SLOT,	/* per-thread map full */
	GC_CNT_ARG_FAIL,	/* a USDT argument or the target's memory could not be read */
	GC_CNT_NOT_COLLECTED,	/* the function returned without collecting (3.13+: nested) */
	/*
	 * Userspace's own: a collection of a process gone before it was looked at, whose PID
	 * already named another one (told apart by process_start_ns).
	 */
	GC_CNT_UNATTRIBUTED,
	GC_CNT_MAX,
};

/*
 * Probes inside a collection function that move its window to where markers would be: the
 * BPF cookie is (kind << GC_MARK_SHIFT) | config.
 */
#define GC_MARK_SHIFT		16
enum gc_mark_kind {
	GC_MARK_WINDOW_START = 1,	/* after the gc.callbacks "start" call returned */
	GC_MARK_WINDOW_END,		/* at the gc.callbacks "stop" call */
};

/* Where a probed function takes the generation from. */
enum gc_gen_source {
	GC_GEN_ARG1 = 0,	/* first integer argument */
	GC_GEN_ARG2,		/* second integer argument */
	GC_GEN_CONST,		/* fixed: gen_const (a GCC clone with the argument folded) */
};

/* How to read one probed collection function. */
struct gc_func_config {
	__u32 gen_source;	/* enum gc_gen_source */
	__s32 gen_const;
	/*
	 * Non-zero: the generation argument may be "automatic" (-1) and a call may return without
	 * collecting (3.13+), so compare the interpreter's per-generation collection counters at
	 * entry and at return: the one that moved is the generation, none moved means no
	 * collection. With tstate the first argument and stats = *(tstate + interp_offset) +
	 * stats_offset (dereferenced once more when stats_indirect), counter i is at
	 *   stats + gen_offset[i] + collections_offset                       (ring_len[i] == 0)
	 *   stats + gen_offset[i] + idx * entry_size + collections_offset    (ring_len[i] > 0)
	 * where idx = *(__s8 *)(stats + gen_offset[i] + ring_index_offset[i]) < ring_len[i]:
	 * up to 3.14 the statistics are one array, 3.15 keeps each generation's last collections
	 * in a ring whose current entry holds the running totals.
	 */
	__u32 recover_gen;
	__u32 interp_offset;
	__u32 stats_offset;
	__u32 stats_indirect;
	__u32 gen_offset[GC_COUNTED_GENS];
	__u32 ring_len[GC_COUNTED_GENS];
	__u32 ring_index_offset[GC_COUNTED_GENS];
	__u32 entry_size;
	__u32 collections_offset;
	/*
	 * Non-zero (3.15+, whose rings keep each collection's own start and end, taken with
	 * CLOCK_MONOTONIC): one plain uprobe where the collection's record is complete stands for
	 * the entry, return and window probes. It finds the interpreter through _PyRuntime, whose
	 * address in the process is runtime_vaddr plus the load bias, the probe's address in the
	 * process less site_vaddr; then the statistics as above; the collection just done is the
	 * newest entry with the latest end, and what it collected the difference with the entry
	 * before it. An entry holds ts_start, ts_stop at entry_ts and collected, uncollectable at
	 * entry_collected.
	 */
	__u32 end_only;
	__u32 runtime_interp_head;	/* offset of interpreters.head in _PyRuntime */
	__u64 site_vaddr;
	__u64 runtime_vaddr;
	__u32 entry_ts;
	__u32 entry_collected;
	/*
	 * Non-zero: a call made while a collection runs on the same thread returns without
	 * collecting (3.13+ checks a "collecting" flag inside the function); drop it.
	 */
	__u32 skip_nested;
};

struct gc_event {
	__u64 start_ns;		/* CLOCK_MONOTONIC at gc__start */
	__u64 duration_ns;	/* gc__done - gc__start */
	__s64 collected;	/* gc__done argument: collected + uncollectable */
	__u32 pid;		/* tgid */
	__u32 tid;
	__s32 gen;		/* gc__start argument */
	__u32 depth;		/* 0 = outermost collection on this thread */
	/*
	 * The process's start (its leader's start_boottime, the clock of /proc/PID/stat's start
	 * time): tells it from an earlier or later process with the same PID.
	 */
	__u64 process_start_ns;
};

#endif /* GCPAUSE_BPF_GC_H */
