// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "trace/binary_identity.h"
#include "trace/object.h"
#include "trace/percpu.h"
#include "gc.skel.h"
#include "trace/gc_tracer.h"
#include "util/untrusted_file.h"

/*
 * Per binary: the marker probes, or per collection function an entry and a return probe and up
 * to two window marks.
 */
#define LINKS_PER_BINARY	(4 * PROBE_MAX_SITES)
/* Binaries found rewritten whose processes the caller has not been told about yet. */
#define MAX_CHANGED		64
#define BINARY_NAME_LEN		256
/* What makes the watch readable: a write (truncation included), or new attributes. */
#define WATCH_MASK		(IN_MODIFY | IN_ATTRIB)

struct attached_binary {
	uint64_t serial;
	struct binary_identity identity;
	int fd;			/* the file, to look at it again when the watch says it changed */
	int wd;			/* its inotify watch, -1 if none could be set */
	char name[BINARY_NAME_LEN];
	int users;		/* traced processes running it */
	uint64_t idle_since_ns;	/* when users fell to 0 */
	int nlinks;
	struct bpf_link *links[LINKS_PER_BINARY];
	int nconfigs;
	__u32 configs[PROBE_MAX_SITES];	/* func_configs slots it holds */
};

struct tracer {
	struct gc_bpf *skel;
	struct trace_ring ring;
	tracer_event_fn on_event;
	void *ctx;
	struct attached_binary *bins;
	int nbins;
	int ncpus;
	bool config_used[GC_MAX_FUNC_CONFIGS];	/* func_configs slots held by a binary */
	int watch_fd;			/* inotify: the attached binaries' files */
	uint64_t next_serial;
	struct {
		struct tracer_binary_id id;
		char name[BINARY_NAME_LEN];
	} changed[MAX_CHANGED];
	int nchanged;
};

static void handle_event(const void *data, size_t size, void *ctx)
{
	struct tracer *tr = ctx;

	if (size >= sizeof(struct gc_event))
		tr->on_event(data, tr->ctx);
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
	tr->next_serial = 1;
	tr->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (tr->watch_fd < 0) {
		ret = -errno;
		snprintf(err, err_len, "inotify_init1: %s", strerror(-ret));
		goto cleanup;
	}
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
	ret = trace_ring_open(&tr->ring, tr->skel->maps.events, "GC", handle_event, tr, err,
			      err_len);
	if (ret)
		goto cleanup;
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

static void *destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

/*
 * Closing a uprobe's link unregisters it, then waits for an RCU grace period. An entry and a
 * return probe share the breakpoint, which goes with the last of them: closed one after the
 * other, it would stay in the code for a grace period or more (tens of milliseconds), a long
 * time for a file being rewritten under it. Closed together, it goes at once.
 */
static void destroy_links(struct bpf_link **links, int n)
{
	pthread_t threads[LINKS_PER_BINARY];
	bool started[LINKS_PER_BINARY];
	int i;

	for (i = 0; i < n; i++) {
		started[i] = n > 1 && !pthread_create(&threads[i], NULL, destroy_link, links[i]);
		if (!started[i])
			bpf_link__destroy(links[i]);
	}
	for (i = 0; i < n; i++)
		if (started[i])
			pthread_join(threads[i], NULL);
}

static void detach_binary(struct tracer *tr, struct attached_binary *bin)
{
	int i;

	destroy_links(bin->links, bin->nlinks);
	bin->nlinks = 0;
	for (i = 0; i < bin->nconfigs; i++)
		tr->config_used[bin->configs[i]] = false;
	bin->nconfigs = 0;
	if (bin->wd >= 0)
		inotify_rm_watch(tr->watch_fd, bin->wd);
	bin->wd = -1;
	if (bin->fd >= 0)
		close(bin->fd);
	bin->fd = -1;
}

/* Detaches and forgets tr->bins[i]; the last entry takes its place. */
static void remove_binary(struct tracer *tr, int i)
{
	detach_binary(tr, &tr->bins[i]);
	tr->bins[i] = tr->bins[--tr->nbins];
}

/*
 * tr->bins[i]'s file is not what was probed any more: its probes go at once (a process that
 * maps the new contents would get a breakpoint at an offset planned for the old ones), and
 * the caller is told which processes used them.
 */
static void binary_rewritten(struct tracer *tr, int i)
{
	struct attached_binary *bin = &tr->bins[i];

	if (tr->nchanged < MAX_CHANGED) {
		/* Serial 0: no process used it, but the user is told that its probes went. */
		tr->changed[tr->nchanged].id.serial = bin->users ? bin->serial : 0;
		snprintf(tr->changed[tr->nchanged].name, BINARY_NAME_LEN, "%s", bin->name);
		tr->nchanged++;
	}
	remove_binary(tr, i);
}

bool tracer_next_changed(struct tracer *tr, struct tracer_binary_id *id, char *name,
			 size_t name_len)
{
	if (!tr->nchanged)
		return false;
	tr->nchanged--;
	*id = tr->changed[tr->nchanged].id;
	snprintf(name, name_len, "%s", tr->changed[tr->nchanged].name);
	return true;
}

int tracer_binary_watch_fd(struct tracer *tr)
{
	return tr->watch_fd;
}

/* Whether tr->bins[i]'s file still is what was probed. */
static bool binary_unchanged(struct tracer *tr, int i)
{
	struct binary_identity now;

	return !binary_identity_read(tr->bins[i].fd, &now) &&
	       binary_identity_equal(&now, &tr->bins[i].identity);
}

int tracer_check_binaries(struct tracer *tr)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	bool recheck_all = false;
	int i, n = 0;
	ssize_t len;
	char *at;

	while ((len = read(tr->watch_fd, buf, sizeof(buf))) > 0) {
		for (at = buf; at < buf + len; at += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)at;
			if (ev->mask & IN_Q_OVERFLOW)
				recheck_all = true;
			for (i = 0; i < tr->nbins; i++) {
				if (tr->bins[i].wd != ev->wd)
					continue;
				/*
				 * A write may keep size and times (a coarse clock, a file
				 * copied with its times): it is a rewrite whatever it wrote.
				 * New attributes only are checked (a touch, a rename over it).
				 */
				if ((ev->mask & IN_MODIFY) || !binary_unchanged(tr, i)) {
					binary_rewritten(tr, i);
					n++;
				}
				break;
			}
		}
	}
	for (i = 0; recheck_all && i < tr->nbins; i++) {
		if (!binary_unchanged(tr, i)) {
			binary_rewritten(tr, i--);
			n++;
		}
	}
	return n;
}

int tracer_attach_binary(struct tracer *tr, const char *host_path, const char *name,
			 const struct file_id *planned, const struct probe_plan *plan,
			 struct tracer_binary_id *id, char *err, size_t err_len)
{
	static const struct file_id none;
	struct binary_identity identity, after;
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
	ret = binary_identity_read(fd, &identity);
	if (ret) {
		snprintf(err, err_len, "cannot read %s: %s", host_path, strerror(-ret));
		close(fd);
		return ret;
	}
	if (planned && memcmp(planned, &none, sizeof(none)) &&
	    !file_id_equal(planned, &identity.file)) {
		close(fd);
		snprintf(err, err_len, "%s changed while its probes were being planned", name);
		return -ESTALE;
	}
	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd);
	for (i = 0; i < tr->nbins; i++) {
		if (!binary_identity_same_file(&tr->bins[i].identity, &identity))
			continue;
		if (binary_identity_equal(&tr->bins[i].identity, &identity)) {
			tr->bins[i].users++;
			*id = (struct tracer_binary_id){ tr->bins[i].serial };
			close(fd);
			return 0;
		}
		/* The same file with new contents: what was planned for the old ones goes. */
		binary_rewritten(tr, i);
		break;
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
	bin->identity = identity;
	bin->fd = fd;
	bin->wd = -1;
	snprintf(bin->name, sizeof(bin->name), "%s", name);
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
	if (!ret) {
		/*
		 * Watched from here on, and looked at once more: a rewrite before the watch
		 * was set would otherwise go unseen.
		 */
		bin->wd = inotify_add_watch(tr->watch_fd, fd_path, WATCH_MASK);
		if (binary_identity_read(fd, &after) || !binary_identity_equal(&after, &identity)) {
			snprintf(err, err_len, "%s changed while its probes were being attached",
				 name);
			ret = -ESTALE;
		}
	}
	bin->users = 1;
	if (ret) {
		/* Messages name the file as the user knows it. */
		replace_in(err, err_len, fd_path, host_path);
		detach_binary(tr, bin);
		return ret;
	}
	bin->serial = tr->next_serial++;
	*id = (struct tracer_binary_id){ bin->serial };
	tr->nbins++;
	return 0;
}

void tracer_release_binary(struct tracer *tr, const struct tracer_binary_id *id,
			   uint64_t now_ns)
{
	int i;

	for (i = 0; i < tr->nbins; i++) {
		struct attached_binary *bin = &tr->bins[i];

		if (bin->serial == id->serial && bin->users > 0) {
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
		remove_binary(tr, i);
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

int tracer_watch_pid(struct tracer *tr, pid_t pid)
{
	__u32 key = pid;
	__u8 waiting = TRACED_WAITING;

	return bpf_map_update_elem(bpf_map__fd(tr->skel->maps.traced_pids), &key, &waiting,
				   BPF_ANY) ? -errno : 0;
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
	return trace_ring_epoll_fd(&tr->ring);
}

int tracer_consume(struct tracer *tr)
{
	return trace_ring_consume(&tr->ring);
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
	if (tr->watch_fd >= 0)
		close(tr->watch_fd);
	trace_ring_close(&tr->ring);
	gc_bpf__destroy(tr->skel);
	free(tr);
}
