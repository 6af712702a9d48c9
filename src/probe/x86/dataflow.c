// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What one x86-64 function passes to the functions it calls. Over its disassembly, a forward
 * data-flow pass tracks, for each register and stack slot, the set of sources its value may
 * have: the incoming argument registers, one constant (a string's address or a number), or
 * anything else. Paths join by union, so "the generation printed is the second argument" holds
 * on some path, and "exactly the constant 2" on all of them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "probe/x86/dataflow.h"
#include "probe/x86/disasm.h"

#define NSLOTS		24
#define CALLER_SAVED	0x0fc7	/* rax rcx rdx rsi rdi r8-r11 */

static const int arg_reg[X86_NARGS] = { 7, 6, 2, 1, 8, 9 };	/* rdi rsi rdx rcx r8 r9 */

struct slot {
	int32_t off;
	uint8_t width;
	struct x86_val v;
};

struct state {
	uint8_t reached, rsp_ok, fp_ok, nslots;
	int32_t rsp, fp;	/* offsets from the stack pointer at entry */
	struct x86_val reg[16];
	struct slot slot[NSLOTS];
};

static const struct x86_val other = { X86_V_OTHER, 0 };

static bool slot_off(const struct state *s, const struct flow_insn *x, int32_t *off)
{
	if (x->mbase == MB_RSP && s->rsp_ok)
		*off = s->rsp + x->disp;
	else if (x->mbase == MB_RBP && s->fp_ok)
		*off = s->fp + x->disp;
	else
		return false;
	return true;
}

static struct x86_val load(const struct state *s, int32_t off)
{
	int i;

	for (i = 0; i < s->nslots; i++) {
		if (s->slot[i].off == off && s->slot[i].width >= 4)
			return s->slot[i].v;
	}
	return other;
}

/* A slot that is not tracked holds "anything": dropping one never claims too much. */
static void store(struct state *s, int32_t off, int width, struct x86_val v)
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

static void store_op(struct state *s, const struct flow_insn *x, struct x86_val v)
{
	int32_t off;
	int i;

	if (slot_off(s, x, &off)) {
		store(s, off, x->mwidth, v);
		return;
	}
	/* Somewhere in the frame: any slot may now hold anything. */
	for (i = 0; i < s->nslots; i++)
		s->slot[i].v.mask |= X86_V_OTHER;
}

static struct x86_val constant(int64_t c)
{
	return (struct x86_val){ X86_V_CONST, c };
}

static void push(struct state *s, struct x86_val v)
{
	if (!s->rsp_ok)
		return;
	s->rsp -= 8;
	store(s, s->rsp, 8, v);
}

static struct x86_val pop(struct state *s)
{
	struct x86_val v = other;

	if (s->rsp_ok) {
		v = load(s, s->rsp);
		s->rsp += 8;
	}
	return v;
}

static void transfer(const struct flow_insn *x, struct state *s)
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
		if (x->clobber & (1u << GPR_RSP))
			s->rsp_ok = 0;
		if (x->clobber & (1u << GPR_RBP))
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
		s->reg[GPR_RBP] = other;
		return;
	case O_LEAVE:
		s->rsp = s->fp;
		s->rsp_ok = s->fp_ok;
		s->reg[GPR_RBP] = pop(s);
		s->fp_ok = 0;
		return;
	case O_RSP_FROM_FP:
		s->rsp = s->fp + x->disp;
		s->rsp_ok = s->fp_ok;
		return;
	}
	if (x->dst == GPR_RBP)
		s->fp_ok = 0;
}

bool x86_val_join(struct x86_val *d, const struct x86_val *s)
{
	struct x86_val old = *d;

	d->mask |= s->mask & ~X86_V_CONST;
	if ((s->mask & X86_V_CONST) && !(d->mask & X86_V_MULTI)) {
		if (!(d->mask & X86_V_CONST)) {
			d->mask |= X86_V_CONST;
			d->c = s->c;
		} else if (d->c != s->c) {
			/* Sticky, so that the pass ends. */
			d->mask = (d->mask & ~X86_V_CONST) | X86_V_MULTI | X86_V_OTHER;
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
		changed |= x86_val_join(&d->reg[i], &s->reg[i]);
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
		const struct x86_val *v = &other;

		for (j = 0; j < s->nslots; j++) {
			if (same_slot(&s->slot[j], &d->slot[i]))
				v = &s->slot[j].v;
		}
		changed |= x86_val_join(&d->slot[i].v, v);
	}
	for (j = 0; j < s->nslots && d->nslots < NSLOTS; j++) {
		for (i = 0; i < d->nslots; i++) {
			if (same_slot(&s->slot[j], &d->slot[i]))
				break;
		}
		if (i == d->nslots) {
			d->slot[d->nslots] = s->slot[j];
			d->slot[d->nslots++].v.mask |= X86_V_OTHER;
			changed = true;
		}
	}
	return changed;
}

static long find_insn(const struct x86_code *c, uint64_t addr)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->insns[mid].addr == addr)
			return (long)mid;
		if (c->insns[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* 1: a call, 2: a jump out of the function (a tail call), 0: neither. */
static int call_kind(const struct x86_code *c, const struct flow_insn *x)
{
	if (x->flow == F_CALL)
		return 1;
	if ((x->flow == F_JMP || x->flow == F_JCC) && x->target && !x86_code_contains(c, x->target))
		return 2;
	return 0;
}

static int record_calls(const struct x86_code *c, const struct state *st, struct x86_func *fn)
{
	size_t i, n = 0;
	int k;

	for (i = 0; i < c->n; i++)
		n += st[i].reached && call_kind(c, &c->insns[i]);
	fn->calls = calloc(n ? n : 1, sizeof(*fn->calls));
	if (!fn->calls)
		return -ENOMEM;
	for (i = 0; i < c->n; i++) {
		struct x86_call *call = &fn->calls[fn->ncalls];
		int kind = call_kind(c, &c->insns[i]);

		if (!st[i].reached || !kind)
			continue;
		call->site = c->insns[i].addr;
		call->len = c->insns[i].size;
		call->target = c->insns[i].target;
		call->tail = kind == 2;
		for (k = 0; k < X86_NARGS; k++)
			call->args[k] = st[i].reg[arg_reg[k]];
		fn->ncalls++;
	}
	return 0;
}

/* Successor instruction indexes of x: up to two, -1 for none, -2 for a broken jump. */
static void successors(const struct x86_code *c, size_t i, long succ[2])
{
	const struct flow_insn *x = &c->insns[i];
	bool falls = x->flow == F_NEXT || x->flow == F_CALL || x->flow == F_JCC;

	succ[0] = succ[1] = -1;
	if (falls && i + 1 < c->n && c->insns[i + 1].addr == x->addr + x->size)
		succ[0] = (long)i + 1;
	if ((x->flow == F_JMP || x->flow == F_JCC) && x86_code_contains(c, x->target)) {
		succ[1] = find_insn(c, x->target);
		if (succ[1] < 0)
			succ[1] = -2;
	}
}

static int flow_pass(const struct x86_code *c, uint64_t entry, struct x86_func *fn, char *err,
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
	for (k = 0; k < X86_NARGS; k++)
		st[start].reg[arg_reg[k]] = (struct x86_val){ 1u << k, 0 };
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
		transfer(&c->insns[i], &out);
		if (c->insns[i].flow == F_CALL) {
			for (k = 0; k < 16; k++) {
				if (CALLER_SAVED & (1u << k))
					out.reg[k] = other;
			}
		}
		successors(c, i, succ);
		for (j = 0; j < 2; j++) {
			if (succ[j] == -2) {
				snprintf(err, err_len, "jump at 0x%llx lands inside an instruction",
					 (unsigned long long)c->insns[i].addr);
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

int x86_analyze(const struct x86_image *img, uint64_t entry, struct x86_func *fn, char *err,
		size_t err_len)
{
	struct x86_code c;
	int ret;

	memset(fn, 0, sizeof(*fn));
	fn->entry = entry;
	ret = x86_disasm_function(img, entry, &c, err, err_len);
	if (!ret)
		ret = flow_pass(&c, entry, fn, err, err_len);
	if (ret == -ENOMEM)
		snprintf(err, err_len, "out of memory");
	x86_code_free(&c);
	return ret;
}

void x86_func_free(struct x86_func *fn)
{
	free(fn->calls);
	fn->calls = NULL;
	fn->ncalls = 0;
}
