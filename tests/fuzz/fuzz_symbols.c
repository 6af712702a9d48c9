// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A whole file read for its symbols: .symtab, .dynsym, MiniDebugInfo (.gnu_debugdata, xz),
 * .gnu_debuglink, the build-id note, PT_LOAD headers. Separate debug files are looked for under
 * an empty directory, and debuginfod is never asked.
 */
#include <assert.h>
#include "fuzz_util.h"
#include "probe/elf/elfutil.h"
#include "probe/elf/symbols.h"

static char root[] = "/tmp/gcpause-fuzz-root-XXXXXX";

static int count_symbol(const struct symbol *sym, void *arg)
{
	assert(sym->name);
	(*(size_t *)arg) += strlen(sym->name) > 0;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[1024], hex[128];
	struct symtab *st;
	uint64_t offset;
	size_t named = 0;

	if (root[sizeof(root) - 2] == 'X') {
		unsetenv("DEBUGINFOD_URLS");
		if (!mkdtemp(root))
			abort();
	}
	fuzz_file(data, size, path, sizeof(path));
	if (!symtab_load(path, root, &st, err, sizeof(err))) {
		symtab_foreach(st, count_symbol, &named);
		(void)symtab_find(st, "PyGC_Collect");
		(void)symtab_dwarf_file(st);
		assert(strlen(symtab_build_id(st)) < 2 * 64 + 1);
		symtab_free(st);
	} else {
		assert(memchr(err, 0, sizeof(err)));
	}
	(void)elf_vaddr_to_offset(path, 0x1000, &offset);
	(void)elf_read_build_id(path, hex, sizeof(hex));
	return 0;
}
