// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "probe/elf/elfutil.h"
#include "util/untrusted_file.h"

/* MiniDebugInfo is a few hundred KiB; anything this big is not one. */
#define MINI_MAX		(256UL << 20)

void elf_file_close(struct elf_file *f)
{
	if (f->elf)
		elf_end(f->elf);
	if (f->fd >= 0)
		close(f->fd);
	free(f->image);
	f->elf = NULL;
	f->fd = -1;
	f->image = NULL;
}

int elf_file_from_fd(int fd, struct elf_file *f)
{
	f->fd = fd;
	f->elf = NULL;
	f->image = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		elf_file_close(f);
		return -EINVAL;
	}
	f->elf = untrusted_elf_begin(fd);
	if (!f->elf || elf_kind(f->elf) != ELF_K_ELF) {
		elf_file_close(f);
		return -ENOEXEC;
	}
	return 0;
}

int elf_file_open(const char *path, struct elf_file *f)
{
	int fd = untrusted_open(path, UNTRUSTED_ELF_MAX, NULL);

	if (fd < 0) {
		*f = (struct elf_file){ .fd = -1 };
		return fd;
	}
	return elf_file_from_fd(fd, f);
}

/* Decompresses an xz stream of at most MINI_MAX bytes into a malloc()ed buffer. */
static int xz_decompress(const void *in, size_t in_len, void **out, size_t *out_len)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	size_t cap = 4 * in_len + 4096;
	unsigned char *buf, *grown;
	lzma_ret lr;
	int ret = 0;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	if (lzma_stream_decoder(&strm, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK) {
		free(buf);
		return -ENOMEM;
	}
	strm.next_in = in;
	strm.avail_in = in_len;
	strm.next_out = buf;
	strm.avail_out = cap;
	for (;;) {
		lr = lzma_code(&strm, LZMA_FINISH);
		if (lr == LZMA_STREAM_END)
			break;
		if (lr != LZMA_OK && lr != LZMA_BUF_ERROR) {
			ret = lr == LZMA_MEM_ERROR ? -ENOMEM : -EBADMSG;
			goto cleanup;
		}
		if (strm.avail_out) {
			/* No progress possible with output room left: the input is truncated. */
			ret = -EBADMSG;
			goto cleanup;
		}
		if (cap >= MINI_MAX) {
			ret = -EFBIG;
			goto cleanup;
		}
		grown = realloc(buf, 2 * cap);
		if (!grown) {
			ret = -ENOMEM;
			goto cleanup;
		}
		buf = grown;
		strm.next_out = buf + cap;
		strm.avail_out = cap;
		cap *= 2;
	}
	*out = buf;
	*out_len = strm.total_out;
	buf = NULL;
cleanup:
	lzma_end(&strm);
	free(buf);
	return ret;
}

int elf_file_open_xz(const void *xz, size_t len, struct elf_file *f)
{
	size_t size;
	int ret;

	f->fd = -1;
	f->elf = NULL;
	f->image = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	ret = xz_decompress(xz, len, &f->image, &size);
	if (ret)
		return ret;
	f->elf = elf_memory(f->image, size);
	if (!f->elf || elf_kind(f->elf) != ELF_K_ELF) {
		elf_file_close(f);
		return -ENOEXEC;
	}
	return 0;
}

Elf_Scn *elf_find_section(Elf *elf, const char *name, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, shdr))
			continue;
		n = elf_strptr(elf, shstrndx, shdr->sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

bool elf_has_dwarf(Elf *elf)
{
	static const char *const names[] = { ".debug_info", ".zdebug_info" };
	GElf_Shdr shdr;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (elf_find_section(elf, names[i], &shdr) && shdr.sh_type != SHT_NOBITS &&
		    shdr.sh_size)
			return true;
	}
	return false;
}

int elf_foreach_sym(Elf *elf, Elf64_Word sh_type,
		    int (*fn)(Elf *elf, size_t strndx, const GElf_Sym *sym, void *arg), void *arg)
{
	Elf_Scn *scn = NULL;
	int ret;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		Elf_Data *data;
		size_t i, n;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != sh_type || !shdr.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		n = shdr.sh_size / shdr.sh_entsize;
		for (i = 0; i < n; i++) {
			GElf_Sym sym;

			if (!gelf_getsym(data, i, &sym))
				continue;
			ret = fn(elf, shdr.sh_link, &sym, arg);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int note_build_id(Elf_Data *data, unsigned char *bid, size_t cap)
{
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nhdr;

	while ((off = gelf_getnote(data, off, &nhdr, &name_off, &desc_off)) > 0) {
		if (nhdr.n_type != NT_GNU_BUILD_ID || nhdr.n_namesz != sizeof("GNU") ||
		    memcmp((char *)data->d_buf + name_off, "GNU", sizeof("GNU")))
			continue;
		if (!nhdr.n_descsz || nhdr.n_descsz > cap)
			return -EINVAL;
		memcpy(bid, (char *)data->d_buf + desc_off, nhdr.n_descsz);
		return nhdr.n_descsz;
	}
	return -ENOENT;
}

/*
 * From SHT_NOTE sections, or from PT_NOTE segments when there are no section headers (a debug
 * file's segments may point at nothing, so sections come first).
 */
int elf_build_id_bytes(Elf *elf, unsigned char *bid, size_t cap)
{
	Elf_Scn *scn = NULL;
	size_t i, nphdr, nscn;
	int ret;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		if (data && (ret = note_build_id(data, bid, cap)) != -ENOENT)
			return ret;
	}
	if (elf_getshdrnum(elf, &nscn) || nscn || elf_getphdrnum(elf, &nphdr))
		return -ENOENT;
	for (i = 0; i < nphdr; i++) {
		GElf_Phdr phdr;
		Elf_Data *data;

		if (!gelf_getphdr(elf, i, &phdr) || phdr.p_type != PT_NOTE)
			continue;
		data = elf_getdata_rawchunk(elf, phdr.p_offset, phdr.p_filesz, ELF_T_NHDR);
		if (data && (ret = note_build_id(data, bid, cap)) != -ENOENT)
			return ret;
	}
	return -ENOENT;
}

void build_id_hex(const unsigned char *bid, int len, char *hex)
{
	int i;

	for (i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", bid[i]);
	hex[2 * len] = '\0';
}

int elf_read_build_id(const char *path, char *hex, size_t len)
{
	unsigned char bid[BUILD_ID_MAX];
	struct elf_file f;
	int ret;

	ret = elf_file_open(path, &f);
	if (ret)
		return ret;
	ret = elf_build_id_bytes(f.elf, bid, sizeof(bid));
	if (ret < 0)
		goto cleanup;
	if (len < 2 * (size_t)ret + 1) {
		ret = -ENOSPC;
		goto cleanup;
	}
	build_id_hex(bid, ret, hex);
	ret = 0;
cleanup:
	elf_file_close(&f);
	return ret;
}

int elf_vaddr_to_offset(const char *path, uint64_t vaddr, uint64_t *offset)
{
	struct elf_file f;
	size_t i, n;
	int ret;

	ret = elf_file_open(path, &f);
	if (ret)
		return ret;
	ret = -ENOENT;
	if (elf_getphdrnum(f.elf, &n)) {
		ret = -ENOEXEC;
		goto cleanup;
	}
	for (i = 0; i < n; i++) {
		GElf_Phdr phdr;

		if (!gelf_getphdr(f.elf, i, &phdr)) {
			ret = -ENOEXEC;
			goto cleanup;
		}
		/* p_filesz, not p_memsz: code beyond the file's part would be zero-fill. */
		if (phdr.p_type != PT_LOAD || !(phdr.p_flags & PF_X) || vaddr < phdr.p_vaddr ||
		    vaddr - phdr.p_vaddr >= phdr.p_filesz)
			continue;
		*offset = vaddr - phdr.p_vaddr + phdr.p_offset;
		ret = 0;
		break;
	}
cleanup:
	elf_file_close(&f);
	return ret;
}
