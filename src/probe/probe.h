/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Choosing how to observe collections in one Python binary: markers, or the function itself. */
#ifndef GCPAUSE_PROBE_PROBE_H
#define GCPAUSE_PROBE_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gc.h"
#include "probe/elf/pyelf.h"

#define PROBE_MAX_SITES		2
#define PROBE_TEXT_LEN		512

enum probe_mode {
	PROBE_AUTO = 0,		/* the best tier the binary allows */
	PROBE_USDT,		/* python:gc__start/gc__done markers */
	PROBE_SYMBOL,		/* the collection function, found through symbols */
	PROBE_STRIPPED,		/* the collection function, found without symbols */
};

struct probe_site {
	uint64_t offset;		/* file offset of the function's entry */
	uint64_t vaddr;
	/* 3.13+: file offsets where the marker window starts and ends inside it, 0 if unknown */
	uint64_t window_start_offset, window_end_offset;
	/* 3.15+: the one probe after the "stop" callback's call (cfg.end_only), 0 if none */
	uint64_t end_offset, end_vaddr;
	struct gc_func_config cfg;
	char what[96];		/* "gc_collect_main", "collect.constprop.0 (generation 2)" */
};

struct probe_plan {
	const char *display;		/* the binary's name in messages, while planning */
	enum probe_mode tier;		/* never PROBE_AUTO once made */
	int nsites;
	struct probe_site sites[PROBE_MAX_SITES];
	bool incremental;		/* generation 1 means one increment (3.14.0-3.14.4) */
	bool free_threaded;
	char source[PROBE_TEXT_LEN];	/* where the function was found, for the user */
	char caveat[PROBE_TEXT_LEN];	/* what this plan cannot tell, "" if nothing */
	char counters_source[32];	/* 3.13+: "DWARF" or "_Py_DebugOffsets", else "" */
};

const char *probe_mode_name(enum probe_mode mode);
int probe_mode_parse(const char *s, enum probe_mode *mode);

/*
 * Decides how to probe the Python binary at host_path, called display in messages (version as
 * "3.12.1" or "3.9", possibly ""), in mode. root is the process's root seen from here ("" for
 * ours), where separate debug files are looked for. Returns 0, or a negative errno with one line
 * in err saying what was found and why it is not enough.
 */
int probe_plan_make(const char *host_path, const char *display, const char *root,
		    const struct pyelf_info *info, const char *version, bool free_threaded,
		    enum probe_mode mode, struct probe_plan *plan, char *err, size_t err_len);

#endif /* GCPAUSE_PROBE_PROBE_H */
