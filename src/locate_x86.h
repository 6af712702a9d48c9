/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Internal to locate.c: where x86-64 functions begin and end (.eh_frame, which the x86-64 ABI
 * requires and strip keeps), and what the code of one function passes to the functions it
 * calls, found by a data-flow pass over its disassembly.
 */
#ifndef GCPAUSE_LOCATE_X86_H
#define GCPAUSE_LOCATE_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOC_NARGS	6	/* rdi, rsi, rdx, rcx, r8, r9 */

/* Where a value may come from: bit k is the function's k-th incoming integer argument. */
#define LOC_V_ARGS	0x3f
#define LOC_V_CONST	0x40	/* the constant c */
#define LOC_V_OTHER	0x80	/* anything else */
#define LOC_V_MULTI	0x100	/* several different constants */

struct loc_val {
	uint16_t mask;
	int64_t c;
};

struct loc_call {
	uint64_t site;		/* the call or jump instruction */
	uint64_t target;	/* 0: indirect */
	bool tail;		/* a jump out of the function */
	struct loc_val args[LOC_NARGS];
};

/* A function's code range, from an FDE in .eh_frame. */
struct loc_fde {
	uint64_t start, end;
	/* The FDE starts with the CIE's frame, as at a call: not the cold part of another one. */
	bool entry_like;
};

struct loc_text {
	uint64_t addr, size;
	const unsigned char *data;
};

#define LOC_MAX_TEXT	8

struct loc_image {
	struct loc_fde *fdes;	/* sorted by start */
	size_t nfdes;
	struct loc_text text[LOC_MAX_TEXT];	/* executable sections */
	int ntext;
};

struct loc_func {
	uint64_t entry;
	struct loc_call *calls;	/* every call and tail call the code reaches */
	size_t ncalls;
};

/* d becomes what d or s may hold. Returns whether d changed. */
bool loc_val_join(struct loc_val *d, const struct loc_val *s);

/*
 * Reads every FDE of the .eh_frame data d (size bytes, at addr) into img->fdes, which the
 * caller frees. Returns 0, or a negative errno with one line in err.
 */
int loc_load_fdes(struct loc_image *img, const unsigned char *d, size_t size, uint64_t addr,
		  char *err, size_t err_len);

/* The FDE whose range holds addr, or NULL. */
const struct loc_fde *loc_fde_find(const struct loc_image *img, uint64_t addr);

/*
 * Disassembles the function at entry (an FDE start) and the cold parts it jumps into, and
 * records, for each call it can reach, where each argument register's value may come from.
 * Returns 0, or a negative errno with one line in err; loc_func_free() frees fn either way.
 */
int loc_x86_analyze(const struct loc_image *img, uint64_t entry, struct loc_func *fn, char *err,
		    size_t err_len);
void loc_func_free(struct loc_func *fn);

#endif /* GCPAUSE_LOCATE_X86_H */
