/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* --sample: the loader of bpf/sample.bpf.c, a CPU-clock perf event on every CPU. */
#ifndef GCPAUSE_TRACE_SAMPLER_H
#define GCPAUSE_TRACE_SAMPLER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "sample.h"

struct sampler;

/* Samples every CPU hz times a second. One line in err on failure. */
int sampler_open(struct sampler **out, unsigned int hz, char *err, size_t err_len);
/* Samples pid, reading its interpreter's flag at collecting_addr; its counters are at
 * stats_addr (read at its exit). */
int sampler_add(struct sampler *s, pid_t pid, uint64_t collecting_addr, uint64_t stats_addr);
void sampler_remove(struct sampler *s, pid_t pid);
/*
 * pid's counts so far. collections: its interpreter's collections now (-1: it is gone), which
 * tells the pauses that ended without a later sample of their thread.
 */
int sampler_read(struct sampler *s, pid_t pid, int64_t collections, struct sample_proc *out);
void sampler_close(struct sampler *s);

#endif /* GCPAUSE_TRACE_SAMPLER_H */
