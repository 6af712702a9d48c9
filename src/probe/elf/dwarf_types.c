// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <string.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <limits.h>
#include <stdio.h>
#include "probe/elf/dwarf_types.h"
#include "probe/elf/elfutil.h"

#define MEMBER_NAME_MAX	256
/* Anonymous struct-in-union-in-struct nesting deeper than this is not C anyone writes. */
#define ANON_DEPTH_MAX	8

struct dwarf_file {
	struct elf_file ef;
	Dwarf *dw;
	struct elf_file alt_ef;		/* the .gnu_debugaltlink (dwz) file, if any */
	Dwarf *alt_dw;
};

static void dwarf_file_close(struct dwarf_file *f)
{
	if (f->dw)
		dwarf_end(f->dw);
	f->dw = NULL;
	elf_file_close(&f->ef);
	/* libdw frees only an alternate file it opened itself. */
	if (f->alt_dw)
		dwarf_end(f->alt_dw);
	f->alt_dw = NULL;
	elf_file_close(&f->alt_ef);
}

/* The root of the process a path under /proc/PID/ belongs to ("" for ours). */
static void root_of(const char *path, char *root, size_t len)
{
	unsigned int pid;
	int n = 0;

	root[0] = '\0';
	if (sscanf(path, "/proc/%u/%n", &pid, &n) == 1 && n > 0)
		snprintf(root, len, "/proc/%u/root", pid);
}

/* Opens file as the alternate DWARF if it has the build-id wanted; 0 when it does. */
static int try_alt(struct dwarf_file *f, const char *file, const unsigned char *bid,
		   size_t bid_len)
{
	unsigned char have[BUILD_ID_MAX];
	int len;

	if (elf_file_open(file, &f->alt_ef))
		return -ENOENT;
	len = elf_build_id_bytes(f->alt_ef.elf, have, sizeof(have));
	if (len > 0 && (size_t)len == bid_len && !memcmp(have, bid, len)) {
		f->alt_dw = dwarf_begin_elf(f->alt_ef.elf, DWARF_C_READ, NULL);
		if (f->alt_dw)
			return 0;
	}
	elf_file_close(&f->alt_ef);
	return -ENOENT;
}

/*
 * dwz moves what units share into a file that .gnu_debugaltlink names, which libdw would open
 * by itself, with a plain open(), the first time a unit refers to it: at a path the debug
 * file's author chose, absolute (on our filesystem, not the process's) or relative. It is
 * looked for here instead, through untrusted_open(), where libdw would (by build-id under
 * ROOT/usr/lib/debug, then at the path named, inside ROOT), and handed to libdw. Without it
 * the DWARF is not used: -ENODATA.
 */
static int attach_alt(struct dwarf_file *f, const char *path)
{
	char root[64], file[PATH_MAX], hex[2 * BUILD_ID_MAX + 1];
	const char *name, *slash;
	const void *bid;
	ssize_t bid_len;
	int n;

	bid_len = dwelf_dwarf_gnu_debugaltlink(f->dw, &name, &bid);
	if (bid_len == 0)
		return 0;
	if (bid_len < 2 || bid_len > BUILD_ID_MAX)
		return -ENODATA;
	root_of(path, root, sizeof(root));
	build_id_hex(bid, bid_len, hex);
	n = snprintf(file, sizeof(file), "%s/usr/lib/debug/.build-id/%.2s/%s.debug", root, hex,
		     hex + 2);
	if (n > 0 && (size_t)n < sizeof(file) && !try_alt(f, file, bid, bid_len))
		goto found;
	slash = strrchr(path, '/');
	if (name[0] == '/')
		n = snprintf(file, sizeof(file), "%s%s", root, name);
	else
		n = snprintf(file, sizeof(file), "%.*s/%s", slash ? (int)(slash - path) : 1,
			     slash ? path : ".", name);
	if (n > 0 && (size_t)n < sizeof(file) && !try_alt(f, file, bid, bid_len))
		goto found;
	return -ENODATA;
found:
	dwarf_setalt(f->dw, f->alt_dw);
	return 0;
}

/*
 * libdw tells "no DWARF" apart from other failures only through private error codes, so the
 * sections are looked at first: -ENODATA means no .debug_info at all.
 */
static int dwarf_file_open(const char *path, struct dwarf_file *f)
{
	int ret;

	f->dw = f->alt_dw = NULL;
	f->alt_ef = (struct elf_file){ .fd = -1 };
	ret = elf_file_open(path, &f->ef);
	if (ret)
		return ret;
	if (!elf_has_dwarf(f->ef.elf)) {
		dwarf_file_close(f);
		return -ENODATA;
	}
	f->dw = dwarf_begin_elf(f->ef.elf, DWARF_C_READ, NULL);
	if (!f->dw || attach_alt(f, path)) {
		dwarf_file_close(f);
		return -ENODATA;
	}
	return 0;
}

static bool is_declaration(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	bool flag;

	return dwarf_attr(die, DW_AT_declaration, &attr) && !dwarf_formflag(&attr, &flag) && flag;
}

static bool is_aggregate(int tag)
{
	return tag == DW_TAG_structure_type || tag == DW_TAG_union_type ||
	       tag == DW_TAG_class_type;
}

/*
 * The first complete definition of a type with this tag (a typedef also matches base types)
 * and name, among the top-level DIEs of every unit. A typedef counts once what it names,
 * typedefs and qualifiers peeled, is complete; a typedef of a struct only declared in its unit
 * leaves that struct's tag and name in *decl for the caller to look for by itself.
 * Returns 0, -ENOENT, or -EIO when the DWARF cannot be read.
 */
static int find_type(Dwarf *dw, int tag, const char *name, Dwarf_Die *result, Dwarf_Die *decl,
		     bool *have_decl)
{
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie, die;
	int ret;

	while ((ret = dwarf_get_units(dw, cu, &cu, NULL, NULL, &cudie, NULL)) == 0) {
		if (dwarf_child(&cudie, &die))
			continue;
		do {
			int t = dwarf_tag(&die);
			const char *n;
			Dwarf_Die peeled;

			if (t != tag && !(tag == DW_TAG_typedef && t == DW_TAG_base_type))
				continue;
			n = dwarf_diename(&die);
			if (!n || strcmp(n, name))
				continue;
			if (t != DW_TAG_typedef) {
				if (is_declaration(&die))
					continue;
				*result = die;
				return 0;
			}
			if (dwarf_peel_type(&die, &peeled) || !dwarf_hasattr(&die, DW_AT_type))
				continue;
			if (!is_declaration(&peeled)) {
				*result = peeled;
				return 0;
			}
			if (have_decl && !*have_decl && dwarf_diename(&peeled)) {
				*decl = peeled;
				*have_decl = true;
			}
		} while (dwarf_siblingof(&die, &die) == 0);
	}
	return ret < 0 ? -EIO : -ENOENT;
}

/* type_name as C spells it, to a complete type DIE with typedefs and qualifiers peeled. */
static int lookup_type(Dwarf *dw, const char *type_name, Dwarf_Die *type)
{
	static const struct {
		const char *prefix;
		int tag;
	} kinds[] = {
		{ "struct ", DW_TAG_structure_type },
		{ "union ", DW_TAG_union_type },
		{ "enum ", DW_TAG_enumeration_type },
	};
	int tag = DW_TAG_typedef, ret;
	bool have_decl = false;
	Dwarf_Die decl, found;
	size_t i;

	while (*type_name == ' ')
		type_name++;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t len = strlen(kinds[i].prefix);

		if (!strncmp(type_name, kinds[i].prefix, len)) {
			tag = kinds[i].tag;
			type_name += len;
			while (*type_name == ' ')
				type_name++;
			break;
		}
	}
	if (!*type_name)
		return -EINVAL;
	ret = find_type(dw, tag, type_name, &found, &decl, &have_decl);
	if (ret == -ENOENT && have_decl)
		ret = find_type(dw, dwarf_tag(&decl), dwarf_diename(&decl), &found, NULL, NULL);
	if (ret)
		return ret;
	return dwarf_peel_type(&found, type) ? -EIO : 0;
}

/* What DW_AT_type of die refers to, typedefs and qualifiers peeled. */
static int type_of(Dwarf_Die *die, Dwarf_Die *type)
{
	Dwarf_Attribute attr;
	Dwarf_Die ref;

	if (!dwarf_attr_integrate(die, DW_AT_type, &attr) || !dwarf_formref_die(&attr, &ref))
		return -ENOENT;
	return dwarf_peel_type(&ref, type) ? -EIO : 0;
}

/* DW_AT_data_member_location: a constant, or DW_OP_plus_uconst in DWARF 2; absent is 0. */
static int member_location(Dwarf_Die *member, long *offset)
{
	Dwarf_Attribute attr;
	Dwarf_Word word;
	Dwarf_Op *ops;
	size_t nops;

	if (dwarf_hasattr(member, DW_AT_bit_size) || dwarf_hasattr(member, DW_AT_data_bit_offset))
		return -EINVAL;
	if (!dwarf_attr(member, DW_AT_data_member_location, &attr)) {
		*offset = 0;
		return 0;
	}
	switch (dwarf_whatform(&attr)) {
	case DW_FORM_data1:
	case DW_FORM_data2:
	case DW_FORM_data4:
	case DW_FORM_data8:
	case DW_FORM_udata:
	case DW_FORM_sdata:
	case DW_FORM_implicit_const:
		if (dwarf_formudata(&attr, &word))
			return -EIO;
		*offset = (long)word;
		return 0;
	default:
		if (dwarf_getlocation(&attr, &ops, &nops) || nops != 1 ||
		    ops[0].atom != DW_OP_plus_uconst)
			return -EINVAL;
		*offset = (long)ops[0].number;
		return 0;
	}
}

/*
 * The member called name in the aggregate type (peeled), looking inside anonymous struct and
 * union members as C does. Returns 0 with its offset and its type (peeled), or -errno.
 */
static int find_member(Dwarf *dw, Dwarf_Die *type, const char *name, int depth, long *offset,
		       Dwarf_Die *member_type)
{
	Dwarf_Die die, complete, mtype;
	long base;
	int ret;

	if (!is_aggregate(dwarf_tag(type)))
		return -ENOENT;
	if (is_declaration(type)) {
		/* Only declared in this unit: its definition is in another. */
		const char *tag_name = dwarf_diename(type);

		if (!tag_name || find_type(dw, dwarf_tag(type), tag_name, &complete, NULL, NULL))
			return -ENOENT;
		type = &complete;
	}
	if (dwarf_child(type, &die))
		return -ENOENT;
	do {
		const char *n;

		if (dwarf_tag(&die) != DW_TAG_member)
			continue;
		n = dwarf_diename(&die);
		if (n && strcmp(n, name))
			continue;
		if (!n) {
			Dwarf_Die anon;
			long inner;

			if (depth >= ANON_DEPTH_MAX || type_of(&die, &anon))
				continue;
			ret = find_member(dw, &anon, name, depth + 1, &inner, member_type);
			if (ret == -ENOENT)
				continue;
			if (!ret)
				ret = member_location(&die, &base);
			if (!ret)
				*offset = base + inner;
			return ret;
		}
		ret = member_location(&die, &base);
		if (ret)
			return ret;
		ret = type_of(&die, &mtype);
		if (ret)
			return ret == -ENOENT ? -EIO : ret;
		*offset = base;
		*member_type = mtype;
		return 0;
	} while (dwarf_siblingof(&die, &die) == 0);
	return -ENOENT;
}

/* Opens debug_file and finds type_name in it; on success f is open and the caller closes it. */
static int open_type(const char *debug_file, const char *type_name, struct dwarf_file *f,
		     Dwarf_Die *type)
{
	int ret = dwarf_file_open(debug_file, f);

	if (ret)
		return ret;
	ret = lookup_type(f->dw, type_name, type);
	if (ret)
		dwarf_file_close(f);
	return ret;
}

int dwarf_offsetof(const char *debug_file, const char *type_name, const char *member_path,
		   long *offset)
{
	struct dwarf_file f = { .ef = { .fd = -1 }, .alt_ef = { .fd = -1 } };
	char name[MEMBER_NAME_MAX];
	const char *p = member_path;
	Dwarf_Die type, member_type;
	long total = 0, off;
	int ret;

	if (!*member_path)
		return -EINVAL;
	ret = open_type(debug_file, type_name, &f, &type);
	if (ret)
		return ret;
	while (*p) {
		size_t len = strcspn(p, ".");

		if (!len || len >= sizeof(name)) {
			ret = len ? -ENOENT : -EINVAL;
			goto cleanup;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		ret = find_member(f.dw, &type, name, 0, &off, &member_type);
		if (ret)
			goto cleanup;
		total += off;
		type = member_type;
		p += len;
		if (*p == '.' && !*++p) {
			ret = -EINVAL;	/* a trailing dot */
			goto cleanup;
		}
	}
	*offset = total;
cleanup:
	dwarf_file_close(&f);
	return ret;
}

int dwarf_sizeof(const char *debug_file, const char *type_name, long *size)
{
	struct dwarf_file f = { .ef = { .fd = -1 }, .alt_ef = { .fd = -1 } };
	Dwarf_Word bytes;
	Dwarf_Die type;
	int ret;

	ret = open_type(debug_file, type_name, &f, &type);
	if (ret)
		return ret;
	if (dwarf_aggregate_size(&type, &bytes)) {
		ret = -ENOENT;	/* void, or a function type: no size */
		goto cleanup;
	}
	*size = (long)bytes;
cleanup:
	dwarf_file_close(&f);
	return ret;
}
