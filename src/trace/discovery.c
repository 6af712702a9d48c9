// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include "discover.skel.h"
#include "trace/discovery.h"
#include "probe/elf/loader.h"
#include "trace/object.h"
#include "trace/percpu.h"

/* Distinct dynamic loaders hooked: one per glibc build on the node (host, container images). */
#define MAX_LOADERS	64

struct loader_link {
	dev_t dev;
	ino_t ino;
	struct bpf_link *link;	/* NULL: looked at, has no hook */
};

struct discovery {
	struct discover_bpf *skel;
	struct trace_ring ring;
	struct loader_link loaders[MAX_LOADERS];
	int nloaders;
	discovery_event_fn on_event;
	void *ctx;
	int ncpus;
};

static void handle_event(const void *data, size_t size, void *ctx)
{
	struct discovery *d = ctx;

	if (size >= sizeof(struct discover_event))
		d->on_event(data, d->ctx);
}

int discovery_open(struct discovery **out, int traced_pids_fd, enum discovery_scope scope,
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
	d->skel->rodata->tree_only = scope == DISCOVERY_TREE || scope == DISCOVERY_CHILDREN;
	d->skel->rodata->hold_waiting = scope == DISCOVERY_TREE;
	/* Attached per loader file by discovery_watch_loader(); --all handles exits by pidfds. */
	bpf_program__set_autoattach(d->skel->progs.on_loader_change, false);
	bpf_program__set_autoload(d->skel->progs.on_exit, d->skel->rodata->tree_only);
	if (scope == DISCOVERY_PIDS) {
		d->skel->rodata->candidates_at_exec = false;
		d->skel->rodata->report_traced_only = true;
		bpf_program__set_autoload(d->skel->progs.on_loader_change, false);
		ret = bpf_program__set_autoload(d->skel->progs.on_fork, false);
		if (ret) {
			snprintf(err, err_len, "cannot leave the fork probe out: %s",
				 strerror(-ret));
			goto cleanup;
		}
	}
	ret = trace_share_filter(d->skel->maps.traced_pids, traced_pids_fd, err, err_len);
	if (ret)
		goto cleanup;
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
	ret = trace_ring_open(&d->ring, d->skel->maps.discover_events, "discovery", handle_event,
			      d, err, err_len);
	if (ret)
		goto cleanup;
	*out = d;
	return 0;
cleanup:
	discovery_close(d);
	return ret;
}

int discovery_epoll_fd(struct discovery *d)
{
	return trace_ring_epoll_fd(&d->ring);
}

int discovery_consume(struct discovery *d)
{
	return trace_ring_consume(&d->ring);
}

void discovery_read_counters(struct discovery *d, uint64_t counters[DISCOVER_CNT_MAX])
{
	percpu_sum(bpf_map__fd(d->skel->maps.discover_counters), d->ncpus, counters, DISCOVER_CNT_MAX);
}

int discovery_watch_loader(struct discovery *d, const char *host_path, char *err,
			   size_t err_len)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = "_dl_debug_state");
	struct loader_hook hook;
	struct loader_link *l;
	struct stat st;
	int i, ret;

	if (stat(host_path, &st)) {
		ret = -errno;
		snprintf(err, err_len, "%s: %s", host_path, strerror(-ret));
		return ret;
	}
	for (i = 0; i < d->nloaders; i++)
		if (d->loaders[i].dev == st.st_dev && d->loaders[i].ino == st.st_ino)
			return d->loaders[i].link ? 0 : -ENOENT;
	if (d->nloaders == MAX_LOADERS) {
		snprintf(err, err_len, "%s: more than %d dynamic loaders on this node", host_path,
			 MAX_LOADERS);
		return -ENOSPC;
	}
	l = &d->loaders[d->nloaders++];
	*l = (struct loader_link){ .dev = st.st_dev, .ino = st.st_ino };
	ret = loader_find_hook(host_path, &hook);
	if (ret) {
		snprintf(err, err_len, "%s: no _dl_debug_state/_r_debug (not glibc's loader?): "
			 "libraries loaded later are not seen in its processes", host_path);
		return ret;
	}
	opts.bpf_cookie = (__u64)hook.r_debug_delta;
	l->link = bpf_program__attach_uprobe_opts(d->skel->progs.on_loader_change, -1, host_path,
						  0, &opts);
	if (!l->link) {
		ret = -errno;
		snprintf(err, err_len, "cannot attach to _dl_debug_state in %s: %s", host_path,
			 strerror(-ret));
		return ret;
	}
	return 0;
}

void discovery_close(struct discovery *d)
{
	int i;

	if (!d)
		return;
	for (i = 0; i < d->nloaders; i++)
		bpf_link__destroy(d->loaders[i].link);
	trace_ring_close(&d->ring);
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
