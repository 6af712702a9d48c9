/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What each CPython version's collection function looks like, for function probes. */
#ifndef GCPAUSE_PROBE_PYVERSION_H
#define GCPAUSE_PROBE_PYVERSION_H

#include <stdbool.h>
#include <stddef.h>
#include "gc.h"

struct py_version {
	int major, minor, micro;	/* micro -1 when only "3.9" is known (from a file name) */
};

struct gc_semantics {
	const char *function;		/* symbol of the collection function */
	bool gcc_clones;		/* 3.8: GCC splits it into collect.constprop.N clones */
	enum gc_gen_source gen_source;
	bool recover_gen;		/* generation -1 = automatic; find it from the counters */
	bool skip_nested;		/* nested calls return without collecting */
	bool incremental;		/* 3.14.0-3.14.4: generation 1 is one increment */
	bool free_threaded;
};

/* "3.12.1", "3.13.0rc1", "3.9" -> version. -EINVAL if it is not one. */
int py_version_parse(const char *s, struct py_version *v);

/*
 * The collection function's semantics for a version, or -ENOTSUP with one line in err for a
 * version whose function gcpause does not know (it refuses rather than guesses).
 */
int gc_semantics_for(const struct py_version *v, bool free_threaded, struct gc_semantics *sem,
		     char *err, size_t err_len);

#endif /* GCPAUSE_PROBE_PYVERSION_H */
