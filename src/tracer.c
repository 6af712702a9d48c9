// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "percpu.h"
#include "gc.skel.h"
#include "tracer.h"
#include "untrusted_file.h"

/*
 * Per binary: the marker probes, or per collection function an entry and a return probe and up
 * to two window marks.
 */
#define LINKS_PER_BINARY	(4 * PROBE_MAX_SITES)

struct attached_binary {
	dev_t dev;
	ino_t ino;
	int users;		/* traced processes running it */
	uint64_t idle_since_ns;	/* when users fell to 0 */
	int nlinks;
	struct bpf_link *links[LINKS_PER_BINARY];
	int nconfigs;
	__u32 configs[PROBE_MAX_SITES];	/* func_configs slots it holds */
};

struct tracer {
	struct gc_bpf *skel;
	struct ring_buffer *rb;
	tracer_event_fn on_event;
	void *ctx;
	struct attached_binary *bins;
	int nbins;
	int ncpus;
	bool config_used[GC_MAX_FUNC_CONFIGS];	/* func_configs slots held by a binary */
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

	/* Said plainly: libbpf's own complaint about it only shows with -v. */
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		ret = -errno;
		snprintf(err, err_len, "this kernel has no BTF (/sys/kernel/btf/vmlinux: %s): "
			 "gcpause's CO-RE programs need a kernel built with CONFIG_DEBUG_INFO_BTF",
			 strerror(-ret));
		goto cleanup;
	}
	tr->skel = gc_bpf__open();
	if (!tr->skel) {
		ret = -errno;
		snprintf(err, err_len, "cannot open BPF object: %s", strerror(-ret));
		goto cleanup;
	}
	tr->skel->rodata->filter_pids = true;
	tr->skel->rodata->wakeup_bytes = opts->wakeup_bytes;
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

/* What to do about a refused uprobe, "" for other errors. */
static const char *uprobe_hint(int ret)
{
	/*
	 * Linux 6.16 (and stable backports such as 6.1.y) went back to requiring CAP_SYS_ADMIN
	 * for uprobes (commit ba677dbe77af): CAP_PERFMON is no longer enough.
	 */
	return ret == -EACCES || ret == -EPERM ?
	       " (uprobes need CAP_SYS_ADMIN on kernels 6.16+ and some stable ones; run as root)" :
	       "";
}

static int attach_marker(struct attached_binary *bin, struct bpf_program *prog,
			 const char *path, const char *name, char *err, size_t err_len)
{
	struct bpf_link *link;
	int ret;

	/* pid -1: one uprobe per binary serves every process; the BPF side filters by process. */
	link = bpf_program__attach_usdt(prog, -1, path, "python", name, NULL);
	if (!link) {
		ret = -errno;
		snprintf(err, err_len, "cannot attach to python:%s in %s: %s%s", name, path,
			 strerror(-ret), uprobe_hint(ret));
		return ret;
	}
	bin->links[bin->nlinks++] = link;
	return 0;
}

static int attach_window_marks(struct tracer *tr, struct attached_binary *bin, const char *path,
			       const struct probe_site *site, __u32 config, char *err,
			       size_t err_len)
{
	const struct {
		enum gc_mark_kind kind;
		uint64_t offset;
	} marks[] = {
		{ GC_MARK_WINDOW_START, site->window_start_offset },
		{ GC_MARK_WINDOW_END, site->window_end_offset },
	};
	LIBBPF_OPTS(bpf_uprobe_opts, opts);
	struct bpf_link *link;
	unsigned int i;
	int ret;

	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		if (!marks[i].offset)
			continue;
		opts.bpf_cookie = (__u64)marks[i].kind << GC_MARK_SHIFT | config;
		link = bpf_program__attach_uprobe_opts(tr->skel->progs.gc_func_mark, -1, path,
						       marks[i].offset, &opts);
		if (!link) {
			ret = -errno;
			snprintf(err, err_len, "cannot attach a window probe to %s at "
				 "%s+0x%llx: %s%s", site->what, path,
				 (unsigned long long)marks[i].offset, strerror(-ret),
				 uprobe_hint(ret));
			return ret;
		}
		bin->links[bin->nlinks++] = link;
	}
	return 0;
}

static int attach_function(struct tracer *tr, struct attached_binary *bin, const char *path,
			   const struct probe_site *site, char *err, size_t err_len)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts);
	struct bpf_link *link;
	int ret, ret_probe;
	__u32 config;

	for (config = 0; config < GC_MAX_FUNC_CONFIGS && tr->config_used[config]; config++)
		;
	if (config >= GC_MAX_FUNC_CONFIGS) {
		snprintf(err, err_len, "too many probed functions (at most %d)",
			 GC_MAX_FUNC_CONFIGS);
		return -E2BIG;
	}
	if (bpf_map_update_elem(bpf_map__fd(tr->skel->maps.func_configs), &config, &site->cfg,
				BPF_ANY)) {
		ret = -errno;
		snprintf(err, err_len, "cannot store probe configuration: %s", strerror(-ret));
		return ret;
	}
	tr->config_used[config] = true;
	bin->configs[bin->nconfigs++] = config;
	if (site->cfg.end_only) {
		opts.bpf_cookie = config;
		link = bpf_program__attach_uprobe_opts(tr->skel->progs.gc_func_end, -1, path,
						       site->end_offset, &opts);
		if (!link) {
			ret = -errno;
			snprintf(err, err_len, "cannot attach the end probe of %s at %s+0x%llx: "
				 "%s%s", site->what, path, (unsigned long long)site->end_offset,
				 strerror(-ret), uprobe_hint(ret));
			return ret;
		}
		bin->links[bin->nlinks++] = link;
		return 0;
	}
	/* The return first, as for the markers: an entry without its return would linger. */
	for (ret_probe = 1; ret_probe >= 0; ret_probe--) {
		opts.bpf_cookie = config;
		opts.retprobe = ret_probe;
		link = bpf_program__attach_uprobe_opts(ret_probe ? tr->skel->progs.gc_func_return :
						       tr->skel->progs.gc_func_entry,
						       -1, path, site->offset, &opts);
		if (!link) {
			ret = -errno;
			snprintf(err, err_len, "cannot attach a %s probe to %s at %s+0x%llx: %s%s",
				 ret_probe ? "return" : "entry", site->what, path,
				 (unsigned long long)site->offset, strerror(-ret),
				 uprobe_hint(ret));
			return ret;
		}
		bin->links[bin->nlinks++] = link;
	}
	return attach_window_marks(tr, bin, path, site, config, err, err_len);
}

/* Replaces the first "what" in buf by "with", within len. */
static void replace_in(char *buf, size_t len, const char *what, const char *with)
{
	char *at = strstr(buf, what), tail[1024];

	if (!at)
		return;
	snprintf(tail, sizeof(tail), "%s", at + strlen(what));
	snprintf(at, len - (at - buf), "%s%s", with, tail);
}

static void detach_binary(struct tracer *tr, struct attached_binary *bin)
{
	int i;

	for (i = 0; i < bin->nlinks; i++)
		bpf_link__destroy(bin->links[i]);
	bin->nlinks = 0;
	for (i = 0; i < bin->nconfigs; i++)
		tr->config_used[bin->configs[i]] = false;
	bin->nconfigs = 0;
}

int tracer_attach_binary(struct tracer *tr, const char *host_path, const struct probe_plan *plan,
			 struct tracer_binary_id *id, char *err, size_t err_len)
{
	struct attached_binary *bin, *bins;
	char fd_path[32];
	struct stat st;
	int i, ret, fd;

	/*
	 * Through an fd from here on: a path under /proc/PID/root vanishes when that process exits,
	 * which a short-lived process may do while its probes are being attached.
	 */
	fd = untrusted_open(host_path, UNTRUSTED_ELF_MAX, &st);
	if (fd < 0) {
		snprintf(err, err_len, "cannot open %s: %s", host_path,
			 untrusted_strerror(fd));
		return fd;
	}
	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd);
	*id = (struct tracer_binary_id){ st.st_dev, st.st_ino };
	for (i = 0; i < tr->nbins; i++) {
		if (tr->bins[i].dev == st.st_dev && tr->bins[i].ino == st.st_ino) {
			tr->bins[i].users++;
			close(fd);
			return 0;
		}
	}
	bins = realloc(tr->bins, (tr->nbins + 1) * sizeof(*bins));
	if (!bins) {
		close(fd);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	tr->bins = bins;
	bin = &bins[tr->nbins];
	memset(bin, 0, sizeof(*bin));
	bin->dev = st.st_dev;
	bin->ino = st.st_ino;
	if (plan->tier == PROBE_USDT) {
		/* The end first: a start seen without its end would sit in the thread map. */
		ret = attach_marker(bin, tr->skel->progs.gc_done, fd_path, "gc__done", err,
				    err_len);
		if (!ret)
			ret = attach_marker(bin, tr->skel->progs.gc_start, fd_path, "gc__start",
					    err, err_len);
	} else {
		for (ret = 0, i = 0; !ret && i < plan->nsites; i++)
			ret = attach_function(tr, bin, fd_path, &plan->sites[i], err, err_len);
	}
	close(fd);
	bin->users = 1;
	if (ret) {
		/* Messages name the file as the user knows it. */
		replace_in(err, err_len, fd_path, host_path);
		detach_binary(tr, bin);
		return ret;
	}
	tr->nbins++;
	return 0;
}

void tracer_release_binary(struct tracer *tr, const struct tracer_binary_id *id,
			   uint64_t now_ns)
{
	int i;

	for (i = 0; i < tr->nbins; i++) {
		struct attached_binary *bin = &tr->bins[i];

		if (bin->dev == id->dev && bin->ino == id->ino && bin->users > 0) {
			if (!--bin->users)
				bin->idle_since_ns = now_ns;
			return;
		}
	}
}

int tracer_expire_binaries(struct tracer *tr, uint64_t now_ns, uint64_t idle_ns)
{
	int i = 0, n = 0;

	while (i < tr->nbins) {
		struct attached_binary *bin = &tr->bins[i];

		if (bin->users || now_ns - bin->idle_since_ns < idle_ns) {
			i++;
			continue;
		}
		detach_binary(tr, bin);
		tr->bins[i] = tr->bins[--tr->nbins];
		n++;
	}
	return n;
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

int tracer_filtered_pids(struct tracer *tr, pid_t **out)
{
	int fd = bpf_map__fd(tr->skel->maps.traced_pids);
	pid_t *pids = calloc(GC_MAX_PIDS, sizeof(*pids));
	__u32 key, next;
	int n = 0;

	*out = pids;
	if (!pids)
		return -ENOMEM;
	/* Entries may go meanwhile: then the walk restarts from the first, bounded by the size. */
	for (; n < GC_MAX_PIDS && !bpf_map_get_next_key(fd, n ? &key : NULL, &next); key = next)
		pids[n++] = next;
	return n;
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
	percpu_sum(bpf_map__fd(tr->skel->maps.counters), tr->ncpus, counters, GC_CNT_MAX);
}

int tracer_filter_fd(const struct tracer *tr)
{
	return bpf_map__fd(tr->skel->maps.traced_pids);
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
	for (i = 0; i < tr->nbins; i++)
		detach_binary(tr, &tr->bins[i]);
	free(tr->bins);
	ring_buffer__free(tr->rb);
	gc_bpf__destroy(tr->skel);
	free(tr);
}
