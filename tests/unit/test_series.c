// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "serve/series.h"

#define NSEC_PER_USEC	1000ULL
#define NSEC_PER_MSEC	1000000ULL
#define NSEC_PER_SEC	1000000000ULL

static struct series_labels labels(const char *pod, const char *command, int pid)
{
	struct series_labels l;

	memset(&l, 0, sizeof(l));
	strcpy(l.ns, "shop");
	snprintf(l.pod, sizeof(l.pod), "%s", pod);
	strcpy(l.pod_uid, "0b9d6c8e-3f1a-4c2b-9e7d-5a6b7c8d9e0f");
	strcpy(l.container_id, "containerd://0123456789abcdef");
	snprintf(l.command, sizeof(l.command), "%s", command);
	strcpy(l.python, "3.11.2");
	l.pid = pid;
	return l;
}

static unsigned int gc_bucket_of(const struct series *s, int gen)
{
	unsigned int i, found = SERIES_GC_BUCKETS;

	for (i = 0; i < SERIES_GC_BUCKETS; i++) {
		if (s->gens[gen].buckets[i]) {
			assert_int_equal(found, SERIES_GC_BUCKETS);	/* only one non-empty */
			found = i;
		}
	}
	return found;
}

static void test_bounds(void **state)
{
	unsigned int i;

	assert_int_equal(series_gc_bounds_ns[0], 100 * NSEC_PER_USEC);
	assert_int_equal(series_gc_bounds_ns[3], 1 * NSEC_PER_MSEC);
	assert_int_equal(series_gc_bounds_ns[SERIES_GC_BUCKETS - 2], 10 * NSEC_PER_SEC);
	assert_int_equal(series_req_bounds_ns[0], 500 * NSEC_PER_USEC);
	assert_int_equal(series_req_bounds_ns[SERIES_REQ_BUCKETS - 2], 10 * NSEC_PER_SEC);
	for (i = 1; i < SERIES_GC_BUCKETS - 1; i++)
		assert_true(series_gc_bounds_ns[i] > series_gc_bounds_ns[i - 1]);
	for (i = 1; i < SERIES_REQ_BUCKETS - 1; i++)
		assert_true(series_req_bounds_ns[i] > series_req_bounds_ns[i - 1]);
}

static void test_get_finds_same_labels(void **state)
{
	struct series_table *t = series_table_new(8, false);
	struct series_labels a = labels("web-1", "gunicorn", 0), b = a;
	struct series *s1, *s2, *s3;

	assert_non_null(t);
	s1 = series_get(t, &a);
	assert_non_null(s1);
	/* Bytes after the NUL do not make another label set. */
	memset(b.pod + strlen(b.pod) + 1, 'x', 10);
	s2 = series_get(t, &b);
	assert_ptr_equal(s1, s2);
	assert_int_equal(series_count(t), 1);

	b = labels("web-1", "gunicorn", 42);
	s3 = series_get(t, &b);
	assert_non_null(s3);
	assert_ptr_not_equal(s1, s3);
	assert_int_equal(series_count(t), 2);
	assert_int_equal(s3->labels.pid, 42);
	assert_string_equal(s3->labels.pod, "web-1");
	assert_string_equal(s3->labels.container_id, "containerd://0123456789abcdef");

	/* Creation order. */
	assert_ptr_equal(series_first(t), s1);
	assert_ptr_equal(series_next(s1), s3);
	assert_null(series_next(s3));
	assert_null(s1->http);
	series_table_free(t);
}

static void test_unterminated_label_is_cut(void **state)
{
	struct series_table *t = series_table_new(4, false);
	struct series_labels l = labels("p", "c", 0);
	struct series *s;

	assert_non_null(t);
	memset(l.command, 'a', sizeof(l.command));
	s = series_get(t, &l);
	assert_non_null(s);
	assert_int_equal(strlen(s->labels.command), sizeof(l.command) - 1);
	series_table_free(t);
}

static void test_exact_bucket_edges(void **state)
{
	struct series_table *t = series_table_new(4, false);
	struct series_labels l = labels("web-1", "python3", 0);
	struct series *s;
	unsigned int i;

	assert_non_null(t);
	s = series_get(t, &l);
	assert_non_null(s);

	series_add_gc(s, 0, 1 * NSEC_PER_MSEC, 10);
	assert_int_equal(gc_bucket_of(s, 0), 3);	/* le="0.001" */
	assert_int_equal(series_gc_bounds_ns[3], 1 * NSEC_PER_MSEC);

	series_add_gc(s, 1, 1 * NSEC_PER_MSEC + 1, 10);
	assert_int_equal(gc_bucket_of(s, 1), 4);	/* le="0.0025" */

	series_add_gc(s, 2, 0, 0);
	assert_int_equal(gc_bucket_of(s, 2), 0);

	series_table_free(t);

	/* Every bound and the nanosecond after it. */
	t = series_table_new(64, false);
	assert_non_null(t);
	for (i = 0; i < SERIES_GC_BUCKETS - 1; i++) {
		struct series_labels li = labels("edges", "python3", i + 1);
		struct series *e = series_get(t, &li);

		assert_non_null(e);
		series_add_gc(e, 0, series_gc_bounds_ns[i], 1);
		series_add_gc(e, 1, series_gc_bounds_ns[i] + 1, 1);
		assert_int_equal(gc_bucket_of(e, 0), i);
		assert_int_equal(gc_bucket_of(e, 1), i + 1);
	}
	series_table_free(t);
}

static void test_gc_sums_and_generations(void **state)
{
	struct series_table *t = series_table_new(4, false);
	struct series_labels l = labels("web-1", "python3", 0);
	struct series *s;

	assert_non_null(t);
	s = series_get(t, &l);
	assert_non_null(s);
	series_add_gc(s, 2, 30 * NSEC_PER_MSEC, 1000);
	series_add_gc(s, 2, 40 * NSEC_PER_MSEC, 500);
	series_add_gc(s, 2, 12 * NSEC_PER_SEC, 7);	/* beyond 10 s: +Inf */
	series_add_gc(s, 7, 5, 3);
	series_add_gc(s, -1, 6, 4);
	series_add_gc(s, 0, 100, -1);

	assert_int_equal(s->gens[2].count, 3);
	assert_int_equal(s->gens[2].sum_ns, 12070 * NSEC_PER_MSEC);
	assert_int_equal(s->gens[2].collected, 1507);
	assert_int_equal(s->gens[2].buckets[7], 0);	/* le 0.025 */
	assert_int_equal(s->gens[2].buckets[8], 2);	/* le 0.05 */
	assert_int_equal(s->gens[2].buckets[SERIES_GC_BUCKETS - 1], 1);
	assert_int_equal(s->gens[SERIES_GEN_OTHER].count, 2);
	assert_int_equal(s->gens[SERIES_GEN_OTHER].sum_ns, 11);
	assert_int_equal(s->gens[SERIES_GEN_OTHER].collected, 7);
	assert_int_equal(s->gens[0].count, 1);
	assert_int_equal(s->gens[0].collected, 0);	/* negative adds nothing */
	assert_int_equal(s->gens[1].count, 0);

	/* Sums saturate. */
	series_add_gc(s, 1, UINT64_MAX - 5, 0);
	series_add_gc(s, 1, 10, 0);
	assert_true(s->gens[1].sum_ns == UINT64_MAX);
	assert_int_equal(s->gens[1].count, 2);
	series_table_free(t);
}

static void test_requests(void **state)
{
	struct series_table *t = series_table_new(4, true);
	struct series_labels l = labels("web-1", "gunicorn", 0);
	struct series *s;

	assert_non_null(t);
	assert_true(series_table_http(t));
	s = series_get(t, &l);
	assert_non_null(s);
	assert_non_null(s->http);
	series_add_request(s, 500 * NSEC_PER_USEC, 0, 0);		/* le 0.0005, clean */
	series_add_request(s, 500 * NSEC_PER_USEC + 1, 0, 0);	/* le 0.001, clean */
	series_add_request(s, 80 * NSEC_PER_MSEC, 30 * NSEC_PER_MSEC, 0);	/* le 0.1, hit */
	series_add_request(s, 11 * NSEC_PER_SEC, 1, 0);		/* +Inf, hit */

	assert_int_equal(s->http->req[SERIES_REQ_CLEAN].count, 2);
	assert_int_equal(s->http->req[SERIES_REQ_CLEAN].buckets[0], 1);
	assert_int_equal(s->http->req[SERIES_REQ_CLEAN].buckets[1], 1);
	assert_int_equal(s->http->req[SERIES_REQ_CLEAN].sum_ns, 1000 * NSEC_PER_USEC + 1);
	assert_int_equal(s->http->req[SERIES_REQ_HIT].count, 2);
	assert_int_equal(s->http->req[SERIES_REQ_HIT].buckets[7], 1);
	assert_int_equal(s->http->req[SERIES_REQ_HIT].buckets[SERIES_REQ_BUCKETS - 1], 1);
	assert_int_equal(s->http->req[SERIES_REQ_HIT].sum_ns, 11080 * NSEC_PER_MSEC);
	assert_int_equal(s->http->gc_ns, 30 * NSEC_PER_MSEC + 1);
	series_table_free(t);

	/* Without --http, requests are ignored rather than written anywhere. */
	t = series_table_new(4, false);
	assert_non_null(t);
	s = series_get(t, &l);
	assert_non_null(s);
	assert_null(s->http);
	series_add_request(s, 1, 1, 0);
	series_table_free(t);
}

static void test_counters_survive_release(void **state)
{
	struct series_table *t = series_table_new(4, false);
	struct series_labels l = labels("web-1", "gunicorn", 0);
	struct series *s, *again;

	assert_non_null(t);
	s = series_get(t, &l);
	assert_non_null(s);
	series_hold(s);
	series_hold(s);
	assert_int_equal(s->live, 2);
	series_add_gc(s, 0, 50 * NSEC_PER_USEC, 20);
	series_release(s, 100);
	assert_int_equal(s->live, 1);
	assert_false(s->idle_known);
	series_release(s, 200);
	assert_int_equal(s->live, 0);
	assert_true(s->idle_known);
	assert_int_equal(s->idle_since_ns, 200);
	series_release(s, 300);		/* one too many: ignored */
	assert_int_equal(s->live, 0);
	assert_int_equal(s->idle_since_ns, 200);

	/* A new process with the same labels finds the old counts. */
	again = series_get(t, &l);
	assert_ptr_equal(again, s);
	series_hold(again);
	assert_false(again->idle_known);
	series_add_gc(again, 0, 60 * NSEC_PER_USEC, 5);
	assert_int_equal(again->gens[0].count, 2);
	assert_int_equal(again->gens[0].sum_ns, 110 * NSEC_PER_USEC);
	assert_int_equal(again->gens[0].collected, 25);
	assert_int_equal(again->gens[0].buckets[0], 2);
	series_table_free(t);
}

static void test_dropped_when_full(void **state)
{
	struct series_table *t = series_table_new(3, false);
	struct series_labels l;
	struct series *s[3];
	int i;

	assert_non_null(t);
	for (i = 0; i < 3; i++) {
		l = labels("web", "python3", i + 1);
		s[i] = series_get(t, &l);
		assert_non_null(s[i]);
	}
	assert_int_equal(series_count(t), 3);
	l = labels("web", "python3", 4);
	assert_null(series_get(t, &l));
	assert_null(series_get(t, &l));
	assert_int_equal(series_table_dropped(t), 2);
	assert_int_equal(series_count(t), 3);

	/* Existing ones are still found. */
	l = labels("web", "python3", 2);
	assert_ptr_equal(series_get(t, &l), s[1]);
	assert_int_equal(series_table_dropped(t), 2);

	/* Room again once one expires. */
	series_hold(s[0]);
	series_hold(s[2]);
	assert_int_equal(series_expire(t, 1000, 0), 1);
	l = labels("web", "python3", 4);
	assert_non_null(series_get(t, &l));
	assert_int_equal(series_count(t), 3);
	series_table_free(t);

	errno = 0;
	assert_null(series_table_new(0, false));
	assert_int_equal(errno, EINVAL);
}

static void test_expiry(void **state)
{
	const uint64_t idle = 300 * NSEC_PER_SEC;
	struct series_table *t = series_table_new(16, false);
	struct series_labels la = labels("a", "python3", 0), lb = labels("b", "python3", 0);
	struct series_labels lc = labels("c", "python3", 0), ld = labels("d", "python3", 0);
	struct series *a, *b, *c, *d;

	assert_non_null(t);
	a = series_get(t, &la);		/* held throughout */
	b = series_get(t, &lb);		/* released at 100 s */
	c = series_get(t, &lc);		/* released at 250 s */
	d = series_get(t, &ld);		/* never held */
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_non_null(d);
	series_hold(a);
	series_hold(b);
	series_hold(c);
	series_add_gc(b, 0, 1, 1);
	series_release(b, 100 * NSEC_PER_SEC);
	series_release(c, 250 * NSEC_PER_SEC);

	/* d's idle time starts here, at 120 s. */
	assert_int_equal(series_expire(t, 120 * NSEC_PER_SEC, idle), 0);
	assert_int_equal(series_count(t), 4);

	/* One nanosecond short of b's idle time. */
	assert_int_equal(series_expire(t, 400 * NSEC_PER_SEC - 1, idle), 0);
	assert_int_equal(series_count(t), 4);

	assert_int_equal(series_expire(t, 400 * NSEC_PER_SEC, idle), 1);
	assert_int_equal(series_count(t), 3);
	assert_ptr_equal(series_first(t), a);
	assert_ptr_equal(series_next(a), c);
	assert_ptr_equal(series_next(c), d);
	assert_null(series_next(d));

	assert_int_equal(series_expire(t, 420 * NSEC_PER_SEC, idle), 1);	/* d */
	assert_int_equal(series_count(t), 2);
	assert_null(series_next(c));

	/* c comes back before its time: its idle time starts again from its next release. */
	c = series_get(t, &lc);
	series_hold(c);
	assert_int_equal(series_expire(t, 600 * NSEC_PER_SEC, idle), 0);
	series_release(c, 600 * NSEC_PER_SEC);
	assert_int_equal(series_expire(t, 899 * NSEC_PER_SEC, idle), 0);
	assert_int_equal(series_expire(t, 900 * NSEC_PER_SEC, idle), 1);

	/* a never expires while held; a clock going back expires nothing. */
	assert_int_equal(series_expire(t, UINT64_MAX, 0), 0);
	assert_int_equal(series_count(t), 1);
	assert_ptr_equal(series_first(t), a);
	assert_int_equal(series_table_expired(t), 3);

	/* An expired label set starts from zero. */
	b = series_get(t, &lb);
	assert_non_null(b);
	assert_int_equal(b->gens[0].count, 0);
	assert_int_equal(series_count(t), 2);
	series_release(a, 10);
	assert_int_equal(series_expire(t, 5, 0), 1);	/* b only: a's clock went back */
	assert_ptr_equal(series_first(t), a);
	series_table_free(t);
}

static void test_many_series_hash(void **state)
{
	struct series_table *t = series_table_new(5000, false);
	struct series_labels l;
	struct series *s;
	char pod[32];
	int i;

	assert_non_null(t);
	for (i = 0; i < 5000; i++) {
		snprintf(pod, sizeof(pod), "pod-%d", i);
		l = labels(pod, "python3", 0);
		s = series_get(t, &l);
		assert_non_null(s);
		series_add_gc(s, 0, i, 1);
	}
	assert_int_equal(series_count(t), 5000);
	for (i = 0; i < 5000; i += 7) {
		snprintf(pod, sizeof(pod), "pod-%d", i);
		l = labels(pod, "python3", 0);
		s = series_get(t, &l);
		assert_non_null(s);
		assert_string_equal(s->labels.pod, pod);
		assert_int_equal(s->gens[0].sum_ns, i);
	}
	assert_int_equal(series_count(t), 5000);
	assert_int_equal(series_table_dropped(t), 0);
	/* All idle since never held: all go once idle_ns has passed. */
	assert_int_equal(series_expire(t, 10, 5), 0);
	assert_int_equal(series_expire(t, 15, 5), 5000);
	assert_int_equal(series_count(t), 0);
	assert_null(series_first(t));
	series_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_get_finds_same_labels),
		cmocka_unit_test(test_unterminated_label_is_cut),
		cmocka_unit_test(test_exact_bucket_edges),
		cmocka_unit_test(test_gc_sums_and_generations),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_counters_survive_release),
		cmocka_unit_test(test_dropped_when_full),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_many_series_hash),
	};

	return cmocka_run_group_tests_name("series", tests, NULL, NULL);
}
