/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Internal to symbols.c and debugfile.c: what symtab_load() learns about the binary and has
 * found and tried so far, which the search for separate debug files reads and adds to.
 */
#ifndef GCPAUSE_PROBE_ELF_SYMTAB_LOAD_H
#define GCPAUSE_PROBE_ELF_SYMTAB_LOAD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <gelf.h>
#include "probe/elf/elfutil.h"
#include "probe/elf/symbols.h"

#define WHY_LEN			1024

/* Symbols being collected: names go by offset into a growing pool until it stops moving. */
struct sym_builder {
	struct symbol *syms;
	size_t *name_offs;
	size_t n, cap;
	char *pool;
	size_t pool_len, pool_cap;
};

struct load_ctx {
	const char *path;
	const char *name;		/* path as the process sees it, when path does not say */
	const char *root;
	char dir[PATH_MAX];		/* the binary's directory as opened from here */
	char root_dir[PATH_MAX];	/* the same directory as the process sees it, "" for / */
	bool have_root_dir;		/* false when path is relative and cannot be resolved */
	Elf *elf;
	unsigned char bid[BUILD_ID_MAX];
	int bid_len;			/* 0 when the binary has none */
	char bid_hex[2 * BUILD_ID_MAX + 1];
	char link_name[NAME_MAX + 1];	/* .gnu_debuglink's file name, "" if none */
	uint32_t link_crc;
	bool found;			/* symbols loaded into sb */
	enum symtab_source source;
	char *source_path;
	char *dwarf_file;
	struct sym_builder sb;
	char why[WHY_LEN];		/* what was tried, for -ENOENT */
};

/* Appends one reason to c->why, after sep unless it is the first. */
__attribute__((format(printf, 3, 4)))
void why_add(struct load_ctx *c, const char *sep, const char *fmt, ...);

/* Whether elf has a defined STT_FUNC in a SHT_SYMTAB: what makes a source of symbols count. */
bool has_func_symbols(Elf *elf);

/* Takes the symbols of elf's .symtab, read from file, as what symtab_load() found. */
int take_symbols(struct load_ctx *c, Elf *elf, enum symtab_source source, const char *file);

#endif /* GCPAUSE_PROBE_ELF_SYMTAB_LOAD_H */
