// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "probe/elf/elfutil.h"
#include "probe/elf/pyelf.h"
#include "util/untrusted_file.h"

#define NT_STAPSDT	3

static uint64_t read_addr(const unsigned char *p, bool is64)
{
	uint64_t v64;
	uint32_t v32;

	if (is64) {
		memcpy(&v64, p, sizeof(v64));
		return v64;
	}
	memcpy(&v32, p, sizeof(v32));
	return v32;
}

int pyelf_parse_sdt_note(const void *desc, size_t len, bool is64, struct sdt_note *out)
{
	const unsigned char *p = desc, *end = p + len;
	size_t addr = is64 ? 8 : 4;
	const char **strs[3] = { &out->provider, &out->name, &out->args };
	int i;

	if (len < 3 * addr)
		return -EINVAL;
	out->pc = read_addr(p, is64);
	out->base = read_addr(p + addr, is64);
	out->semaphore = read_addr(p + 2 * addr, is64);
	p += 3 * addr;
	for (i = 0; i < 3; i++) {
		const unsigned char *nul = memchr(p, '\0', end - p);

		if (!nul)
			return -EINVAL;
		*strs[i] = (const char *)p;
		p = nul + 1;
	}
	return 0;
}

void pyelf_format_version(uint32_t hex, char *buf, size_t len)
{
	unsigned int major = hex >> 24, minor = (hex >> 16) & 0xff, micro = (hex >> 8) & 0xff;
	unsigned int level = (hex >> 4) & 0xf, serial = hex & 0xf;
	const char *tag = level == 0xa ? "a" : level == 0xb ? "b" : level == 0xc ? "rc" : NULL;

	if (tag)
		snprintf(buf, len, "%u.%u.%u%s%u", major, minor, micro, tag, serial);
	else
		snprintf(buf, len, "%u.%u.%u", major, minor, micro);
}

void pyelf_version_from_name(const char *path, char *buf, size_t len)
{
	const char *base = strrchr(path, '/');
	unsigned int major, minor;
	int n = 0;

	base = base ? base + 1 : path;
	buf[0] = '\0';
	if (!strncmp(base, "lib", 3))
		base += 3;
	if (sscanf(base, "python%u.%u%n", &major, &minor, &n) == 2 && n > 0 && major >= 2)
		snprintf(buf, len, "%u.%u", major, minor);
}

static void scan_notes(Elf *elf, Elf_Scn *scn, bool is64, struct pyelf_info *info)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nhdr;

	if (!data)
		return;
	while ((off = gelf_getnote(data, off, &nhdr, &name_off, &desc_off)) > 0) {
		struct sdt_note note;

		if (nhdr.n_type != NT_STAPSDT || nhdr.n_namesz != sizeof("stapsdt") ||
		    memcmp((char *)data->d_buf + name_off, "stapsdt", sizeof("stapsdt")))
			continue;
		if (pyelf_parse_sdt_note((char *)data->d_buf + desc_off, nhdr.n_descsz, is64,
					 &note))
			continue;
		if (strcmp(note.provider, "python"))
			continue;
		if (!strcmp(note.name, "gc__start"))
			info->has_gc_start = true;
		else if (!strcmp(note.name, "gc__done"))
			info->has_gc_done = true;
		else
			continue;
		if (note.semaphore)
			info->markers_have_semaphores = true;
	}
	(void)elf;
}

/* Reads the start of an object's initial value from the file, through its section. */
static int read_symbol_bytes(Elf *elf, const GElf_Sym *sym, void *buf, size_t len)
{
	Elf_Scn *scn = elf_getscn(elf, sym->st_shndx);
	GElf_Shdr shdr;
	Elf_Data *data;
	uint64_t off;

	if (!scn || !gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS)
		return -ENOENT;
	data = elf_getdata(scn, NULL);
	if (!data || sym->st_value < shdr.sh_addr || sym->st_size < len)
		return -ENOENT;
	off = sym->st_value - shdr.sh_addr;
	if (off + len > data->d_size)
		return -ENOENT;
	memcpy(buf, (char *)data->d_buf + off, len);
	return 0;
}

static void scan_symbols(Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr, struct pyelf_info *info)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t i, n;

	if (!data || !shdr->sh_entsize)
		return;
	n = shdr->sh_size / shdr->sh_entsize;
	for (i = 0; i < n; i++) {
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(elf, shdr->sh_link, sym.st_name);
		if (!name)
			continue;
		if (!strcmp(name, "PyGC_Collect"))
			info->exports_python = true;
		else if (!strcmp(name, "_Py_MergeZeroLocalRefcount"))
			info->free_threaded = true;
		else if (!strcmp(name, "Py_Version") && !info->py_version_hex)
			read_symbol_bytes(elf, &sym, &info->py_version_hex,
					  sizeof(info->py_version_hex));
		else if (!strcmp(name, "_PyRuntime") && !info->has_runtime_head) {
			info->has_runtime_head = !read_symbol_bytes(elf, &sym, info->runtime_head,
								    sizeof(info->runtime_head));
			info->runtime_vaddr = sym.st_value;
		}
	}
}

int pyelf_inspect(const char *path, struct pyelf_info *info)
{
	struct elf_file f;
	Elf_Scn *scn = NULL;
	GElf_Ehdr ehdr;
	int err = 0;
	bool is64;
	Elf *elf;

	memset(info, 0, sizeof(*info));
	err = elf_file_open(path, &f);
	/* Not ELF: a script or data, not an error. */
	if (err == -ENOEXEC)
		return 0;
	if (err)
		return err;
	elf = f.elf;
	if (!gelf_getehdr(elf, &ehdr))
		goto cleanup;
	info->is_elf = true;
	is64 = gelf_getclass(elf) == ELFCLASS64;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		const char *name;

		if (!gelf_getshdr(scn, &shdr))
			continue;
		name = elf_strptr(elf, ehdr.e_shstrndx, shdr.sh_name);
		if (shdr.sh_type == SHT_NOTE && name && !strcmp(name, ".note.stapsdt"))
			scan_notes(elf, scn, is64, info);
		else if (shdr.sh_type == SHT_DYNSYM || shdr.sh_type == SHT_SYMTAB)
			scan_symbols(elf, scn, &shdr, info);
		if (shdr.sh_type == SHT_SYMTAB)
			info->has_symtab = true;
	}
	if (info->py_version_hex)
		pyelf_format_version(info->py_version_hex, info->version, sizeof(info->version));
cleanup:
	elf_file_close(&f);
	return err;
}

int pyelf_find_needed(const char *path, const char *prefix, char *soname, size_t soname_len,
		      char *runpath, size_t runpath_len)
{
	struct elf_file f;
	Elf_Scn *scn = NULL;
	int err;
	Elf *elf;

	soname[0] = runpath[0] = '\0';
	err = elf_file_open(path, &f);
	if (err)
		return err;
	elf = f.elf;
	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;
		GElf_Shdr shdr;
		GElf_Dyn dyn;
		size_t i;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_DYNAMIC || !shdr.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (i = 0; data && i < shdr.sh_size / shdr.sh_entsize; i++) {
			const char *str;

			if (!gelf_getdyn(data, i, &dyn))
				break;
			if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_RUNPATH &&
			    dyn.d_tag != DT_RPATH)
				continue;
			str = elf_strptr(elf, shdr.sh_link, dyn.d_un.d_val);
			if (!str)
				continue;
			if (dyn.d_tag == DT_NEEDED && !soname[0] &&
			    !strncmp(str, prefix, strlen(prefix)))
				snprintf(soname, soname_len, "%s", str);
			else if (dyn.d_tag == DT_RUNPATH || (dyn.d_tag == DT_RPATH && !runpath[0]))
				snprintf(runpath, runpath_len, "%s", str);
		}
	}
	elf_file_close(&f);
	return err;
}
