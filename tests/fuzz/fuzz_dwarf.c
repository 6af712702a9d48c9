// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A whole file read for its DWARF: the struct and member look-ups gcpause makes in a Python
 * debug file (unit headers, DIE trees, typedef chains, member location expressions).
 */
#include "probe/elf/dwarf_types.h"
#include "fuzz_util.h"

static const char *const lookups[][2] = {
	{ "struct _is", "gc.generation_stats" },
	{ "PyInterpreterState", "gc" },
	{ "struct _gc_runtime_state", "generations" },
	{ "struct s", "a.b.c" },
	{ "union u", "x" },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	long v;
	size_t i;
	int ret;

	fuzz_file(data, size, path, sizeof(path));
	for (i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
		ret = dwarf_offsetof(path, lookups[i][0], lookups[i][1], &v);
		if (ret == -ENOEXEC || ret == -ENODATA)
			return 0;	/* not ELF, or no DWARF: the other look-ups say the same */
		(void)dwarf_sizeof(path, lookups[i][0], &v);
	}
	return 0;
}
