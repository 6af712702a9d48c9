// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A whole file read as a stripped libpython: .dynsym, .eh_frame, code and .rodata, for the
 * collection function of each version, and the call sites of the function at the first FDE.
 */
#include <assert.h>
#include "fuzz_util.h"
#include "probe/x86/locate.h"
#include "probe/x86/call_sites.h"

static const char *const versions[] = { "3.8", "3.11", "3.13" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gc_func_site sites[4];
	struct x86_call_site calls[8];
	char path[64], err[512];
	size_t i;
	int n;

	fuzz_file(data, size, path, sizeof(path));
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		n = locate_gc_functions(path, versions[i], sites, 4, err, sizeof(err));
		if (n == -ENOTSUP || n == -EINVAL)
			break;	/* not x86-64 ELF: every version says so */
		assert(n <= 4);
	}
	if (size >= 8) {
		uint64_t func;

		memcpy(&func, data + size - 8, 8);
		n = x86_call_sites(path, func, calls, 8, err, sizeof(err));
		assert(n < 0 || memchr(calls[0].arg_string[0], 0, X86_CALL_STRING_LEN) || n == 0);
	}
	return 0;
}
