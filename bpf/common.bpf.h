/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What every gcpause BPF object defines alike: the process filter and per-CPU loss counters. */
#ifndef GCPAUSE_COMMON_BPF_H
#define GCPAUSE_COMMON_BPF_H

/*
 * The processes traced (enum traced_state), by tgid. The gc object owns it; the others are
 * handed its fd before load (bpf_map__reuse_fd), so all filter on the same map.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GC_MAX_PIDS);
	__type(key, __u32);	/* tgid */
	__type(value, __u8);
} traced_pids SEC(".maps");

/* A per-CPU array of n loss counters, and count() adding one to counter which of it. */
#define DEFINE_COUNTERS(name, n)						\
	struct {								\
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);			\
		__uint(max_entries, n);						\
		__type(key, __u32);						\
		__type(value, __u64);						\
	} name SEC(".maps");							\
										\
	static __always_inline void count(__u32 which)				\
	{									\
		__u64 *val = bpf_map_lookup_elem(&name, &which);		\
										\
		if (val)							\
			*val += 1;						\
	}

#endif /* GCPAUSE_COMMON_BPF_H */
