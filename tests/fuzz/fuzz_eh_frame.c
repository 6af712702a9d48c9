// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * .eh_frame section data: CIEs, FDEs, their pointer encodings and augmentations. The first
 * 8 bytes are the address the section is loaded at, the rest its contents (copied to a buffer
 * of that exact size, so a read past the section's end is caught).
 */
#include <assert.h>
#include "probe/x86/eh_frame.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fde_table t = { 0 };
	unsigned char *d;
	uint64_t addr;
	char err[256];
	size_t i;

	if (size < 8)
		return 0;
	memcpy(&addr, data, 8);
	size -= 8;
	d = malloc(size ? size : 1);
	memcpy(d, data + 8, size);
	if (!fde_table_read(&t, d, size, addr, err, sizeof(err))) {
		for (i = 0; i < t.n; i++) {
			assert(t.fdes[i].start < t.fdes[i].end);
			assert(!i || t.fdes[i - 1].start <= t.fdes[i].start);
			assert(fde_table_find(&t, t.fdes[i].start));
		}
	}
	fde_table_free(&t);
	free(d);
	return 0;
}
