/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Counters the BPF programs keep per CPU, so that counting needs no atomic operation. */
#ifndef GCPAUSE_TRACE_PERCPU_H
#define GCPAUSE_TRACE_PERCPU_H

#include <stdint.h>

/* out[k] = the sum over CPUs of entry k, for k < n, of the per-CPU array map map_fd. */
void percpu_sum(int map_fd, int ncpus, uint64_t *out, unsigned int n);

#endif /* GCPAUSE_TRACE_PERCPU_H */
