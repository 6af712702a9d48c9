/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Internal to x86_disasm.c and x86_dataflow.c: the instructions of one function, each reduced by
 * the disassembler to the little the data-flow pass needs to know of it.
 */
#ifndef GCPAUSE_PROBE_X86_DISASM_H
#define GCPAUSE_PROBE_X86_DISASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "probe/x86/eh_frame.h"

struct x86_image;

#define X86_MAX_PARTS	8	/* the function's FDE and the cold parts it jumps into */

/* General-purpose registers by number: rax rcx rdx rbx rsp rbp rsi rdi r8-r15 are 0 to 15 */
#define GPR_RSP		4
#define GPR_RBP		5

/* How control leaves an instruction. */
enum x86_flow { F_NEXT, F_JCC, F_JMP, F_CALL, F_RET, F_IJMP, F_STOP };

/* What it does to the registers and the frame. */
enum x86_op {
	O_NONE, O_CLOBBER, O_COPY, O_SETC, O_LOAD, O_STORE, O_STORE_C, O_PUSH, O_PUSH_C, O_POP,
	O_RSP_ADD, O_FRAME, O_LEAVE, O_RSP_FROM_FP,
};

/* The base of a memory operand in the frame: [rsp+disp], [rbp+disp], or indexed (anywhere). */
enum x86_mbase { MB_NONE, MB_RSP, MB_RBP, MB_ANY };

struct flow_insn {
	uint64_t addr, target;	/* target: of a direct jump or call, else 0 */
	int64_t imm;
	int32_t disp;
	uint16_t clobber;	/* O_CLOBBER: the registers written, bit n for register n */
	uint8_t size, flow, op, mbase, mwidth;
	int8_t dst, src;	/* register numbers, -1: none */
};

struct x86_code {
	struct flow_insn *insns;	/* sorted by address */
	size_t n, cap;
	const struct fde *parts[X86_MAX_PARTS];
	int nparts;
};

/*
 * Disassembles the function at entry (an FDE start) and each FDE it jumps into that is not
 * another function's start (its cold parts) into c, which x86_code_free() releases either way.
 * Returns 0, or a negative errno with one line in err (none for -ENOMEM).
 */
int x86_disasm_function(const struct x86_image *img, uint64_t entry, struct x86_code *c,
			char *err, size_t err_len);

/* Whether addr is in one of the function's parts. */
bool x86_code_contains(const struct x86_code *c, uint64_t addr);

void x86_code_free(struct x86_code *c);

#endif /* GCPAUSE_PROBE_X86_DISASM_H */
