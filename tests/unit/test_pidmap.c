// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/pidmap.h"

#define MODEL_PIDS	4096

/* Random inserts, updates and deletes against a plain array: every lookup must agree. */
static void test_against_model(void **state)
{
	static uint64_t model[MODEL_PIDS];
	static bool present[MODEL_PIDS];
	struct pidmap m = { 0 };
	unsigned int seed = 12345, n = 0;
	uint64_t v;
	int step, pid;

	for (step = 0; step < 200000; step++) {
		pid = 1 + rand_r(&seed) % (MODEL_PIDS - 1);
		switch (rand_r(&seed) % 3) {
		case 0:
		case 1:
			assert_int_equal(pidmap_set(&m, pid, step), 0);
			n += !present[pid];
			present[pid] = true;
			model[pid] = step;
			break;
		case 2:
			assert_int_equal(pidmap_del(&m, pid), present[pid]);
			n -= present[pid];
			present[pid] = false;
			break;
		}
		if (step % 1000 == 0) {
			for (pid = 1; pid < MODEL_PIDS; pid++) {
				assert_int_equal(pidmap_get(&m, pid, &v), present[pid]);
				if (present[pid])
					assert_true(v == model[pid]);
			}
			assert_int_equal(m.n, n);
			assert_true(m.n * 2 <= m.cap);
		}
	}
	pidmap_free(&m);
}

/* PIDs that share a home slot: deleting the first must not hide the others. */
static void test_collisions_survive_deletes(void **state)
{
	struct pidmap m = { 0 };
	uint64_t v;
	int pid;

	for (pid = 1; pid <= 32; pid++)
		assert_int_equal(pidmap_set(&m, pid * 64, pid), 0);
	for (pid = 1; pid <= 32; pid += 2)
		assert_true(pidmap_del(&m, pid * 64));
	for (pid = 1; pid <= 32; pid++) {
		assert_int_equal(pidmap_get(&m, pid * 64, &v), pid % 2 == 0);
		if (pid % 2 == 0)
			assert_true(v == (uint64_t)pid);
	}
	assert_false(pidmap_del(&m, 64));
	assert_false(pidmap_get(&m, 7, NULL));
	pidmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_model),
		cmocka_unit_test(test_collisions_survive_deletes),
	};

	return cmocka_run_group_tests_name("pidmap", tests, NULL, NULL);
}
