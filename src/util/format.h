/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Human-readable durations, percentages and counts for the report. Every function writes a
 * NUL-terminated string of at most len - 1 bytes (truncating, never overflowing) and returns buf.
 * The *_LEN constants are large enough for any input.
 */
#ifndef GCPAUSE_UTIL_FORMAT_H
#define GCPAUSE_UTIL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Longest is UINT64_MAX ns: "307445734m34s". */
#define FMT_DURATION_LEN	16
/* Longest sensible is "-100.00%"; absurd fractions are truncated, not overflowed. */
#define FMT_PERCENT_LEN		16
/* At most seven characters: "1234567" or "9999.9M". */
#define FMT_COUNT_LEN		16

/*
 * Nanoseconds as "0ns", "850ns", "1.00µs", "12.3µs", "123µs", "4.56ms", "1.23s", "59.9s", and
 * "2m03s" from 60 s up (minutes are not folded into hours). Three significant digits, rounded
 * half up; a rounding that carries to 1000 moves to the next unit (999950 ns is "1.00ms"), and
 * one that reaches 60.0 s switches to minutes ("1m00s"). µ is U+00B5, two bytes in UTF-8: use
 * fmt_display_width() to pad columns.
 */
char *fmt_duration(char *buf, size_t len, uint64_t ns);
/* "1.5" seconds -> nanoseconds; -EINVAL unless a positive finite number below a year. */
int fmt_parse_seconds(const char *s, uint64_t *ns);

/* fraction 0.0123 as "1.23%"; exactly 0 as "0.00%"; nonzero but below 0.005% as "<0.01%". */
char *fmt_percent(char *buf, size_t len, double fraction);

/*
 * Counts below 10^7 in full with no separators ("1234567"); larger ones with one decimal and a
 * decimal suffix, rounded half up: "12.3M" from 10^7, "12.3G" from 10^10, then T, P and E at
 * every further factor of 1000, so the result never exceeds seven characters.
 */
char *fmt_count(char *buf, size_t len, uint64_t n);

/*
 * Terminal columns taken by a UTF-8 string, counted as code points: every character these
 * functions produce is one column wide, whereas printf("%-8s") pads by bytes and would misalign
 * anything containing µ.
 */
size_t fmt_display_width(const char *s);

/* Bytes that hold fmt_terminal() of any string of n bytes (its NUL excluded). */
#define FMT_TERMINAL_LEN(n)	(4 * (n) + 1)

/*
 * s made harmless to print on a terminal, for everything that comes from outside (a process's
 * comm, paths, pod names): C0 controls (ESC, newline, ...), DEL, C1 controls (U+0080-U+009F),
 * bidirectional overrides and bytes that are not UTF-8 become "\xNN", one per byte; other
 * UTF-8 and printable ASCII are kept as they are. Truncates at a whole character.
 */
char *fmt_terminal(char *buf, size_t len, const char *s);
/* The same straight to out; keep_lines keeps '\n' and '\t' (multi-line library messages). */
void fmt_terminal_put(FILE *out, const char *s, bool keep_lines);

#endif /* GCPAUSE_UTIL_FORMAT_H */
