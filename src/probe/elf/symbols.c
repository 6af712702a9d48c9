// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "probe/elf/debugfile.h"
#include "probe/elf/elfutil.h"
#include "probe/elf/symbols.h"
#include "probe/elf/symtab_load.h"
#include "util/untrusted_file.h"

struct symtab {
	enum symtab_source source;
	char *source_path;
	char *dwarf_file;
	char build_id[2 * BUILD_ID_MAX + 1];
	struct symbol *syms;		/* sorted by name, functions first, then address */
	size_t nsyms;
	char *names;			/* every name, NUL-terminated, back to back */
};

static const char *const source_names[] = {
	[SYMTAB_SELF] = "symtab",
	[SYMTAB_MINIDEBUGINFO] = "minidebuginfo",
	[SYMTAB_BUILD_ID] = "build-id",
	[SYMTAB_DEBUGLINK] = "debuglink",
	[SYMTAB_DEBUGINFOD] = "debuginfod",
};

__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

void why_add(struct load_ctx *c, const char *sep, const char *fmt, ...)
{
	size_t len = strlen(c->why);
	va_list ap;

	if (len && len + strlen(sep) < sizeof(c->why)) {
		strcpy(c->why + len, sep);
		len += strlen(sep);
	}
	if (len >= sizeof(c->why) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(c->why + len, sizeof(c->why) - len, fmt, ap);
	va_end(ap);
}

static bool sym_wanted(const GElf_Sym *sym)
{
	int type = GELF_ST_TYPE(sym->st_info);

	return sym->st_shndx != SHN_UNDEF && sym->st_name && type != STT_SECTION &&
	       type != STT_FILE;
}

/* Stops elf_foreach_sym() at the first function. */
static int stop_at_func(Elf *elf, size_t strndx, const GElf_Sym *sym, void *arg)
{
	return sym_wanted(sym) && GELF_ST_TYPE(sym->st_info) == STT_FUNC;
}

bool has_func_symbols(Elf *elf)
{
	return elf_foreach_sym(elf, SHT_SYMTAB, stop_at_func, NULL);
}

static int sb_add(struct sym_builder *b, const char *name, const GElf_Sym *sym)
{
	size_t len = strlen(name) + 1;

	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 1024;
		struct symbol *syms = realloc(b->syms, cap * sizeof(*syms));
		size_t *offs;

		if (!syms)
			return -ENOMEM;
		b->syms = syms;
		offs = realloc(b->name_offs, cap * sizeof(*offs));
		if (!offs)
			return -ENOMEM;
		b->name_offs = offs;
		b->cap = cap;
	}
	if (b->pool_len + len > b->pool_cap) {
		size_t cap = b->pool_cap ? 2 * b->pool_cap : 64 * 1024;
		char *pool;

		while (cap < b->pool_len + len)
			cap *= 2;
		pool = realloc(b->pool, cap);
		if (!pool)
			return -ENOMEM;
		b->pool = pool;
		b->pool_cap = cap;
	}
	memcpy(b->pool + b->pool_len, name, len);
	b->name_offs[b->n] = b->pool_len;
	b->pool_len += len;
	b->syms[b->n] = (struct symbol){
		.vaddr = sym->st_value,
		.size = sym->st_size,
		.is_func = GELF_ST_TYPE(sym->st_info) == STT_FUNC,
	};
	b->n++;
	return 0;
}

static void sb_free(struct sym_builder *b)
{
	free(b->syms);
	free(b->name_offs);
	free(b->pool);
	memset(b, 0, sizeof(*b));
}

static int sb_add_sym(Elf *elf, size_t strndx, const GElf_Sym *sym, void *arg)
{
	const char *name;

	if (!sym_wanted(sym))
		return 0;
	name = elf_strptr(elf, strndx, sym->st_name);
	if (!name || !*name)
		return 0;
	return sb_add(arg, name, sym);
}

/* Adds the defined symbols of elf's sections of type sh_type. Returns 0 or -ENOMEM. */
static int sb_add_elf(struct sym_builder *b, Elf *elf, Elf64_Word sh_type)
{
	return elf_foreach_sym(elf, sh_type, sb_add_sym, b);
}

static int sym_cmp(const void *a, const void *b)
{
	const struct symbol *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->is_func != y->is_func)
		return x->is_func ? -1 : 1;
	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

int take_symbols(struct load_ctx *c, Elf *elf, enum symtab_source source, const char *file)
{
	int ret;

	c->source_path = strdup(file);
	if (!c->source_path)
		return -ENOMEM;
	ret = sb_add_elf(&c->sb, elf, SHT_SYMTAB);
	if (ret)
		return ret;
	c->source = source;
	c->found = true;
	return 0;
}

static int try_self(struct load_ctx *c)
{
	GElf_Shdr shdr;

	if (elf_has_dwarf(c->elf)) {
		c->dwarf_file = strdup(c->path);
		if (!c->dwarf_file)
			return -ENOMEM;
	}
	if (has_func_symbols(c->elf))
		return take_symbols(c, c->elf, SYMTAB_SELF, c->path);
	if (elf_find_section(c->elf, ".symtab", &shdr))
		why_add(c, ", ", ".symtab without functions");
	else
		why_add(c, ", ", "no .symtab");
	return 0;
}

static int try_minidebuginfo(struct load_ctx *c)
{
	struct elf_file mini;
	GElf_Shdr shdr;
	Elf_Data *data;
	Elf_Scn *scn;
	int ret;

	scn = elf_find_section(c->elf, ".gnu_debugdata", &shdr);
	if (!scn || shdr.sh_type == SHT_NOBITS) {
		why_add(c, ", ", "no MiniDebugInfo");
		return 0;
	}
	data = elf_rawdata(scn, NULL);
	if (!data || !data->d_buf) {
		why_add(c, ", ", "unreadable MiniDebugInfo: %s", elf_errmsg(-1));
		return 0;
	}
	ret = elf_file_open_xz(data->d_buf, data->d_size, &mini);
	if (ret == -ENOMEM)
		return ret;
	if (ret) {
		if (ret == -ENOEXEC)
			why_add(c, ", ", "MiniDebugInfo is not ELF");
		else
			why_add(c, ", ", "MiniDebugInfo is not valid xz");
		return 0;
	}
	if (!has_func_symbols(mini.elf)) {
		why_add(c, ", ", "MiniDebugInfo without functions");
		goto cleanup;
	}
	ret = take_symbols(c, mini.elf, SYMTAB_MINIDEBUGINFO, c->path);
cleanup:
	elf_file_close(&mini);
	return ret;
}

/* Turns what was collected into the table: names fixed, sorted, exact duplicates dropped. */
static int finish(struct load_ctx *c, struct symtab **out)
{
	struct sym_builder *b = &c->sb;
	struct symtab *st;
	size_t i, n = 0;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	for (i = 0; i < b->n; i++)
		b->syms[i].name = b->pool + b->name_offs[i];
	if (b->n)
		qsort(b->syms, b->n, sizeof(*b->syms), sym_cmp);
	for (i = 0; i < b->n; i++) {
		/* .dynsym repeats what .symtab has. */
		if (n && !sym_cmp(&b->syms[n - 1], &b->syms[i]))
			continue;
		b->syms[n++] = b->syms[i];
	}
	st->source = c->source;
	st->source_path = c->source_path;
	st->dwarf_file = c->dwarf_file;
	memcpy(st->build_id, c->bid_hex, sizeof(st->build_id));
	st->syms = b->syms;
	st->nsyms = n;
	st->names = b->pool;
	c->source_path = c->dwarf_file = NULL;
	b->syms = NULL;
	b->pool = NULL;
	*out = st;
	return 0;
}

int symtab_load(const char *path, const char *root, struct symtab **out, char *err,
		size_t err_len)
{
	return symtab_load_named(path, NULL, root, out, err, err_len);
}

int symtab_load_named(const char *path, const char *name, const char *root, struct symtab **out,
		      char *err, size_t err_len)
{
	struct elf_file bin = { .fd = -1 };
	struct load_ctx *c;
	int ret;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		set_err(err, err_len, "out of memory");
		return -ENOMEM;
	}
	c->path = path;
	c->name = name && name[0] == '/' ? name : NULL;
	c->root = root ? root : "";
	ret = elf_file_open(path, &bin);
	if (ret) {
		set_err(err, err_len, "%s: %s", path,
			ret == -ENOEXEC ? "not an ELF file" : untrusted_strerror(ret));
		goto cleanup;
	}
	c->elf = bin.elf;
	ret = debug_search_init(c);
	if (ret) {
		set_err(err, err_len, "%s: path too long", path);
		goto cleanup;
	}
	ret = elf_build_id_bytes(c->elf, c->bid, sizeof(c->bid));
	c->bid_len = ret > 0 ? ret : 0;
	build_id_hex(c->bid, c->bid_len, c->bid_hex);

	ret = try_self(c);
	if (!ret && !c->found)
		ret = try_minidebuginfo(c);
	/* Separate files are looked at even with symbols found: they may have the DWARF. */
	if (!ret && !(c->found && c->dwarf_file))
		ret = try_build_id(c);
	if (!ret && !(c->found && c->dwarf_file))
		ret = try_debuglink(c);
	if (!ret && !c->found)
		ret = try_debuginfod(c);
	if (ret) {
		set_err(err, err_len, "%s: %s", path,
			ret == -ENOMEM ? "out of memory" : strerror(-ret));
		goto cleanup;
	}
	if (!c->found) {
		set_err(err, err_len, "%s", c->why);
		ret = -ENOENT;
		goto cleanup;
	}
	/* MiniDebugInfo leaves out what .dynsym has: the exported functions. */
	ret = sb_add_elf(&c->sb, c->elf, SHT_DYNSYM);
	if (!ret)
		ret = finish(c, out);
	if (ret)
		set_err(err, err_len, "out of memory");
cleanup:
	elf_file_close(&bin);
	sb_free(&c->sb);
	free(c->source_path);
	free(c->dwarf_file);
	free(c);
	return ret;
}

enum symtab_source symtab_source(const struct symtab *st)
{
	return st->source;
}

const char *symtab_source_name(enum symtab_source s)
{
	if ((unsigned int)s >= sizeof(source_names) / sizeof(source_names[0]))
		return "?";
	return source_names[s];
}

const char *symtab_source_path(const struct symtab *st)
{
	return st->source_path;
}

const char *symtab_dwarf_file(const struct symtab *st)
{
	return st->dwarf_file;
}

const char *symtab_build_id(const struct symtab *st)
{
	return st->build_id;
}

const struct symbol *symtab_find(const struct symtab *st, const char *name)
{
	size_t lo = 0, hi = st->nsyms;

	/* The first of equal names: the sort puts functions there. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(st->syms[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < st->nsyms && !strcmp(st->syms[lo].name, name))
		return &st->syms[lo];
	return NULL;
}

int symtab_foreach(const struct symtab *st, int (*fn)(const struct symbol *sym, void *arg),
		   void *arg)
{
	size_t i;
	int ret;

	for (i = 0; i < st->nsyms; i++) {
		ret = fn(&st->syms[i], arg);
		if (ret)
			return ret;
	}
	return 0;
}

void symtab_free(struct symtab *st)
{
	if (!st)
		return;
	free(st->syms);
	free(st->names);
	free(st->source_path);
	free(st->dwarf_file);
	free(st);
}
