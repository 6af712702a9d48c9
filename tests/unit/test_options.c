// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gc.h"
#include "run/options.h"
#include "util/format.h"


/* As main.c's table does: a subcommand's name is argv[0] of its own options. */
static enum options_result parse(int argc, char **argv, struct options *o, char *err)
{
	static const char *const names[] = { [MODE_LIST] = "list", [MODE_TOP] = "top",
					     [MODE_SERVE] = "serve" };
	enum run_mode mode = MODE_TRACE;
	int m;

	for (m = MODE_LIST; argc > 1 && m <= MODE_SERVE; m++)
		if (!strcmp(argv[1], names[m]))
			mode = m;
	if (mode != MODE_TRACE) {
		argc--;
		argv++;
	}
	err[0] = '\0';
	return options_parse(argc, argv, mode, o, err, OPTIONS_ERR_LEN);
}

static void test_pids_and_times(void **state)
{
	char *argv[] = { "gcpause", "-p", "42", "--pid", "43", "-p", "42", "-i", "0.5",
			 "--duration=30", "-j", NULL };
	char err[OPTIONS_ERR_LEN];
	struct options o;

	assert_int_equal(parse(11, argv, &o, err), OPTIONS_RUN);
	assert_int_equal(o.npids, 2);	/* the repeated 42 is traced once */
	assert_int_equal(o.pids[0], 42);
	assert_int_equal(o.pids[1], 43);
	assert_true(o.interval_ns == 500000000ull);
	assert_true(o.duration_ns == 30000000000ull);
	assert_true(o.json);
	assert_false(o.verbose);
	assert_null(o.command);
	assert_int_equal(o.ringbuf_bytes, GC_RINGBUF_BYTES);
	options_free(&o);
}

static void test_command_keeps_its_options(void **state)
{
	char *argv[] = { "gcpause", "-d", "2", "--", "python3", "-X", "dev", "-p", "app.py", NULL };
	char err[OPTIONS_ERR_LEN];
	struct options o;

	assert_int_equal(parse(9, argv, &o, err), OPTIONS_RUN);
	assert_non_null(o.command);
	assert_string_equal(o.command[0], "python3");
	assert_string_equal(o.command[3], "-p");
	assert_null(o.command[5]);
	assert_int_equal(o.npids, 0);
	options_free(&o);
}

static void expect_usage_error(int argc, char **argv, const char *needle)
{
	char err[OPTIONS_ERR_LEN];
	struct options o;

	assert_int_equal(parse(argc, argv, &o, err), OPTIONS_USAGE_ERROR);
	if (!strstr(err, needle))
		fail_msg("error '%s' lacks '%s'", err, needle);
	assert_null(strchr(err, '\n'));
	options_free(&o);
}

static void test_usage_errors(void **state)
{
	char *unknown_long[] = { "gcpause", "--frobnicate", NULL };
	char *unknown_short[] = { "gcpause", "-x", "-p", "1", NULL };
	char *missing_value[] = { "gcpause", "-p", NULL };
	char *bad_pid[] = { "gcpause", "-p", "12abc", NULL };
	char *zero_pid[] = { "gcpause", "-p", "0", NULL };
	char *bad_interval[] = { "gcpause", "-p", "1", "-i", "-3", NULL };
	char *nan_duration[] = { "gcpause", "-p", "1", "-d", "nan", NULL };
	char *bad_ringbuf[] = { "gcpause", "-p", "1", "--ringbuf-kb", "6", NULL };
	char *nothing[] = { "gcpause", "-j", NULL };
	char *both[] = { "gcpause", "-p", "1", "--", "python3", NULL };
	char *stray[] = { "gcpause", "-p", "1", "python3", NULL };

	expect_usage_error(2, unknown_long, "unknown option '--frobnicate'");
	expect_usage_error(4, unknown_short, "unknown option '-x'");
	expect_usage_error(2, missing_value, "needs a value");
	expect_usage_error(3, bad_pid, "invalid PID '12abc'");
	expect_usage_error(3, zero_pid, "invalid PID");
	expect_usage_error(5, bad_interval, "invalid interval");
	expect_usage_error(5, nan_duration, "invalid duration");
	expect_usage_error(5, bad_ringbuf, "power of two");
	expect_usage_error(2, nothing, "nothing to trace");
	expect_usage_error(5, both, "give one of");
	expect_usage_error(4, stray, "unexpected argument");
	{
		char *rel_route[] = { "gcpause", "--http", "--route", "api/x", "-p", "1", NULL };
		char *deep_route[] = { "gcpause", "--http", "--route", "/a/**/b", "-p", "1", NULL };
		char *bad_min[] = { "gcpause", "--http", "--hit-min", "2 ms", "-p", "1", NULL };
		char *no_http[] = { "gcpause", "--route", "/a/{id}", "-p", "1", NULL };

		expect_usage_error(6, rel_route, "starts with '/'");
		expect_usage_error(6, deep_route, "last segment");
		expect_usage_error(6, bad_min, "invalid --hit-min");
		expect_usage_error(5, no_http, "add --http");
	}
}

static void test_http_options(void **state)
{
	char *argv[] = { "gcpause", "--http", "--route", "/a/{id}", "--route", "/s/**",
			 "--hit-min", "500us", "-p", "1", NULL };
	char *defaults[] = { "gcpause", "--http", "-p", "1", NULL };
	char err[OPTIONS_ERR_LEN];
	struct options o;

	assert_int_equal(parse(10, argv, &o, err), OPTIONS_RUN);
	assert_int_equal(o.nroute_patterns, 2);
	assert_string_equal(o.route_patterns[1], "/s/**");
	assert_true(o.hit_min_ns == 500000);
	options_free(&o);
	assert_int_equal(parse(4, defaults, &o, err), OPTIONS_RUN);
	assert_true(o.hit_min_ns == 1000000 && !o.nroute_patterns);
	options_free(&o);
}

static void test_ringbuf_size(void **state)
{
	char *argv[] = { "gcpause", "--ringbuf-kb", "4", "-p", "1", NULL };
	char err[OPTIONS_ERR_LEN];
	struct options o;

	assert_int_equal(parse(5, argv, &o, err), OPTIONS_RUN);
	assert_int_equal(o.ringbuf_bytes, 4096);
	options_free(&o);
}

static void test_probe_and_list(void **state)
{
	char *forced[] = { "gcpause", "--probe", "stripped", "-p", "7", NULL };
	char *list_all[] = { "gcpause", "list", NULL };
	char *list_some[] = { "gcpause", "list", "-p", "3", "--json", "--probe=symbol", NULL };
	char *bad_probe[] = { "gcpause", "--probe", "kprobe", "-p", "1", NULL };
	char *list_interval[] = { "gcpause", "list", "-i", "1", NULL };
	char *list_command[] = { "gcpause", "list", "--", "python3", NULL };
	char err[OPTIONS_ERR_LEN];
	struct options o;

	assert_int_equal(parse(5, forced, &o, err), OPTIONS_RUN);
	assert_int_equal(o.probe_mode, PROBE_STRIPPED);
	assert_false(o.mode == MODE_LIST);
	options_free(&o);
	assert_int_equal(parse(2, list_all, &o, err), OPTIONS_RUN);
	assert_true(o.mode == MODE_LIST);
	assert_int_equal(o.npids, 0);
	assert_int_equal(o.probe_mode, PROBE_AUTO);
	options_free(&o);
	assert_int_equal(parse(6, list_some, &o, err), OPTIONS_RUN);
	assert_true(o.mode == MODE_LIST && o.json);
	assert_int_equal(o.npids, 1);
	assert_int_equal(o.probe_mode, PROBE_SYMBOL);
	options_free(&o);
	expect_usage_error(5, bad_probe, "invalid --probe 'kprobe'");
	expect_usage_error(4, list_interval, "no -i or -d");
	expect_usage_error(4, list_command, "unexpected argument 'python3'");
}

static void test_seconds(void **state)
{
	uint64_t ns;

	assert_int_equal(fmt_parse_seconds("1", &ns), 0);
	assert_true(ns == 1000000000ull);
	assert_int_equal(fmt_parse_seconds("0.001", &ns), 0);
	assert_true(ns == 1000000ull);
	assert_int_equal(fmt_parse_seconds("0", &ns), -EINVAL);
	assert_int_equal(fmt_parse_seconds("", &ns), -EINVAL);
	assert_int_equal(fmt_parse_seconds("1s", &ns), -EINVAL);
	assert_int_equal(fmt_parse_seconds("inf", &ns), -EINVAL);
	assert_int_equal(fmt_parse_seconds("1e300", &ns), -EINVAL);
}

static void test_fleet_and_serve(void **state)
{
	char *all[] = { "gcpause", "--all", "--comm", "gunicorn*", "--comm", "celery",
			"--container", "shop/*", "--exclude", "pytest", "--expire", "60",
			"--max-processes", "200", NULL };
	char *serve[] = { "gcpause", "serve", "--listen", ":9000", "--per-pid", "--http",
			  "--max-series", "50", NULL };
	char *serve_pids[] = { "gcpause", "serve", "-p", "7", NULL };
	char err[OPTIONS_ERR_LEN];
	struct options o;

	assert_int_equal(parse(14, all, &o, err), OPTIONS_RUN);
	assert_true(o.all);
	assert_false(o.mode == MODE_SERVE);
	assert_int_equal(o.ncomm_patterns, 2);
	assert_string_equal(o.comm_patterns[1], "celery");
	assert_int_equal(o.ncontainer_patterns, 1);
	assert_string_equal(o.container_patterns[0], "shop/*");
	assert_int_equal(o.nexclude_patterns, 1);
	assert_true(o.expire_ns == 60000000000ull);
	assert_int_equal(o.max_processes, 200);
	assert_string_equal(o.listen, OPTIONS_DEFAULT_LISTEN);
	options_free(&o);

	/* serve watches the whole node unless given PIDs. */
	assert_int_equal(parse(8, serve, &o, err), OPTIONS_RUN);
	assert_true(o.mode == MODE_SERVE && o.all && o.per_pid && o.http);
	assert_string_equal(o.listen, ":9000");
	assert_int_equal(o.max_series, 50);
	options_free(&o);
	assert_int_equal(parse(4, serve_pids, &o, err), OPTIONS_RUN);
	assert_true(o.mode == MODE_SERVE);
	assert_false(o.all);
	assert_int_equal(o.npids, 1);
	options_free(&o);
}

static void test_fleet_errors(void **state)
{
	char *filter_without_all[] = { "gcpause", "-p", "1", "--comm", "x", NULL };
	char *all_and_pid[] = { "gcpause", "--all", "-p", "1", NULL };
	char *serve_json[] = { "gcpause", "serve", "--json", NULL };
	char *serve_command[] = { "gcpause", "serve", "--", "python3", NULL };
	char *zero_procs[] = { "gcpause", "--all", "--max-processes", "0", NULL };
	char *too_many[] = { "gcpause", "--all", "--max-processes", "100000", NULL };
	char *bad_expire[] = { "gcpause", "--all", "--expire", "-1", NULL };

	expect_usage_error(5, filter_without_all, "select among --all");
	expect_usage_error(4, all_and_pid, "give one of");
	expect_usage_error(3, serve_json, "Prometheus");
	expect_usage_error(4, serve_command, "--all or -p");
	expect_usage_error(4, zero_procs, "--max-processes");
	expect_usage_error(4, too_many, "--max-processes");
	expect_usage_error(4, bad_expire, "--expire");
}

static void test_sample(void **state)
{
	char *dflt[] = { "gcpause", "--sample", "-p", "1", NULL };
	char *hz[] = { "gcpause", "--sample=250", "--all", NULL };
	char *zero[] = { "gcpause", "--sample=0", "-p", "1", NULL };
	char *big[] = { "gcpause", "--sample=20000", "-p", "1", NULL };
	char *with_http[] = { "gcpause", "--sample", "--http", "-p", "1", NULL };
	char *with_serve[] = { "gcpause", "serve", "--sample", NULL };
	char *with_top[] = { "gcpause", "top", "--sample", "-p", "1", NULL };
	char *with_probe[] = { "gcpause", "--sample", "--probe", "usdt", "-p", "1", NULL };
	char err[OPTIONS_ERR_LEN];
	struct options o;

	assert_int_equal(parse(4, dflt, &o, err), OPTIONS_RUN);
	assert_int_equal(o.sample_hz, OPTIONS_DEFAULT_SAMPLE_HZ);
	options_free(&o);
	assert_int_equal(parse(3, hz, &o, err), OPTIONS_RUN);
	assert_int_equal(o.sample_hz, 250);
	options_free(&o);
	expect_usage_error(4, zero, "--sample");
	expect_usage_error(4, big, "--sample");
	expect_usage_error(5, with_http, "--sample");
	expect_usage_error(3, with_serve, "--sample");
	assert_int_equal(parse(5, with_top, &o, err), OPTIONS_RUN);
	assert_true(o.mode == MODE_TOP && o.sample_hz);
	options_free(&o);
	expect_usage_error(6, with_probe, "--sample");
}

/* -p PID --children: the processes given and their descendants; never without -p. */
static void test_children(void **state)
{
	char *pids[] = { "gcpause", "--http", "-p", "7", "-p", "9", "--children", NULL };
	char *serve_pids[] = { "gcpause", "serve", "--children", "-p", "7", NULL };
	char *alone[] = { "gcpause", "--children", NULL };
	char *with_all[] = { "gcpause", "--all", "--children", NULL };
	char *serve_alone[] = { "gcpause", "serve", "--children", NULL };
	char *with_command[] = { "gcpause", "--children", "--", "gunicorn", NULL };
	char err[OPTIONS_ERR_LEN];
	struct options o;

	assert_int_equal(parse(7, pids, &o, err), OPTIONS_RUN);
	assert_true(o.children && o.http && !o.all && !o.command);
	assert_int_equal(o.npids, 2);
	options_free(&o);
	assert_int_equal(parse(5, serve_pids, &o, err), OPTIONS_RUN);
	assert_true(o.mode == MODE_SERVE && o.children && !o.all);
	options_free(&o);
	/* Not serve's default --all either: it names what --children is for. */
	expect_usage_error(2, alone, "--children follows the processes given with -p PID");
	expect_usage_error(3, with_all, "--children follows the processes given with -p PID");
	expect_usage_error(3, serve_alone, "--children follows the processes given with -p PID");
	expect_usage_error(4, with_command, "--all and -- COMMAND follow children already");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pids_and_times),
		cmocka_unit_test(test_command_keeps_its_options),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_http_options),
		cmocka_unit_test(test_ringbuf_size),
		cmocka_unit_test(test_probe_and_list),
		cmocka_unit_test(test_seconds),
		cmocka_unit_test(test_fleet_and_serve),
		cmocka_unit_test(test_children),
		cmocka_unit_test(test_fleet_errors),
		cmocka_unit_test(test_sample),
	};

	/* The parser prints --help to stdout; nothing here asks for it. */
	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
