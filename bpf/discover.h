/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* discover.bpf.c and its loader (src/trace/discovery.c): process lifecycle events. */
#ifndef GCPAUSE_BPF_DISCOVER_H
#define GCPAUSE_BPF_DISCOVER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* --all: process lifecycle events from the scheduler tracepoints. */
enum discover_kind {
	DISCOVER_EXEC = 1,	/* a process replaced its image */
	DISCOVER_FORK,	/* a traced process made a new process */
	DISCOVER_LOADED,	/* the dynamic loader mapped new objects (dlopen): a libpython? */
};

/* discover_event.flags */
#define DISCOVER_HELD	1	/* LOADED: the process was stopped, userspace sends SIGCONT */

enum discover_counter {
	DISCOVER_CNT_DROPPED = 0,	/* ring buffer full: an exec or fork not reported */
	DISCOVER_CNT_NO_SLOT,	/* filter map full: a candidate not added */
	DISCOVER_CNT_MAX,
};

#define DISCOVER_RINGBUF_BYTES	(256 << 10)

struct discover_event {
	__u64 ts_ns;
	__u32 kind;		/* enum discover_kind */
	__u32 pid;		/* tgid */
	__u32 ppid;		/* forks: the parent's tgid */
	__u32 flags;		/* DISCOVER_HELD */
};

#endif /* GCPAUSE_BPF_DISCOVER_H */
