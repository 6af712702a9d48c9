// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "trace/percpu.h"

void percpu_sum(int map_fd, int ncpus, uint64_t *out, unsigned int n)
{
	__u64 *per_cpu;
	__u32 key;
	int cpu;

	memset(out, 0, n * sizeof(*out));
	per_cpu = calloc(ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return;
	for (key = 0; key < n; key++) {
		if (bpf_map_lookup_elem(map_fd, &key, per_cpu))
			continue;
		for (cpu = 0; cpu < ncpus; cpu++)
			out[key] += per_cpu[cpu];
	}
	free(per_cpu);
}
