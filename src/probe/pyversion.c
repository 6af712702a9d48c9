// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Per-version facts, read from each version's Modules/gcmodule.c or Python/gc.c and checked
 * against the builds on this machine (docs/versions.md has the table and what was tested).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "probe/pyversion.h"

int py_version_parse(const char *s, struct py_version *v)
{
	int n = 0;

	v->micro = -1;
	if (sscanf(s, "%d.%d%n", &v->major, &v->minor, &n) != 2 || v->major < 0 || v->minor < 0)
		return -EINVAL;
	if (s[n] == '.' && sscanf(s + n + 1, "%d", &v->micro) != 1)
		return -EINVAL;
	return 0;
}

int gc_semantics_for(const struct py_version *v, bool free_threaded, struct gc_semantics *sem,
		     char *err, size_t err_len)
{
	memset(sem, 0, sizeof(*sem));
	sem->free_threaded = free_threaded;
	if (v->major != 3 || v->minor < 8 || v->minor > 15) {
		snprintf(err, err_len, "function probes know CPython 3.8 to 3.15, not %d.%d",
			 v->major, v->minor);
		return -ENOTSUP;
	}
	if (free_threaded) {
		/* Python/gc_free_threading.c: automatic collections pass generation 0. */
		if (v->minor < 13) {
			snprintf(err, err_len, "a free-threaded %d.%d is not a release", v->major,
				 v->minor);
			return -ENOTSUP;
		}
		sem->function = "gc_collect_main";
		sem->gen_source = GC_GEN_ARG2;
		sem->skip_nested = true;
		return 0;
	}
	switch (v->minor) {
	case 8:
		/* collect(state, generation, ...) with state constant: GCC drops it in clones. */
		sem->function = "collect";
		sem->gcc_clones = true;
		sem->gen_source = GC_GEN_ARG2;
		return 0;
	case 9:
		sem->function = "collect";	/* collect(tstate, generation, ...) */
		sem->gen_source = GC_GEN_ARG2;
		return 0;
	case 10:
	case 11:
	case 12:
		sem->function = "gc_collect_main";	/* (tstate, generation, ..., nofail) */
		sem->gen_source = GC_GEN_ARG2;
		return 0;
	case 13:
		break;
	case 14:
		if (v->micro < 0) {
			snprintf(err, err_len, "3.14 needs its micro version: 3.14.0-3.14.4 "
				 "collect incrementally, 3.14.5 and later do not");
			return -ENOTSUP;
		}
		if (v->micro <= 4) {
			/* _PyGC_Collect(tstate, generation, reason): 1 is one increment. */
			sem->function = "_PyGC_Collect";
			sem->gen_source = GC_GEN_ARG2;
			sem->incremental = true;
			sem->skip_nested = true;
			return 0;
		}
		break;
	}
	/*
	 * 3.13, 3.14.5+, 3.15: gc_collect_main(tstate, generation, reason): -1 is "automatic",
	 * nesting returns 0.
	 */
	sem->function = "gc_collect_main";
	sem->gen_source = GC_GEN_ARG2;
	sem->recover_gen = true;
	sem->skip_nested = true;
	return 0;
}
