/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Internal to the stripped-binary code analysis: where functions begin and end, from the FDEs of
 * .eh_frame, which the x86-64 ABI requires and strip keeps because unwinding needs it at run time.
 */
#ifndef GCPAUSE_PROBE_X86_EH_FRAME_H
#define GCPAUSE_PROBE_X86_EH_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A code range [start, end) that one FDE describes. */
struct fde {
	uint64_t start, end;
	/* The FDE starts with the CIE's frame, as at a call: not the cold part of another one. */
	bool entry_like;
};

struct fde_table {
	struct fde *fdes;	/* sorted by start */
	size_t n;
};

/*
 * Reads every FDE of the .eh_frame data d (size bytes, loaded at addr) into t, which it empties
 * first; fde_table_free() releases t whether or not this succeeds. Returns 0, or -ENOENT when no
 * FDE can be read, or -ENOMEM, with one line in err.
 */
int fde_table_read(struct fde_table *t, const unsigned char *d, size_t size, uint64_t addr,
		   char *err, size_t err_len);

/* The FDE whose range holds addr, or NULL. */
const struct fde *fde_table_find(const struct fde_table *t, uint64_t addr);

void fde_table_free(struct fde_table *t);

#endif /* GCPAUSE_PROBE_X86_EH_FRAME_H */
