// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * An x86-64 ELF file as the code analysis reads it. Only what a stripped file still has is used:
 * the allocated sections (code, read-only data), .dynsym (the exported API) and .eh_frame (the
 * function bounds), so that a stripped build and its original read the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util/untrusted_file.h"
#include "probe/x86/image.h"

static int cmp_u64(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* The exported functions, sorted, and where to look names up later. */
static int load_dynsym(struct x86_image *img, Elf_Scn *scn, const GElf_Shdr *sh, char *err,
		       size_t err_len)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t i, n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;

	if (!data) {
		snprintf(err, err_len, "cannot read .dynsym: %s", elf_errmsg(-1));
		return -EINVAL;
	}
	img->funcs = calloc(n ? n : 1, sizeof(*img->funcs));
	if (!img->funcs) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	img->dynsym = data;
	img->dynsym_names = sh->sh_link;
	img->ndynsym = n;
	for (i = 0; i < n; i++) {
		GElf_Sym s;

		if (gelf_getsym(data, i, &s) && s.st_shndx != SHN_UNDEF && s.st_value &&
		    GELF_ST_TYPE(s.st_info) == STT_FUNC)
			img->funcs[img->nfuncs++] = s.st_value;
	}
	qsort(img->funcs, img->nfuncs, sizeof(*img->funcs), cmp_u64);
	return 0;
}

static int load_sections(struct x86_image *img, char *err, size_t err_len)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	int ret = 0;

	if (elf_getshdrstrndx(img->file.elf, &shstrndx)) {
		snprintf(err, err_len, "%s: no section names: %s", img->path, elf_errmsg(-1));
		return -EINVAL;
	}
	while ((scn = elf_nextscn(img->file.elf, scn)) && !ret) {
		struct image_section *sec = &img->secs[img->nsecs];
		const char *name;
		Elf_Data *data;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(img->file.elf, shstrndx, sh.sh_name);
		if (sh.sh_type == SHT_DYNSYM && !img->funcs)
			ret = load_dynsym(img, scn, &sh, err, err_len);
		if (sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_ALLOC) ||
		    img->nsecs == X86_IMAGE_MAX_SECTIONS)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || data->d_size != sh.sh_size)
			continue;
		*sec = (struct image_section){ sh.sh_addr, sh.sh_size, data->d_buf,
					       sh.sh_flags & SHF_EXECINSTR };
		img->nsecs++;
		if (name && !strcmp(name, ".eh_frame"))
			img->eh_frame = *sec;
	}
	return ret;
}

int x86_image_open(struct x86_image *img, const char *path, char *err, size_t err_len)
{
	GElf_Ehdr eh;
	int ret;

	*img = (struct x86_image){ .path = path, .file.fd = -1 };
	ret = elf_file_open(path, &img->file);
	if (ret == -ENOEXEC || (!ret && !gelf_getehdr(img->file.elf, &eh))) {
		snprintf(err, err_len, "%s is not an ELF file", path);
		return -EINVAL;
	}
	if (ret) {
		snprintf(err, err_len, "%s: %s", path, untrusted_strerror(ret));
		return ret;
	}
	img->machine = eh.e_machine;
	if (gelf_getclass(img->file.elf) != ELFCLASS64 || eh.e_machine != EM_X86_64) {
		snprintf(err, err_len, "%s is not x86-64 code (ELF machine %u)", path,
			 eh.e_machine);
		return -ENOTSUP;
	}
	return load_sections(img, err, err_len);
}

int x86_image_read_fdes(struct x86_image *img, char *err, size_t err_len)
{
	const struct image_section *eh = &img->eh_frame;

	if (!eh->data) {
		snprintf(err, err_len, "%s has no .eh_frame: function bounds are unknown",
			 img->path);
		return -ENOENT;
	}
	return fde_table_read(&img->fdes, eh->data, eh->size, eh->addr, err, err_len);
}

void x86_image_close(struct x86_image *img)
{
	fde_table_free(&img->fdes);
	free(img->funcs);
	img->funcs = NULL;
	elf_file_close(&img->file);
}

uint64_t x86_image_symbol(const struct x86_image *img, const char *name)
{
	uint64_t value = 0;
	size_t i;

	/* The last definition wins, as when the names were looked up in one pass. */
	for (i = 0; i < img->ndynsym; i++) {
		const char *s_name;
		GElf_Sym s;

		if (!gelf_getsym(img->dynsym, i, &s) || s.st_shndx == SHN_UNDEF || !s.st_value)
			continue;
		s_name = elf_strptr(img->file.elf, img->dynsym_names, s.st_name);
		if (s_name && !strcmp(s_name, name))
			value = s.st_value;
	}
	return value;
}

bool x86_image_exports(const struct x86_image *img, uint64_t addr)
{
	return img->nfuncs && bsearch(&addr, img->funcs, img->nfuncs, sizeof(addr), cmp_u64);
}

static const struct image_section *section_at(const struct x86_image *img, uint64_t addr,
					       uint64_t len)
{
	int i;

	for (i = 0; i < img->nsecs; i++) {
		const struct image_section *s = &img->secs[i];

		if (addr >= s->addr && addr - s->addr <= s->size &&
		    len <= s->size - (addr - s->addr))
			return s;
	}
	return NULL;
}

const unsigned char *x86_image_bytes(const struct x86_image *img, uint64_t addr, uint64_t len)
{
	const struct image_section *s = section_at(img, addr, len);

	return s ? s->data + (addr - s->addr) : NULL;
}

const unsigned char *x86_image_code(const struct x86_image *img, uint64_t addr, uint64_t len)
{
	const struct image_section *s = section_at(img, addr, len);

	return s && s->exec ? s->data + (addr - s->addr) : NULL;
}

const char *x86_image_string(const struct x86_image *img, uint64_t addr)
{
	const struct image_section *s = section_at(img, addr, 1);
	const unsigned char *p;

	if (!s || s->exec)
		return NULL;
	p = s->data + (addr - s->addr);
	return memchr(p, '\0', s->size - (addr - s->addr)) ? (const char *)p : NULL;
}
