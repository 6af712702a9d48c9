/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared by the BPF programs and userspace: event layout and limits. */
#ifndef GCPAUSE_H
#define GCPAUSE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Deepest nesting of collections on one thread that is tracked; deeper ones are counted. */
#define GC_MAX_DEPTH		4
/* Processes that can be traced at once (BPF filter map size). */
#define GC_MAX_PIDS		8192
/* Threads that can be inside a collection at once. */
#define GC_MAX_THREADS		16384
/* Default ring buffer size: 1 MiB holds ~21k events, seconds of the worst GC storm. */
#define GC_RINGBUF_BYTES	(1 << 20)

enum gc_counter {
	GC_CNT_DROPPED = 0,	/* ring buffer full: event lost */
	GC_CNT_UNMATCHED_DONE,	/* gc__done without a start: attached mid-collection */
	GC_CNT_TOO_DEEP,	/* nesting deeper than GC_MAX_DEPTH */
	GC_CNT_NO_THREAD_SLOT,	/* per-thread map full */
	GC_CNT_ARG_FAIL,	/* a USDT argument could not be read */
	GC_CNT_MAX,
};

struct gc_event {
	__u64 start_ns;		/* CLOCK_MONOTONIC at gc__start */
	__u64 duration_ns;	/* gc__done - gc__start */
	__s64 collected;	/* gc__done argument: collected + uncollectable */
	__u32 pid;		/* tgid */
	__u32 tid;
	__s32 gen;		/* gc__start argument */
	__u32 depth;		/* 0 = outermost collection on this thread */
};

#endif /* GCPAUSE_H */
