// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/format.h"

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

/*
 * Length of the UTF-8 character at s when it is valid and safe on a terminal, else 0 (its
 * first byte is then escaped). Overlong forms, surrogates and code points past U+10FFFF are
 * not UTF-8; C1 controls and the bidirectional formatting characters are not safe.
 */
static size_t safe_char_len(const unsigned char *s)
{
	unsigned int cp;

	if (s[0] < 0x80)
		return s[0] >= 0x20 && s[0] != 0x7f ? 1 : 0;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		if ((s[1] & 0xc0) != 0x80)
			return 0;
		cp = (s[0] & 0x1f) << 6 | (s[1] & 0x3f);
		return cp >= 0xa0 ? 2 : 0;
	}
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		cp = (s[0] & 0x0f) << 12 | (s[1] & 0x3f) << 6 | (s[2] & 0x3f);
		if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		/* LRM, RLM, LRE..RLO, LRI..PDI: they reorder what follows on the line. */
		if (cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069))
			return 0;
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		cp = (s[0] & 0x07) << 18 | (s[1] & 0x3f) << 12 | (s[2] & 0x3f) << 6 | (s[3] & 0x3f);
		return cp >= 0x10000 && cp <= 0x10ffff ? 4 : 0;
	}
	return 0;
}

/*
 * The next piece of s to print: a safe character as is, or one byte as "\xNN" in esc.
 * Returns its text and sets *n to its length and *used to the bytes of s it stands for.
 */
static const char *next_piece(const char *s, bool keep_lines, char esc[5], size_t *n,
			      size_t *used)
{
	size_t k = safe_char_len((const unsigned char *)s);

	if (!k && keep_lines && (*s == '\n' || *s == '\t'))
		k = 1;
	if (k) {
		*n = *used = k;
		return s;
	}
	snprintf(esc, 5, "\\x%02x", (unsigned char)*s);
	*n = 4;
	*used = 1;
	return esc;
}

char *fmt_terminal(char *buf, size_t len, const char *s)
{
	size_t o = 0, n, used;
	const char *piece;
	char esc[5];

	if (!len)
		return buf;
	while (*s) {
		piece = next_piece(s, false, esc, &n, &used);
		if (o + n > len - 1)
			break;
		memcpy(buf + o, piece, n);
		o += n;
		s += used;
	}
	buf[o] = '\0';
	return buf;
}

void fmt_terminal_put(FILE *out, const char *s, bool keep_lines)
{
	size_t n, used;
	const char *piece;
	char esc[5];

	while (*s) {
		piece = next_piece(s, keep_lines, esc, &n, &used);
		fwrite(piece, 1, n, out);
		s += used;
	}
}

/* A year: longer durations are typing mistakes. */
#define MAX_SECONDS		(365.0 * 24 * 3600)

int fmt_parse_seconds(const char *s, uint64_t *ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > MAX_SECONDS)
		return -EINVAL;
	*ns = (uint64_t)(v * 1e9);
	return *ns ? 0 : -EINVAL;
}
