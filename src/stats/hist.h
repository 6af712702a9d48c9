/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Log-linear (HDR-style) histogram of nanosecond durations.
 *
 * Values 0..31 get one exact bucket each. Every power of two from 32 up is split into 32 equal
 * sub-buckets, so a bucket is never wider than 1/32 of its lowest value: percentiles keep three
 * significant digits from nanoseconds to centuries in a fixed 15 KiB, with no allocation and
 * O(1) insertion, which is what a per-pause hot path wants.
 */
#ifndef GCPAUSE_STATS_HIST_H
#define GCPAUSE_STATS_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS	5
#define HIST_SUB_COUNT	32	/* 1 << HIST_SUB_BITS */
/*
 * 32 exact buckets, then 32 sub-buckets for each power of two 2^5 .. 2^63. Plain int literals so
 * loops with int counters compare without sign warnings; hist.c checks the arithmetic.
 */
#define HIST_BUCKETS	1920
/* hist_octaves() never needs more rows than this: [0,1] plus one per power of two 2^1 .. 2^63. */
#define HIST_OCTAVES	64

struct hist {
	uint64_t count;
	uint64_t sum;		/* saturates at UINT64_MAX rather than wrapping */
	uint64_t min;		/* UINT64_MAX while empty */
	uint64_t max;
	uint64_t buckets[HIST_BUCKETS];
};

/* One row of the coarse, power-of-two view; bounds are inclusive. */
struct hist_row {
	uint64_t low;
	uint64_t high;
	uint64_t count;
};

void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
void hist_merge(struct hist *dst, const struct hist *src);

unsigned int hist_bucket_index(uint64_t v);
/* Smallest and largest (inclusive) value of bucket idx; idx must be below HIST_BUCKETS. */
uint64_t hist_bucket_low(unsigned int idx);
uint64_t hist_bucket_high(unsigned int idx);

/*
 * Value at percentile pct (0..100) of the recorded values, 0 if empty.
 *
 * The rank is ceil(pct / 100 * count), at least 1, with pct taken to a millionth of a percent so
 * that 99.9 means exactly 99.9 and not its binary approximation. The result is the midpoint of
 * the bucket holding that rank, clamped to [min, max], hence within 1/64 (1.6%) of the exact
 * order statistic. pct <= 0 returns min and pct >= 100 returns max, both exact.
 */
uint64_t hist_percentile(const struct hist *h, double pct);

/*
 * Mean of the recorded values, 0 if empty. Exact (rounded down) while the sum has not saturated;
 * after that it is rebuilt from bucket midpoints and is within 1/64 of the truth.
 */
uint64_t hist_mean(const struct hist *h);

/*
 * Coarse view for display: one row per power of two, [0,1], [2,3], [4,7] ... [2^63, 2^64-1],
 * from the lowest non-empty to the highest non-empty one, empty rows in between included.
 * Returns the number of rows written, 0 if the histogram is empty or max_rows < 1.
 *
 * If more than max_rows rows would be needed, the lowest rows are folded into the first one so
 * that the total is exactly max_rows: the tail, where pauses hurt, keeps its resolution and the
 * first row then spans several powers of two. Row counts always add up to h->count.
 * HIST_OCTAVES rows are always enough.
 */
int hist_octaves(const struct hist *h, struct hist_row *rows, int max_rows);
/* The largest count of rows[0..n). */
uint64_t hist_rows_peak(const struct hist_row *rows, int n);
/* A bcc-style bar of width '*' and ' ' for count of peak (rounded up), NUL-terminated in buf. */
void hist_bar(char *buf, int width, uint64_t count, uint64_t peak);

#endif /* GCPAUSE_STATS_HIST_H */
