// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One x86-64 function's instructions, disassembled with capstone from its .eh_frame bounds and
 * reduced to what the data-flow pass tracks: moves of registers, constants and stack slots, the
 * stack pointer's changes, and where control goes next. Anything else only clobbers what it
 * writes, so an instruction not understood makes values unknown, never wrong.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "probe/x86/disasm.h"
#include "probe/x86/image.h"

#define MAX_INSNS	16384

/* The number (0 to 15) of a general-purpose register and its width in bytes, or -1. */
static int gpr(unsigned int r, int *width)
{
	static const struct { uint16_t reg; int8_t idx, width; } legacy[] = {
		{ X86_REG_RAX, 0, 8 }, { X86_REG_EAX, 0, 4 }, { X86_REG_AX, 0, 2 },
		{ X86_REG_AL, 0, 1 }, { X86_REG_AH, 0, 1 }, { X86_REG_RCX, 1, 8 },
		{ X86_REG_ECX, 1, 4 }, { X86_REG_CX, 1, 2 }, { X86_REG_CL, 1, 1 },
		{ X86_REG_CH, 1, 1 }, { X86_REG_RDX, 2, 8 }, { X86_REG_EDX, 2, 4 },
		{ X86_REG_DX, 2, 2 }, { X86_REG_DL, 2, 1 }, { X86_REG_DH, 2, 1 },
		{ X86_REG_RBX, 3, 8 }, { X86_REG_EBX, 3, 4 }, { X86_REG_BX, 3, 2 },
		{ X86_REG_BL, 3, 1 }, { X86_REG_BH, 3, 1 }, { X86_REG_RSP, 4, 8 },
		{ X86_REG_ESP, 4, 4 }, { X86_REG_SP, 4, 2 }, { X86_REG_SPL, 4, 1 },
		{ X86_REG_RBP, 5, 8 }, { X86_REG_EBP, 5, 4 }, { X86_REG_BP, 5, 2 },
		{ X86_REG_BPL, 5, 1 }, { X86_REG_RSI, 6, 8 }, { X86_REG_ESI, 6, 4 },
		{ X86_REG_SI, 6, 2 }, { X86_REG_SIL, 6, 1 }, { X86_REG_RDI, 7, 8 },
		{ X86_REG_EDI, 7, 4 }, { X86_REG_DI, 7, 2 }, { X86_REG_DIL, 7, 1 },
	};
	size_t i;

	*width = 0;
	if (r >= X86_REG_R8 && r <= X86_REG_R15)
		return *width = 8, 8 + (r - X86_REG_R8);
	if (r >= X86_REG_R8D && r <= X86_REG_R15D)
		return *width = 4, 8 + (r - X86_REG_R8D);
	if (r >= X86_REG_R8W && r <= X86_REG_R15W)
		return *width = 2, 8 + (r - X86_REG_R8W);
	if (r >= X86_REG_R8B && r <= X86_REG_R15B)
		return *width = 1, 8 + (r - X86_REG_R8B);
	for (i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++) {
		if (legacy[i].reg == r) {
			*width = legacy[i].width;
			return legacy[i].idx;
		}
	}
	return -1;
}

/* A memory operand in the frame: [rsp+disp] or [rbp+disp]; anything indexed in it is MB_ANY. */
static bool frame_mem(const cs_x86_op *op, struct flow_insn *x)
{
	if (op->type != X86_OP_MEM || op->mem.segment != X86_REG_INVALID ||
	    (op->mem.base != X86_REG_RSP && op->mem.base != X86_REG_RBP))
		return false;
	if (op->mem.index != X86_REG_INVALID)
		x->mbase = MB_ANY;
	else
		x->mbase = op->mem.base == X86_REG_RSP ? MB_RSP : MB_RBP;
	x->disp = (int32_t)op->mem.disp;
	x->mwidth = op->size;
	return true;
}

static void decode_move(const cs_x86_op *o0, const cs_x86_op *o1, struct flow_insn *x)
{
	int w0 = 0, w1 = 0, r0 = -1, r1 = -1;
	struct flow_insn m = *x;

	if (o0->type == X86_OP_REG)
		r0 = gpr(o0->reg, &w0);
	if (o1->type == X86_OP_REG)
		r1 = gpr(o1->reg, &w1);
	if (r0 >= 0 && r0 != GPR_RSP && w0 >= 4) {
		x->dst = r0;
		if (r1 >= 0 && w1 >= 4) {
			x->op = r0 == GPR_RBP && r1 == GPR_RSP && w0 == 8 ? O_FRAME : O_COPY;
			x->src = r1;
		} else if (o1->type == X86_OP_IMM) {
			x->op = O_SETC;
			x->imm = w0 == 4 ? (int64_t)(uint32_t)o1->imm : o1->imm;
		} else if (o1->size >= 4 && frame_mem(o1, &m) && m.mbase != MB_ANY) {
			x->op = O_LOAD;
			x->mbase = m.mbase;
			x->disp = m.disp;
			x->mwidth = m.mwidth;
		}
	} else if (o0->type == X86_OP_MEM && o0->size >= 4 && frame_mem(o0, &m) &&
		   m.mbase != MB_ANY) {
		if (r1 >= 0 && w1 >= 4) {
			x->op = O_STORE;
			x->src = r1;
		} else if (o1->type == X86_OP_IMM) {
			x->op = O_STORE_C;
			x->imm = o1->imm;
		}
	}
}

static void decode(csh cs, const cs_insn *in, struct flow_insn *x)
{
	const cs_x86 *d = &in->detail->x86;
	const cs_x86_op *o0 = d->op_count > 0 ? &d->operands[0] : NULL;
	const cs_x86_op *o1 = d->op_count > 1 ? &d->operands[1] : NULL;
	cs_regs rd, wr;
	uint8_t nrd = 0, nwr = 0, i;
	int w = 0, r0 = -1;

	x->addr = in->address;
	x->size = in->size;
	x->dst = x->src = -1;
	if (cs_insn_group(cs, in, CS_GRP_CALL) || cs_insn_group(cs, in, CS_GRP_JUMP)) {
		bool call = cs_insn_group(cs, in, CS_GRP_CALL);
		bool direct = o0 && o0->type == X86_OP_IMM;

		if (call)
			x->flow = F_CALL;
		else if (in->id == X86_INS_JMP || in->id == X86_INS_LJMP)
			x->flow = direct ? F_JMP : F_IJMP;
		else
			x->flow = F_JCC;
		x->target = direct ? (uint64_t)o0->imm : 0;
		return;
	}
	if (cs_insn_group(cs, in, CS_GRP_RET) || cs_insn_group(cs, in, CS_GRP_IRET)) {
		x->flow = F_RET;
		return;
	}
	if (in->id == X86_INS_HLT || in->id == X86_INS_UD2 || in->id == X86_INS_UD2B ||
	    in->id == X86_INS_INT3) {
		x->flow = F_STOP;
		return;
	}
	/* By default, whatever it writes becomes unknown. */
	x->op = O_CLOBBER;
	if (!cs_regs_access(cs, in, rd, &nrd, wr, &nwr)) {
		for (i = 0; i < nwr; i++) {
			int g = gpr(wr[i], &w);

			if (g >= 0)
				x->clobber |= 1u << g;
		}
	} else {
		x->clobber = 0xffff;
	}
	for (i = 0; i < d->op_count; i++) {
		if ((d->operands[i].access & CS_AC_WRITE) && frame_mem(&d->operands[i], x))
			break;
	}
	if (o0 && o0->type == X86_OP_REG)
		r0 = gpr(o0->reg, &w);
	switch (in->id) {
	case X86_INS_MOV:
	case X86_INS_MOVABS:
	case X86_INS_MOVSXD:
		if (o0 && o1)
			decode_move(o0, o1, x);
		break;
	case X86_INS_LEA:
		if (!o1 || o1->type != X86_OP_MEM)
			break;
		if (r0 >= 0 && r0 != GPR_RSP && w == 8 && o1->mem.base == X86_REG_RIP &&
		    o1->mem.index == X86_REG_INVALID) {
			x->op = O_SETC;
			x->dst = r0;
			x->imm = (int64_t)(in->address + in->size) + o1->mem.disp;
		} else if (r0 == GPR_RSP && o1->mem.base == X86_REG_RBP &&
			   o1->mem.index == X86_REG_INVALID) {
			x->op = O_RSP_FROM_FP;
			x->disp = (int32_t)o1->mem.disp;
		}
		break;
	case X86_INS_XOR:
	case X86_INS_SUB:
	case X86_INS_ADD:
		if (!o1)
			break;
		if (r0 >= 0 && r0 != GPR_RSP && in->id != X86_INS_ADD && w >= 4 &&
		    o1->type == X86_OP_REG && o1->reg == o0->reg) {
			x->op = O_SETC;
			x->dst = r0;
			x->imm = 0;
		} else if (r0 == GPR_RSP && w == 8 && o1->type == X86_OP_IMM &&
			   in->id != X86_INS_XOR) {
			x->op = O_RSP_ADD;
			x->disp = (int32_t)(in->id == X86_INS_SUB ? -o1->imm : o1->imm);
		}
		break;
	case X86_INS_PUSH:
		if (!o0)
			break;
		x->op = o0->type == X86_OP_IMM ? O_PUSH_C : O_PUSH;
		if (o0->type == X86_OP_IMM)
			x->imm = o0->imm;
		if (r0 >= 0 && w == 8)
			x->src = r0;
		break;
	case X86_INS_POP:
		x->op = O_POP;
		if (r0 >= 0 && w == 8)
			x->dst = r0;
		break;
	case X86_INS_LEAVE:
		x->op = O_LEAVE;
		break;
	}
}

bool x86_code_contains(const struct x86_code *c, uint64_t addr)
{
	int i;

	for (i = 0; i < c->nparts; i++) {
		if (addr >= c->parts[i]->start && addr < c->parts[i]->end)
			return true;
	}
	return false;
}

static int disasm_part(csh cs, const struct x86_image *img, struct x86_code *c,
		       const struct fde *f, char *err, size_t err_len)
{
	uint64_t addr = f->start, len = f->end - f->start;
	const uint8_t *p = x86_image_code(img, addr, len);
	size_t left = len;
	cs_insn *in;
	int ret = 0;

	if (!p) {
		snprintf(err, err_len, "code at 0x%llx is in no executable section",
			 (unsigned long long)addr);
		return -EINVAL;
	}
	in = cs_malloc(cs);
	if (!in)
		return -ENOMEM;
	while (left) {
		if (c->n == c->cap) {
			struct flow_insn *nx;

			if (c->cap >= MAX_INSNS) {
				snprintf(err, err_len, "function at 0x%llx is too large to analyze",
					 (unsigned long long)c->parts[0]->start);
				ret = -E2BIG;
				goto cleanup;
			}
			nx = realloc(c->insns, (c->cap ? c->cap * 2 : 1024) * sizeof(*nx));
			if (!nx) {
				ret = -ENOMEM;
				goto cleanup;
			}
			c->insns = nx;
			c->cap = c->cap ? c->cap * 2 : 1024;
		}
		if (!cs_disasm_iter(cs, &p, &left, &addr, in)) {
			snprintf(err, err_len, "cannot decode the instruction at 0x%llx",
				 (unsigned long long)addr);
			ret = -EINVAL;
			goto cleanup;
		}
		memset(&c->insns[c->n], 0, sizeof(c->insns[c->n]));
		decode(cs, in, &c->insns[c->n++]);
	}
cleanup:
	cs_free(in, 1);
	return ret;
}

/* The function's FDE, then each FDE it jumps into that is not another function's start. */
static int disasm_parts(csh cs, const struct x86_image *img, uint64_t entry, struct x86_code *c,
			char *err, size_t err_len)
{
	const struct fde *f = fde_table_find(&img->fdes, entry);
	int part, ret;
	size_t i, from;

	if (!f || f->start != entry) {
		snprintf(err, err_len, "0x%llx starts no function in .eh_frame",
			 (unsigned long long)entry);
		return -ENOENT;
	}
	c->parts[c->nparts++] = f;
	for (part = 0; part < c->nparts; part++) {
		from = c->n;
		ret = disasm_part(cs, img, c, c->parts[part], err, err_len);
		if (ret)
			return ret;
		for (i = from; i < c->n; i++) {
			const struct flow_insn *x = &c->insns[i];

			if ((x->flow != F_JMP && x->flow != F_JCC) ||
			    x86_code_contains(c, x->target) || c->nparts == X86_MAX_PARTS)
				continue;
			f = fde_table_find(&img->fdes, x->target);
			if (f && (!f->entry_like || f->start != x->target))
				c->parts[c->nparts++] = f;
		}
	}
	return 0;
}

static int cmp_insn(const void *a, const void *b)
{
	const struct flow_insn *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int x86_disasm_function(const struct x86_image *img, uint64_t entry, struct x86_code *c,
			char *err, size_t err_len)
{
	csh cs;
	int ret;

	memset(c, 0, sizeof(*c));
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		snprintf(err, err_len, "capstone cannot disassemble x86-64");
		return -ENOTSUP;
	}
	if (cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK) {
		snprintf(err, err_len, "capstone gives no instruction details");
		ret = -ENOTSUP;
	} else {
		ret = disasm_parts(cs, img, entry, c, err, err_len);
	}
	/* The parts come in the order they were found; the data flow looks jump targets up. */
	if (!ret)
		qsort(c->insns, c->n, sizeof(*c->insns), cmp_insn);
	cs_close(&cs);
	return ret;
}

void x86_code_free(struct x86_code *c)
{
	free(c->insns);
	c->insns = NULL;
	c->n = c->cap = 0;
}
