/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which connections the metrics server keeps, so that slow or hostile clients cannot shut
 * /metrics and /healthz out: every request has a deadline from its connection's accept (or the
 * previous response's end) that bytes trickling in do not push back, a client address holds at
 * most a few connections, and a new connection that finds the table full takes the place of
 * the one that has waited longest for its request. Pure bookkeeping on file descriptors and
 * times, so that the policy is tested without sockets.
 */
#ifndef GCPAUSE_SERVE_CONN_GUARD_H
#define GCPAUSE_SERVE_CONN_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define GUARD_MAX_CONNECTIONS	64
#define GUARD_PER_CLIENT	8
/* Connections shut down but not yet closed by the server take a slot until they are. */
#define GUARD_SLOTS		(2 * GUARD_MAX_CONNECTIONS)
/* From accept (or the previous response's end) to a complete request header. */
#define GUARD_HEADER_TIMEOUT_NS	(5 * 1000000000ULL)
/* From a complete request header to the response's last byte handed to the kernel. */
#define GUARD_RESPONSE_TIMEOUT_NS	(10 * 1000000000ULL)

struct guard_conn {
	int fd;
	unsigned char addr[16];		/* the client's IPv6 address, IPv4 mapped in */
	uint64_t deadline_ns;
	uint64_t waiting_since_ns;	/* accept or the previous response's end */
	uint64_t round;			/* the guard_round() that admitted it */
	bool answering;			/* its request is in, the response under way */
	bool closing;			/* shut down; the server has yet to close it */
};

struct conn_guard {
	struct guard_conn conns[GUARD_SLOTS];
	int n;
	uint64_t round;
	uint64_t evicted, refused, expired;
};

/* Starts a round of the server's loop: connections admitted before it may be evicted. */
void guard_round(struct conn_guard *g);
/*
 * A connection from sa was accepted at now. Returns true when it is admitted; *victim is then
 * the fd of a connection to shut down to make room, or -1. False: refuse it (close it).
 */
bool guard_admit(struct conn_guard *g, int fd, const struct sockaddr *sa, uint64_t now,
		 int *victim);
/* The request's header is complete: the response has its own deadline. */
void guard_request(struct conn_guard *g, int fd, uint64_t now);
/* The response is sent: a kept-alive connection waits for its next request from now. */
void guard_response_done(struct conn_guard *g, int fd, uint64_t now);
/* The server closed fd (or never took it). */
void guard_closed(struct conn_guard *g, int fd);
/* Marks the connections past their deadline as closing; their fds in fds (at most max). */
int guard_expired(struct conn_guard *g, uint64_t now, int *fds, int max);
/* Nanoseconds until the next deadline (0 when one has passed), UINT64_MAX when none. */
uint64_t guard_next_deadline_ns(const struct conn_guard *g, uint64_t now);
/* Connections admitted and not shut down. */
int guard_live(const struct conn_guard *g);

#endif /* GCPAUSE_SERVE_CONN_GUARD_H */
