/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libelf helpers shared by the files that read ELF (symbols.c, debugfile.c): opening an ELF file
 * or the xz-compressed image of one, and reading its sections, symbols and build-id.
 */
#ifndef GCPAUSE_PROBE_ELF_ELFUTIL_H
#define GCPAUSE_PROBE_ELF_ELFUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <gelf.h>

#define BUILD_ID_MAX		64	/* bytes; GNU ld makes 20 (sha1) or 16 (md5, uuid) */

/* One ELF file opened for reading; elf_file_open_xz() images own their buffer here. */
struct elf_file {
	int fd;
	Elf *elf;
	void *image;
};

/*
 * Opens path with untrusted_open(): returns 0, -ENOEXEC when the file is not ELF, -EINVAL
 * when it is not a regular file, or another -errno.
 */
int elf_file_open(const char *path, struct elf_file *f);

/* The same for a descriptor from untrusted_open(), which f owns from here, success or not. */
int elf_file_from_fd(int fd, struct elf_file *f);

/*
 * Opens the ELF image that an xz stream (MiniDebugInfo's .gnu_debugdata) decompresses to.
 * Returns 0, -ENOMEM, -ENOEXEC when the image is not ELF, or another negative errno when the
 * stream is not valid xz or decompresses to more than a MiniDebugInfo could be.
 */
int elf_file_open_xz(const void *xz, size_t len, struct elf_file *f);

/* Also for a file that failed to open: it is left closed either way. */
void elf_file_close(struct elf_file *f);

Elf_Scn *elf_find_section(Elf *elf, const char *name, GElf_Shdr *shdr);

/* Whether elf has a .debug_info (or .zdebug_info) with contents. */
bool elf_has_dwarf(Elf *elf);

/*
 * Calls fn for each symbol of elf's sections of type sh_type (SHT_SYMTAB, SHT_DYNSYM), with the
 * index of the string table its name is in; stops at and returns the first non-zero value fn
 * returns, else 0.
 */
int elf_foreach_sym(Elf *elf, Elf64_Word sh_type,
		    int (*fn)(Elf *elf, size_t strndx, const GElf_Sym *sym, void *arg), void *arg);

/* Copies elf's NT_GNU_BUILD_ID into bid. Returns its length, -ENOENT, or -EINVAL if over cap. */
int elf_build_id_bytes(Elf *elf, unsigned char *bid, size_t cap);

/* Writes len bytes as 2 * len lower-case hex digits and a NUL. */
void build_id_hex(const unsigned char *bid, int len, char *hex);

/*
 * The file offset of vaddr through path's PT_LOAD headers (what a uprobe needs). Returns 0,
 * -ENOENT if no executable PT_LOAD holds vaddr, or another negative errno.
 */
int elf_vaddr_to_offset(const char *path, uint64_t vaddr, uint64_t *offset);

/*
 * path's NT_GNU_BUILD_ID as lower-case hex in hex. Returns 0, -ENOENT if it has none, -ENOSPC
 * if len is too small, or another negative errno.
 */
int elf_read_build_id(const char *path, char *hex, size_t len);

#endif /* GCPAUSE_PROBE_ELF_ELFUTIL_H */
