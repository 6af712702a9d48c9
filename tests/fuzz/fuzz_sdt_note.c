// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One NT_STAPSDT note descriptor, as a 64-bit and as a 32-bit file has it. The descriptor is
 * copied to a buffer of its exact size so a read past its end is caught.
 */
#include <assert.h>
#include "fuzz_util.h"
#include "probe/elf/pyelf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *desc = malloc(size ? size : 1);
	struct sdt_note n;
	int is64;

	memcpy(desc, data, size);
	for (is64 = 0; is64 <= 1; is64++) {
		if (pyelf_parse_sdt_note(desc, size, is64, &n))
			continue;
		/* Each string ends inside the descriptor. */
		assert((const unsigned char *)n.args + strlen(n.args) < desc + size);
		assert(strlen(n.provider) + strlen(n.name) < size);
	}
	free(desc);
	return 0;
}
