// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics_server.h"

#define CONNECTION_TIMEOUT_S	10
#define CONNECTION_LIMIT	64
#define LISTEN_BACKLOG		64
/* Rounds of MHD_run() per call while MHD says it has work left that no fd will announce. */
#define RUN_ROUNDS		8

#define CONTENT_TYPE_METRICS	"text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_TEXT	"text/plain; charset=utf-8"

struct metrics_server {
	struct MHD_Daemon *daemon;
	metrics_render_fn render;
	void *ctx;
	int epoll_fd;
	uint16_t port;
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

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct metrics_server *s = cls;

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

int metrics_server_open(struct metrics_server **out, const char *listen_addr,
			metrics_render_fn render, void *ctx, char *err, size_t err_len)
{
	struct sockaddr_storage ss;
	struct metrics_server *s;
	const union MHD_DaemonInfo *info;
	socklen_t len;
	int fd = -1, mhd_fd, ret;
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

	/*
	 * MHD closes the socket it is given when it stops, and on some of its failure paths but not
	 * all: it gets a duplicate, and ours is closed here whatever happens.
	 */
	mhd_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (mhd_fd < 0) {
		ret = -errno;
		goto cleanup;
	}
	s->daemon = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, handle, s,
				     MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mhd_fd,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT,
				     MHD_OPTION_END);
	if (!s->daemon) {
		/* mhd_fd may leak here, on a failure that ends the program anyway. */
		ret = -EIO;
		goto cleanup;
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		ret = -EIO;
		goto cleanup;
	}
	s->epoll_fd = info->epoll_fd;
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

void metrics_server_run(struct metrics_server *s)
{
	MHD_UNSIGNED_LONG_LONG timeout;
	int i;

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

	if (MHD_get_timeout(s->daemon, &timeout) != MHD_YES)
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
	free(s);
}
