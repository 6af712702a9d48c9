// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "sample.skel.h"
#include "trace/sampler.h"

struct sampler {
	struct sample_bpf *skel;
	int ncpus;
	int *fds;
	struct bpf_link **links;
	uint64_t period_ns;
};

int sampler_open(struct sampler **out, unsigned int hz, char *err, size_t err_len)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_freq = hz,
		.freq = 1,
	};
	struct sampler *s = calloc(1, sizeof(*s));
	int cpu, ret;

	*out = s;
	if (!s) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	s->ncpus = libbpf_num_possible_cpus();
	s->skel = sample_bpf__open();
	if (!s->skel || s->ncpus <= 0) {
		ret = errno ? -errno : -EINVAL;
		snprintf(err, err_len, "cannot open the sampling BPF object: %s", strerror(-ret));
		return ret;
	}
	s->period_ns = 1000000000ull / hz;
	s->skel->rodata->period_ns = s->period_ns;
	ret = sample_bpf__load(s->skel);
	if (ret) {
		snprintf(err, err_len, "cannot load the sampling BPF program: %s", strerror(-ret));
		return ret;
	}
	/* The exit tracepoint (the perf-event program is attached per CPU below). */
	ret = sample_bpf__attach(s->skel);
	if (ret) {
		snprintf(err, err_len, "cannot attach to the sched_process_exit tracepoint: %s",
			 strerror(-ret));
		return ret;
	}
	s->fds = calloc(s->ncpus, sizeof(*s->fds));
	s->links = calloc(s->ncpus, sizeof(*s->links));
	if (!s->fds || !s->links) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	for (cpu = 0; cpu < s->ncpus; cpu++)
		s->fds[cpu] = -1;
	for (cpu = 0; cpu < s->ncpus; cpu++) {
		s->fds[cpu] = syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (s->fds[cpu] < 0) {
			ret = -errno;
			/* A CPU that is not online has nothing to sample. */
			if (ret == -ENODEV)
				continue;
			snprintf(err, err_len, "cannot open a CPU-clock perf event on CPU %d: %s%s",
				 cpu, strerror(-ret), ret == -EACCES || ret == -EPERM ?
				 " (CAP_PERFMON or CAP_SYS_ADMIN is needed)" : "");
			return ret;
		}
		s->links[cpu] = bpf_program__attach_perf_event(s->skel->progs.on_sample,
								s->fds[cpu]);
		if (!s->links[cpu]) {
			ret = -errno;
			snprintf(err, err_len, "cannot attach the sampling program on CPU %d: %s",
				 cpu, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int sampler_add(struct sampler *s, pid_t pid, uint64_t collecting_addr, uint64_t stats_addr)
{
	struct sample_proc p = { .collecting_addr = collecting_addr, .stats_addr = stats_addr };
	__u32 key = pid;

	return bpf_map_update_elem(bpf_map__fd(s->skel->maps.sampled), &key, &p, BPF_ANY) ?
	       -errno : 0;
}

void sampler_remove(struct sampler *s, pid_t pid)
{
	__u32 key = pid;

	bpf_map_delete_elem(bpf_map__fd(s->skel->maps.sampled), &key);
}

/*
 * Runs of pid's threads whose collection is over (the interpreter's count moved on, or it is
 * gone: collections < 0) though no later sample of the thread said so yet (it sleeps):
 * counted in this reading only; the kernel closes them for good at the thread's next sample.
 */
static void add_ended_runs(struct sampler *s, pid_t pid, int64_t collections,
			   struct sample_proc *p)
{
	int fd = bpf_map__fd(s->skel->maps.runs);
	struct sample_run r;
	__u32 key, next;
	bool first = true;
	uint64_t ns;

	while (!bpf_map_get_next_key(fd, first ? NULL : &key, &next)) {
		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &r) || r.tgid != (__u32)pid ||
		    (collections >= 0 && r.collections == collections))
			continue;
		ns = r.last_ns - r.first_ns + s->period_ns;
		p->runs[sample_bucket(ns / s->period_ns)]++;
		p->pause_ns += ns;
		if (ns > p->max_pause_ns)
			p->max_pause_ns = ns;
	}
}

int sampler_read(struct sampler *s, pid_t pid, int64_t collections, struct sample_proc *out)
{
	__u32 key = pid;

	if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.sampled), &key, out))
		return -errno;
	add_ended_runs(s, pid, collections, out);
	return 0;
}

void sampler_close(struct sampler *s)
{
	int cpu;

	if (!s)
		return;
	for (cpu = 0; s->links && cpu < s->ncpus; cpu++)
		bpf_link__destroy(s->links[cpu]);
	for (cpu = 0; s->fds && cpu < s->ncpus; cpu++)
		if (s->fds[cpu] >= 0)
			close(s->fds[cpu]);
	free(s->links);
	free(s->fds);
	sample_bpf__destroy(s->skel);
	free(s);
}
