// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <netinet/in.h>
#include <string.h>

#include "serve/conn_guard.h"

static void client_addr(const struct sockaddr *sa, unsigned char out[16])
{
	memset(out, 0, 16);
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else if (sa && sa->sa_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	}
}

static struct guard_conn *find(struct conn_guard *g, int fd)
{
	int i;

	for (i = 0; i < g->n; i++)
		if (g->conns[i].fd == fd)
			return &g->conns[i];
	return NULL;
}

void guard_round(struct conn_guard *g)
{
	g->round++;
}

/*
 * The connection to give up for a newcomer: one the server has had a round to read (so that a
 * burst of connects cannot push out a client before its request is read), waiting for its
 * request rather than being answered, and of those the one waiting longest.
 */
static struct guard_conn *victim_among(struct conn_guard *g, const unsigned char *addr)
{
	struct guard_conn *best = NULL, *c;
	int i;

	for (i = 0; i < g->n; i++) {
		c = &g->conns[i];
		if (c->closing || c->round >= g->round || (addr && memcmp(c->addr, addr, 16)))
			continue;
		if (!best || (best->answering && !c->answering) ||
		    (best->answering == c->answering &&
		     c->waiting_since_ns < best->waiting_since_ns))
			best = c;
	}
	return best;
}

bool guard_admit(struct conn_guard *g, int fd, const struct sockaddr *sa, uint64_t now,
		 int *victim)
{
	struct guard_conn *c, *v = NULL;
	unsigned char addr[16];
	int i, live = 0, same = 0;

	*victim = -1;
	client_addr(sa, addr);
	for (i = 0; i < g->n; i++) {
		c = &g->conns[i];
		if (c->closing)
			continue;
		live++;
		same += !memcmp(c->addr, addr, 16);
	}
	if (same >= GUARD_PER_CLIENT)
		v = victim_among(g, addr);	/* a client only ever pushes out its own */
	else if (live >= GUARD_MAX_CONNECTIONS)
		v = victim_among(g, NULL);
	if ((same >= GUARD_PER_CLIENT || live >= GUARD_MAX_CONNECTIONS) && !v) {
		g->refused++;
		return false;
	}
	if (g->n == GUARD_SLOTS) {
		g->refused++;
		return false;
	}
	if (v) {
		v->closing = true;
		*victim = v->fd;
		g->evicted++;
	}
	c = &g->conns[g->n++];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	memcpy(c->addr, addr, 16);
	c->waiting_since_ns = now;
	c->deadline_ns = now + GUARD_HEADER_TIMEOUT_NS;
	c->round = g->round;
	return true;
}

void guard_request(struct conn_guard *g, int fd, uint64_t now)
{
	struct guard_conn *c = find(g, fd);

	if (c && !c->answering) {
		c->answering = true;
		c->deadline_ns = now + GUARD_RESPONSE_TIMEOUT_NS;
	}
}

void guard_response_done(struct conn_guard *g, int fd, uint64_t now)
{
	struct guard_conn *c = find(g, fd);

	if (c) {
		c->answering = false;
		c->waiting_since_ns = now;
		c->deadline_ns = now + GUARD_HEADER_TIMEOUT_NS;
	}
}

void guard_closed(struct conn_guard *g, int fd)
{
	struct guard_conn *c = find(g, fd);

	if (c)
		*c = g->conns[--g->n];
}

int guard_expired(struct conn_guard *g, uint64_t now, int *fds, int max)
{
	int i, n = 0;

	for (i = 0; i < g->n && n < max; i++) {
		if (g->conns[i].closing || g->conns[i].deadline_ns > now)
			continue;
		g->conns[i].closing = true;
		g->expired++;
		fds[n++] = g->conns[i].fd;
	}
	return n;
}

uint64_t guard_next_deadline_ns(const struct conn_guard *g, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	int i;

	for (i = 0; i < g->n; i++) {
		if (g->conns[i].closing)
			continue;
		if (g->conns[i].deadline_ns <= now)
			return 0;
		if (g->conns[i].deadline_ns - now < next)
			next = g->conns[i].deadline_ns - now;
	}
	return next;
}

int guard_live(const struct conn_guard *g)
{
	int i, live = 0;

	for (i = 0; i < g->n; i++)
		live += !g->conns[i].closing;
	return live;
}
