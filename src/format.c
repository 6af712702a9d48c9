// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <inttypes.h>
#include <stdio.h>

#include "format.h"

#define NSEC_PER_USEC	1000ULL
#define NSEC_PER_SEC	1000000000ULL
#define NSEC_PER_MIN	(60 * NSEC_PER_SEC)

/* Spelled as bytes so the output is UTF-8 whatever the compiler's execution character set. */
#define MICRO_SIGN	"\xc2\xb5"

enum duration_unit { UNIT_NS, UNIT_US, UNIT_MS, UNIT_S };

static const char *const duration_unit_names[] = {
	[UNIT_NS] = "ns",
	[UNIT_US] = MICRO_SIGN "s",
	[UNIT_MS] = "ms",
	[UNIT_S] = "s",
};

static const uint64_t powers_of_ten[] = { 1, 10, 100, 1000 };

/* value / divisor rounded half up; written without value + divisor / 2 so it cannot overflow. */
static uint64_t div_round_half_up(uint64_t value, uint64_t divisor)
{
	return value / divisor + (value % divisor >= divisor - divisor / 2);
}

static char *fmt_minutes(char *buf, size_t len, uint64_t ns)
{
	uint64_t seconds = div_round_half_up(ns, NSEC_PER_SEC);

	snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", seconds / 60, seconds % 60);
	return buf;
}

char *fmt_duration(char *buf, size_t len, uint64_t ns)
{
	enum duration_unit unit = UNIT_US;
	uint64_t unit_ns = NSEC_PER_USEC, whole, digits, scale;
	unsigned int decimals;

	if (ns < NSEC_PER_USEC) {
		snprintf(buf, len, "%" PRIu64 "ns", ns);
		return buf;
	}
	if (ns >= NSEC_PER_MIN)
		return fmt_minutes(buf, len, ns);

	/* Below a minute, so this stops at seconds at the latest. */
	while (ns / unit_ns >= 1000) {
		unit_ns *= 1000;
		unit++;
	}

	/* Three significant digits: as many decimals as the integer part leaves room for. */
	whole = ns / unit_ns;
	decimals = whole < 10 ? 2 : whole < 100 ? 1 : 0;
	digits = div_round_half_up(ns, unit_ns / powers_of_ten[decimals]);

	/* Rounding up to 1000 digits would show four: drop a decimal, or go to the next unit. */
	if (digits == 1000) {
		digits = 100;
		if (decimals) {
			decimals--;
		} else {
			decimals = 2;
			unit++;
		}
	}
	/* Seconds that round to 60.0 read better as the minute they have become. */
	if (unit == UNIT_S && digits >= 60 * powers_of_ten[decimals])
		return fmt_minutes(buf, len, ns);

	scale = powers_of_ten[decimals];
	if (decimals)
		snprintf(buf, len, "%" PRIu64 ".%0*" PRIu64 "%s", digits / scale, (int)decimals,
			 digits % scale, duration_unit_names[unit]);
	else
		snprintf(buf, len, "%" PRIu64 "%s", digits, duration_unit_names[unit]);
	return buf;
}

char *fmt_percent(char *buf, size_t len, double fraction)
{
	double percent = fraction * 100;

	/* Exact zero, including -0.0, must not print as "-0.00%". */
	if (fraction == 0)
		snprintf(buf, len, "0.00%%");
	/* Something happened, even if it rounds to nothing: do not claim zero. */
	else if (percent > 0 && percent < 0.005)
		snprintf(buf, len, "<0.01%%");
	else
		snprintf(buf, len, "%.2f%%", percent);
	return buf;
}

char *fmt_count(char *buf, size_t len, uint64_t n)
{
	static const char suffixes[] = "MGTPE";
	uint64_t unit = 1000000, tenths;
	unsigned int i;

	if (n < 10000000) {
		snprintf(buf, len, "%" PRIu64, n);
		return buf;
	}

	/*
	 * Stay in a unit while the value keeps at most four integer digits, which bounds the width
	 * at seven characters like the exact form; rounding up to 10000.0 carries to the next one.
	 */
	for (i = 0;; i++) {
		tenths = div_round_half_up(n, unit / 10);
		if (tenths < 100000 || i == sizeof(suffixes) - 2)
			break;
		unit *= 1000;
	}
	snprintf(buf, len, "%" PRIu64 ".%" PRIu64 "%c", tenths / 10, tenths % 10, suffixes[i]);
	return buf;
}

size_t fmt_display_width(const char *s)
{
	size_t width = 0;

	/* Each code point has exactly one byte that is not a continuation byte (10xxxxxx). */
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			width++;
	return width;
}
