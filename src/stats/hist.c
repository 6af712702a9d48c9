// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>

#include "stats/hist.h"

_Static_assert(HIST_SUB_COUNT == 1 << HIST_SUB_BITS, "HIST_SUB_COUNT must be 2^HIST_SUB_BITS");
_Static_assert(HIST_BUCKETS == HIST_SUB_COUNT + (64 - HIST_SUB_BITS) * HIST_SUB_COUNT,
	       "HIST_BUCKETS must cover every uint64_t");

/* Percentiles are resolved to a millionth of a percent; see hist_percentile(). */
#define PCT_SCALE		1000000ULL
#define PCT_SCALE_FULL		(100 * PCT_SCALE)

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

static uint64_t add_saturating(uint64_t a, uint64_t b)
{
	uint64_t sum;

	if (__builtin_add_overflow(a, b, &sum))
		return UINT64_MAX;
	return sum;
}

static unsigned int log2_floor(uint64_t v)
{
	return 63 - __builtin_clzll(v);
}

unsigned int hist_bucket_index(uint64_t v)
{
	unsigned int shift;

	if (v < HIST_SUB_COUNT)
		return v;
	/* Keep the top HIST_SUB_BITS + 1 bits; the leading 1 selects the power of two. */
	shift = log2_floor(v) - HIST_SUB_BITS;
	return HIST_SUB_COUNT + shift * HIST_SUB_COUNT + ((v >> shift) & (HIST_SUB_COUNT - 1));
}

uint64_t hist_bucket_low(unsigned int idx)
{
	unsigned int shift, sub;

	if (idx < HIST_SUB_COUNT)
		return idx;
	shift = (idx - HIST_SUB_COUNT) / HIST_SUB_COUNT;
	sub = idx % HIST_SUB_COUNT;
	return (uint64_t)(HIST_SUB_COUNT + sub) << shift;
}

uint64_t hist_bucket_high(unsigned int idx)
{
	unsigned int shift;

	if (idx < HIST_SUB_COUNT)
		return idx;
	shift = (idx - HIST_SUB_COUNT) / HIST_SUB_COUNT;
	/* For the last bucket this lands exactly on UINT64_MAX without overflowing. */
	return hist_bucket_low(idx) + ((1ULL << shift) - 1);
}

static uint64_t bucket_midpoint(unsigned int idx)
{
	uint64_t low = hist_bucket_low(idx);

	return low + (hist_bucket_high(idx) - low) / 2;
}

static uint64_t clamp(uint64_t v, uint64_t low, uint64_t high)
{
	if (v < low)
		return low;
	if (v > high)
		return high;
	return v;
}

void hist_add(struct hist *h, uint64_t v)
{
	h->buckets[hist_bucket_index(v)]++;
	h->count++;
	h->sum = add_saturating(h->sum, v);
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned int i;

	if (!src->count)
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum = add_saturating(dst->sum, src->sum);
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

/*
 * ceil(pct / 100 * count) computed in integers: a double such as 99.9 is really
 * 99.900000000000006, which would push the rank one past the intended one whenever
 * 99.9 / 100 * count is a whole number.
 */
static uint64_t percentile_rank(uint64_t count, double pct)
{
	uint64_t pct_scaled = (uint64_t)(pct * PCT_SCALE + 0.5);
	unsigned __int128 product = (unsigned __int128)pct_scaled * count;
	uint64_t rank = (uint64_t)((product + PCT_SCALE_FULL - 1) / PCT_SCALE_FULL);

	return clamp(rank, 1, count);
}

uint64_t hist_percentile(const struct hist *h, double pct)
{
	uint64_t rank, seen = 0;
	unsigned int i;

	if (!h->count)
		return 0;
	/* Written so that NaN falls on the min side instead of into the integer conversion. */
	if (!(pct > 0))
		return h->min;
	if (pct >= 100)
		return h->max;

	rank = percentile_rank(h->count, pct);
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank)
			return clamp(bucket_midpoint(i), h->min, h->max);
	}
	/* Unreachable while buckets agree with count; max is the least surprising answer. */
	return h->max;
}

uint64_t hist_mean(const struct hist *h)
{
	unsigned __int128 total = 0;
	unsigned int i;

	if (!h->count)
		return 0;
	if (h->sum != UINT64_MAX)
		return h->sum / h->count;

	/* The sum saturated (or hit UINT64_MAX exactly): rebuild it wide from the buckets. */
	for (i = 0; i < HIST_BUCKETS; i++)
		if (h->buckets[i])
			total += (unsigned __int128)bucket_midpoint(i) * h->buckets[i];
	return clamp((uint64_t)(total / h->count), h->min, h->max);
}

/* Row 0 is [0,1]; row k >= 1 is [2^k, 2^(k+1) - 1]. */
static unsigned int octave_of(uint64_t v)
{
	return v < 2 ? 0 : log2_floor(v);
}

static uint64_t octave_low(unsigned int octave)
{
	return octave ? 1ULL << octave : 0;
}

static uint64_t octave_high(unsigned int octave)
{
	/* Written as 2 * (2^k - 1) + 1 so that octave 63 ends on UINT64_MAX without overflow. */
	return ((1ULL << octave) - 1) * 2 + 1;
}

int hist_octaves(const struct hist *h, struct hist_row *rows, int max_rows)
{
	uint64_t octave_counts[HIST_OCTAVES] = { 0 };
	unsigned int first, last, octave, i;
	int nrows, row;

	if (!h->count || max_rows < 1)
		return 0;

	/* Buckets never straddle a power of two, so each one belongs to a single octave. */
	for (i = 0; i < HIST_BUCKETS; i++)
		octave_counts[octave_of(hist_bucket_low(i))] += h->buckets[i];

	/* From the counts rather than min/max, which a caller filling buckets directly may skip. */
	for (first = 0; first < HIST_OCTAVES - 1 && !octave_counts[first]; first++)
		;
	for (last = HIST_OCTAVES - 1; last > first && !octave_counts[last]; last--)
		;
	nrows = last - first + 1;
	if (nrows > max_rows)
		nrows = max_rows;

	/* The first row absorbs every octave the later rows cannot hold. */
	rows[0].low = octave_low(first);
	rows[0].count = 0;
	for (octave = first; octave <= last - (nrows - 1); octave++)
		rows[0].count += octave_counts[octave];
	rows[0].high = octave_high(octave - 1);

	for (row = 1; row < nrows; row++, octave++) {
		rows[row].low = octave_low(octave);
		rows[row].high = octave_high(octave);
		rows[row].count = octave_counts[octave];
	}
	return nrows;
}

uint64_t hist_rows_peak(const struct hist_row *rows, int n)
{
	uint64_t peak = 0;
	int i;

	for (i = 0; i < n; i++)
		if (rows[i].count > peak)
			peak = rows[i].count;
	return peak;
}

void hist_bar(char *buf, int width, uint64_t count, uint64_t peak)
{
	int stars = peak ? (int)((count * width + peak - 1) / peak) : 0, j;

	for (j = 0; j < width; j++)
		buf[j] = j < stars ? '*' : ' ';
	buf[width] = '\0';
}
