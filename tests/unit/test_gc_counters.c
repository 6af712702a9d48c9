// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where the collection counters are, from _Py_DebugOffsets as Debian's 3.14.8 and 3.15.0 carry
 * it (the values below were read off those files), and the refusals when a layout does not
 * cross-check: a point release that moves the statistics must be refused, never misread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "probe/gc_counters.h"

static void put(struct pyelf_info *info, size_t off, uint64_t v)
{
	memcpy(info->runtime_head + off, &v, sizeof(v));
}

static void head(struct pyelf_info *info, int minor)
{
	memset(info, 0, sizeof(*info));
	info->has_runtime_head = true;
	memcpy(info->runtime_head, "xdebugpy", 8);
	put(info, 8, 0x030000f0ULL | (uint64_t)minor << 16);
	if (minor == 13) {
		put(info, 176, 16);	/* thread_state.interp */
		put(info, 80, 7400);	/* interpreter_state.gc */
	} else if (minor == 14) {
		put(info, 200, 16);
		put(info, 88, 7408);
		put(info, 656, 192);	/* gc.collecting */
	} else {
		put(info, 200, 16);
		put(info, 88, 7400);
		put(info, 760, 112);	/* gc.collecting */
		put(info, 776, 1112);	/* gc.generation_stats_size */
		put(info, 784, 104);	/* gc.generation_stats */
	}
}

static int find(const struct pyelf_info *info, int minor, struct gc_func_config *cfg,
		char *why)
{
	struct py_version v = { 3, minor, 0 };
	char how[32];

	memset(cfg, 0, sizeof(*cfg));
	return gc_counters_find(NULL, info, &v, cfg, how, sizeof(how), why, 160);
}

static void test_313_and_314_flat(void **state)
{
	struct pyelf_info info;
	struct gc_func_config cfg;
	char why[160];

	head(&info, 13);
	assert_int_equal(find(&info, 13, &cfg, why), 0);
	assert_int_equal(cfg.interp_offset, 16);
	assert_int_equal(cfg.stats_offset, 7400 + 0x80);
	assert_int_equal(cfg.gen_offset[2], 48);
	assert_false(cfg.stats_indirect);
	assert_true(cfg.recover_gen);

	head(&info, 14);
	assert_int_equal(find(&info, 14, &cfg, why), 0);
	/* Both land on interp + 0x1d68: the value read off running 3.13.5 and 3.14.8. */
	assert_int_equal(cfg.stats_offset, 0x1d68);
	assert_int_equal(cfg.ring_len[0], 0);
}

static void test_315_rings(void **state)
{
	struct pyelf_info info;
	struct gc_func_config cfg;
	char why[160];

	head(&info, 15);
	assert_int_equal(find(&info, 15, &cfg, why), 0);
	assert_int_equal(cfg.stats_offset, 7400 + 104);
	assert_true(cfg.stats_indirect);
	assert_int_equal(cfg.entry_size, 64);
	assert_int_equal(cfg.collections_offset, 16);
	assert_int_equal(cfg.ring_len[0], 11);
	assert_int_equal(cfg.ring_index_offset[0], 0x2c0);
	assert_int_equal(cfg.gen_offset[1], 0x2c8);
	assert_int_equal(cfg.gen_offset[2], 0x390);
	assert_int_equal(cfg.ring_len[2], 3);
	assert_int_equal(cfg.ring_index_offset[2], 0xc0);
}

static void test_layouts_that_do_not_check_out(void **state)
{
	struct pyelf_info info;
	struct gc_func_config cfg;
	char why[160];

	/* 3.14: the collecting flag no longer right after the statistics. */
	head(&info, 14);
	put(&info, 656, 200);
	assert_int_equal(find(&info, 14, &cfg, why), -ENOENT);
	assert_non_null(strstr(why, "collecting"));
	assert_false(cfg.recover_gen);

	/* 3.15: rings of another size. */
	head(&info, 15);
	put(&info, 776, 1176);
	assert_int_equal(find(&info, 15, &cfg, why), -ENOENT);
	assert_non_null(strstr(why, "1112"));

	/* The table is for another version than the file says. */
	head(&info, 14);
	assert_int_equal(find(&info, 15, &cfg, why), -ENOENT);
	assert_non_null(strstr(why, "0x30e"));

	/* Garbage where the offsets should be. */
	head(&info, 14);
	put(&info, 200, 1UL << 40);
	assert_int_equal(find(&info, 14, &cfg, why), -ENOENT);
	assert_non_null(strstr(why, "implausible"));

	/* No cookie, and a version without a known layout. */
	head(&info, 15);
	memcpy(info.runtime_head, "nodebug!", 8);
	assert_int_equal(find(&info, 15, &cfg, why), -ENOENT);
	head(&info, 15);
	assert_int_equal(find(&info, 16, &cfg, why), -ENOENT);
	assert_non_null(strstr(why, "3.16"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_313_and_314_flat),
		cmocka_unit_test(test_315_rings),
		cmocka_unit_test(test_layouts_that_do_not_check_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
