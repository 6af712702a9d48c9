// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "probe/target.h"
#include "stats/stats.h"

static struct proc_stats *new_proc(uint64_t start)
{
	struct target t = { .pid = 42, .probe = "usdt" };
	struct proc_stats *p = stats_new(&t, start);

	assert_non_null(p);
	return p;
}

static struct gc_event event(int gen, uint64_t duration, int64_t collected)
{
	struct gc_event e = { .start_ns = 1, .duration_ns = duration, .collected = collected,
			      .pid = 42, .tid = 42, .gen = gen };

	return e;
}

static void test_standard_generations_exist(void **state)
{
	struct proc_stats *p = new_proc(1000);
	int i;

	assert_int_equal(p->ngens, STATS_STANDARD_GENS);
	for (i = 0; i < STATS_STANDARD_GENS; i++) {
		assert_int_equal(p->gens[i]->gen, i);
		assert_true(p->gens[i]->total.pauses.count == 0);
	}
	stats_free(p);
}

static void test_add_and_merge(void **state)
{
	struct proc_stats *p = new_proc(1000);
	struct gc_event e;
	struct pause_stats all;

	e = event(0, 100, 5);
	assert_int_equal(stats_add(p, &e), 0);
	e = event(2, 30000000, 1000);
	assert_int_equal(stats_add(p, &e), 0);
	e = event(0, 300, -1);	/* an unreadable count stays visible as -1 */
	assert_int_equal(stats_add(p, &e), 0);

	assert_true(p->gens[0]->total.pauses.count == 2);
	assert_true(p->gens[0]->total.pauses.sum == 400);
	assert_true(p->gens[0]->total.collected == 4);
	assert_true(p->gens[1]->total.pauses.count == 0);
	assert_true(p->gens[2]->total.pauses.max == 30000000);
	stats_merge_all(p, STATS_TOTAL, &all);
	assert_true(all.pauses.count == 3);
	assert_true(all.pauses.sum == 30000400);
	assert_true(all.collected == 1004);
	assert_true(all.pauses.min == 100);
	stats_free(p);
}

static void test_unusual_generations_sorted(void **state)
{
	struct proc_stats *p = new_proc(0);
	struct gc_event e;
	int i;

	e = event(-1, 10, 0);
	assert_int_equal(stats_add(p, &e), 0);
	e = event(7, 10, 0);
	assert_int_equal(stats_add(p, &e), 0);
	assert_int_equal(p->ngens, 5);
	assert_int_equal(p->gens[0]->gen, -1);
	assert_int_equal(p->gens[4]->gen, 7);
	for (i = 1; i < p->ngens; i++)
		assert_true(p->gens[i - 1]->gen < p->gens[i]->gen);
	/* Past STATS_MAX_GENS distinct values, the extra ones share the last slot, none is lost. */
	for (i = 100; i < 110; i++) {
		e = event(i, 10, 0);
		assert_int_equal(stats_add(p, &e), 0);
	}
	assert_int_equal(p->ngens, STATS_MAX_GENS);
	{
		struct pause_stats all;

		stats_merge_all(p, STATS_TOTAL, &all);
		assert_true(all.pauses.count == 12);
	}
	stats_free(p);
}

static void test_intervals_and_wall(void **state)
{
	struct proc_stats *p = new_proc(1000);
	struct gc_event e = event(1, 50, 1);

	assert_int_equal(stats_add(p, &e), 0);
	assert_true(stats_wall_ns(p, STATS_TOTAL, 5000) == 4000);
	assert_true(stats_wall_ns(p, STATS_INTERVAL, 5000) == 4000);
	stats_reset_interval(p, 5000);
	assert_true(p->gens[1]->interval.pauses.count == 0);
	assert_true(p->gens[1]->total.pauses.count == 1);
	assert_int_equal(stats_add(p, &e), 0);
	assert_true(p->gens[1]->interval.pauses.count == 1);
	assert_true(p->gens[1]->total.pauses.count == 2);
	assert_true(stats_wall_ns(p, STATS_INTERVAL, 7000) == 2000);
	/* After the exit, wall time stops at the exit. */
	p->exited = true;
	p->end_ns = 6000;
	assert_true(stats_wall_ns(p, STATS_TOTAL, 9000) == 5000);
	assert_true(stats_wall_ns(p, STATS_INTERVAL, 9000) == 1000);
	stats_reset_interval(p, 8000);
	assert_true(stats_wall_ns(p, STATS_INTERVAL, 9000) == 0);
	stats_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_standard_generations_exist),
		cmocka_unit_test(test_add_and_merge),
		cmocka_unit_test(test_unusual_generations_sorted),
		cmocka_unit_test(test_intervals_and_wall),
	};

	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
