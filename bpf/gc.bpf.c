// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Times CPython collections, through either of two kinds of probe:
 * - the python:gc__start and python:gc__done USDT markers, where the build has them;
 * - an entry and a return uprobe on the collection function itself, where it has not.
 *
 * Probes are attached once per binary for every process mapping it, so the first thing each
 * program does is drop processes that are not traced: other Pythons on the host pay one hash
 * lookup per collection and nothing more.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "gc.h"
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Non-zero: events are submitted without waking the reader, which drains the ring buffer on a
 * short timer (GC_DRAIN_NS), until this many bytes wait in it. A wake-up is an irq_work, an
 * IPI when the reader sleeps on another CPU, run in the traced process's context on every
 * collection: in a VM it costs about as much as the probes' traps themselves.
 */
const volatile __u64 wakeup_bytes = 0;

/* One collection under way on a thread. */
struct gc_frame {
	__u64 start_ns;
	__u64 end_ns;				/* function probes: set by a window-end mark */
	__u64 stats_addr;			/* function probes with recover_gen */
	__u64 collections[GC_COUNTED_GENS];	/* counters at entry */
	__s32 gen;
	__u32 config;
};

struct thread_state {
	__u32 depth;
	__u32 pad;
	struct gc_frame frames[GC_MAX_DEPTH];
};

/* LRU so that a thread killed mid-collection cannot leak its slot forever. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, GC_MAX_THREADS);
	__type(key, __u32);	/* tid */
	__type(value, struct thread_state);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GC_MAX_FUNC_CONFIGS);
	__type(key, __u32);	/* the attachment's BPF cookie */
	__type(value, struct gc_func_config);
} func_configs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, GC_RINGBUF_BYTES);
} events SEC(".maps");

DEFINE_COUNTERS(counters, GC_CNT_MAX)

_Static_assert((GC_MAX_DEPTH & (GC_MAX_DEPTH - 1)) == 0, "GC_MAX_DEPTH must be a power of two");

/*
 * An index already checked against GC_MAX_DEPTH, masked again where clang cannot see the check:
 * the verifier loses a bound that clang has proven and optimised away.
 */
static __always_inline __u32 slot(__u32 depth)
{
	barrier_var(depth);
	return depth & (GC_MAX_DEPTH - 1);
}

static __always_inline bool is_traced(__u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32;

	return bpf_map_lookup_elem(&traced_pids, &tgid);
}

/* The frame for a collection starting on this thread, or NULL (counted) when there is none. */
static __always_inline struct gc_frame *push_frame(__u32 tid)
{
	static const struct thread_state zero;
	struct thread_state *ts;
	__u32 depth;

	ts = bpf_map_lookup_elem(&threads, &tid);
	if (!ts) {
		bpf_map_update_elem(&threads, &tid, &zero, BPF_NOEXIST);
		ts = bpf_map_lookup_elem(&threads, &tid);
		if (!ts) {
			count(GC_CNT_NO_THREAD_SLOT);
			return NULL;
		}
	}
	depth = ts->depth;
	/* Past the limit, keep counting depth so the matching end pairs with the right frame. */
	ts->depth = depth + 1;
	if (depth >= GC_MAX_DEPTH) {
		count(GC_CNT_TOO_DEEP);
		return NULL;
	}
	return &ts->frames[slot(depth)];
}

/* The frame of the collection ending on this thread; NULL when its start was not seen. */
static __always_inline struct gc_frame *pop_frame(__u32 tid, __u32 *depth_out)
{
	struct thread_state *ts;
	__u32 depth;

	ts = bpf_map_lookup_elem(&threads, &tid);
	if (!ts || ts->depth == 0) {
		/* The collection began before the probes were live: its start is unknown. */
		count(GC_CNT_UNMATCHED_DONE);
		return NULL;
	}
	depth = ts->depth - 1;
	ts->depth = depth;
	if (depth >= GC_MAX_DEPTH)
		return NULL;	/* already counted as too deep at its start */
	*depth_out = depth;
	return &ts->frames[slot(depth)];
}

static __always_inline void emit(__u64 pid_tgid, const struct gc_frame *f, __s32 gen,
				 __s64 collected, __u32 depth, __u64 now)
{
	struct task_struct *task;
	struct gc_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(GC_CNT_DROPPED);
		return;
	}
	e->start_ns = f->start_ns;
	e->duration_ns = (f->end_ns ? f->end_ns : now) - f->start_ns;
	e->collected = collected;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->gen = gen;
	e->depth = depth;
	task = (struct task_struct *)bpf_get_current_task();
	e->process_start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	if (!wakeup_bytes)
		bpf_ringbuf_submit(e, 0);
	else if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + sizeof(*e) >= wakeup_bytes)
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	else
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

SEC("usdt")
int gc_start(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	struct gc_frame *f;
	long gen;

	if (!is_traced(id))
		return 0;
	if (bpf_usdt_arg(ctx, 0, &gen)) {
		count(GC_CNT_ARG_FAIL);
		gen = -1;
	}
	f = push_frame((__u32)id);
	if (!f)
		return 0;
	f->start_ns = now;
	f->end_ns = 0;
	f->gen = gen;
	return 0;
}

SEC("usdt")
int gc_done(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	struct gc_frame *f;
	__u32 depth = 0;
	long collected;

	if (!is_traced(id))
		return 0;
	f = pop_frame((__u32)id, &depth);
	if (!f)
		return 0;
	if (bpf_usdt_arg(ctx, 0, &collected)) {
		count(GC_CNT_ARG_FAIL);
		collected = -1;
	}
	emit(id, f, f->gen, collected, depth, now);
	return 0;
}

/*
 * Where generation i's current statistics start (its ring's newest entry, 3.15+) and, for a ring,
 * that entry's index; false if the index could not be read or is out of the ring.
 */
static __always_inline bool gen_entry(const struct gc_func_config *cfg, __u64 stats_addr, int i,
				      __u64 *addr, __s8 *idx)
{
	*addr = stats_addr + cfg->gen_offset[i];
	*idx = 0;
	if (!cfg->ring_len[i])
		return true;
	if (bpf_probe_read_user(idx, sizeof(*idx), (void *)(*addr + cfg->ring_index_offset[i])) ||
	    *idx < 0 || (__u32)*idx >= cfg->ring_len[i])
		return false;
	*addr += (__u64)*idx * cfg->entry_size;
	return true;
}

/* Reads the per-generation collection counters; false (counted) if memory could not be read. */
static __always_inline bool read_collections(const struct gc_func_config *cfg, __u64 stats_addr,
					     __u64 out[GC_COUNTED_GENS])
{
	int i;

	for (i = 0; i < GC_COUNTED_GENS; i++) {
		__u64 addr;
		__s8 idx;

		if (!gen_entry(cfg, stats_addr, i, &addr, &idx) ||
		    bpf_probe_read_user(&out[i], sizeof(out[i]),
					(void *)(addr + cfg->collections_offset))) {
			count(GC_CNT_ARG_FAIL);
			return false;
		}
	}
	return true;
}

SEC("uprobe")
int gc_func_entry(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	__u32 config = (__u32)bpf_get_attach_cookie(ctx);
	const struct gc_func_config *cfg;
	struct gc_frame *f;
	__u64 interp = 0;

	if (!is_traced(id))
		return 0;
	cfg = bpf_map_lookup_elem(&func_configs, &config);
	if (!cfg)
		return 0;
	f = push_frame((__u32)id);
	if (!f)
		return 0;
	f->start_ns = now;
	f->end_ns = 0;
	f->config = config;
	if (cfg->gen_source == GC_GEN_ARG1)
		f->gen = (__s32)PT_REGS_PARM1(ctx);
	else if (cfg->gen_source == GC_GEN_ARG2)
		f->gen = (__s32)PT_REGS_PARM2(ctx);
	else
		f->gen = cfg->gen_const;
	f->stats_addr = 0;
	if (cfg->recover_gen) {
		void *tstate = (void *)PT_REGS_PARM1(ctx);

		if (bpf_probe_read_user(&interp, sizeof(interp), tstate + cfg->interp_offset)) {
			count(GC_CNT_ARG_FAIL);
			return 0;
		}
		f->stats_addr = interp + cfg->stats_offset;
		if (cfg->stats_indirect &&
		    bpf_probe_read_user(&f->stats_addr, sizeof(f->stats_addr),
					(void *)f->stats_addr)) {
			count(GC_CNT_ARG_FAIL);
			f->stats_addr = 0;
		} else if (!read_collections(cfg, f->stats_addr, f->collections))
			f->stats_addr = 0;
	}
	return 0;
}

SEC("uretprobe")
int gc_func_return(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	__u64 after[GC_COUNTED_GENS];
	const struct gc_func_config *cfg;
	struct gc_frame *f;
	__u32 depth = 0;
	__s32 gen;
	int i;

	if (!is_traced(id))
		return 0;
	f = pop_frame((__u32)id, &depth);
	if (!f)
		return 0;
	cfg = bpf_map_lookup_elem(&func_configs, &f->config);
	if (!cfg)
		return 0;
	gen = f->gen;
	if (cfg->skip_nested && depth > 0) {
		count(GC_CNT_NOT_COLLECTED);
		return 0;
	}
	if (cfg->recover_gen) {
		if (!f->stats_addr || !read_collections(cfg, f->stats_addr, after)) {
			gen = -1;	/* reported, with the generation unknown */
		} else {
			gen = -2;
			for (i = 0; i < GC_COUNTED_GENS; i++)
				if (after[i] != f->collections[i])
					gen = i;
			if (gen == -2) {
				/* Returned early: another collection was already running. */
				count(GC_CNT_NOT_COLLECTED);
				return 0;
			}
		}
	}
	emit(id, f, gen, (__s64)PT_REGS_RC(ctx), depth, now);
	return 0;
}

/* A 3.15 ring entry's fields that gc_func_end reads. */
struct ring_entry {
	__u64 ts_start, ts_stop;
	__s64 collected, uncollectable;
};

static __always_inline int read_entry(const struct gc_func_config *cfg, __u64 at,
				      struct ring_entry *out)
{
	if (bpf_probe_read_user(&out->ts_start, 2 * sizeof(__u64), (void *)(at + cfg->entry_ts)))
		return -1;
	return bpf_probe_read_user(&out->collected, 2 * sizeof(__s64),
				   (void *)(at + cfg->entry_collected));
}

/*
 * 3.15+: one probe after the collection, where its record in the interpreter's statistics is
 * complete (see struct gc_func_config): the collection as CPython timed it itself.
 */
SEC("uprobe")
int gc_func_end(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), bias, interp, stats, ring = 0, best_ts = 0;
	__u32 config = (__u32)bpf_get_attach_cookie(ctx);
	const struct gc_func_config *cfg;
	struct ring_entry cur, prev;
	struct gc_frame f = {};
	__s8 idx, best_idx = 0;
	__u32 best_len = 0;
	int i, gen = -1;

	if (!is_traced(id))
		return 0;
	cfg = bpf_map_lookup_elem(&func_configs, &config);
	if (!cfg || !cfg->end_only)
		return 0;
	/* Shared objects load at page boundaries: anything else is a misread address. */
	bias = PT_REGS_IP(ctx) - cfg->site_vaddr;
	if ((bias & 0xfff) ||
	    bpf_probe_read_user(&interp, sizeof(interp),
				(void *)(bias + cfg->runtime_vaddr + cfg->runtime_interp_head)) ||
	    bpf_probe_read_user(&stats, sizeof(stats), (void *)(interp + cfg->stats_offset))) {
		count(GC_CNT_ARG_FAIL);
		return 0;
	}
	for (i = 0; i < GC_COUNTED_GENS; i++) {
		__u64 at, ts;

		if (!cfg->ring_len[i] || !gen_entry(cfg, stats, i, &at, &idx) ||
		    bpf_probe_read_user(&ts, sizeof(ts),
					(void *)(at + cfg->entry_ts + sizeof(__u64)))) {
			count(GC_CNT_ARG_FAIL);
			return 0;
		}
		if (ts > best_ts) {
			best_ts = ts;
			gen = i;
			ring = at;
			best_idx = idx;
			best_len = cfg->ring_len[i];
		}
	}
	/* ring: the newest entry; the one before it is one entry back, or the ring's last. */
	if (gen < 0 || read_entry(cfg, ring, &cur) ||
	    read_entry(cfg, best_idx ? ring - cfg->entry_size :
			    ring + (__u64)(best_len - 1) * cfg->entry_size, &prev) ||
	    cur.ts_stop < cur.ts_start) {
		count(GC_CNT_ARG_FAIL);
		return 0;
	}
	f.start_ns = cur.ts_start;
	f.end_ns = cur.ts_stop;
	emit(id, &f, gen, cur.collected + cur.uncollectable - prev.collected - prev.uncollectable,
	     0, cur.ts_stop);
	return 0;
}

/*
 * From 3.13 the collection function runs the gc.callbacks itself, where the markers leave them
 * out: probes just after the "start" callback and at the "stop" one move the window of the
 * collection under way on this thread to where the markers would put it.
 */
SEC("uprobe")
int gc_func_mark(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct thread_state *ts;
	struct gc_frame *f;
	__u32 tid = (__u32)id, depth;

	if (!is_traced(id))
		return 0;
	ts = bpf_map_lookup_elem(&threads, &tid);
	if (!ts || ts->depth == 0 || ts->depth > GC_MAX_DEPTH)
		return 0;
	depth = ts->depth - 1;
	f = &ts->frames[slot(depth)];
	if (f->config != (__u32)(cookie & ((1 << GC_MARK_SHIFT) - 1)))
		return 0;
	if ((cookie >> GC_MARK_SHIFT) == GC_MARK_WINDOW_START)
		f->start_ns = now;
	else
		f->end_ns = now;
	return 0;
}
