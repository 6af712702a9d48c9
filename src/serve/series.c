// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "serve/series.h"

#define NSEC_PER_USEC	1000ULL
#define NSEC_PER_MSEC	1000000ULL
#define NSEC_PER_SEC	1000000000ULL

/* The hash table never grows: sized once for max_series, within these limits. */
#define HASH_MIN_BUCKETS	16U
#define HASH_MAX_BUCKETS	(1U << 20)

const uint64_t series_gc_bounds_ns[SERIES_GC_BUCKETS - 1] = {
	100 * NSEC_PER_USEC, 250 * NSEC_PER_USEC, 500 * NSEC_PER_USEC,
	1 * NSEC_PER_MSEC, 2500 * NSEC_PER_USEC, 5 * NSEC_PER_MSEC,
	10 * NSEC_PER_MSEC, 25 * NSEC_PER_MSEC, 50 * NSEC_PER_MSEC,
	100 * NSEC_PER_MSEC, 250 * NSEC_PER_MSEC, 500 * NSEC_PER_MSEC,
	1 * NSEC_PER_SEC, 2500 * NSEC_PER_MSEC, 5 * NSEC_PER_SEC, 10 * NSEC_PER_SEC,
};

const uint64_t series_req_bounds_ns[SERIES_REQ_BUCKETS - 1] = {
	500 * NSEC_PER_USEC, 1 * NSEC_PER_MSEC, 2500 * NSEC_PER_USEC,
	5 * NSEC_PER_MSEC, 10 * NSEC_PER_MSEC, 25 * NSEC_PER_MSEC,
	50 * NSEC_PER_MSEC, 100 * NSEC_PER_MSEC, 250 * NSEC_PER_MSEC,
	500 * NSEC_PER_MSEC, 1 * NSEC_PER_SEC, 2500 * NSEC_PER_MSEC,
	5 * NSEC_PER_SEC, 10 * NSEC_PER_SEC,
};

struct series_table {
	unsigned int max_series;
	unsigned int count;
	bool http;
	uint64_t dropped;
	uint64_t expired;
	unsigned int nbuckets;		/* a power of two */
	struct series **buckets;
	struct series *first, *last;
};

static uint64_t add_saturating(uint64_t a, uint64_t b)
{
	uint64_t sum;

	if (__builtin_add_overflow(a, b, &sum))
		return UINT64_MAX;
	return sum;
}

struct series_table *series_table_new(unsigned int max_series, bool http)
{
	struct series_table *t;
	unsigned int n = HASH_MIN_BUCKETS;

	if (!max_series) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	while (n < max_series && n < HASH_MAX_BUCKETS)
		n *= 2;
	t->buckets = calloc(n, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	t->nbuckets = n;
	t->max_series = max_series;
	t->http = http;
	return t;
}

static void series_delete(struct series *s)
{
	free(s);
}

void series_table_free(struct series_table *t)
{
	struct series *s, *next;

	if (!t)
		return;
	for (s = t->first; s; s = next) {
		next = s->next;
		series_delete(s);
	}
	free(t->buckets);
	free(t);
}

static void copy_field(char *dst, const char *src, size_t size)
{
	size_t len = strnlen(src, size - 1);

	memcpy(dst, src, len);
}

/*
 * Labels with every byte defined (fields cut and NUL-padded, padding zeroed), so that hashing and
 * comparing whole structs is the same as comparing the values.
 */
static void labels_normalize(struct series_labels *dst, const struct series_labels *src)
{
	memset(dst, 0, sizeof(*dst));
	copy_field(dst->ns, src->ns, sizeof(dst->ns));
	copy_field(dst->pod, src->pod, sizeof(dst->pod));
	copy_field(dst->pod_uid, src->pod_uid, sizeof(dst->pod_uid));
	copy_field(dst->container_id, src->container_id, sizeof(dst->container_id));
	copy_field(dst->command, src->command, sizeof(dst->command));
	copy_field(dst->program, src->program, sizeof(dst->program));
	copy_field(dst->service, src->service, sizeof(dst->service));
	copy_field(dst->python, src->python, sizeof(dst->python));
	dst->pid = src->pid;
}

/* FNV-1a: label sets are few and short, and lookups happen when processes come, not per event. */
static uint64_t labels_hash(const struct series_labels *l)
{
	const unsigned char *p = (const unsigned char *)l;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < sizeof(*l); i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static struct series *series_new(const struct series_table *t, const struct series_labels *l,
				 uint64_t hash)
{
	size_t size = sizeof(struct series) + (t->http ? sizeof(struct series_http) : 0);
	struct series *s = calloc(1, size);

	if (!s)
		return NULL;
	/* One block per series, so a series costs one allocation and its size is fixed. */
	if (t->http)
		s->http = (struct series_http *)(s + 1);
	memcpy(&s->labels, l, sizeof(*l));
	s->hash = hash;
	return s;
}

struct series *series_get(struct series_table *t, const struct series_labels *l)
{
	struct series_labels key;
	struct series *s;
	uint64_t hash;
	unsigned int b;

	labels_normalize(&key, l);
	hash = labels_hash(&key);
	b = hash & (t->nbuckets - 1);
	for (s = t->buckets[b]; s; s = s->hash_next)
		if (s->hash == hash && !memcmp(&s->labels, &key, sizeof(key)))
			return s;

	if (t->count >= t->max_series) {
		t->dropped++;
		return NULL;
	}
	s = series_new(t, &key, hash);
	if (!s)
		return NULL;
	s->hash_next = t->buckets[b];
	t->buckets[b] = s;
	s->prev = t->last;
	if (t->last)
		t->last->next = s;
	else
		t->first = s;
	t->last = s;
	t->count++;
	return s;
}

void series_hold(struct series *s)
{
	s->live++;
	s->idle_known = false;
}

void series_release(struct series *s, uint64_t now_ns)
{
	if (!s->live)
		return;
	if (--s->live)
		return;
	s->idle_known = true;
	s->idle_since_ns = now_ns;
}

/* Index of the first bucket whose inclusive upper bound holds v; nbounds means +Inf. */
static unsigned int bucket_of(const uint64_t *bounds, unsigned int nbounds, uint64_t v)
{
	unsigned int i;

	for (i = 0; i < nbounds; i++)
		if (v <= bounds[i])
			break;
	return i;
}

void series_add_gc(struct series *s, int gen, uint64_t pause_ns, int64_t collected)
{
	struct series_gen *g = &s->gens[gen >= 0 && gen < SERIES_GEN_OTHER ? gen : SERIES_GEN_OTHER];

	g->buckets[bucket_of(series_gc_bounds_ns, SERIES_GC_BUCKETS - 1, pause_ns)]++;
	g->count++;
	g->sum_ns = add_saturating(g->sum_ns, pause_ns);
	/* A counter must not go down; CPython never reports a negative count anyway. */
	if (collected > 0)
		g->collected = add_saturating(g->collected, (uint64_t)collected);
}

void series_add_request(struct series *s, uint64_t latency_ns, uint64_t gc_ns,
			uint64_t gc_wall_ns)
{
	struct series_req *r;

	if (!s->http)
		return;
	r = &s->http->req[gc_ns ? SERIES_REQ_HIT : SERIES_REQ_CLEAN];
	r->buckets[bucket_of(series_req_bounds_ns, SERIES_REQ_BUCKETS - 1, latency_ns)]++;
	r->count++;
	r->sum_ns = add_saturating(r->sum_ns, latency_ns);
	s->http->gc_ns = add_saturating(s->http->gc_ns, gc_ns);
	s->http->gc_wall_ns = add_saturating(s->http->gc_wall_ns, gc_wall_ns);
}

static void series_unlink(struct series_table *t, struct series *s)
{
	struct series **pp = &t->buckets[s->hash & (t->nbuckets - 1)];

	while (*pp != s)
		pp = &(*pp)->hash_next;
	*pp = s->hash_next;

	if (s->prev)
		s->prev->next = s->next;
	else
		t->first = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		t->last = s->prev;
	t->count--;
}

unsigned int series_expire(struct series_table *t, uint64_t now_ns, uint64_t idle_ns)
{
	struct series *s, *next;
	unsigned int n = 0;

	for (s = t->first; s; s = next) {
		next = s->next;
		if (s->live)
			continue;
		if (!s->idle_known) {
			s->idle_known = true;
			s->idle_since_ns = now_ns;
		}
		/* A clock going backwards (a caller mixing clocks) never expires anything early. */
		if (now_ns < s->idle_since_ns || now_ns - s->idle_since_ns < idle_ns)
			continue;
		series_unlink(t, s);
		series_delete(s);
		n++;
	}
	t->expired += n;
	return n;
}

unsigned int series_count(const struct series_table *t)
{
	return t->count;
}

bool series_table_http(const struct series_table *t)
{
	return t->http;
}

uint64_t series_table_dropped(const struct series_table *t)
{
	return t->dropped;
}

uint64_t series_table_expired(const struct series_table *t)
{
	return t->expired;
}

const struct series *series_first(const struct series_table *t)
{
	return t->first;
}

const struct series *series_next(const struct series *s)
{
	return s->next;
}
