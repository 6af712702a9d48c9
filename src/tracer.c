// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gc.skel.h"
#include "tracer.h"

struct attached_binary {
	dev_t dev;
	ino_t ino;
	struct bpf_link *start, *done;
};

struct tracer {
	struct gc_bpf *skel;
	struct ring_buffer *rb;
	tracer_event_fn on_event;
	void *ctx;
	struct attached_binary *bins;
	int nbins;
	int ncpus;
};

static int handle_event(void *ctx, void *data, size_t size)
{
	struct tracer *tr = ctx;

	if (size < sizeof(struct gc_event))
		return 0;
	tr->on_event(data, tr->ctx);
	return 0;
}

int tracer_open(struct tracer **out, const struct tracer_opts *opts, char *err, size_t err_len)
{
	struct tracer *tr;
	int ret;

	tr = calloc(1, sizeof(*tr));
	if (!tr) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	tr->on_event = opts->on_event;
	tr->ctx = opts->ctx;
	tr->ncpus = libbpf_num_possible_cpus();
	if (tr->ncpus <= 0) {
		ret = tr->ncpus ? tr->ncpus : -EINVAL;
		snprintf(err, err_len, "cannot count CPUs: %s", strerror(-ret));
		goto cleanup;
	}

	tr->skel = gc_bpf__open();
	if (!tr->skel) {
		ret = -errno;
		snprintf(err, err_len, "cannot open BPF object: %s", strerror(-ret));
		goto cleanup;
	}
	tr->skel->rodata->filter_pids = true;
	ret = bpf_map__set_max_entries(tr->skel->maps.events, opts->ringbuf_bytes);
	if (ret) {
		snprintf(err, err_len, "cannot size ring buffer to %u bytes: %s",
			 opts->ringbuf_bytes, strerror(-ret));
		goto cleanup;
	}
	ret = gc_bpf__load(tr->skel);
	if (ret) {
		snprintf(err, err_len, "cannot load BPF programs: %s%s", strerror(-ret),
			 ret == -EPERM ? " (missing privileges, or BPF locked down by the kernel)" :
			 " (run with -v for the verifier log)");
		goto cleanup;
	}
	tr->rb = ring_buffer__new(bpf_map__fd(tr->skel->maps.events), handle_event, tr, NULL);
	if (!tr->rb) {
		ret = -errno;
		snprintf(err, err_len, "cannot open ring buffer: %s", strerror(-ret));
		goto cleanup;
	}
	*out = tr;
	return 0;
cleanup:
	tracer_close(tr);
	return ret;
}

static struct bpf_link *attach_marker(struct bpf_program *prog, const char *path, const char *name,
				      char *err, size_t err_len)
{
	struct bpf_link *link;

	/* pid -1: one uprobe per binary serves every process; the BPF side filters by process. */
	link = bpf_program__attach_usdt(prog, -1, path, "python", name, NULL);
	if (!link)
		snprintf(err, err_len, "cannot attach to python:%s in %s: %s", name, path,
			 strerror(errno));
	return link;
}

int tracer_attach_binary(struct tracer *tr, const char *host_path, char *err, size_t err_len)
{
	struct attached_binary *bin, *bins;
	struct stat st;
	int i, ret;

	if (stat(host_path, &st)) {
		ret = -errno;
		snprintf(err, err_len, "cannot stat %s: %s", host_path, strerror(errno));
		return ret;
	}
	for (i = 0; i < tr->nbins; i++)
		if (tr->bins[i].dev == st.st_dev && tr->bins[i].ino == st.st_ino)
			return 0;

	bins = realloc(tr->bins, (tr->nbins + 1) * sizeof(*bins));
	if (!bins) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	tr->bins = bins;
	bin = &bins[tr->nbins];
	memset(bin, 0, sizeof(*bin));
	bin->dev = st.st_dev;
	bin->ino = st.st_ino;
	/* The end first: a start seen without its end would sit in the thread map. */
	bin->done = attach_marker(tr->skel->progs.gc_done, host_path, "gc__done", err, err_len);
	if (!bin->done)
		return -errno ? -errno : -EINVAL;
	bin->start = attach_marker(tr->skel->progs.gc_start, host_path, "gc__start", err, err_len);
	if (!bin->start) {
		ret = -errno ? -errno : -EINVAL;
		bpf_link__destroy(bin->done);
		return ret;
	}
	tr->nbins++;
	return 0;
}

int tracer_add_pid(struct tracer *tr, pid_t pid)
{
	__u32 key = pid;
	__u8 one = 1;

	return bpf_map_update_elem(bpf_map__fd(tr->skel->maps.traced_pids), &key, &one, BPF_ANY)
		       ? -errno : 0;
}

int tracer_remove_pid(struct tracer *tr, pid_t pid)
{
	__u32 key = pid;

	if (bpf_map_delete_elem(bpf_map__fd(tr->skel->maps.traced_pids), &key) && errno != ENOENT)
		return -errno;
	return 0;
}

int tracer_epoll_fd(struct tracer *tr)
{
	return ring_buffer__epoll_fd(tr->rb);
}

int tracer_consume(struct tracer *tr)
{
	return ring_buffer__consume(tr->rb);
}

void tracer_read_counters(struct tracer *tr, uint64_t counters[GC_CNT_MAX])
{
	int fd = bpf_map__fd(tr->skel->maps.counters);
	__u64 *per_cpu;
	__u32 key;
	int cpu;

	memset(counters, 0, GC_CNT_MAX * sizeof(counters[0]));
	per_cpu = calloc(tr->ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return;
	for (key = 0; key < GC_CNT_MAX; key++) {
		if (bpf_map_lookup_elem(fd, &key, per_cpu))
			continue;
		for (cpu = 0; cpu < tr->ncpus; cpu++)
			counters[key] += per_cpu[cpu];
	}
	free(per_cpu);
}

int tracer_binary_count(const struct tracer *tr)
{
	return tr->nbins;
}

void tracer_close(struct tracer *tr)
{
	int i;

	if (!tr)
		return;
	for (i = 0; i < tr->nbins; i++) {
		bpf_link__destroy(tr->bins[i].start);
		bpf_link__destroy(tr->bins[i].done);
	}
	free(tr->bins);
	ring_buffer__free(tr->rb);
	gc_bpf__destroy(tr->skel);
	free(tr);
}
