// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/clock.h"
#include "serve/conn_guard.h"
#include "serve/metrics_server.h"

/* MHD's own idle timeout; conn_guard's deadlines are what bound a connection's life. */
#define CONNECTION_TIMEOUT_S	10
#define LISTEN_BACKLOG		64
/* Rounds of MHD_run() per call while MHD says it has work left that no fd will announce. */
#define RUN_ROUNDS		8
/*
 * Connections accepted per call: MHD reads them in the same call, before a burst of others
 * could push them out (conn_guard evicts only what MHD has had a round to read).
 */
#define ACCEPTS_PER_RUN		16
/* Out of file descriptors: the listening socket rests this long rather than wake us in a loop. */
#define ACCEPT_PAUSE_NS		(100 * 1000000ULL)

#define CONTENT_TYPE_METRICS	"text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_TEXT	"text/plain; charset=utf-8"

struct metrics_server {
	struct MHD_Daemon *daemon;
	metrics_render_fn render;
	void *ctx;
	int listen_fd;
	int epoll_fd;		/* ours: the listening socket and MHD's own epoll fd */
	uint64_t accept_paused_until;	/* 0, or when the listening socket is watched again */
	uint16_t port;
	struct conn_guard guard;
};

static int invalid(char *err, size_t err_len, const char *addr, const char *why)
{
	if (err && err_len)
		snprintf(err, err_len, "invalid --listen '%s': %s", addr, why);
	return -EINVAL;
}

static bool parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	const char *p;

	if (!*s || strlen(s) > 5)
		return false;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	if (v > 65535)
		return false;
	*port = v;
	return true;
}

/*
 * "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT" into a socket address. *any is set for ":PORT", which
 * the caller binds on IPv6 with IPv4 mapped in, or on IPv4 alone where the host has no IPv6.
 */
static int parse_listen(const char *addr, struct sockaddr_storage *ss, socklen_t *len,
			bool *any, char *err, size_t err_len)
{
	const char *expected = "expected ADDR:PORT, [IPV6-ADDR]:PORT or :PORT";
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	char host[INET6_ADDRSTRLEN];
	const char *port_str, *host_start, *end;
	bool v6 = false;
	uint16_t port;
	size_t host_len;

	memset(ss, 0, sizeof(*ss));
	*any = false;
	if (addr[0] == '[') {
		end = strchr(addr, ']');
		if (!end || end[1] != ':')
			return invalid(err, err_len, addr, expected);
		host_start = addr + 1;
		host_len = end - host_start;
		port_str = end + 2;
		v6 = true;
	} else {
		end = strrchr(addr, ':');
		if (!end)
			return invalid(err, err_len, addr, expected);
		host_start = addr;
		host_len = end - addr;
		port_str = end + 1;
		if (memchr(host_start, ':', host_len))
			return invalid(err, err_len, addr, "an IPv6 address goes in brackets");
	}
	if (!parse_port(port_str, &port))
		return invalid(err, err_len, addr, "the port must be a number from 0 to 65535");
	if (host_len >= sizeof(host))
		return invalid(err, err_len, addr, "not an IP address");
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';

	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return invalid(err, err_len, addr, "not an IPv6 address");
		*len = sizeof(*sin6);
		return 0;
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	*len = sizeof(*sin);
	if (!*host) {
		*any = true;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		return 0;
	}
	/* No resolver: a name that needs DNS would make startup hang on it. */
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return invalid(err, err_len, addr, "not an IPv4 address (IPv6 goes in brackets)");
	return 0;
}

/* A listening socket, or a negative errno. */
static int listen_on(const struct sockaddr *sa, socklen_t len, bool dual_stack)
{
	int fd, one = 1, zero = 0, err;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A restart must not wait for the previous run's connections in TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto fail;
	if (dual_stack && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)))
		goto fail;
	if (bind(fd, sa, len) || listen(fd, LISTEN_BACKLOG))
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

/* ":PORT": every IPv6 and IPv4 address, or every IPv4 one on a host without IPv6. */
static int listen_any(const struct sockaddr_in *sin)
{
	struct sockaddr_in6 sin6 = {
		.sin6_family = AF_INET6,
		.sin6_port = sin->sin_port,
		.sin6_addr = IN6ADDR_ANY_INIT,
	};
	int fd;

	fd = listen_on((const struct sockaddr *)&sin6, sizeof(sin6), true);
	if (fd == -EAFNOSUPPORT)
		fd = listen_on((const struct sockaddr *)sin, sizeof(*sin), false);
	return fd;
}

static int socket_port(int fd, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	if (ss.ss_family == AF_INET6)
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int status,
			       const char *content_type, struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;	/* out of memory: MHD closes the connection */
	if (content_type &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned int status,
				    const char *text)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	return respond(conn, status, CONTENT_TYPE_TEXT, resp);
}

static enum MHD_Result respond_metrics(struct metrics_server *s, struct MHD_Connection *conn)
{
	struct prom_buf buf = { 0 };
	struct MHD_Response *resp;

	if (s->render(s->ctx, &buf)) {
		prom_buf_free(&buf);
		return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				    "cannot render the metrics\n");
	}
	if (!buf.len) {
		prom_buf_free(&buf);
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		return respond(conn, MHD_HTTP_OK, CONTENT_TYPE_METRICS, resp);
	}
	/* MHD takes the buffer and free()s it once sent: no copy of a possibly large body. */
	resp = MHD_create_response_from_buffer(buf.len, buf.data, MHD_RESPMEM_MUST_FREE);
	if (!resp)
		prom_buf_free(&buf);
	return respond(conn, MHD_HTTP_OK, CONTENT_TYPE_METRICS, resp);
}

static int connection_fd(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info;

	info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	return info ? info->connect_fd : -1;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct metrics_server *s = cls;

	/* The header is in: from now on the response's deadline counts. */
	guard_request(&s->guard, connection_fd(conn), clock_now_ns());

	/* Answered on the first call: nothing here reads a request body. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (!strcmp(url, "/metrics"))
		return respond_metrics(s, conn);
	if (!strcmp(url, "/healthz"))
		return respond_text(conn, MHD_HTTP_OK, "ok\n");
	if (!strcmp(url, "/"))
		return respond_text(conn, MHD_HTTP_OK,
				    "gcpause: CPython GC pause metrics at /metrics\n");
	return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* Our epoll fd, readable when a client connects or MHD has something to do. */
static int watch_fds(struct metrics_server *s, int mhd_epoll_fd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epoll_fd < 0)
		return -errno;
	ev.data.fd = s->listen_fd;
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->listen_fd, &ev))
		return -errno;
	ev.data.fd = mhd_epoll_fd;
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, mhd_epoll_fd, &ev))
		return -errno;
	return 0;
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			      enum MHD_RequestTerminationCode code)
{
	struct metrics_server *s = cls;

	guard_response_done(&s->guard, connection_fd(conn), clock_now_ns());
}

static void connection_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
			      enum MHD_ConnectionNotificationCode code)
{
	struct metrics_server *s = cls;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED)
		guard_closed(&s->guard, connection_fd(conn));
}

int metrics_server_open(struct metrics_server **out, const char *listen_addr,
			metrics_render_fn render, void *ctx, char *err, size_t err_len)
{
	struct sockaddr_storage ss;
	struct metrics_server *s;
	const union MHD_DaemonInfo *info;
	socklen_t len;
	int fd = -1, ret;
	bool any;

	*out = NULL;
	if (err && err_len)
		err[0] = '\0';
	ret = parse_listen(listen_addr, &ss, &len, &any, err, err_len);
	if (ret)
		return ret;

	s = calloc(1, sizeof(*s));
	if (!s) {
		ret = -ENOMEM;
		goto cleanup;
	}
	s->render = render;
	s->ctx = ctx;
	s->listen_fd = -1;
	s->epoll_fd = -1;

	/* Our own socket, so that a bind error reaches the user with its errno. */
	if (any)
		fd = listen_any((const struct sockaddr_in *)&ss);
	else
		fd = listen_on((const struct sockaddr *)&ss, len, false);
	if (fd < 0) {
		ret = fd;
		if (err && err_len)
			snprintf(err, err_len, "cannot listen on %s: %s", listen_addr,
				 strerror(-ret));
		goto cleanup;
	}
	ret = socket_port(fd, &s->port);
	if (ret)
		goto cleanup;
	s->listen_fd = fd;
	fd = -1;

	/*
	 * We accept, MHD serves: who gets a connection slot is conn_guard's decision, which MHD's
	 * own limits (refuse the newcomer, per address too) cannot make without shutting every
	 * scrape out while slow clients hold the slots.
	 */
	s->daemon = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, handle, s,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)GUARD_SLOTS,
		MHD_OPTION_NOTIFY_COMPLETED, request_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, connection_notify, s,
		MHD_OPTION_END);
	if (!s->daemon) {
		ret = -EIO;
		goto cleanup;
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		ret = -EIO;
		goto cleanup;
	}
	ret = watch_fds(s, info->epoll_fd);
	if (ret)
		goto cleanup;
	*out = s;
	s = NULL;
	ret = 0;
cleanup:
	if (ret && err && err_len && !err[0])
		snprintf(err, err_len, "cannot start the metrics server on %s: %s", listen_addr,
			 strerror(-ret));
	if (fd >= 0)
		close(fd);
	metrics_server_close(s);
	return ret;
}

int metrics_server_fd(const struct metrics_server *s)
{
	return s->epoll_fd;
}

/* Shuts down what the guard gives up: MHD sees the end of the stream and closes it. */
static void shut_connection(int fd)
{
	shutdown(fd, SHUT_RDWR);
}

/* Stops or starts watching the listening socket (level-triggered: it stays readable). */
static void watch_listen(struct metrics_server *s, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = s->listen_fd };

	epoll_ctl(s->epoll_fd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->listen_fd, &ev);
}

static void accept_connections(struct metrics_server *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int i, fd, victim;

	if (s->accept_paused_until) {
		if (clock_now_ns() < s->accept_paused_until)
			return;
		s->accept_paused_until = 0;
		watch_listen(s, true);
	}
	for (i = 0; i < ACCEPTS_PER_RUN; i++) {
		len = sizeof(ss);
		fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				/* EMFILE, ENOBUFS: the connection waits in the backlog. */
				s->accept_paused_until = clock_now_ns() + ACCEPT_PAUSE_NS;
				watch_listen(s, false);
			}
			return;
		}
		if (!guard_admit(&s->guard, fd, (struct sockaddr *)&ss, clock_now_ns(), &victim)) {
			close(fd);
			continue;
		}
		if (victim >= 0)
			shut_connection(victim);
		/* MHD owns fd from here, and has closed it if it could not take it. */
		if (MHD_add_connection(s->daemon, fd, (struct sockaddr *)&ss, len) != MHD_YES)
			guard_closed(&s->guard, fd);
	}
}

void metrics_server_run(struct metrics_server *s)
{
	MHD_UNSIGNED_LONG_LONG timeout;
	int expired[GUARD_SLOTS];
	int i, n;

	guard_round(&s->guard);
	n = guard_expired(&s->guard, clock_now_ns(), expired, GUARD_SLOTS);
	for (i = 0; i < n; i++)
		shut_connection(expired[i]);
	accept_connections(s);
	/*
	 * MHD's epoll set is edge-triggered: work it could not finish in one round (more to read or
	 * write on a socket that stays ready) is announced by a zero timeout, not by the fd.
	 */
	for (i = 0; i < RUN_ROUNDS; i++) {
		if (MHD_run(s->daemon) != MHD_YES)
			return;
		if (MHD_get_timeout(s->daemon, &timeout) != MHD_YES || timeout)
			return;
	}
}

int metrics_server_timeout_ms(const struct metrics_server *s)
{
	MHD_UNSIGNED_LONG_LONG timeout;
	uint64_t guard_ns, guard_ms, now, left;

	if (MHD_get_timeout(s->daemon, &timeout) != MHD_YES)
		timeout = ULLONG_MAX;
	/* Rounded up: woken before a deadline, the loop would find nothing to do and spin. */
	now = clock_now_ns();
	guard_ns = guard_next_deadline_ns(&s->guard, now);
	if (s->accept_paused_until) {
		left = s->accept_paused_until > now ? s->accept_paused_until - now : 0;
		if (left < guard_ns)
			guard_ns = left;
	}
	guard_ms = guard_ns == UINT64_MAX ? UINT64_MAX : (guard_ns + 999999) / 1000000;
	if (guard_ms < timeout)
		timeout = guard_ms;
	if (timeout == ULLONG_MAX)
		return -1;
	return timeout > INT_MAX ? INT_MAX : (int)timeout;
}

uint16_t metrics_server_port(const struct metrics_server *s)
{
	return s->port;
}

void metrics_server_close(struct metrics_server *s)
{
	if (!s)
		return;
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	free(s);
}
