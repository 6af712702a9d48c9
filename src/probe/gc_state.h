/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The interpreter's GC state (thresholds, counts, tracked and frozen objects, enabled), read from
 * a running CPython's memory with process_vm_readv: no code runs in the target.
 */
#ifndef GCPAUSE_PROBE_GC_STATE_H
#define GCPAUSE_PROBE_GC_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define GC_STATE_GENS		3
/* Objects counted per list at most: a walk costs one read per page of gc headers. */
#define GC_STATE_WALK_CAP	2000000
/* Reads after long collections are this far apart at least. */
#define GC_STATE_MIN_GAP_NS	1000000000ull

struct gc_state {
	bool valid;
	uint64_t time_ns;		/* CLOCK_MONOTONIC, when its reading began */
	uint64_t read_ns;		/* how long the reading took */
	bool enabled;
	int threshold[GC_STATE_GENS];
	int count[GC_STATE_GENS];	/* gc.get_count() */
	int64_t tracked[GC_STATE_GENS];	/* len(gc.get_objects(i)) */
	int64_t frozen;			/* gc.get_freeze_count() */
	bool capped;			/* a list was longer than GC_STATE_WALK_CAP: lower bounds */
	bool approximate;		/* a list kept changing under three walks: counted to the change */
	bool has_long_lived;		/* 3.8-3.13: long_lived_total and _pending */
	int64_t long_lived_total, long_lived_pending;
	uint64_t cpu_ns;		/* the process's user + system CPU time so far */
};

struct gc_state_reader;

/* The interpreter's own counters since its start (gc.get_stats()), per generation. */
struct gc_counts {
	int64_t collections[GC_STATE_GENS];
	int64_t collected[GC_STATE_GENS];	/* collected + uncollectable, as a gc_event's */
};

/*
 * Prepares reading the GC state of pid, whose interpreter is binary (host_path opens it from
 * here) of version minor (3.minor). Returns 0, or -ENOTSUP / -ENOENT / -errno with a reason in
 * why when this build's layout is unknown or does not check out.
 */
int gc_state_open(pid_t pid, const char *binary, const char *host_path, int minor,
		  struct gc_state_reader **out, char *why, size_t why_len);
/* Reads the state now. Returns 0 or -errno (the process is gone, say). */
int gc_state_read(struct gc_state_reader *r, struct gc_state *s);
/*
 * Sampling mode: where the interpreter's "collecting" flag (0 or 1 when read: checked) and its
 * counters are, and the counters. -ENOTSUP when this build's layout does not say, -ESRCH when pid is gone.
 */
int gc_state_sample_addrs(const struct gc_state_reader *r, uint64_t *collecting,
			  uint64_t *stats);
int gc_state_read_counters(struct gc_state_reader *r, struct gc_counts *c);
/* The flat statistics as read (3 x {collections, collected, uncollectable}) to counts. */
void gc_counts_from_stats(const int64_t v[GC_STATE_GENS * 3], struct gc_counts *c);
/* "DWARF-checked table", "_Py_DebugOffsets and table": how the layout was found. */
const char *gc_state_source(const struct gc_state_reader *r);
void gc_state_close(struct gc_state_reader *r);

#endif /* GCPAUSE_PROBE_GC_STATE_H */
