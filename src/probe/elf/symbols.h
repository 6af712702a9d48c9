/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Symbols of one ELF binary, local ones included, wherever they are: the binary's own .symtab,
 * its MiniDebugInfo, or a separate debug file (build-id, .gnu_debuglink, debuginfod).
 */
#ifndef GCPAUSE_PROBE_ELF_SYMBOLS_H
#define GCPAUSE_PROBE_ELF_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* In the order symtab_load() tries them. */
enum symtab_source {
	SYMTAB_SELF,		/* the binary's own .symtab */
	SYMTAB_MINIDEBUGINFO,	/* .gnu_debugdata: an xz-compressed ELF with a .symtab */
	SYMTAB_BUILD_ID,	/* ROOT/usr/lib/debug/.build-id/ab/cdef....debug */
	SYMTAB_DEBUGLINK,	/* the file .gnu_debuglink names, CRC checked */
	SYMTAB_DEBUGINFOD,	/* downloaded by build-id; only when DEBUGINFOD_URLS is set */
};

struct symbol {
	const char *name;
	uint64_t vaddr;		/* st_value: a link-time virtual address */
	uint64_t size;
	bool is_func;		/* STT_FUNC; not IFUNC, whose address is its resolver's */
};

struct symtab;

/*
 * Loads the symbols of the ELF file at path (as opened from here). root is the process's root
 * seen from here ("/proc/PID/root", or "" or NULL for ours): separate debug files are looked
 * for under ROOT/usr/lib/debug. When path starts with root or with /proc/PID/root, the rest is
 * the binary's own path inside that root (for ROOT/usr/lib/debug/<dir>/<debuglink>).
 *
 * The sources are tried in enum order; one counts only if it has a SHT_SYMTAB with at least one
 * STT_FUNC symbol, and a separate debug file only if it belongs to the binary: the same build-id
 * when both have one, else the .gnu_debuglink CRC. The table holds the defined symbols of that
 * SHT_SYMTAB plus those of the binary's own .dynsym (MiniDebugInfo keeps only what .dynsym
 * lacks). debuginfod is asked only when DEBUGINFOD_URLS is set and non-empty.
 *
 * Returns 0 with *out set, -ENOENT with one line in err naming what was tried, or another
 * negative errno (-ENOEXEC: not ELF; open errors as they come) with one line in err.
 */
int symtab_load(const char *path, const char *root, struct symtab **out, char *err,
		size_t err_len);

/*
 * symtab_load() for a binary opened through a path that is no directory of its own
 * (/proc/PID/exe, /proc/PID/map_files/START-END): name is its path as the process sees it,
 * inside root, which says where its .gnu_debuglink file is looked for. A name that is not
 * absolute is ignored.
 */
int symtab_load_named(const char *path, const char *name, const char *root, struct symtab **out,
		      char *err, size_t err_len);

enum symtab_source symtab_source(const struct symtab *st);

/* "symtab", "minidebuginfo", "build-id", "debuglink", "debuginfod" ("?" if out of range). */
const char *symtab_source_name(enum symtab_source s);

/* The file the symbols came from: path itself (also for MiniDebugInfo), or the debug file. */
const char *symtab_source_path(const struct symtab *st);

/*
 * A file with DWARF (.debug_info) for the binary: path itself, or a verified separate debug file
 * found under ROOT/usr/lib/debug or through .gnu_debuglink (or the debuginfod download the
 * symbols came from). Looked for even when the symbols came from elsewhere (MiniDebugInfo), but
 * debuginfod is never asked for DWARF alone. NULL if none.
 */
const char *symtab_dwarf_file(const struct symtab *st);

/* The binary's NT_GNU_BUILD_ID as lower-case hex, "" if it has none. */
const char *symtab_build_id(const struct symtab *st);

/* The defined symbol with exactly that name (a function if there is one), or NULL. */
const struct symbol *symtab_find(const struct symtab *st, const char *name);

/*
 * Calls fn for each defined symbol, by name then address; stops at and returns the first
 * non-zero value fn returns, else 0.
 */
int symtab_foreach(const struct symtab *st, int (*fn)(const struct symbol *sym, void *arg),
		   void *arg);

void symtab_free(struct symtab *st);


#endif /* GCPAUSE_PROBE_ELF_SYMBOLS_H */
