// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "stats/gc_log.h"

int gc_log_add(struct gc_log *log, uint64_t start_ns, uint64_t end_ns, int gen)
{
	size_t i;

	if (log->n == log->cap) {
		size_t cap = log->cap ? 2 * log->cap : 256;
		struct gc_log_entry *grown = realloc(log->entries, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		log->entries = grown;
		log->cap = cap;
	}
	/* Collections come in end order per thread; keep start order across threads. */
	for (i = log->n; i > 0 && log->entries[i - 1].start_ns > start_ns; i--)
		;
	memmove(&log->entries[i + 1], &log->entries[i], (log->n - i) * sizeof(log->entries[0]));
	log->entries[i] = (struct gc_log_entry){ .start_ns = start_ns, .end_ns = end_ns,
						 .gen = gen };
	log->n++;
	return 0;
}

static uint64_t entry_ns(const struct gc_log_entry *e)
{
	return e->end_ns - e->start_ns;
}

static void list_longest(struct gc_overlap *o, const struct gc_log_entry *e)
{
	int i;

	if (o->nlisted < GC_OVERLAP_LISTED) {
		i = o->nlisted++;
	} else {
		i = GC_OVERLAP_LISTED - 1;
		if (entry_ns(&o->listed[i]) >= entry_ns(e))
			return;
	}
	/* Insertion into a short array sorted longest first. */
	while (i > 0 && entry_ns(&o->listed[i - 1]) < entry_ns(e)) {
		o->listed[i] = o->listed[i - 1];
		i--;
	}
	o->listed[i] = *e;
}

void gc_log_overlap(const struct gc_log *log, uint64_t from, uint64_t to, struct gc_overlap *o)
{
	size_t lo = 0, hi = log->n, i;

	memset(o, 0, sizeof(*o));
	/* The first entry starting at or after from; earlier ones may still reach into it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (log->entries[mid].start_ns < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Collections of one process never overlap: only the one before can reach into it. */
	i = lo > 0 ? lo - 1 : 0;
	for (; i < log->n && log->entries[i].start_ns <= to; i++) {
		const struct gc_log_entry *e = &log->entries[i];
		uint64_t s = e->start_ns > from ? e->start_ns : from;
		uint64_t t = e->end_ns < to ? e->end_ns : to;
		int gen = e->gen >= 0 && e->gen < GC_LOG_GENS ? e->gen : GC_LOG_GENS - 1;

		if (t <= s)
			continue;
		o->ns += t - s;
		o->count++;
		o->ns_by_gen[gen] += t - s;
		list_longest(o, e);
	}
}

static uint64_t covered_ns(const struct gc_log_entry *e)
{
	uint64_t ns = 0;
	int i;

	for (i = 0; i < e->ncover; i++)
		ns += e->cover[i].to - e->cover[i].from;
	return ns;
}

/* Adds [from, to] to the entry's disjoint sorted cover, merging what touches it. */
static void cover_add(struct gc_log_entry *e, uint64_t from, uint64_t to)
{
	int i, j, k, best;

	for (i = 0; i < e->ncover && e->cover[i].to < from; i++)
		;
	for (j = i; j < e->ncover && e->cover[j].from <= to; j++) {
		if (e->cover[j].from < from)
			from = e->cover[j].from;
		if (e->cover[j].to > to)
			to = e->cover[j].to;
	}
	/* cover[i, j) merge into [from, to]. */
	if (j == i) {
		if (e->ncover == GC_LOG_COVER) {
			/* Full: the closest two merge (the gap between counts as covered). */
			for (best = 0, k = 1; k < e->ncover - 1; k++)
				if (e->cover[k + 1].from - e->cover[k].to <
				    e->cover[best + 1].from - e->cover[best].to)
					best = k;
			e->cover[best].to = e->cover[best + 1].to;
			memmove(&e->cover[best + 1], &e->cover[best + 2],
				(e->ncover - best - 2) * sizeof(e->cover[0]));
			e->ncover--;
			cover_add(e, from, to);
			return;
		}
		memmove(&e->cover[i + 1], &e->cover[i], (e->ncover - i) * sizeof(e->cover[0]));
		e->ncover++;
	} else if (j > i + 1) {
		memmove(&e->cover[i + 1], &e->cover[j], (e->ncover - j) * sizeof(e->cover[0]));
		e->ncover -= j - i - 1;
	}
	e->cover[i].from = from;
	e->cover[i].to = to;
}

void gc_log_cover(struct gc_log *log, uint64_t from, uint64_t to,
		  uint64_t newly_by_gen[GC_LOG_GENS])
{
	size_t i;

	/* Requests are published soon after they end: a scan from the newest entry back. */
	for (i = log->n; i > 0; i--) {
		struct gc_log_entry *e = &log->entries[i - 1];
		uint64_t s = e->start_ns > from ? e->start_ns : from;
		uint64_t t = e->end_ns < to ? e->end_ns : to;
		int gen = e->gen >= 0 && e->gen < GC_LOG_GENS ? e->gen : GC_LOG_GENS - 1;
		uint64_t before;

		if (e->end_ns <= from)
			break;	/* one process's collections never overlap: earlier ones end earlier */
		if (t <= s)
			continue;
		before = covered_ns(e);
		cover_add(e, s, t);
		newly_by_gen[gen] += covered_ns(e) - before;
	}
}

void gc_log_prune(struct gc_log *log, uint64_t before_ns)
{
	size_t keep = 0;

	while (keep < log->n && log->entries[keep].end_ns < before_ns)
		keep++;
	if (!keep)
		return;
	memmove(log->entries, log->entries + keep, (log->n - keep) * sizeof(log->entries[0]));
	log->n -= keep;
}

void gc_log_free(struct gc_log *log)
{
	free(log->entries);
	memset(log, 0, sizeof(*log));
}
