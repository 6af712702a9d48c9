// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The counters live in the interpreter's GC state (interp->gc), reached from the thread state
 * that the collection function takes first. DWARF names them when a debug file is there. A
 * stripped build still carries _Py_DebugOffsets at the start of _PyRuntime (3.13+), the table
 * CPython publishes for out-of-process tools: it says where the interpreter and its GC state
 * are. Where in the GC state the statistics sit is fixed by each version's C definition; the
 * table below has it, and every entry is cross-checked against another published offset so that
 * a point release that moves things is refused rather than misread.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "probe/elf/dwarf_types.h"
#include "probe/gc_counters.h"

#define DEBUG_OFFSETS_COOKIE	"xdebugpy"
#define DEBUG_OFFSETS_VERSION	8	/* PY_VERSION_HEX */
#define DEBUG_OFFSETS_INTERPRETERS_HEAD	40	/* runtime_state.interpreters_head, 3.13+ */

/* Per-generation statistics as 3.13 and 3.14 keep them: one array of three. */
#define FLAT_ENTRY_SIZE		24	/* collections, collected, uncollectable */

/*
 * 3.15 keeps, per generation, the totals as of each of its last collections in a ring
 * (struct gc_stats: young's 11 entries, then old[0] and old[1] with 3 each), reached through a
 * pointer in the GC state. An entry is 64 bytes: ts_start, ts_stop, collections, ...
 */
#define RING_ENTRY_SIZE		64
#define RING_TS			0	/* ts_start, ts_stop */
#define RING_COLLECTIONS	16
#define RING_COLLECTED		24	/* collected, uncollectable */
#define RING_YOUNG_LEN		11
#define RING_OLD_LEN		3
#define RING_YOUNG_SIZE		(RING_YOUNG_LEN * RING_ENTRY_SIZE + 8)	/* + int8 index, padded */
#define RING_OLD_SIZE		(RING_OLD_LEN * RING_ENTRY_SIZE + 8)
#define RING_STATS_SIZE		(RING_YOUNG_SIZE + 2 * RING_OLD_SIZE)

/* Byte positions, inside _Py_DebugOffsets, of the fields read; 0: not published. */
struct debug_offsets_layout {
	int minor;
	size_t tstate_interp;		/* thread_state.interp */
	size_t interp_gc;		/* interpreter_state.gc */
	size_t gc_collecting;		/* gc.collecting */
	size_t gc_stats;		/* gc.generation_stats (3.15: a pointer) */
	size_t gc_stats_size;		/* gc.generation_stats_size */
	long flat_stats;		/* up to 3.14: the statistics' offset in the GC state */
};

static const struct debug_offsets_layout layouts[] = {
	/* 3.13 publishes no gc block; the statistics follow the permanent generation. */
	{ .minor = 13, .tstate_interp = 176, .interp_gc = 80, .flat_stats = 0x80 },
	/* 3.14.5+ (the collector of 3.13 again): GCState lost generation0, gained nothing. */
	{ .minor = 14, .tstate_interp = 200, .interp_gc = 88, .gc_collecting = 656,
	  .flat_stats = 0x78 },
	{ .minor = 15, .tstate_interp = 200, .interp_gc = 88, .gc_collecting = 760,
	  .gc_stats = 784, .gc_stats_size = 776 },
};

static int from_dwarf(const char *dwarf_file, const struct py_version *v,
		      struct gc_func_config *cfg)
{
	long interp, stats, stride, collections;
	int i;

	/* 3.15's statistics are rings behind a pointer: its published offsets say so exactly. */
	if (!dwarf_file || v->minor >= 15 ||
	    dwarf_offsetof(dwarf_file, "PyThreadState", "interp", &interp) ||
	    dwarf_offsetof(dwarf_file, "PyInterpreterState", "gc.generation_stats", &stats) ||
	    dwarf_sizeof(dwarf_file, "struct gc_generation_stats", &stride) ||
	    dwarf_offsetof(dwarf_file, "struct gc_generation_stats", "collections", &collections))
		return -ENOENT;
	cfg->interp_offset = interp;
	cfg->stats_offset = stats;
	for (i = 0; i < GC_COUNTED_GENS; i++)
		cfg->gen_offset[i] = i * stride;
	cfg->collections_offset = collections;
	return 0;
}

static uint64_t head_u64(const struct pyelf_info *info, size_t off)
{
	uint64_t v;

	memcpy(&v, info->runtime_head + off, sizeof(v));
	return v;
}

static int refuse(char *why, size_t why_len, const char *fmt, long a, long b)
{
	snprintf(why, why_len, fmt, a, b);
	return -ENOENT;
}

static int from_debug_offsets(const struct pyelf_info *info, const struct py_version *v,
			      struct gc_func_config *cfg, char *why, size_t why_len)
{
	const struct debug_offsets_layout *l = NULL;
	uint64_t interp, gc, version;
	size_t i;

	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].minor == v->minor)
			l = &layouts[i];
	if (v->major != 3 || !l)
		return refuse(why, why_len, "no _Py_DebugOffsets layout known for 3.%ld", v->minor,
			      0);
	if (!info->has_runtime_head || memcmp(info->runtime_head, DEBUG_OFFSETS_COOKIE, 8))
		return refuse(why, why_len, "no _Py_DebugOffsets at the start of _PyRuntime", 0, 0);
	version = head_u64(info, DEBUG_OFFSETS_VERSION);
	if ((version >> 16) != (uint64_t)(0x0300 | v->minor))
		return refuse(why, why_len, "_Py_DebugOffsets is for version 0x%lx, not 3.%ld",
			      (long)(version >> 16), v->minor);
	interp = head_u64(info, l->tstate_interp);
	gc = head_u64(info, l->interp_gc);
	/* Sizes a sane layout never exceeds: a garbage header must not become addresses. */
	if (!interp || interp > 4096 || !gc || gc > (1UL << 20))
		return refuse(why, why_len, "_Py_DebugOffsets gives implausible offsets (interp "
			      "%ld, gc %ld)", (long)interp, (long)gc);
	cfg->interp_offset = interp;
	cfg->collections_offset = 0;
	if (l->flat_stats) {
		/* The "collecting" flag follows the statistics: the layout is the one assumed. */
		if (l->gc_collecting &&
		    head_u64(info, l->gc_collecting) != (uint64_t)l->flat_stats +
		    GC_COUNTED_GENS * FLAT_ENTRY_SIZE)
			return refuse(why, why_len, "the GC state's collecting flag is at %ld, not "
				      "after the statistics at %ld",
				      (long)head_u64(info, l->gc_collecting), l->flat_stats);
		cfg->stats_offset = gc + l->flat_stats;
		for (i = 0; i < GC_COUNTED_GENS; i++)
			cfg->gen_offset[i] = i * FLAT_ENTRY_SIZE;
		return 0;
	}
	if (head_u64(info, l->gc_stats_size) != RING_STATS_SIZE)
		return refuse(why, why_len, "the GC statistics take %ld bytes, not the %ld of "
			      "3.15.0's rings", (long)head_u64(info, l->gc_stats_size),
			      RING_STATS_SIZE);
	if (head_u64(info, l->gc_stats) > 4096)
		return refuse(why, why_len, "_Py_DebugOffsets puts the GC statistics at %ld",
			      (long)head_u64(info, l->gc_stats), 0);
	cfg->stats_offset = gc + head_u64(info, l->gc_stats);
	cfg->stats_indirect = 1;
	cfg->entry_ts = RING_TS;
	cfg->entry_collected = RING_COLLECTED;
	if (info->runtime_vaddr && head_u64(info, DEBUG_OFFSETS_INTERPRETERS_HEAD) > 0 &&
	    head_u64(info, DEBUG_OFFSETS_INTERPRETERS_HEAD) < (1UL << 20)) {
		cfg->runtime_vaddr = info->runtime_vaddr;
		cfg->runtime_interp_head = head_u64(info, DEBUG_OFFSETS_INTERPRETERS_HEAD);
	}
	cfg->entry_size = RING_ENTRY_SIZE;
	cfg->collections_offset = RING_COLLECTIONS;
	cfg->gen_offset[0] = 0;
	cfg->ring_len[0] = RING_YOUNG_LEN;
	cfg->ring_index_offset[0] = RING_YOUNG_LEN * RING_ENTRY_SIZE;
	for (i = 1; i < GC_COUNTED_GENS; i++) {
		cfg->gen_offset[i] = RING_YOUNG_SIZE + (i - 1) * RING_OLD_SIZE;
		cfg->ring_len[i] = RING_OLD_LEN;
		cfg->ring_index_offset[i] = RING_OLD_LEN * RING_ENTRY_SIZE;
	}
	return 0;
}

int gc_counters_find(const char *dwarf_file, const struct pyelf_info *info,
		     const struct py_version *v, struct gc_func_config *cfg, char *how,
		     size_t how_len, char *why, size_t why_len)
{
	struct gc_func_config found = *cfg;
	int ret;

	if (!from_dwarf(dwarf_file, v, &found)) {
		snprintf(how, how_len, "DWARF");
	} else {
		found = *cfg;
		ret = from_debug_offsets(info, v, &found, why, why_len);
		if (ret)
			return ret;
		snprintf(how, how_len, "_Py_DebugOffsets");
	}
	found.recover_gen = 1;
	*cfg = found;
	return 0;
}
