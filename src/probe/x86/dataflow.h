/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Internal to the stripped-binary code analysis: what the code of one x86-64 function passes in
 * the argument registers to each function it calls, found by a data-flow pass over its
 * disassembly.
 */
#ifndef GCPAUSE_PROBE_X86_DATAFLOW_H
#define GCPAUSE_PROBE_X86_DATAFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct x86_image;

#define X86_NARGS	6	/* rdi, rsi, rdx, rcx, r8, r9 */

/* Where a value may come from: bit k is the function's k-th incoming integer argument. */
#define X86_V_ARGS	0x3f
#define X86_V_CONST	0x40	/* the constant c */
#define X86_V_OTHER	0x80	/* anything else */
#define X86_V_MULTI	0x100	/* several different constants */

struct x86_val {
	uint16_t mask;
	int64_t c;
};

struct x86_call {
	uint64_t site;		/* the call or jump instruction */
	uint8_t len;		/* its length in bytes */
	uint64_t target;	/* 0: indirect */
	bool tail;		/* a jump out of the function */
	struct x86_val args[X86_NARGS];
};

struct x86_func {
	uint64_t entry;
	struct x86_call *calls;	/* every call and tail call the code reaches, by address */
	size_t ncalls;
};

/* d becomes what d or s may hold. Returns whether d changed. */
bool x86_val_join(struct x86_val *d, const struct x86_val *s);

/*
 * Disassembles the function at entry (an FDE start in img->fdes) and the cold parts it jumps
 * into, and records, for each call it can reach, where each argument register's value may come
 * from. Returns 0, or a negative errno with one line in err; x86_func_free() frees fn either way.
 */
int x86_analyze(const struct x86_image *img, uint64_t entry, struct x86_func *fn, char *err,
		size_t err_len);
void x86_func_free(struct x86_func *fn);

#endif /* GCPAUSE_PROBE_X86_DATAFLOW_H */
