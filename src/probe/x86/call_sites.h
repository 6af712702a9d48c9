/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The direct calls one function of an x86-64 ELF file makes, and the constant strings it passes
 * to them, read from the code alone: a stripped file answers as its original does. For probes
 * placed at a call inside a function that has no marker of its own, such as the calls of
 * 3.13's gc_collect_main to invoke_gc_callback with "start" and "stop".
 */
#ifndef GCPAUSE_PROBE_X86_CALL_SITES_H
#define GCPAUSE_PROBE_X86_CALL_SITES_H

#include <stddef.h>
#include <stdint.h>

/* The integer argument registers of the SysV x86-64 ABI, in order: arg_string[] indexes. */
enum {
	X86_ARG_RDI, X86_ARG_RSI, X86_ARG_RDX, X86_ARG_RCX, X86_ARG_R8, X86_ARG_R9,
	X86_CALL_NARGS
};

#define X86_CALL_STRING_LEN	16

struct x86_call_site {
	uint64_t vaddr;		/* the call instruction, virtual address in the file */
	uint8_t len;		/* its length: vaddr + len is the return address */
	uint64_t target;	/* the function called (a PLT entry for an imported one) */
	/*
	 * Per argument register: the string whose address it holds on every path to the call,
	 * when that address is a constant into the file's data and the string is printable ASCII
	 * of at most X86_CALL_STRING_LEN - 1 characters; else "". Only constants are resolved: a
	 * string the function received from its own caller is not.
	 */
	char arg_string[X86_CALL_NARGS][X86_CALL_STRING_LEN];
};

/*
 * Lists the direct calls (not through a register, and not tail jumps) that the function at
 * func_vaddr in the ELF file at path can reach, in address order. func_vaddr must start a
 * function in .eh_frame, which gives its bounds; the calls in its cold parts, the FDEs it jumps
 * into, are listed too, at their own addresses. Fills out with the first max calls and returns
 * how many there are, which is more than max when out is too small (out may be NULL when max is
 * 0). Else returns -ENOENT (no such function, or no .eh_frame), -ENOTSUP (not x86-64), -EINVAL
 * (not ELF, or code that cannot be decoded) or another negative errno, with one line in err.
 */
int x86_call_sites(const char *path, uint64_t func_vaddr, struct x86_call_site *out, int max,
		   char *err, size_t err_len);

#endif /* GCPAUSE_PROBE_X86_CALL_SITES_H */
