// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stats/http_stats.h"

static struct http_route *route_for(struct http_stats *s, const struct http_request *r)
{
	struct http_route *route;
	int i;

	const char *path = r->route[0] ? r->route : r->path;

	for (i = 0; i < s->nroutes; i++)
		if (!strcmp(s->routes[i].path, path) && !strcmp(s->routes[i].method, r->method))
			return &s->routes[i];
	/* Paths with ids in them are unbounded: the last slot takes everything past the limit. */
	if (s->nroutes == HTTP_MAX_ROUTES)
		return &s->routes[HTTP_MAX_ROUTES - 1];
	route = &s->routes[s->nroutes++];
	hist_init(&route->latency);
	if (s->nroutes == HTTP_MAX_ROUTES) {
		strcpy(route->method, "*");
		strcpy(route->path, "(other routes)");
	} else {
		snprintf(route->method, sizeof(route->method), "%s", r->method);
		snprintf(route->path, sizeof(route->path), "%s", path);
	}
	return route;
}

static void keep_if_slowest(struct http_stats *s, const struct http_sample *sample)
{
	uint64_t lat = http_latency(&sample->req);
	int i;

	if (s->nslowest < HTTP_SLOWEST) {
		i = s->nslowest++;
	} else {
		i = HTTP_SLOWEST - 1;
		if (http_latency(&s->slowest[i].req) >= lat)
			return;
	}
	/* Insertion into a short array sorted slowest first. */
	while (i > 0 && http_latency(&s->slowest[i - 1].req) < lat) {
		s->slowest[i] = s->slowest[i - 1];
		i--;
	}
	s->slowest[i] = *sample;
}

int http_stats_init(struct http_stats *s)
{
	memset(s, 0, sizeof(*s));
	hist_init(&s->latency);
	hist_init(&s->gc_hit);
	hist_init(&s->clean);
	hist_init(&s->gen2_hit);
	hist_init(&s->big_hit);
	hist_init(&s->queue);
	s->routes = calloc(HTTP_MAX_ROUTES, sizeof(*s->routes));
	return s->routes ? 0 : -ENOMEM;
}

int http_stats_add(struct http_stats *s, const struct http_sample *sample)
{
	const struct http_request *r = &sample->req;
	uint64_t lat = http_latency(r);
	struct http_route *route;
	int g;

	if (s->npool == s->pool_cap) {
		size_t cap = s->pool_cap ? 2 * s->pool_cap : 1024;
		void *grown = realloc(s->tail_pool, cap * sizeof(*s->tail_pool));

		if (!grown)
			return -ENOMEM;
		s->tail_pool = grown;
		s->pool_cap = cap;
	}
	s->tail_pool[s->npool].latency = lat;
	s->tail_pool[s->npool].gc_ns = sample->gc.ns;
	s->tail_pool[s->npool].gen2 = http_sample_gen2_hit(sample);
	s->tail_pool[s->npool].big = http_sample_big_hit(sample);
	s->npool++;
	s->hit_min_ns = sample->hit_min_ns;
	hist_add(&s->latency, lat);
	hist_add(sample->gc.count ? &s->gc_hit : &s->clean, lat);
	if (http_sample_gen2_hit(sample))
		hist_add(&s->gen2_hit, lat);
	if (http_sample_big_hit(sample))
		hist_add(&s->big_hit, lat);
	hist_add(&s->queue, r->start_ns - r->arrival_ns);
	for (g = 0; g < GC_LOG_GENS; g++) {
		s->request_weighted_gc_ns_by_gen[g] += sample->gc.ns_by_gen[g];
		s->gc_wall_ns_by_gen[g] += sample->gc_wall_ns_by_gen[g];
	}
	if (!r->arrival_from_tcp)
		s->arrival_from_read++;
	keep_if_slowest(s, sample);
	route = route_for(s, r);
	hist_add(&route->latency, lat);
	route->gc_hit += sample->gc.count > 0;
	return 0;
}

int http_stats_merge(struct http_stats *dst, const struct http_stats *src)
{
	size_t need = dst->npool + src->npool;
	struct http_route *route;
	struct http_request key;
	int i;

	if (need > dst->pool_cap) {
		void *grown = realloc(dst->tail_pool, need * sizeof(*dst->tail_pool));

		if (!grown)
			return -ENOMEM;
		dst->tail_pool = grown;
		dst->pool_cap = need;
	}
	/* An empty source has no pool at all: memcpy() from NULL is undefined even for 0 bytes. */
	if (src->npool)
		memcpy(dst->tail_pool + dst->npool, src->tail_pool,
		       src->npool * sizeof(*src->tail_pool));
	dst->npool = need;
	hist_merge(&dst->latency, &src->latency);
	hist_merge(&dst->gc_hit, &src->gc_hit);
	hist_merge(&dst->clean, &src->clean);
	hist_merge(&dst->gen2_hit, &src->gen2_hit);
	hist_merge(&dst->big_hit, &src->big_hit);
	hist_merge(&dst->queue, &src->queue);
	if (src->npool)
		dst->hit_min_ns = src->hit_min_ns;
	for (i = 0; i < GC_LOG_GENS; i++) {
		dst->request_weighted_gc_ns_by_gen[i] += src->request_weighted_gc_ns_by_gen[i];
		dst->gc_wall_ns_by_gen[i] += src->gc_wall_ns_by_gen[i];
	}
	dst->arrival_from_read += src->arrival_from_read;
	for (i = 0; i < src->nslowest; i++)
		keep_if_slowest(dst, &src->slowest[i]);
	for (i = 0; i < src->nroutes; i++) {
		memset(&key, 0, sizeof(key));
		strcpy(key.method, src->routes[i].method);
		snprintf(key.route, sizeof(key.route), "%s", src->routes[i].path);
		route = route_for(dst, &key);
		hist_merge(&route->latency, &src->routes[i].latency);
		route->gc_hit += src->routes[i].gc_hit;
	}
	return 0;
}

void http_stats_tail(const struct http_stats *s, double pct, struct http_tail *t)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	if (!s->npool)
		return;
	t->threshold_ns = hist_percentile(&s->latency, pct);
	for (i = 0; i < s->npool; i++) {
		if (s->tail_pool[i].latency < t->threshold_ns)
			continue;
		t->requests++;
		t->latency_ns += s->tail_pool[i].latency;
		t->gc_ns += s->tail_pool[i].gc_ns;
		t->gc_hit += s->tail_pool[i].gc_ns > 0;
		if (s->tail_pool[i].gen2) {
			t->gen2_hit++;
			t->gen2_gc_ns += s->tail_pool[i].gc_ns;
			t->gen2_latency_ns += s->tail_pool[i].latency;
		}
		if (s->tail_pool[i].big) {
			t->big_hit++;
			t->big_gc_ns += s->tail_pool[i].gc_ns;
			t->big_latency_ns += s->tail_pool[i].latency;
		}
	}
}

void http_stats_free(struct http_stats *s)
{
	free(s->tail_pool);
	free(s->routes);
	memset(s, 0, sizeof(*s));
}
