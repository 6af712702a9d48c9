/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The process filter every BPF object shares (traced_pids): its values and size. */
#ifndef GCPAUSE_BPF_FILTER_H
#define GCPAUSE_BPF_FILTER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/*
 * Values of the traced_pids filter map. The GC programs trace any entry; the HTTP ones only
 * confirmed Python processes. --all makes every new process a candidate at exec, so that its
 * first collections are seen while userspace is still deciding whether it is Python at all.
 */
enum traced_state {
	TRACED_CONFIRMED = 1,
	TRACED_CANDIDATE = 2,
	/*
	 * -- COMMAND: a process of the command's tree that is not Python (yet). Its forks inherit
	 * the state, and when the dynamic loader finishes mapping new objects into it, it is held
	 * (SIGSTOP) until userspace has looked for a libpython, then let go (SIGCONT).
	 */
	TRACED_WAITING = 3,
};

/* Processes that can be traced at once (the filter map's size). */
#define GC_MAX_PIDS		8192

#endif /* GCPAUSE_BPF_FILTER_H */
