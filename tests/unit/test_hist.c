// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stats/hist.h"

#define NSEC_PER_USEC	1000ULL
#define NSEC_PER_MSEC	1000000ULL

/* splitmix64: deterministic, so a failure reproduces, and good enough to spread bits. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t bound)
{
	return rng_next() % bound;
}

static struct hist *hist_new(void)
{
	struct hist *h = malloc(sizeof(*h));

	assert_non_null(h);
	hist_init(h);
	return h;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void test_bucket_bounds_are_contiguous(void **state)
{
	unsigned int i;

	assert_int_equal(HIST_BUCKETS, 1920);
	assert_int_equal(HIST_SUB_COUNT, 1 << HIST_SUB_BITS);
	assert_int_equal(hist_bucket_low(0), 0);
	assert_true(hist_bucket_high(HIST_BUCKETS - 1) == UINT64_MAX);

	for (i = 0; i < HIST_BUCKETS; i++) {
		uint64_t low = hist_bucket_low(i), high = hist_bucket_high(i);

		assert_true(low <= high);
		assert_int_equal(hist_bucket_index(low), i);
		assert_int_equal(hist_bucket_index(high), i);
		if (i + 1 < HIST_BUCKETS)
			assert_true(hist_bucket_low(i + 1) == high + 1);
		if (low < HIST_SUB_COUNT)
			assert_true(low == high);
		else
			/* (high - low) / low <= 1/32, kept in integers */
			assert_true((high - low) * HIST_SUB_COUNT <= low);
	}
}

static void assert_value_in_its_bucket(uint64_t v)
{
	unsigned int idx = hist_bucket_index(v);

	assert_true(idx < HIST_BUCKETS);
	assert_true(hist_bucket_low(idx) <= v);
	assert_true(v <= hist_bucket_high(idx));
}

static void test_values_land_in_their_bucket(void **state)
{
	uint64_t v;
	unsigned int i, shift;

	for (v = 0; v <= 10000; v++) {
		assert_value_in_its_bucket(v);
		if (v < HIST_SUB_COUNT)
			assert_int_equal(hist_bucket_index(v), v);
	}
	/* Every power of two and its neighbours, where off-by-one errors live. */
	for (shift = 0; shift < 64; shift++) {
		v = 1ULL << shift;
		assert_value_in_its_bucket(v - 1);
		assert_value_in_its_bucket(v);
		assert_value_in_its_bucket(v + 1);
	}
	assert_value_in_its_bucket(UINT64_MAX);
	assert_int_equal(hist_bucket_index(UINT64_MAX), HIST_BUCKETS - 1);

	rng_state = 1;
	for (i = 0; i < 100000; i++) {
		/* Shift so every magnitude is covered, not just values near 2^64. */
		v = rng_next() >> rng_below(64);
		assert_value_in_its_bucket(v);
	}
}

static void test_empty(void **state)
{
	struct hist *h = hist_new();
	struct hist_row rows[HIST_OCTAVES];

	assert_int_equal(h->count, 0);
	assert_int_equal(h->sum, 0);
	assert_true(h->min == UINT64_MAX);
	assert_int_equal(h->max, 0);
	assert_int_equal(hist_percentile(h, 0), 0);
	assert_int_equal(hist_percentile(h, 50), 0);
	assert_int_equal(hist_percentile(h, 100), 0);
	assert_int_equal(hist_mean(h), 0);
	assert_int_equal(hist_octaves(h, rows, HIST_OCTAVES), 0);
	free(h);
}

enum distribution { UNIFORM, EXPONENTIAL, CONSTANT, TWO_CLUSTERS, LOG_UNIFORM };

static uint64_t draw(enum distribution d)
{
	switch (d) {
	case UNIFORM:
		return rng_below(10 * NSEC_PER_MSEC);
	case EXPONENTIAL:
		/* Trailing zeros of a random word are geometric: P(k) = 2^-(k+1). */
		return (uint64_t)__builtin_ctzll(rng_next() | 1ULL << 40) * 200 * NSEC_PER_USEC +
		       rng_below(200 * NSEC_PER_USEC);
	case CONSTANT:
		return 123456;
	case TWO_CLUSTERS:
		/* Many young-generation pauses near 10 µs, a few full collections near 50 ms. */
		if (rng_below(100) < 97)
			return 10 * NSEC_PER_USEC + rng_below(500);
		return 50 * NSEC_PER_MSEC + rng_below(NSEC_PER_MSEC);
	case LOG_UNIFORM:
		break;
	}
	/* Spread evenly over magnitudes from 1 ns to 18 minutes. */
	return rng_next() >> (24 + rng_below(40));
}

/* pct in thousandths of a percent so the reference rank is computed without floating point. */
static const uint64_t checked_pct_milli[] = { 1000, 50000, 90000, 99000, 99900 };

static void check_distribution(enum distribution d, size_t n)
{
	struct hist *h = hist_new();
	uint64_t *values = malloc(n * sizeof(*values));
	uint64_t sum = 0;
	size_t i;

	assert_non_null(values);
	rng_state = 42 + d;
	for (i = 0; i < n; i++) {
		values[i] = draw(d);
		sum += values[i];
		hist_add(h, values[i]);
	}
	qsort(values, n, sizeof(*values), compare_u64);

	assert_int_equal(h->count, n);
	assert_int_equal(h->sum, sum);
	assert_int_equal(h->min, values[0]);
	assert_int_equal(h->max, values[n - 1]);
	assert_int_equal(hist_mean(h), sum / n);
	assert_int_equal(hist_percentile(h, 0), values[0]);
	assert_int_equal(hist_percentile(h, -5), values[0]);
	assert_int_equal(hist_percentile(h, 100), values[n - 1]);
	assert_int_equal(hist_percentile(h, 250), values[n - 1]);

	for (i = 0; i < sizeof(checked_pct_milli) / sizeof(checked_pct_milli[0]); i++) {
		uint64_t pm = checked_pct_milli[i];
		uint64_t rank = (pm * n + 100000 - 1) / 100000;
		uint64_t exact, got, diff;

		if (rank < 1)
			rank = 1;
		exact = values[rank - 1];
		got = hist_percentile(h, pm / 1000.0);
		diff = got > exact ? got - exact : exact - got;
		if (diff > exact / 32 + 1)
			fail_msg("distribution %d n %zu p%.1f: got %" PRIu64 " exact %" PRIu64,
				 d, n, pm / 1000.0, got, exact);
	}
	free(values);
	free(h);
}

static void test_percentiles(void **state)
{
	static const size_t sizes[] = { 1, 2, 7, 100, 1000, 12345, 200000 };
	enum distribution d;
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (d = UNIFORM; d <= LOG_UNIFORM; d++)
			check_distribution(d, sizes[i]);
	}
}

static void test_single_value(void **state)
{
	struct hist *h = hist_new();

	hist_add(h, 987654321);
	/* Clamping to [min, max] makes a lone value exact at every percentile. */
	assert_int_equal(hist_percentile(h, 0), 987654321);
	assert_int_equal(hist_percentile(h, 1), 987654321);
	assert_int_equal(hist_percentile(h, 50), 987654321);
	assert_int_equal(hist_percentile(h, 99.9), 987654321);
	assert_int_equal(hist_percentile(h, 100), 987654321);
	assert_int_equal(hist_mean(h), 987654321);
	assert_int_equal(h->count, 1);
	assert_int_equal(h->sum, 987654321);
	free(h);
}

/* 99.9% of 1000 is exactly rank 999; the binary 99.9 is slightly above and must not give 1000. */
static void test_percentile_rank_is_exact(void **state)
{
	struct hist *h = hist_new();
	unsigned int i;

	for (i = 0; i < 999; i++)
		hist_add(h, 10);
	hist_add(h, 1000000);
	assert_int_equal(hist_percentile(h, 99.9), 10);
	assert_int_equal(hist_percentile(h, 99.95), 1000000);
	/* Rank is at least 1, so a tiny percentile is the smallest value. */
	assert_int_equal(hist_percentile(h, 1e-9), 10);
	free(h);
}

static void test_merge_equals_adding_everything(void **state)
{
	struct hist *a = hist_new(), *b = hist_new(), *empty = hist_new(), *all = hist_new();
	unsigned int i;

	rng_state = 7;
	for (i = 0; i < 5000; i++) {
		uint64_t v = rng_next() >> rng_below(64);

		hist_add(i % 3 ? a : b, v);
		hist_add(all, v);
	}
	hist_merge(a, b);
	assert_memory_equal(a, all, sizeof(*a));

	/* Merging an empty histogram changes nothing, in either direction. */
	hist_merge(a, empty);
	assert_memory_equal(a, all, sizeof(*a));
	hist_merge(empty, all);
	assert_memory_equal(empty, all, sizeof(*a));

	free(a);
	free(b);
	free(empty);
	free(all);
}

static void test_sum_saturates(void **state)
{
	struct hist *h = hist_new(), *other = hist_new();

	hist_add(h, UINT64_MAX - 1);
	assert_true(h->sum == UINT64_MAX - 1);
	hist_add(h, 5);
	assert_true(h->sum == UINT64_MAX);
	hist_add(h, UINT64_MAX);
	assert_true(h->sum == UINT64_MAX);
	assert_int_equal(h->count, 3);
	assert_true(h->max == UINT64_MAX);
	assert_int_equal(h->min, 5);

	hist_add(other, UINT64_MAX);
	hist_merge(other, h);
	assert_true(other->sum == UINT64_MAX);
	assert_int_equal(other->count, 4);

	/* A saturated sum must not make the mean collapse: it falls back to bucket midpoints. */
	hist_init(h);
	hist_add(h, UINT64_MAX);
	hist_add(h, UINT64_MAX);
	assert_true(hist_mean(h) == UINT64_MAX);
	hist_init(h);
	hist_add(h, 1ULL << 63);
	hist_add(h, 1ULL << 63);
	hist_add(h, 1ULL << 62);
	{
		uint64_t exact = (1ULL << 63) / 3 * 2 + (1ULL << 62) / 3;
		uint64_t mean = hist_mean(h);
		uint64_t diff = mean > exact ? mean - exact : exact - mean;

		assert_true(diff <= exact / 32);
	}
	free(h);
	free(other);
}

static void check_rows(const struct hist *h, const uint64_t *values, size_t n,
		       const struct hist_row *rows, int nrows)
{
	uint64_t total = 0;
	int r;

	for (r = 0; r < nrows; r++) {
		uint64_t in_row = 0;
		size_t i;

		assert_true(rows[r].low <= rows[r].high);
		if (r > 0)
			assert_true(rows[r].low == rows[r - 1].high + 1);
		/* Every row ends just below a power of two. */
		assert_int_equal(rows[r].high & (rows[r].high + 1), 0);
		for (i = 0; i < n; i++)
			if (values[i] >= rows[r].low && values[i] <= rows[r].high)
				in_row++;
		assert_int_equal(rows[r].count, in_row);
		total += rows[r].count;
	}
	assert_int_equal(total, h->count);
	assert_true(rows[0].count > 0);
	assert_true(rows[nrows - 1].count > 0);
	assert_true(rows[0].low <= h->min);
	assert_true(rows[nrows - 1].high >= h->max);
}

static void test_octaves(void **state)
{
	/* Octaves [4,7] [8,15] [16,31] [32,63] ... [2^20, 2^21-1]: 19 rows, some of them empty. */
	static const uint64_t values[] = { 5, 7, 7, 40, 1000, 1023, 1024, 1500000, 2000000 };
	const size_t n = sizeof(values) / sizeof(values[0]);
	struct hist *h = hist_new();
	struct hist_row rows[HIST_OCTAVES];
	int nrows;
	size_t i;

	for (i = 0; i < n; i++)
		hist_add(h, values[i]);

	nrows = hist_octaves(h, rows, HIST_OCTAVES);
	assert_int_equal(nrows, 19);
	check_rows(h, values, n, rows, nrows);
	assert_int_equal(rows[0].low, 4);
	assert_int_equal(rows[0].high, 7);
	assert_int_equal(rows[0].count, 3);
	assert_int_equal(rows[1].count, 0);
	assert_int_equal(rows[7].low, 512);
	assert_int_equal(rows[7].high, 1023);
	assert_int_equal(rows[7].count, 2);
	assert_int_equal(rows[18].low, 1ULL << 20);
	assert_int_equal(rows[18].high, (1ULL << 21) - 1);
	assert_int_equal(rows[18].count, 2);

	/* Exactly enough rows: no folding. */
	assert_int_equal(hist_octaves(h, rows, 19), 19);
	assert_int_equal(rows[0].low, 4);
	assert_int_equal(rows[0].high, 7);

	/* Too few: the lowest octaves fold into the first row, the top rows stay one octave. */
	nrows = hist_octaves(h, rows, 3);
	assert_int_equal(nrows, 3);
	check_rows(h, values, n, rows, nrows);
	assert_int_equal(rows[0].low, 4);
	assert_int_equal(rows[0].high, (1ULL << 19) - 1);
	assert_int_equal(rows[0].count, 7);
	assert_int_equal(rows[1].low, 1ULL << 19);
	assert_int_equal(rows[1].count, 0);
	assert_int_equal(rows[2].count, 2);

	nrows = hist_octaves(h, rows, 1);
	assert_int_equal(nrows, 1);
	check_rows(h, values, n, rows, nrows);
	assert_int_equal(rows[0].low, 4);
	assert_int_equal(rows[0].high, (1ULL << 21) - 1);

	assert_int_equal(hist_octaves(h, rows, 0), 0);
	free(h);
}

static void test_octaves_extremes(void **state)
{
	static const uint64_t values[] = { 0, 1, UINT64_MAX };
	struct hist *h = hist_new();
	struct hist_row rows[HIST_OCTAVES];
	int nrows;

	/* 0 and 1 share the first row. */
	hist_add(h, 0);
	hist_add(h, 1);
	nrows = hist_octaves(h, rows, HIST_OCTAVES);
	assert_int_equal(nrows, 1);
	assert_int_equal(rows[0].low, 0);
	assert_int_equal(rows[0].high, 1);
	assert_int_equal(rows[0].count, 2);

	/* The full range needs every row, and the last one ends on UINT64_MAX. */
	hist_add(h, UINT64_MAX);
	nrows = hist_octaves(h, rows, HIST_OCTAVES);
	assert_int_equal(nrows, HIST_OCTAVES);
	check_rows(h, values, 3, rows, nrows);
	assert_true(rows[HIST_OCTAVES - 1].low == 1ULL << 63);
	assert_true(rows[HIST_OCTAVES - 1].high == UINT64_MAX);

	/* Single value: a single row. */
	hist_init(h);
	hist_add(h, 3000);
	nrows = hist_octaves(h, rows, HIST_OCTAVES);
	assert_int_equal(nrows, 1);
	assert_int_equal(rows[0].low, 2048);
	assert_int_equal(rows[0].high, 4095);
	assert_int_equal(rows[0].count, 1);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_bounds_are_contiguous),
		cmocka_unit_test(test_values_land_in_their_bucket),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_percentiles),
		cmocka_unit_test(test_single_value),
		cmocka_unit_test(test_percentile_rank_is_exact),
		cmocka_unit_test(test_merge_equals_adding_everything),
		cmocka_unit_test(test_sum_saturates),
		cmocka_unit_test(test_octaves),
		cmocka_unit_test(test_octaves_extremes),
	};

	return cmocka_run_group_tests_name("hist", tests, NULL, NULL);
}
