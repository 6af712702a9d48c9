/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where a CPython 3.13+ interpreter keeps its per-generation collection counters, so that the
 * generation of an "automatic" collection can be told from which counter moved.
 */
#ifndef GCPAUSE_PROBE_GC_COUNTERS_H
#define GCPAUSE_PROBE_GC_COUNTERS_H

#include <stddef.h>
#include "gc.h"
#include "probe/elf/pyelf.h"
#include "probe/pyversion.h"

/*
 * Fills the counter fields of cfg (recover_gen and the offsets) for version v, from DWARF in
 * dwarf_file (may be NULL) or else from the _Py_DebugOffsets in info. Returns 0 and names the
 * source in how ("DWARF", "_Py_DebugOffsets"), or -ENOENT with the reason in why: then the
 * generation of automatic collections cannot be told.
 */
int gc_counters_find(const char *dwarf_file, const struct pyelf_info *info,
		     const struct py_version *v, struct gc_func_config *cfg, char *how,
		     size_t how_len, char *why, size_t why_len);

#endif /* GCPAUSE_PROBE_GC_COUNTERS_H */
