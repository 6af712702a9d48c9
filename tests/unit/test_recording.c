// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Recordings loaded back, the figures gcpause diff compares, its confidences and verdicts. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "cause/diff.h"
#include "cause/recording.h"
#include "cause/service_stats.h"

#define SEC	1000000000ull

/*
 * A 10-second recording of one process "app": one gen-0 collection of gen0_ns every 100 ms,
 * one gen-2 of gen2_ns at 5 s, a request of req_ns ending every 50 ms (the one at 5 s hit by
 * the gen-2), ten interval summaries, and GC states with frozen objects.
 */
static char *write_recording(uint64_t gen0_ns, uint64_t gen2_ns, uint64_t req_ns, int frozen)
{
	char *path = strdup("/tmp/gcpause-test-recording-XXXXXX");
	int fd = mkstemp(path), i;
	FILE *f = fdopen(fd, "w");
	uint64_t t0 = 1000 * SEC;

	assert_non_null(f);
	fprintf(f, "{\"type\":\"attach\",\"pid\":7,\"comm\":\"app\",\"version\":\"3.11.2\"}\n");
	for (i = 0; i < 100; i++)
		fprintf(f, "{\"type\":\"gc\",\"pid\":7,\"tid\":7,\"gen\":0,\"start_ns\":%llu,"
			"\"duration_ns\":%llu,\"collected\":3,\"depth\":0}\n",
			(unsigned long long)(t0 + i * SEC / 10 + 1000),
			(unsigned long long)gen0_ns);
	fprintf(f, "{\"type\":\"gc\",\"pid\":7,\"tid\":7,\"gen\":2,\"start_ns\":%llu,"
		"\"duration_ns\":%llu,\"collected\":0,\"depth\":0}\n",
		(unsigned long long)(t0 + 5 * SEC - gen2_ns / 2), (unsigned long long)gen2_ns);
	for (i = 1; i <= 200; i++) {
		uint64_t end = t0 + i * SEC / 20 - 1, lat = i == 100 ? req_ns + gen2_ns : req_ns;

		fprintf(f, "{\"type\":\"request\",\"pid\":7,\"tid\":7,\"method\":\"GET\","
			"\"path\":\"/r%d\",\"status\":200,\"arrival_ns\":%llu,\"start_ns\":%llu,"
			"\"end_ns\":%llu,\"latency_ns\":%llu,\"gc_ns\":%llu,\"gc_count\":%d}\n",
			i == 100 ? 2 : 1, (unsigned long long)(end - lat),
			(unsigned long long)(end - lat), (unsigned long long)end,
			(unsigned long long)lat, (unsigned long long)(i == 100 ? gen2_ns : 0),
			i == 100);
	}
	for (i = 1; i <= 10; i++)
		fprintf(f, "{\"type\":\"summary\",\"scope\":\"interval\",\"start_ns\":%llu,"
			"\"end_ns\":%llu,\"processes\":[{\"pid\":7,\"comm\":\"app\",\"gc_state\":"
			"{\"time_ns\":%llu,\"enabled\":true,\"threshold\":[700,10,10],"
			"\"count\":[1,2,3],"
			"\"tracked\":[10,20,%d],\"frozen\":%d,\"cpu_ns\":%llu}}]}\n",
			(unsigned long long)(t0 + (i - 1) * SEC),
			(unsigned long long)(t0 + i * SEC),
			(unsigned long long)(t0 + i * SEC), 1000 * i, frozen,
			(unsigned long long)(i * SEC / 2));
	fprintf(f, "{\"type\":\"summary\",\"scope\":\"total\",\"start_ns\":%llu,\"end_ns\":%llu,"
		"\"processes\":[{\"pid\":7,\"comm\":\"app\",\"wall_ns\":%llu}]}\n",
		(unsigned long long)t0, (unsigned long long)(t0 + 10 * SEC),
		(unsigned long long)(10 * SEC));
	fclose(f);
	return path;
}

static void test_load(void **state)
{
	char *path = write_recording(50000, 20000000, 1000000, 500), err[256];
	struct recording r;

	assert_int_equal(recording_load(path, &r, err, sizeof(err)), 0);
	assert_int_equal(r.nprocs, 1);
	assert_string_equal(r.procs[0].comm, "app");
	assert_int_equal(r.ngcs, 101);
	assert_int_equal(r.nreqs, 200);
	assert_int_equal(r.nstates, 10);
	assert_int_equal(r.nintervals, 10);
	assert_true(r.end_ns - r.start_ns == 10 * SEC);
	assert_int_equal(r.states[9].tracked[2], 10000);
	assert_string_equal(r.reqs[99].path, "/r2");
	recording_free(&r);
	unlink(path);
	free(path);
}

static void test_metrics(void **state)
{
	char *path = write_recording(50000, 20000000, 1000000, 500), err[256];
	struct service_state st;
	struct recording r;
	double v[M_COUNT];

	assert_int_equal(recording_load(path, &r, err, sizeof(err)), 0);
	service_metrics(&r, "app", r.start_ns, r.end_ns, true, v);
	assert_true(fabs(v[M_RPS] - 20) < 1e-9);
	assert_true(v[M_REQ_P50] == 1000000);
	assert_true(v[M_REQ_P99] == 1000000);	/* rank 198 of 200 */
	assert_true(v[M_REQ_MAX] == 21000000);
	assert_true(v[M_TAIL_GC] == 1.0 / 200);	/* every request is >= the p99 */
	assert_true(fabs(v[M_GC_PER_1K] - 5) < 1e-9);
	assert_true(v[M_GEN_BASE + M_GEN_P50] == 50000);
	assert_true(fabs(v[M_GEN_BASE + M_GEN_RATE] - 10) < 1e-9);
	assert_true(v[M_GEN_BASE + 2 * M_GEN_COUNT + M_GEN_MAX] == 20000000);
	assert_true(isnan(v[M_GEN_BASE + M_GEN_COUNT + M_GEN_P50]));	/* no gen 1 */
	assert_true(fabs(v[M_SHARE_WALL] - (100 * 50000 + 20000000) / 1e10) < 1e-12);
	service_state(&r, "app", &st);
	assert_int_equal(st.processes, 1);
	assert_int_equal(st.frozen, 500);
	assert_int_equal(st.tracked[2], 10000);
	assert_int_equal(st.threshold[0], 700);
	recording_free(&r);
	unlink(path);
	free(path);
}

static void test_diff(void **state)
{
	char *a = write_recording(50000, 20000000, 1000000, 0);
	char *same = write_recording(50000, 20000000, 1000000, 0);
	char *better = write_recording(25000, 2000000, 1000000, 9000), err[256], verdict[1200];
	struct recording ra, rs, rb;
	struct diff_result d;
	int g0 = M_GEN_BASE + M_GEN_P50;

	assert_int_equal(recording_load(a, &ra, err, sizeof(err)), 0);
	assert_int_equal(recording_load(same, &rs, err, sizeof(err)), 0);
	assert_int_equal(recording_load(better, &rb, err, sizeof(err)), 0);
	diff_compare(&ra, &rs, "app", &d);
	diff_verdict(&d, verdict, sizeof(verdict));
	assert_true(!strncmp(verdict, "NO CLEAR CHANGE", 15));
	assert_int_equal(diff_direction(&d, g0), 0);
	diff_compare(&ra, &rb, "app", &d);
	assert_true(d.after[g0] == 25000 && d.before[g0] == 50000);
	/* Every slice halves: no spread at all, the change is certain. */
	assert_int_equal(d.confidence[g0], CONF_HIGH);
	assert_int_equal(diff_direction(&d, g0), 1);
	assert_int_equal(d.state_after.frozen, 9000);
	diff_verdict(&d, verdict, sizeof(verdict));
	assert_true(!strncmp(verdict, "BETTER: request max 21.0ms -> 3.00ms", 36));
	recording_free(&ra);
	recording_free(&rs);
	recording_free(&rb);
	unlink(a);
	unlink(same);
	unlink(better);
	free(a);
	free(same);
	free(better);
}

static void test_bad_recordings(void **state)
{
	char path[] = "/tmp/gcpause-test-bad-XXXXXX", err[256];
	struct recording r;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"type\":\"gc\"}\nnot json\n", 23), 23);
	close(fd);
	assert_int_equal(recording_load(path, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2: not a gcpause JSON line"));
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "{\"type\":\"gc\"}\n", 14), 14);
	close(fd);
	assert_int_equal(recording_load(path, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no total summary"));
	unlink(path);
	assert_int_equal(recording_load(path, &r, err, sizeof(err)), -ENOENT);
}

static void test_quantile(void **state)
{
	double v[] = { 5, 1, 4, 2, 3 };

	assert_true(quantile_sorted(v, 5, 0.5) == 3);
	assert_true(quantile_sorted(v, 5, 0.99) == 5);
	assert_true(quantile_sorted(v, 5, 0.0) == 1);
	assert_true(isnan(quantile_sorted(v, 0, 0.5)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_bad_recordings),
		cmocka_unit_test(test_quantile),
	};

	return cmocka_run_group_tests_name("recording", tests, NULL, NULL);
}
