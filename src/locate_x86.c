// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Function bounds from .eh_frame, and what one x86-64 function passes to the functions it
 * calls. The code is disassembled with capstone, then a forward data-flow pass tracks, for each
 * register and stack slot, the set of sources its value may have: the incoming argument
 * registers, one constant (a string's address or a number), or anything else. Paths join by
 * union, so "the generation printed is the second argument" holds on some path, and "exactly
 * the constant 2" on all of them.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "locate_x86.h"

#define MAX_PARTS	8
#define MAX_INSNS	16384
#define NSLOTS		24
#define REG_RSP		4
#define REG_RBP		5
#define CALLER_SAVED	0x0fc7	/* rax rcx rdx rsi rdi r8-r11 */

static const int arg_reg[LOC_NARGS] = { 7, 6, 2, 1, 8, 9 };	/* rdi rsi rdx rcx r8 r9 */

enum flow { F_NEXT, F_JCC, F_JMP, F_CALL, F_RET, F_IJMP, F_STOP };
enum op {
	O_NONE, O_CLOBBER, O_COPY, O_SETC, O_LOAD, O_STORE, O_STORE_C, O_PUSH, O_PUSH_C, O_POP,
	O_RSP_ADD, O_FRAME, O_LEAVE, O_RSP_FROM_FP,
};
enum mbase { MB_NONE, MB_RSP, MB_RBP, MB_ANY };

/* One instruction, reduced to what the data flow needs. */
struct xi {
	uint64_t addr, target;
	int64_t imm;
	int32_t disp;
	uint16_t clobber;
	uint8_t size, flow, op, mbase, mwidth;
	int8_t dst, src;
};

struct slot {
	int32_t off;
	uint8_t width;
	struct loc_val v;
};

struct state {
	uint8_t reached, rsp_ok, fp_ok, nslots;
	int32_t rsp, fp;	/* offsets from the stack pointer at entry */
	struct loc_val reg[16];
	struct slot slot[NSLOTS];
};

static const struct loc_val other = { LOC_V_OTHER, 0 };

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
static bool frame_mem(const cs_x86_op *op, struct xi *x)
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

static void decode_move(const cs_x86_op *o0, const cs_x86_op *o1, struct xi *x)
{
	int w0 = 0, w1 = 0, r0 = -1, r1 = -1;
	struct xi m = *x;

	if (o0->type == X86_OP_REG)
		r0 = gpr(o0->reg, &w0);
	if (o1->type == X86_OP_REG)
		r1 = gpr(o1->reg, &w1);
	if (r0 >= 0 && r0 != REG_RSP && w0 >= 4) {
		x->dst = r0;
		if (r1 >= 0 && w1 >= 4) {
			x->op = r0 == REG_RBP && r1 == REG_RSP && w0 == 8 ? O_FRAME : O_COPY;
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

static void decode(csh cs, const cs_insn *in, struct xi *x)
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
		if (r0 >= 0 && r0 != REG_RSP && w == 8 && o1->mem.base == X86_REG_RIP &&
		    o1->mem.index == X86_REG_INVALID) {
			x->op = O_SETC;
			x->dst = r0;
			x->imm = (int64_t)(in->address + in->size) + o1->mem.disp;
		} else if (r0 == REG_RSP && o1->mem.base == X86_REG_RBP &&
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
		if (r0 >= 0 && r0 != REG_RSP && in->id != X86_INS_ADD && w >= 4 &&
		    o1->type == X86_OP_REG && o1->reg == o0->reg) {
			x->op = O_SETC;
			x->dst = r0;
			x->imm = 0;
		} else if (r0 == REG_RSP && w == 8 && o1->type == X86_OP_IMM &&
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

static bool slot_off(const struct state *s, const struct xi *x, int32_t *off)
{
	if (x->mbase == MB_RSP && s->rsp_ok)
		*off = s->rsp + x->disp;
	else if (x->mbase == MB_RBP && s->fp_ok)
		*off = s->fp + x->disp;
	else
		return false;
	return true;
}

static struct loc_val load(const struct state *s, int32_t off)
{
	int i;

	for (i = 0; i < s->nslots; i++) {
		if (s->slot[i].off == off && s->slot[i].width >= 4)
			return s->slot[i].v;
	}
	return other;
}

/* A slot that is not tracked holds "anything": dropping one never claims too much. */
static void store(struct state *s, int32_t off, int width, struct loc_val v)
{
	int i;

	for (i = 0; i < s->nslots; i++) {
		const struct slot *sl = &s->slot[i];

		if (sl->off < off + width && off < sl->off + sl->width)
			s->slot[i--] = s->slot[--s->nslots];
	}
	if (s->nslots < NSLOTS && width >= 4)
		s->slot[s->nslots++] = (struct slot){ .off = off, .width = width, .v = v };
}

static void store_op(struct state *s, const struct xi *x, struct loc_val v)
{
	int32_t off;
	int i;

	if (slot_off(s, x, &off)) {
		store(s, off, x->mwidth, v);
		return;
	}
	/* Somewhere in the frame: any slot may now hold anything. */
	for (i = 0; i < s->nslots; i++)
		s->slot[i].v.mask |= LOC_V_OTHER;
}

static struct loc_val constant(int64_t c)
{
	return (struct loc_val){ LOC_V_CONST, c };
}

static void push(struct state *s, struct loc_val v)
{
	if (!s->rsp_ok)
		return;
	s->rsp -= 8;
	store(s, s->rsp, 8, v);
}

static struct loc_val pop(struct state *s)
{
	struct loc_val v = other;

	if (s->rsp_ok) {
		v = load(s, s->rsp);
		s->rsp += 8;
	}
	return v;
}

static void transfer(const struct xi *x, struct state *s)
{
	int32_t off;
	int i;

	switch (x->op) {
	case O_NONE:
		break;
	case O_CLOBBER:
		for (i = 0; i < 16; i++) {
			if (x->clobber & (1u << i))
				s->reg[i] = other;
		}
		if (x->clobber & (1u << REG_RSP))
			s->rsp_ok = 0;
		if (x->clobber & (1u << REG_RBP))
			s->fp_ok = 0;
		if (x->mbase)
			store_op(s, x, other);
		return;
	case O_COPY:
		s->reg[x->dst] = s->reg[x->src];
		break;
	case O_SETC:
		s->reg[x->dst] = constant(x->imm);
		break;
	case O_LOAD:
		s->reg[x->dst] = slot_off(s, x, &off) ? load(s, off) : other;
		break;
	case O_STORE:
		store_op(s, x, s->reg[x->src]);
		break;
	case O_STORE_C:
		store_op(s, x, constant(x->imm));
		break;
	case O_PUSH:
		push(s, x->src >= 0 ? s->reg[x->src] : other);
		break;
	case O_PUSH_C:
		push(s, constant(x->imm));
		break;
	case O_POP:
		if (x->dst >= 0)
			s->reg[x->dst] = pop(s);
		else
			pop(s);
		break;
	case O_RSP_ADD:
		s->rsp += x->disp;
		break;
	case O_FRAME:
		s->fp = s->rsp;
		s->fp_ok = s->rsp_ok;
		s->reg[REG_RBP] = other;
		return;
	case O_LEAVE:
		s->rsp = s->fp;
		s->rsp_ok = s->fp_ok;
		s->reg[REG_RBP] = pop(s);
		s->fp_ok = 0;
		return;
	case O_RSP_FROM_FP:
		s->rsp = s->fp + x->disp;
		s->rsp_ok = s->fp_ok;
		return;
	}
	if (x->dst == REG_RBP)
		s->fp_ok = 0;
}

bool loc_val_join(struct loc_val *d, const struct loc_val *s)
{
	struct loc_val old = *d;

	d->mask |= s->mask & ~LOC_V_CONST;
	if ((s->mask & LOC_V_CONST) && !(d->mask & LOC_V_MULTI)) {
		if (!(d->mask & LOC_V_CONST)) {
			d->mask |= LOC_V_CONST;
			d->c = s->c;
		} else if (d->c != s->c) {
			/* Sticky, so that the pass ends. */
			d->mask = (d->mask & ~LOC_V_CONST) | LOC_V_MULTI | LOC_V_OTHER;
		}
	}
	return d->mask != old.mask || d->c != old.c;
}

static bool same_slot(const struct slot *a, const struct slot *b)
{
	return a->off == b->off && a->width == b->width;
}

static bool state_join(struct state *d, const struct state *s)
{
	bool changed = false;
	int i, j;

	if (!d->reached) {
		*d = *s;
		return true;
	}
	for (i = 0; i < 16; i++)
		changed |= loc_val_join(&d->reg[i], &s->reg[i]);
	if (d->rsp_ok && (!s->rsp_ok || s->rsp != d->rsp)) {
		d->rsp_ok = 0;
		changed = true;
	}
	if (d->fp_ok && (!s->fp_ok || s->fp != d->fp)) {
		d->fp_ok = 0;
		changed = true;
	}
	/* A slot missing on one side holds anything there. */
	for (i = 0; i < d->nslots; i++) {
		const struct loc_val *v = &other;

		for (j = 0; j < s->nslots; j++) {
			if (same_slot(&s->slot[j], &d->slot[i]))
				v = &s->slot[j].v;
		}
		changed |= loc_val_join(&d->slot[i].v, v);
	}
	for (j = 0; j < s->nslots && d->nslots < NSLOTS; j++) {
		for (i = 0; i < d->nslots; i++) {
			if (same_slot(&s->slot[j], &d->slot[i]))
				break;
		}
		if (i == d->nslots) {
			d->slot[d->nslots] = s->slot[j];
			d->slot[d->nslots++].v.mask |= LOC_V_OTHER;
			changed = true;
		}
	}
	return changed;
}

/*** Function bounds, from .eh_frame ***/

static int cmp_fde(const void *a, const void *b)
{
	const struct loc_fde *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

const struct loc_fde *loc_fde_find(const struct loc_image *img, uint64_t addr)
{
	size_t lo = 0, hi = img->nfdes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (img->fdes[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || addr >= img->fdes[lo - 1].end)
		return NULL;
	return &img->fdes[lo - 1];
}

static bool rd_leb(const unsigned char **p, const unsigned char *end, bool sign, uint64_t *v)
{
	unsigned int shift = 0;
	unsigned char b;

	*v = 0;
	do {
		if (*p >= end || shift > 63)
			return false;
		b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (sign && shift < 64 && (b & 0x40))
		*v |= ~0ULL << shift;
	return true;
}

/* A DW_EH_PE-encoded pointer at *p, whose own address is at (for pcrel). */
static bool rd_enc(const unsigned char **p, const unsigned char *end, uint8_t enc, uint64_t at,
		   uint64_t *v)
{
	static const unsigned char sizes[16] = { 8, 0, 2, 4, 8, 0, 0, 0, 0, 0, 2, 4, 8 };
	unsigned int size = sizes[enc & 0x0f];
	int64_t sv = 0;

	if ((enc & 0x0f) == 0x01 || (enc & 0x0f) == 0x09) {
		if (!rd_leb(p, end, (enc & 0x0f) == 0x09, v))
			return false;
	} else {
		if (!size || end - *p < size)
			return false;
		*v = 0;
		memcpy(v, *p, size);
		if ((enc & 0x08) && size < 8) {
			sv = (int64_t)(*v << (64 - 8 * size)) >> (64 - 8 * size);
			*v = (uint64_t)sv;
		}
		*p += size;
	}
	if ((enc & 0x70) == 0x10)
		*v += at;
	return !(enc & 0x70 & ~0x10) && !(enc & 0x80);
}

/* The pointer encoding of the CIE at off, or -1 if it cannot be read. */
static int cie_encoding(const unsigned char *d, size_t size, size_t off, bool *z)
{
	const unsigned char *p = d + off, *end, *aug;
	uint32_t len, id;
	uint64_t v;
	int enc = 0;

	if (off + 9 > size)
		return -1;
	memcpy(&len, p, 4);
	memcpy(&id, p + 4, 4);
	if (id || len == 0xffffffff || len > size - off - 4)
		return -1;
	end = p + 4 + len;
	p += 8;
	if (*p != 1 && *p != 3)
		return -1;
	aug = ++p;
	p = memchr(p, '\0', end - p);
	if (!p++ || !rd_leb(&p, end, false, &v) || !rd_leb(&p, end, true, &v))
		return -1;
	if (!(aug[-1] == 1 ? p++ < end : rd_leb(&p, end, false, &v)))
		return -1;
	*z = aug[0] == 'z';
	if (*z && !rd_leb(&p, end, false, &v))
		return -1;
	for (aug += *z; *aug && *z; aug++) {
		if (p >= end)
			return -1;
		if (*aug == 'R')
			enc = *p++;
		else if (*aug == 'L')
			p++;
		else if (*aug == 'P' && (p++, !rd_enc(&p, end, p[-1] & 0x0f, 0, &v)))
			return -1;
		else if (*aug != 'P' && *aug != 'S' && *aug != 'B')
			return -1;
	}
	return enc;
}

/* Every FDE's code range, and whether it begins like a function or continues one. */
int loc_load_fdes(struct loc_image *img, const unsigned char *d, size_t size, uint64_t addr,
		  char *err, size_t err_len)
{
	size_t off = 0, cap = 0, last_cie = (size_t)-1;
	int enc = -1;
	bool z = false;

	while (off + 8 <= size) {
		const unsigned char *p = d + off + 8, *end;
		uint32_t len, id;
		uint64_t start, range, auglen;
		struct loc_fde *f;

		memcpy(&len, d + off, 4);
		memcpy(&id, d + off + 4, 4);
		if (!len || len == 0xffffffff || len > size - off - 4)
			break;
		end = d + off + 4 + len;
		off += 4 + (size_t)len;
		if (!id || id > off - len)
			continue;
		if (off - len - id != last_cie) {
			last_cie = off - len - id;
			enc = cie_encoding(d, size, last_cie, &z);
		}
		if (enc < 0 || !rd_enc(&p, end, enc, addr + (p - d), &start) ||
		    !rd_enc(&p, end, enc & 0x0f, 0, &range) || !range)
			continue;
		if (z && (!rd_leb(&p, end, false, &auglen) || auglen > (uint64_t)(end - p)))
			continue;
		p += z ? auglen : 0;
		if (img->nfdes == cap) {
			cap = cap ? 2 * cap : 4096;
			f = realloc(img->fdes, cap * sizeof(*f));
			if (!f) {
				snprintf(err, err_len, "out of memory");
				return -ENOMEM;
			}
			img->fdes = f;
		}
		f = &img->fdes[img->nfdes++];
		f->start = start;
		f->end = start + range;
		/* A cold part's FDE first restates the frame it was jumped to with. */
		f->entry_like = p >= end || !*p || (*p >= 0x02 && *p <= 0x04) ||
				(*p & 0xc0) == 0x40;
	}
	if (!img->nfdes) {
		snprintf(err, err_len, "no readable .eh_frame: function bounds are unknown");
		return -ENOENT;
	}
	qsort(img->fdes, img->nfdes, sizeof(*img->fdes), cmp_fde);
	return 0;
}

/*** Disassembly and data flow ***/

struct code {
	struct xi *x;
	size_t n, cap;
	const struct loc_fde *parts[MAX_PARTS];
	int nparts;
};

static const unsigned char *text_at(const struct loc_image *img, uint64_t addr, uint64_t len)
{
	int i;

	for (i = 0; i < img->ntext; i++) {
		const struct loc_text *t = &img->text[i];

		if (addr >= t->addr && addr - t->addr <= t->size &&
		    len <= t->size - (addr - t->addr))
			return t->data + (addr - t->addr);
	}
	return NULL;
}

static bool in_parts(const struct code *c, uint64_t addr)
{
	int i;

	for (i = 0; i < c->nparts; i++) {
		if (addr >= c->parts[i]->start && addr < c->parts[i]->end)
			return true;
	}
	return false;
}

static int disasm_part(csh cs, const struct loc_image *img, struct code *c,
		       const struct loc_fde *f, char *err, size_t err_len)
{
	uint64_t addr = f->start, len = f->end - f->start;
	const uint8_t *p = text_at(img, addr, len);
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
			struct xi *nx;

			if (c->cap >= MAX_INSNS) {
				snprintf(err, err_len, "function at 0x%llx is too large to analyze",
					 (unsigned long long)c->parts[0]->start);
				ret = -E2BIG;
				goto cleanup;
			}
			nx = realloc(c->x, (c->cap ? c->cap * 2 : 1024) * sizeof(*nx));
			if (!nx) {
				ret = -ENOMEM;
				goto cleanup;
			}
			c->x = nx;
			c->cap = c->cap ? c->cap * 2 : 1024;
		}
		if (!cs_disasm_iter(cs, &p, &left, &addr, in)) {
			snprintf(err, err_len, "cannot decode the instruction at 0x%llx",
				 (unsigned long long)addr);
			ret = -EINVAL;
			goto cleanup;
		}
		memset(&c->x[c->n], 0, sizeof(c->x[c->n]));
		decode(cs, in, &c->x[c->n++]);
	}
cleanup:
	cs_free(in, 1);
	return ret;
}

/* The function's FDE, then each FDE it jumps into that is not another function's start. */
static int disasm_function(csh cs, const struct loc_image *img, uint64_t entry, struct code *c,
			   char *err, size_t err_len)
{
	const struct loc_fde *f = loc_fde_find(img, entry);
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
			const struct xi *x = &c->x[i];

			if ((x->flow != F_JMP && x->flow != F_JCC) || in_parts(c, x->target))
				continue;
			f = loc_fde_find(img, x->target);
			if (f && (!f->entry_like || f->start != x->target) && c->nparts < MAX_PARTS)
				c->parts[c->nparts++] = f;
		}
	}
	return 0;
}

static int cmp_xi(const void *a, const void *b)
{
	const struct xi *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static long find_insn(const struct code *c, uint64_t addr)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->x[mid].addr == addr)
			return (long)mid;
		if (c->x[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* 1: a call, 2: a jump out of the function (a tail call), 0: neither. */
static int call_kind(const struct code *c, const struct xi *x)
{
	if (x->flow == F_CALL)
		return 1;
	if ((x->flow == F_JMP || x->flow == F_JCC) && x->target && !in_parts(c, x->target))
		return 2;
	return 0;
}

static int record_calls(const struct code *c, const struct state *st, struct loc_func *fn)
{
	size_t i, n = 0;
	int k;

	for (i = 0; i < c->n; i++)
		n += st[i].reached && call_kind(c, &c->x[i]);
	fn->calls = calloc(n ? n : 1, sizeof(*fn->calls));
	if (!fn->calls)
		return -ENOMEM;
	for (i = 0; i < c->n; i++) {
		struct loc_call *call = &fn->calls[fn->ncalls];
		int kind = call_kind(c, &c->x[i]);

		if (!st[i].reached || !kind)
			continue;
		call->site = c->x[i].addr;
		call->target = c->x[i].target;
		call->tail = kind == 2;
		for (k = 0; k < LOC_NARGS; k++)
			call->args[k] = st[i].reg[arg_reg[k]];
		fn->ncalls++;
	}
	return 0;
}

/* Successor instruction indexes of x: up to two, -1 for none, -2 for a broken jump. */
static void successors(const struct code *c, size_t i, long succ[2])
{
	const struct xi *x = &c->x[i];
	bool falls = x->flow == F_NEXT || x->flow == F_CALL || x->flow == F_JCC;

	succ[0] = succ[1] = -1;
	if (falls && i + 1 < c->n && c->x[i + 1].addr == x->addr + x->size)
		succ[0] = (long)i + 1;
	if ((x->flow == F_JMP || x->flow == F_JCC) && in_parts(c, x->target)) {
		succ[1] = find_insn(c, x->target);
		if (succ[1] < 0)
			succ[1] = -2;
	}
}

static int flow_pass(const struct code *c, uint64_t entry, struct loc_func *fn, char *err,
		     size_t err_len)
{
	struct state *st = calloc(c->n, sizeof(*st)), out;
	size_t *work = malloc(c->n * sizeof(*work)), nwork = 0, steps = 0, i;
	unsigned char *queued = calloc(c->n, 1);
	long start = find_insn(c, entry), succ[2];
	int ret = 0, k, j;

	if (!st || !work || !queued) {
		ret = -ENOMEM;
		goto cleanup;
	}
	if (start < 0) {
		snprintf(err, err_len, "no instruction at 0x%llx", (unsigned long long)entry);
		ret = -EINVAL;
		goto cleanup;
	}
	st[start].reached = st[start].rsp_ok = 1;
	for (k = 0; k < 16; k++)
		st[start].reg[k] = other;
	for (k = 0; k < LOC_NARGS; k++)
		st[start].reg[arg_reg[k]] = (struct loc_val){ 1u << k, 0 };
	work[nwork++] = start;
	queued[start] = 1;
	while (nwork) {
		i = work[--nwork];
		queued[i] = 0;
		if (++steps > 64 * c->n + 1024) {
			snprintf(err, err_len, "data flow at 0x%llx does not settle",
				 (unsigned long long)entry);
			ret = -EINVAL;
			goto cleanup;
		}
		out = st[i];
		transfer(&c->x[i], &out);
		if (c->x[i].flow == F_CALL) {
			for (k = 0; k < 16; k++) {
				if (CALLER_SAVED & (1u << k))
					out.reg[k] = other;
			}
		}
		successors(c, i, succ);
		for (j = 0; j < 2; j++) {
			if (succ[j] == -2) {
				snprintf(err, err_len, "jump at 0x%llx lands inside an instruction",
					 (unsigned long long)c->x[i].addr);
				ret = -EINVAL;
				goto cleanup;
			}
			if (succ[j] >= 0 && state_join(&st[succ[j]], &out) && !queued[succ[j]]) {
				queued[succ[j]] = 1;
				work[nwork++] = succ[j];
			}
		}
	}
	ret = record_calls(c, st, fn);
cleanup:
	free(queued);
	free(work);
	free(st);
	return ret;
}

int loc_x86_analyze(const struct loc_image *img, uint64_t entry, struct loc_func *fn, char *err,
		    size_t err_len)
{
	struct code c = { 0 };
	csh cs;
	int ret;

	memset(fn, 0, sizeof(*fn));
	fn->entry = entry;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		snprintf(err, err_len, "capstone cannot disassemble x86-64");
		return -ENOTSUP;
	}
	if (cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK) {
		snprintf(err, err_len, "capstone gives no instruction details");
		ret = -ENOTSUP;
		goto cleanup;
	}
	ret = disasm_function(cs, img, entry, &c, err, err_len);
	if (ret)
		goto cleanup;
	qsort(c.x, c.n, sizeof(*c.x), cmp_xi);
	ret = flow_pass(&c, entry, fn, err, err_len);
cleanup:
	if (ret == -ENOMEM)
		snprintf(err, err_len, "out of memory");
	free(c.x);
	cs_close(&cs);
	return ret;
}

void loc_func_free(struct loc_func *fn)
{
	free(fn->calls);
	fn->calls = NULL;
	fn->ncalls = 0;
}
