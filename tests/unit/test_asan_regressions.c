// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What `make e2e-asan` found the sanitizers reporting in the agent, reduced to the function at
 * fault. These fail under `make asan-unit-test` (UBSan) without their fixes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "stats/http_stats.h"

/*
 * The all-process HTTP summary merged a process that served no request: memcpy() from its NULL
 * pool of 0 bytes ("null pointer passed as argument 2", every --http report without requests).
 */
static void test_http_stats_merge_empty(void **state)
{
	struct http_stats all, none;
	struct http_sample one = { 0 };

	assert_int_equal(http_stats_init(&all), 0);
	assert_int_equal(http_stats_init(&none), 0);
	assert_int_equal(http_stats_merge(&all, &none), 0);
	assert_int_equal(http_stats_add(&all, &one), 0);
	assert_int_equal(http_stats_merge(&all, &none), 0);
	assert_int_equal(all.latency.count, 1);
	http_stats_free(&none);
	http_stats_free(&all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_stats_merge_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
