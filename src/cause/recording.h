/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A recording: the NDJSON stream of a run (--record FILE, or --json output saved), loaded back
 * for gcpause diff and gcpause report.
 */
#ifndef GCPAUSE_CAUSE_RECORDING_H
#define GCPAUSE_CAUSE_RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REC_GENS	3

struct rec_proc {
	int pid;
	char comm[32];
	char version[24];
	uint64_t wall_ns;	/* traced wall time (the total summary's) */
};

struct rec_gc {
	int pid, tid, gen;
	uint64_t start_ns, dur_ns;
	int64_t collected;
};

struct rec_req {
	int pid, tid, status, gc_count;
	char method[12];
	char path[96];
	uint64_t arrival_ns, start_ns, end_ns, latency_ns, gc_ns;
};

struct rec_state {
	int pid;
	uint64_t time_ns, cpu_ns;
	bool enabled;
	bool exact;		/* neither capped nor approximate: the counts can be fitted */
	bool has_long_lived;	/* 3.8-3.13: long_lived_total and _pending read */
	int threshold[REC_GENS], count[REC_GENS];
	int64_t tracked[REC_GENS], frozen;
	int64_t long_lived_total, long_lived_pending;
};

struct recording {
	const char *path;
	uint64_t start_ns, end_ns;	/* the window traced */
	int nintervals;			/* interval summaries in it */
	struct rec_proc *procs;
	struct rec_gc *gcs;
	struct rec_req *reqs;
	struct rec_state *states;	/* in time order */
	size_t nprocs, ngcs, nreqs, nstates;
};

/* Loads path. Returns 0, or -errno / -EINVAL with one line in err. */
int recording_load(const char *path, struct recording *r, char *err, size_t err_len);
void recording_free(struct recording *r);
/* The process of pid, or NULL. */
const struct rec_proc *recording_proc(const struct recording *r, int pid);

#endif /* GCPAUSE_CAUSE_RECORDING_H */
