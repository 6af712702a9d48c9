// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* gcpause advise: the pause model's fit on synthetic points, and predictions from a synthetic
 * recording whose rates and pauses follow known rules. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cause/advise.h"
#include "cause/gc_model.h"
#include "cause/recording.h"

#define SEC	1000000000ull

static void test_fit_exact_power_law(void **state)
{
	double x[40], y[40], s;
	struct pause_fit f;
	int i;

	/* Two clusters, as a real service gives: young collections and full ones. */
	for (i = 0; i < 40; i++) {
		x[i] = i < 20 ? 1000 : 300000;
		y[i] = 5 * pow(x[i], 1.25);
	}
	pause_fit_points(x, y, 40, &f);
	assert_true(f.ok);
	assert_true(fabs(f.k - 1.25) < 1e-9);
	assert_true(fabs(exp(f.ln_c) - 5) < 1e-6);
	assert_true(f.s_res < 1e-9);
	/* At the data, no error; between the clusters the line and the power law part, and half
	 * their gap is the error: the band reaches the straight line, not beyond twice it. */
	assert_true(fabs(pause_predict(&f, 1000, &s) - 5 * pow(1000, 1.25)) < 1e-3);
	assert_true(s < 0.01);
	{
		double v = pause_predict(&f, 50000, &s), lin = f.lin_a + f.lin_b * 50000;

		assert_true(fabs(v / (5 * pow(50000, 1.25)) - 1) < 1e-9);
		assert_true(lin > v);
		assert_true(v * band95(s) >= lin * 0.95 && v * band95(s) < 2 * lin);
	}
}

static void test_fit_noise_is_the_residual_spread(void **state)
{
	double x[60], y[60], s;
	struct pause_fit f;
	int i;

	/* ln pause off the law by +-0.2, alternating: a residual spread of about 0.2. */
	for (i = 0; i < 60; i++) {
		x[i] = i % 3 == 0 ? 700 : i % 3 == 1 ? 5000 : 280000;
		y[i] = 80 * pow(x[i], 1.1) * exp(i % 2 ? 0.2 : -0.2);
	}
	pause_fit_points(x, y, 60, &f);
	assert_true(f.ok);
	assert_true(fabs(f.k - 1.1) < 0.02);
	assert_true(fabs(f.s_res - 0.2) < 0.01);
	pause_predict(&f, 5000, &s);
	assert_true(s >= f.s_res && s < 0.3);
	/* A 95% band of +-0.4 in ln: the band is narrower than the value is large. */
	assert_true(band95(s) < 1 + sqrt(2));
}

static void test_fit_one_scan_size(void **state)
{
	double x[5] = { 700, 700, 700, 700, 700 }, y[5] = { 60e3, 70e3, 65e3, 66e3, 64e3 }, s;
	struct pause_fit f;

	pause_fit_points(x, y, 5, &f);
	assert_false(f.ok);
	assert_true(f.k == 1);
	/* Proportional through the points, with an error that says the slope is a guess. */
	assert_true(fabs(pause_predict(&f, 1400, &s) / 130e3 - 1) < 0.05);
	assert_true(s > 0.4);
	pause_fit_points(x, y, 0, &f);
	assert_true(isnan(pause_predict(&f, 700, &s)));
}

/*
 * One worker "app" for 10 s at threshold 700/10/10: a gen-0 collection of 70 µs every 1 ms
 * finding 500 garbage objects, every 11th of them a gen-1 one of 200 µs, every 10th of those a
 * gen-2 of 80 ms instead (9091 gen-0, 819 gen-1, 90 gen-2); GC states of 200,000 objects
 * tracked, 300 survivors per gen-0 collection (tracked[1] 3000 at count[1] 10), gen 2 growing
 * by 900; a request every 5 ms.
 */
static char *write_recording(void)
{
	char *path = strdup("/tmp/gcpause-test-advise-XXXXXX");
	int fd = mkstemp(path), i, n1 = 0;
	FILE *f = fdopen(fd, "w");
	uint64_t t0 = 1000 * SEC, t;

	assert_non_null(f);
	fprintf(f, "{\"type\":\"attach\",\"pid\":7,\"comm\":\"app\",\"version\":\"3.11.2\"}\n");
	for (i = 0; i < 10000; i++) {
		int gen = 0;
		uint64_t d = 70000;

		t = t0 + (uint64_t)i * SEC / 1000 + 1000;
		if (i % 11 == 10) {
			gen = 1;
			d = 200000;
			if (++n1 % 10 == 0) {
				gen = 2;
				d = 80000000;
			}
		}
		fprintf(f, "{\"type\":\"gc\",\"pid\":7,\"tid\":7,\"gen\":%d,\"start_ns\":%llu,"
			"\"duration_ns\":%llu,\"collected\":500}\n", gen, (unsigned long long)t,
			(unsigned long long)d);
	}
	for (i = 1; i <= 2000; i++) {
		t = t0 + (uint64_t)i * SEC / 200 - 1;
		fprintf(f, "{\"type\":\"request\",\"pid\":7,\"tid\":7,\"method\":\"GET\","
			"\"path\":\"/r\",\"status\":200,\"arrival_ns\":%llu,\"start_ns\":%llu,"
			"\"end_ns\":%llu,\"latency_ns\":1000000,\"gc_ns\":0,\"gc_count\":0}\n",
			(unsigned long long)(t - 1000000), (unsigned long long)(t - 1000000),
			(unsigned long long)t);
	}
	for (i = 1; i <= 10; i++)
		fprintf(f, "{\"type\":\"summary\",\"scope\":\"interval\",\"start_ns\":%llu,"
			"\"end_ns\":%llu,\"processes\":[{\"pid\":7,\"comm\":\"app\",\"gc_state\":"
			"{\"time_ns\":%llu,\"enabled\":true,\"threshold\":[700,10,10],"
			"\"count\":[100,10,3],\"tracked\":[100,3000,%d],\"frozen\":0,"
			"\"capped\":false,\"approximate\":false,\"long_lived_total\":196000,"
			"\"long_lived_pending\":1000}}]}\n",
			(unsigned long long)(t0 + (i - 1) * SEC),
			(unsigned long long)(t0 + i * SEC),
			(unsigned long long)(t0 + i * SEC - SEC / 2), 196900 + 100 * i);
	fprintf(f, "{\"type\":\"summary\",\"scope\":\"total\",\"start_ns\":%llu,\"end_ns\":%llu,"
		"\"processes\":[{\"pid\":7,\"comm\":\"app\",\"wall_ns\":%llu}]}\n",
		(unsigned long long)t0, (unsigned long long)(t0 + 10 * SEC),
		(unsigned long long)(10 * SEC));
	fclose(f);
	return path;
}

static const struct advice_option *option(const struct advice *a, const char *name)
{
	int i;

	for (i = 0; i < a->nopt; i++)
		if (!strcmp(a->opt[i].name, name))
			return &a->opt[i];
	fail_msg("no option %s", name);
	return NULL;
}

static void test_advise_recording(void **state)
{
	char *path = write_recording(), err[256];
	const struct advice_option *now, *fix, *frz;
	struct recording r;
	struct advice a;
	double c;

	assert_int_equal(recording_load(path, &r, err, sizeof(err)), 0);
	assert_int_equal(advise_service(&r, "app", &a), 0);
	assert_int_equal(a.workers, 1);
	assert_true(fabs(a.survivors0 - 300) < 1e-9);
	/* Young at the trigger: the garbage found and the survivors, 800 at a threshold of 700. */
	assert_true(fabs(a.young0 - 800) < 1e-9);
	assert_true(fabs(a.young_old - 900) < 1e-9);
	assert_true(a.fit.ok && a.fit.n == 20);
	assert_true(fabs(a.observed[AF_RATE0] - 9091 / 10.0) < 1);
	now = option(&a, "as now");
	fix = option(&a, "freeze + threshold 50000");
	frz = option(&a, "freeze");
	/* As now: what was seen. */
	assert_true(fabs(now->p[AF_P50_0].v - 70000) < 1);
	assert_true(fabs(now->p[AF_RATE0].v - a.observed[AF_RATE0]) < 1e-6);
	/* Threshold 50,000: gen 0 as much rarer as the young generation is larger at its trigger,
	 * between 50,000 and 50,000 x 800/700 objects; gen 1 and 2 follow by the same ratios. */
	c = 800.0 / 700;
	assert_true(fabs(fix->p[AF_RATE0].v - a.observed[AF_RATE0] * 800 / (sqrt(c) * 50000)) <
		    1e-6);
	assert_true(fix->p[AF_RATE0].lo < a.observed[AF_RATE0] * 700 / 50000 * 1.01);
	assert_true(fix->p[AF_RATE0].hi > a.observed[AF_RATE0] * 800 / 50000 * 0.99);
	assert_true(fabs(fix->p[AF_RATE1].v / fix->p[AF_RATE0].v - 819 / 9091.0) < 1e-9);
	assert_true(fabs(fix->p[AF_RATE2].v / fix->p[AF_RATE0].v - 90 / 9091.0) < 1e-9);
	assert_true(fabs(fix->p[AF_GEN0_PER_1K].v / fix->p[AF_RATE0].v * 200 - 1000) < 1e-6);
	/* The gen-0 pause grows with the scan, by the fitted law; frozen, gen 2 scans the young. */
	assert_true(fix->p[AF_P50_0].v > 70000 * 50);
	assert_true(fix->p[AF_P50_2].v < 80e6 && fix->p[AF_P50_2].lo < fix->p[AF_P50_2].v);
	/* Frozen at the same threshold: between the young generations with what gen 2 grew by
	 * (4,700 objects) and with a quarter of long_lived_total instead (52,800). */
	assert_true(frz->p[AF_P50_2].v < 80e6 / 5);
	assert_true(fabs(frz->p[AF_P50_2].v / (now->p[AF_P50_2].v * pow(sqrt(4700 * 52800.0) /
		    a.scan2, a.fit.k)) - 1) < 1e-6);
	assert_true(fabs(frz->p[AF_P50_0].v - 70000) < 1);
	assert_true(frz->p[AF_SHARE].v < now->p[AF_SHARE].v);
	/* Every band holds its value. */
	assert_true(fix->p[AF_P50_0].lo < fix->p[AF_P50_0].v &&
		    fix->p[AF_P50_0].v < fix->p[AF_P50_0].hi);
	/* Gen 2 dominates the cost, so disabling does not fit; freeze is the advice. */
	assert_false(option(&a, "disable + scheduled collect")->fits);
	assert_string_equal(a.opt[a.best].name, "freeze");
	recording_free(&r);
	unlink(path);
	free(path);
}

static void test_advise_nothing_to_advise(void **state)
{
	char path[] = "/tmp/gcpause-test-advise-empty-XXXXXX", err[256];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct recording r;
	struct advice a;

	fprintf(f, "{\"type\":\"attach\",\"pid\":7,\"comm\":\"app\",\"version\":\"3.11.2\"}\n"
		   "{\"type\":\"summary\",\"scope\":\"total\",\"start_ns\":1,\"end_ns\":2000000000,"
		   "\"processes\":[{\"pid\":7,\"comm\":\"app\",\"wall_ns\":2000000000}]}\n");
	fclose(f);
	assert_int_equal(recording_load(path, &r, err, sizeof(err)), 0);
	assert_true(advise_service(&r, "app", &a) < 0);
	recording_free(&r);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fit_exact_power_law),
		cmocka_unit_test(test_fit_noise_is_the_residual_spread),
		cmocka_unit_test(test_fit_one_scan_size),
		cmocka_unit_test(test_advise_recording),
		cmocka_unit_test(test_advise_nothing_to_advise),
	};

	return cmocka_run_group_tests_name("advise", tests, NULL, NULL);
}
