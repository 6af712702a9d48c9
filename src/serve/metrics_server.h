/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `gcpause serve`: the HTTP endpoint Prometheus scrapes. libmicrohttpd without threads of its
 * own: the caller's epoll loop drives it, so the statistics are only ever touched from one
 * thread and need no locking.
 */
#ifndef GCPAUSE_SERVE_METRICS_SERVER_H
#define GCPAUSE_SERVE_METRICS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "serve/prom_text.h"

/* Appends the body of /metrics to out (empty on entry); 0 or a negative errno (then a 500). */
typedef int (*metrics_render_fn)(void *ctx, struct prom_buf *out);

struct metrics_server;

/*
 * listen_addr: "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT" (every address, IPv6 and IPv4 where the host
 * has IPv6); ADDR is numeric or "localhost"; port 0 picks a free port. On error returns -EINVAL
 * (bad string) or the socket's negative errno, with a one-line message in err.
 */
int metrics_server_open(struct metrics_server **out, const char *listen_addr,
			metrics_render_fn render, void *ctx, char *err, size_t err_len);
/* For the caller's epoll set: readable means call metrics_server_run(). */
int metrics_server_fd(const struct metrics_server *s);
/*
 * Accepts and serves whatever is ready, and closes connections past their deadline (see
 * conn_guard.h). Call it when the fd is readable, and at the latest after
 * metrics_server_timeout_ms().
 */
void metrics_server_run(struct metrics_server *s);
/* Longest the caller may wait before calling metrics_server_run(), -1 for as long as it likes. */
int metrics_server_timeout_ms(const struct metrics_server *s);
uint16_t metrics_server_port(const struct metrics_server *s);
void metrics_server_close(struct metrics_server *s);

#endif /* GCPAUSE_SERVE_METRICS_SERVER_H */
