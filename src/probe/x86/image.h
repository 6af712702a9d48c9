/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Internal to the stripped-binary code analysis: an x86-64 ELF file, read only through what
 * strip leaves (allocated sections, .dynsym, .eh_frame), with addresses as the file links them.
 */
#ifndef GCPAUSE_PROBE_X86_IMAGE_H
#define GCPAUSE_PROBE_X86_IMAGE_H

#include <libelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "probe/elf/elfutil.h"
#include "probe/x86/eh_frame.h"

#define X86_IMAGE_MAX_SECTIONS	64

struct image_section {
	uint64_t addr, size;
	const unsigned char *data;
	bool exec;
};

struct x86_image {
	const char *path;	/* the caller's, for messages */
	struct elf_file file;	/* read, never mapped (see untrusted_elf_begin()) */
	unsigned int machine;	/* ELF e_machine, also when it is not x86-64 */
	struct image_section secs[X86_IMAGE_MAX_SECTIONS];	/* allocated PROGBITS */
	int nsecs;
	Elf_Data *dynsym;	/* NULL: none */
	size_t ndynsym;
	size_t dynsym_names;	/* its string table's section index */
	uint64_t *funcs;	/* exported function addresses, sorted */
	size_t nfuncs;
	struct image_section eh_frame;	/* data NULL: none */
	struct fde_table fdes;	/* empty until x86_image_read_fdes() */
};

/*
 * Opens the ELF file at path, which must stay valid until x86_image_close(), and reads its
 * sections and .dynsym. Returns 0, or a negative errno with one line in err: -ENOTSUP for
 * another machine than x86-64 (in img->machine). x86_image_close() releases img either way.
 */
int x86_image_open(struct x86_image *img, const char *path, char *err, size_t err_len);

/*
 * Reads the function bounds from .eh_frame into img->fdes: a step of its own, as it costs more
 * than the rest and a caller may first check that the file is the one it wants. Returns 0, or
 * -ENOENT or -ENOMEM with one line in err.
 */
int x86_image_read_fdes(struct x86_image *img, char *err, size_t err_len);

void x86_image_close(struct x86_image *img);

/* The value of the symbol name that .dynsym defines, or 0. */
uint64_t x86_image_symbol(const struct x86_image *img, const char *name);

/* Whether .dynsym exports a function at addr. */
bool x86_image_exports(const struct x86_image *img, uint64_t addr);

/* The len bytes at addr, all in one allocated section, or NULL. */
const unsigned char *x86_image_bytes(const struct x86_image *img, uint64_t addr, uint64_t len);

/* The same, in an executable section only. */
const unsigned char *x86_image_code(const struct x86_image *img, uint64_t addr, uint64_t len);

/* The NUL-terminated string at addr, all in one section of data (not code), or NULL. */
const char *x86_image_string(const struct x86_image *img, uint64_t addr);

#endif /* GCPAUSE_PROBE_X86_IMAGE_H */
