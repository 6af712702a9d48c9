/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The BPF side's lifecycle: load once, attach once per binary, filter by process. */
#ifndef GCPAUSE_TRACE_GC_TRACER_H
#define GCPAUSE_TRACE_GC_TRACER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "util/file_id.h"
#include "gc.h"
#include "probe/probe.h"

struct tracer;

typedef void (*tracer_event_fn)(const struct gc_event *e, void *ctx);

struct tracer_opts {
	uint32_t ringbuf_bytes;		/* power of two, at least one page */
	/* 0: wake the reader per event; else only once this many bytes wait (drain on a timer) */
	uint32_t wakeup_bytes;
	tracer_event_fn on_event;
	void *ctx;
};

/* Opens, configures and loads the BPF programs. On failure writes one line in err. */
int tracer_open(struct tracer **out, const struct tracer_opts *opts, char *err, size_t err_len);

/* One attachment of probes to a binary; a binary rewritten in place gets a new one. */
struct tracer_binary_id {
	uint64_t serial;	/* 0: none */
};

/*
 * Attaches the probes of plan to the binary at host_path (name: as the user knows it) unless
 * that file already has them, and counts one more process using it (id says which
 * attachment). A file is the same binary when its device, inode, size, modification time and
 * build-id all are: probes left on a file rewritten in place (same inode, new contents) are
 * detached first, since the kernel keys uprobes by inode and offset and would put them in the
 * middle of the new code. planned, unless NULL or all zero, is the file the plan was made
 * from: -ESTALE when the file is no longer that. Returns 0, or a negative errno with one line
 * in err.
 */
int tracer_attach_binary(struct tracer *tr, const char *host_path, const char *name,
			 const struct file_id *planned, const struct probe_plan *plan,
			 struct tracer_binary_id *id, char *err, size_t err_len);
/* Readable when the file of an attached binary was written to or had its attributes changed. */
int tracer_binary_watch_fd(struct tracer *tr);
/*
 * Reads what the watch says and detaches, at once, the probes of every binary whose file was
 * rewritten; tracer_next_changed() then names them. Returns how many were detached.
 */
int tracer_check_binaries(struct tracer *tr);
/*
 * The next attachment whose binary was found rewritten and detached (here or in
 * tracer_attach_binary): true and its id and name, or false when there is none left.
 */
bool tracer_next_changed(struct tracer *tr, struct tracer_binary_id *id, char *name,
			 size_t name_len);
/* A process using the binary is gone. */
void tracer_release_binary(struct tracer *tr, const struct tracer_binary_id *id,
			   uint64_t now_ns);
/*
 * Detaches binaries no traced process has used for idle_ns: a node that runs a new image every
 * day would otherwise keep its old binaries (deleted files, and probe slots) forever.
 * Returns how many.
 */
int tracer_expire_binaries(struct tracer *tr, uint64_t now_ns, uint64_t idle_ns);

int tracer_add_pid(struct tracer *tr, pid_t pid);
int tracer_remove_pid(struct tracer *tr, pid_t pid);
/* -- COMMAND: pid is of the command's tree but not Python (yet): TRACED_WAITING. */
int tracer_watch_pid(struct tracer *tr, pid_t pid);

/* File descriptor that becomes readable when events wait in the ring buffer. */
int tracer_epoll_fd(struct tracer *tr);
/* Hands every waiting event to on_event. Returns the number handled or a negative errno. */
int tracer_consume(struct tracer *tr);
/* Sums the per-CPU loss counters (enum gc_counter). */
void tracer_read_counters(struct tracer *tr, uint64_t counters[GC_CNT_MAX]);

int tracer_binary_count(const struct tracer *tr);
/* The PIDs in the BPF filter, in a new array (free it): their count, or a negative errno. */
int tracer_filtered_pids(struct tracer *tr, pid_t **out);
/* The BPF map of traced processes, for other BPF objects to share. */
int tracer_filter_fd(const struct tracer *tr);
void tracer_close(struct tracer *tr);

#endif /* GCPAUSE_TRACE_GC_TRACER_H */
