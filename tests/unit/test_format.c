// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/format.h"

#define MICRO "\xc2\xb5"

#define NSEC_PER_SEC	1000000000ULL

static void check_duration(uint64_t ns, const char *expected)
{
	char buf[FMT_DURATION_LEN];

	assert_ptr_equal(fmt_duration(buf, sizeof(buf), ns), buf);
	assert_string_equal(buf, expected);
}

static void test_duration_small(void **state)
{
	check_duration(0, "0ns");
	check_duration(1, "1ns");
	check_duration(850, "850ns");
	check_duration(999, "999ns");
}

static void test_duration_three_digits(void **state)
{
	check_duration(1000, "1.00" MICRO "s");
	check_duration(1004, "1.00" MICRO "s");
	/* Half up, in both directions of the boundary. */
	check_duration(1044, "1.04" MICRO "s");
	check_duration(1045, "1.05" MICRO "s");
	check_duration(1049, "1.05" MICRO "s");
	check_duration(9994, "9.99" MICRO "s");
	/* 9.995 µs carries to ten: one decimal fewer, not "10.00µs". */
	check_duration(9995, "10.0" MICRO "s");
	check_duration(12345, "12.3" MICRO "s");
	check_duration(12350, "12.4" MICRO "s");
	check_duration(99949, "99.9" MICRO "s");
	check_duration(99950, "100" MICRO "s");
	check_duration(123456, "123" MICRO "s");
	check_duration(999499, "999" MICRO "s");
	/* Carrying to 1000 µs moves to the next unit; three digits put the edge at 999.5 µs. */
	check_duration(999500, "1.00ms");
	check_duration(999949, "1.00ms");
	check_duration(999950, "1.00ms");
	check_duration(999960, "1.00ms");
	check_duration(999999, "1.00ms");
	check_duration(1000000, "1.00ms");
	check_duration(4560000, "4.56ms");
	check_duration(4564999, "4.56ms");
	check_duration(4565000, "4.57ms");
	check_duration(999500000, "1.00s");
	check_duration(1230000000, "1.23s");
	check_duration(12345678901ULL, "12.3s");
}

static void test_duration_minutes(void **state)
{
	check_duration(59900000000ULL, "59.9s");
	check_duration(59949999999ULL, "59.9s");
	/* Rounds to 60.0 s: shown as the minute it has become. */
	check_duration(59950000000ULL, "1m00s");
	check_duration(60 * NSEC_PER_SEC - 1, "1m00s");
	check_duration(60 * NSEC_PER_SEC, "1m00s");
	check_duration(123 * NSEC_PER_SEC, "2m03s");
	check_duration(123 * NSEC_PER_SEC + 499999999, "2m03s");
	check_duration(123 * NSEC_PER_SEC + 500000000, "2m04s");
	check_duration(119 * NSEC_PER_SEC + 600000000, "2m00s");
	check_duration(3723 * NSEC_PER_SEC, "62m03s");
	/* 18446744073.709551615 s, rounded to the second without overflowing. */
	check_duration(UINT64_MAX, "307445734m34s");
}

static void test_duration_truncates_safely(void **state)
{
	char buf[5];

	memset(buf, 'x', sizeof(buf));
	fmt_duration(buf, sizeof(buf), 12345);
	/* "12.3µs" is 7 bytes; snprintf keeps 4 and the terminator. */
	assert_int_equal(strlen(buf), 4);
	assert_memory_equal(buf, "12.3", 4);
}

static void check_percent(double fraction, const char *expected)
{
	char buf[FMT_PERCENT_LEN];

	assert_ptr_equal(fmt_percent(buf, sizeof(buf), fraction), buf);
	assert_string_equal(buf, expected);
}

static void test_percent(void **state)
{
	check_percent(0, "0.00%");
	check_percent(-0.0, "0.00%");
	check_percent(0.0123, "1.23%");
	check_percent(0.5, "50.00%");
	check_percent(1, "100.00%");
	check_percent(0.00001, "<0.01%");
	check_percent(1e-12, "<0.01%");
	check_percent(0.00004, "<0.01%");
	check_percent(0.0001, "0.01%");
	check_percent(0.99999, "100.00%");
}

static void check_count(uint64_t n, const char *expected)
{
	char buf[FMT_COUNT_LEN];

	assert_ptr_equal(fmt_count(buf, sizeof(buf), n), buf);
	assert_string_equal(buf, expected);
}

static void test_count(void **state)
{
	check_count(0, "0");
	check_count(42, "42");
	check_count(1234567, "1234567");
	check_count(9999999, "9999999");
	check_count(10000000, "10.0M");
	check_count(12345678, "12.3M");
	check_count(12350000, "12.4M");
	check_count(123456789, "123.5M");
	check_count(9999949999ULL, "9999.9M");
	/* Rounds to 10000.0M, which carries into the next unit. */
	check_count(9999950000ULL, "10.0G");
	check_count(10000000000ULL, "10.0G");
	check_count(12345678901ULL, "12.3G");
	check_count(12345678901234ULL, "12.3T");
	check_count(12345678901234567ULL, "12.3P");
	check_count(UINT64_MAX, "18.4E");
}

static void test_display_width(void **state)
{
	char buf[FMT_DURATION_LEN];

	assert_int_equal(fmt_display_width(""), 0);
	assert_int_equal(fmt_display_width("850ns"), 5);
	assert_int_equal(fmt_display_width("12.3" MICRO "s"), 6);
	assert_int_equal(strlen("12.3" MICRO "s"), 7);
	assert_int_equal(fmt_display_width(fmt_duration(buf, sizeof(buf), 123456)), 5);
	/* Three- and four-byte sequences are one column each as well. */
	assert_int_equal(fmt_display_width("\xe2\x80\xa6" "\xf0\x9f\x90\x8d"), 2);
}

/* Nothing from outside reaches a terminal as a control: ESC, C1, bidi overrides, bad UTF-8. */
static void test_terminal_escaping(void **state)
{
	char buf[FMT_TERMINAL_LEN(64)], small[8];
	char *mem = NULL;
	size_t mem_len = 0;
	FILE *f;

	assert_string_equal(fmt_terminal(buf, sizeof(buf), "python3.11"), "python3.11");
	assert_string_equal(fmt_terminal(buf, sizeof(buf), "\x1b[2Jevil\r\n\t\x7f"),
			    "\\x1b[2Jevil\\x0d\\x0a\\x09\\x7f");
	/* Printable UTF-8 stays; C1 CSI (U+009B), RLO (U+202E), overlong and stray bytes do not. */
	assert_string_equal(fmt_terminal(buf, sizeof(buf), "caf\xc3\xa9 12" MICRO "s"),
			    "caf\xc3\xa9 12" MICRO "s");
	assert_string_equal(fmt_terminal(buf, sizeof(buf), "\xc2\x9b" "2J"), "\\xc2\\x9b2J");
	assert_string_equal(fmt_terminal(buf, sizeof(buf), "a\xe2\x80\xae" "b"),
			    "a\\xe2\\x80\\xaeb");
	assert_string_equal(fmt_terminal(buf, sizeof(buf), "\xc0\xaf\xff\xe2\x82"),
			    "\\xc0\\xaf\\xff\\xe2\\x82");
	assert_string_equal(fmt_terminal(buf, sizeof(buf), "\xed\xa0\x80\xf0\x9f\x90\x8d"),
			    "\\xed\\xa0\\x80\xf0\x9f\x90\x8d");
	/* Cut at a whole escape, never inside one. */
	assert_string_equal(fmt_terminal(small, sizeof(small), "ab\x1b[2J"), "ab\\x1b[");
	assert_string_equal(fmt_terminal(small, sizeof(small), "abcd\x1b"), "abcd");
	assert_string_equal(fmt_terminal(small, 1, "abc"), "");
	/* Streamed: line breaks kept only when asked. */
	f = open_memstream(&mem, &mem_len);
	assert_non_null(f);
	fmt_terminal_put(f, "one\n\x1b]0;title\x07two\n", true);
	fmt_terminal_put(f, "three\n", false);
	fclose(f);
	assert_string_equal(mem, "one\n\\x1b]0;title\\x07two\nthree\\x0a");
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_small),
		cmocka_unit_test(test_duration_three_digits),
		cmocka_unit_test(test_duration_minutes),
		cmocka_unit_test(test_duration_truncates_safely),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_display_width),
		cmocka_unit_test(test_terminal_escaping),
	};

	return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
