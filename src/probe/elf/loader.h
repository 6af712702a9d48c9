/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The dynamic loader's debugger interface (<link.h>): ld.so calls _dl_debug_state() around
 * every change of its list of loaded objects, with _r_debug.r_state saying which; gdb puts a
 * breakpoint there to learn of dlopen. gcpause puts a uprobe there to see a libpython appear.
 */
#ifndef GCPAUSE_PROBE_ELF_LOADER_H
#define GCPAUSE_PROBE_ELF_LOADER_H

#include <stddef.h>
#include <stdint.h>

/* The program interpreter (PT_INTERP) of the executable at path. -ENOENT: a static program. */
int loader_interp_of(const char *path, char *buf, size_t len);

struct loader_hook {
	uint64_t debug_state;	/* _dl_debug_state's address in the file */
	int64_t r_debug_delta;	/* from it to _r_debug: the same in every process */
};

/* Finds the hook in the loader at path. -ENOENT: not a loader with the debugger interface. */
int loader_find_hook(const char *path, struct loader_hook *hook);

#endif /* GCPAUSE_PROBE_ELF_LOADER_H */
