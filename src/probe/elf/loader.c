// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "probe/elf/elfutil.h"
#include "probe/elf/loader.h"

int loader_interp_of(const char *path, char *buf, size_t len)
{
	struct elf_file f;
	size_t i, nphdr, size;
	GElf_Phdr ph;
	int ret;

	ret = elf_file_open(path, &f);
	if (ret)
		return ret;
	ret = -ENOENT;
	if (elf_getphdrnum(f.elf, &nphdr))
		goto out;
	for (i = 0; i < nphdr; i++) {
		const char *raw;

		if (!gelf_getphdr(f.elf, i, &ph) || ph.p_type != PT_INTERP)
			continue;
		raw = elf_rawfile(f.elf, &size);
		if (!raw || ph.p_offset >= size || ph.p_filesz > size - ph.p_offset ||
		    !ph.p_filesz || ph.p_filesz > len || raw[ph.p_offset + ph.p_filesz - 1])
			ret = -EINVAL;
		else
			ret = snprintf(buf, len, "%s", raw + ph.p_offset) < 0 ? -EINVAL : 0;
		break;
	}
out:
	elf_file_close(&f);
	return ret;
}

struct hook_search {
	uint64_t debug_state, r_debug;
};

static int hook_sym(Elf *elf, size_t strndx, const GElf_Sym *sym, void *arg)
{
	struct hook_search *s = arg;
	const char *name;

	if (sym->st_shndx == SHN_UNDEF || !sym->st_value)
		return 0;
	name = elf_strptr(elf, strndx, sym->st_name);
	if (!name)
		return 0;
	if (GELF_ST_TYPE(sym->st_info) == STT_FUNC && !strcmp(name, "_dl_debug_state"))
		s->debug_state = sym->st_value;
	else if (GELF_ST_TYPE(sym->st_info) == STT_OBJECT && !strcmp(name, "_r_debug"))
		s->r_debug = sym->st_value;
	return s->debug_state && s->r_debug;
}

int loader_find_hook(const char *path, struct loader_hook *hook)
{
	struct hook_search s = { 0 };
	struct elf_file f;
	int ret;

	ret = elf_file_open(path, &f);
	if (ret)
		return ret;
	/* Both are exported by glibc's ld.so (the hook as GLIBC_PRIVATE): no symbols needed. */
	elf_foreach_sym(f.elf, SHT_DYNSYM, hook_sym, &s);
	elf_file_close(&f);
	if (!s.debug_state || !s.r_debug)
		return -ENOENT;
	hook->debug_state = s.debug_state;
	hook->r_debug_delta = (int64_t)(s.r_debug - s.debug_state);
	return 0;
}
