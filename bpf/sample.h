/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* sample.bpf.c and its loader (src/trace/sampler.c): --sample, GC time from CPU samples. */
#ifndef GCPAUSE_BPF_SAMPLE_H
#define GCPAUSE_BPF_SAMPLE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Processes sampled at once. */
#define SAMPLE_MAX_PIDS		8192
/* Threads whose run of samples inside a collection is being followed. */
#define SAMPLE_MAX_THREADS	16384
/* Pauses kept by log2 of their length in periods: [1, 2), [2, 4), ... [2^15, ...). */
#define SAMPLE_RUN_BUCKETS	16

/*
 * One sampled process: userspace sets collecting_addr (its interpreter's "collecting" flag) and
 * reads the rest. A run is the samples of one thread while its interpreter was collecting one
 * collection (its counters unchanged): one pause, from the first sample to the last plus a
 * period (wall time, descheduled moments included).
 */
struct sample_proc {
	__u64 collecting_addr;
	__u64 stats_addr;	/* its per-generation counters (gc.get_stats()), 3 x 3 words */
	/* Read when its last thread exits, before its memory goes: the final counters. */
	__s64 exit_stats[9];
	__u64 exit_read;	/* 1: exit_stats holds them */
	__u64 samples;		/* samples of the process on a CPU */
	__u64 gc_samples;	/* of them, while its interpreter was collecting */
	__u64 read_failed;	/* the flag could not be read (paged out: counted, not guessed) */
	__u64 runs[SAMPLE_RUN_BUCKETS];	/* pauses, by log2 of their length in periods */
	__u64 max_pause_ns;	/* the longest pause */
	__u64 pause_ns;		/* the pauses summed: GC wall time, to the samples' resolution */
};

/* The bucket of runs[] for a pause of this many periods (BPF and userspace alike). */
static inline __u32 sample_bucket(__u64 periods)
{
	__u32 bucket = 0;

	while (bucket < SAMPLE_RUN_BUCKETS - 1 && (periods >> (bucket + 1)))
		bucket++;
	return bucket;
}

/* A thread's run under way. */
struct sample_run {
	__u64 first_ns, last_ns;	/* its first and latest samples */
	__s64 collections;	/* the interpreter's collections before this one */
	__u32 tgid;
	__u32 len;		/* samples in it */
};

#endif /* GCPAUSE_BPF_SAMPLE_H */
