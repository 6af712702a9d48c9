// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "discover.skel.h"
#include "discovery.h"
#include "percpu.h"

struct discovery {
	struct discover_bpf *skel;
	struct ring_buffer *rb;
	discovery_event_fn on_event;
	void *ctx;
	int ncpus;
};

static int handle_event(void *ctx, void *data, size_t size)
{
	struct discovery *d = ctx;

	if (size >= sizeof(struct discover_event))
		d->on_event(data, d->ctx);
	return 0;
}

int discovery_open(struct discovery **out, int traced_pids_fd, bool all,
		   discovery_event_fn on_event, void *ctx, char *err, size_t err_len)
{
	struct discovery *d;
	int ret;

	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	d->on_event = on_event;
	d->ctx = ctx;
	d->ncpus = libbpf_num_possible_cpus();
	d->skel = discover_bpf__open();
	if (!d->skel || d->ncpus <= 0) {
		ret = errno ? -errno : -EINVAL;
		snprintf(err, err_len, "cannot open the discovery BPF object: %s", strerror(-ret));
		goto cleanup;
	}
	if (!all) {
		d->skel->rodata->candidates_at_exec = false;
		d->skel->rodata->report_traced_only = true;
		ret = bpf_program__set_autoload(d->skel->progs.on_fork, false);
		if (ret) {
			snprintf(err, err_len, "cannot leave the fork probe out: %s",
				 strerror(-ret));
			goto cleanup;
		}
	}
	ret = bpf_map__reuse_fd(d->skel->maps.traced_pids, traced_pids_fd);
	if (ret) {
		snprintf(err, err_len, "cannot share the process filter: %s", strerror(-ret));
		goto cleanup;
	}
	ret = discover_bpf__load(d->skel);
	if (ret) {
		snprintf(err, err_len, "cannot load the discovery BPF programs: %s (--all needs "
			 "BTF-enabled tracepoints, kernel 5.5+)", strerror(-ret));
		goto cleanup;
	}
	ret = discover_bpf__attach(d->skel);
	if (ret) {
		snprintf(err, err_len, "cannot attach to the sched_process_exec/fork tracepoints: "
			 "%s", strerror(-ret));
		goto cleanup;
	}
	d->rb = ring_buffer__new(bpf_map__fd(d->skel->maps.discover_events), handle_event, d, NULL);
	if (!d->rb) {
		ret = -errno;
		snprintf(err, err_len, "cannot open the discovery ring buffer: %s",
			 strerror(-ret));
		goto cleanup;
	}
	*out = d;
	return 0;
cleanup:
	discovery_close(d);
	return ret;
}

int discovery_epoll_fd(struct discovery *d)
{
	return ring_buffer__epoll_fd(d->rb);
}

int discovery_consume(struct discovery *d)
{
	return ring_buffer__consume(d->rb);
}

void discovery_read_counters(struct discovery *d, uint64_t counters[DISCOVER_CNT_MAX])
{
	percpu_sum(bpf_map__fd(d->skel->maps.discover_counters), d->ncpus, counters, DISCOVER_CNT_MAX);
}

void discovery_close(struct discovery *d)
{
	if (!d)
		return;
	ring_buffer__free(d->rb);
	discover_bpf__destroy(d->skel);
	free(d);
}

int discovery_scan_proc(void (*fn)(pid_t pid, void *ctx), void *ctx)
{
	struct dirent *de;
	char *end;
	DIR *dir;
	long pid;

	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		fn((pid_t)pid, ctx);
	}
	closedir(dir);
	return 0;
}
