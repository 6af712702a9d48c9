/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Internal to symbols.c: a binary's separate debug file, looked for under ROOT/usr/lib/debug by
 * build-id, where .gnu_debuglink says, and through debuginfod, and taken only once verified to
 * belong to the binary (see symtab_load() in symbols.h).
 *
 * The try_*() functions look in one place each. A file found there gives its symbols if none
 * were found yet and its DWARF if none was; when the place does not help, they say why in
 * c->why. They return 0 or a negative errno.
 */
#ifndef GCPAUSE_PROBE_ELF_DEBUGFILE_H
#define GCPAUSE_PROBE_ELF_DEBUGFILE_H

struct load_ctx;

/*
 * Fills in where c->path's debug files may be: its directory as opened from here and as the
 * process sees it, and its .gnu_debuglink. Returns 0 or -ENAMETOOLONG.
 */
int debug_search_init(struct load_ctx *c);

/* ROOT/usr/lib/debug/.build-id/ab/cdef....debug */
int try_build_id(struct load_ctx *c);

/* The binary's dir, its .debug/ subdir, and ROOT/usr/lib/debug/<dir>, as GDB looks. */
int try_debuglink(struct load_ctx *c);

/* Only when the user asked for it: DEBUGINFOD_URLS names servers to send the build-id to. */
int try_debuginfod(struct load_ctx *c);

#endif /* GCPAUSE_PROBE_ELF_DEBUGFILE_H */
