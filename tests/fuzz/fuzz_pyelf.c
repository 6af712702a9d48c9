// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A whole file read as a possible Python binary: ELF headers, notes (stapsdt markers, build-id),
 * .symtab/.dynsym, Py_Version and _PyRuntime's first bytes, DT_NEEDED and DT_RUNPATH.
 */
#include <assert.h>
#include "fuzz_util.h"
#include "probe/elf/pyelf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], soname[256], runpath[1024];
	struct pyelf_info info;

	fuzz_file(data, size, path, sizeof(path));
	if (!pyelf_inspect(path, &info))
		assert(memchr(info.version, 0, sizeof(info.version)));
	if (!pyelf_find_needed(path, "libpython", soname, sizeof(soname), runpath,
			       sizeof(runpath)))
		assert(strlen(soname) < sizeof(soname) && strlen(runpath) < sizeof(runpath));
	return 0;
}
