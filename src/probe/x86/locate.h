/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Finding CPython's collection function(s) in a stripped x86-64 build: only what strip leaves
 * (.dynsym, .eh_frame, code, .rodata) is read, and the address is cross-checked from the code.
 */
#ifndef GCPAUSE_PROBE_X86_LOCATE_H
#define GCPAUSE_PROBE_X86_LOCATE_H

#include <stddef.h>
#include <stdint.h>

struct gc_func_site {
	uint64_t vaddr;		/* function entry, virtual address in the file */
	/* 0: generation in the 1st integer argument (rdi), 1: in the 2nd (rsi), -1: constant */
	int gen_arg;
	int gen_const;		/* the generation when gen_arg is -1 */
	char evidence[160];	/* how it was found, for the user */
};

/*
 * Locates the collection function(s) of the CPython version "3.8" ... "3.13" (major.minor) in
 * the ELF file at path. Returns the number of sites filled in out (2 for GCC's two clones of
 * 3.8's collect(), one with the generation folded in; 1 otherwise), or -ENOENT, -ENOTSUP or
 * -EINVAL with a one-line reason in err. It fails rather than return an address that the code
 * does not confirm.
 */
int locate_gc_functions(const char *path, const char *version, struct gc_func_site *out, int max,
			char *err, size_t err_len);

#endif /* GCPAUSE_PROBE_X86_LOCATE_H */
