// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "probe/elf/loader.h"

/* Debian 12's glibc: PT_INTERP of every dynamic program, the loader that has the hook. */
#define DEBIAN_LOADER	"/lib64/ld-linux-x86-64.so.2"

static void test_interp_of_dynamic_program(void **state)
{
	char interp[256];

	assert_int_equal(loader_interp_of("/bin/true", interp, sizeof(interp)), 0);
	assert_string_equal(interp, DEBIAN_LOADER);
	/* Too small a buffer is an error, never a truncated path. */
	assert_int_equal(loader_interp_of("/bin/true", interp, 8), -EINVAL);
}

static void test_interp_of_loader_and_non_elf(void **state)
{
	char interp[256];

	/* The loader itself has no interpreter; a script is not ELF. */
	assert_int_equal(loader_interp_of(DEBIAN_LOADER, interp, sizeof(interp)), -ENOENT);
	assert_int_equal(loader_interp_of("/usr/bin/ldd", interp, sizeof(interp)), -ENOEXEC);
	assert_int_equal(loader_interp_of("/nonexistent", interp, sizeof(interp)), -ENOENT);
}

static void test_hook_of_glibc_loader(void **state)
{
	struct loader_hook hook;

	assert_int_equal(loader_find_hook(DEBIAN_LOADER, &hook), 0);
	assert_true(hook.debug_state != 0);
	/* _r_debug is data, _dl_debug_state code: they are apart, in either order. */
	assert_true(hook.r_debug_delta != 0);
}

static void test_no_hook_elsewhere(void **state)
{
	struct loader_hook hook;

	assert_int_equal(loader_find_hook("/bin/true", &hook), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interp_of_dynamic_program),
		cmocka_unit_test(test_interp_of_loader_and_non_elf),
		cmocka_unit_test(test_hook_of_glibc_loader),
		cmocka_unit_test(test_no_hook_elsewhere),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
