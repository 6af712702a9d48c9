// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/clock.h"
#include "serve/metrics_server.h"
#include "serve/prom_text.h"

#define DEADLINE_NS	(10 * 1000000000ULL)
#define BODY		"# TYPE gcpause_test gauge\ngcpause_test 42\n"

struct render_ctx {
	int calls;
	int fail;		/* return this from render when non-zero */
	size_t big;		/* append this many bytes of filler */
};

static int render(void *ctx, struct prom_buf *out)
{
	struct render_ctx *c = ctx;
	size_t i;
	int err;

	c->calls++;
	if (c->fail)
		return c->fail;
	err = prom_buf_printf(out, "%s", BODY);
	for (i = 0; !err && i < c->big / 64; i++)
		err = prom_buf_printf(out, "# %061zu\n", i);
	return err;
}

struct response {
	char *raw;		/* the whole response, NUL-terminated */
	size_t len;
	int status;
	const char *body;	/* inside raw */
	size_t body_len;
};

static void response_free(struct response *r)
{
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

/*
 * Sends request on a fresh connection and reads until the server closes it, driving the server
 * the way gcpause's loop does: run when its fd is readable, or when its timeout has passed.
 */
static void exchange(struct metrics_server *s, const char *request, struct response *r)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(metrics_server_port(s)),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	uint64_t deadline = clock_now_ns() + DEADLINE_NS;
	size_t cap = 4096, sent = 0, n = strlen(request);
	struct pollfd pfd[2];
	char *end;
	int fd, ret;

	memset(r, 0, sizeof(*r));
	r->raw = malloc(cap);
	assert_non_null(r->raw);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	ret = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	assert_true(ret == 0 || errno == EINPROGRESS);

	for (;;) {
		int timeout = metrics_server_timeout_ms(s);

		if (clock_now_ns() > deadline)
			fail_msg("no complete response within 10 s; got %zu bytes", r->len);
		pfd[0] = (struct pollfd){ .fd = fd, .events = POLLIN | (sent < n ? POLLOUT : 0) };
		pfd[1] = (struct pollfd){ .fd = metrics_server_fd(s), .events = POLLIN };
		if (timeout < 0 || timeout > 1000)
			timeout = 1000;
		ret = poll(pfd, 2, timeout);
		assert_true(ret >= 0);
		if (ret == 0 || (pfd[1].revents & POLLIN))
			metrics_server_run(s);
		if (sent < n && (pfd[0].revents & POLLOUT)) {
			ssize_t w = send(fd, request + sent, n - sent, MSG_NOSIGNAL);

			assert_true(w > 0);
			sent += w;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t got;

			if (cap - r->len < 65536) {
				cap *= 2;
				r->raw = realloc(r->raw, cap);
				assert_non_null(r->raw);
			}
			got = recv(fd, r->raw + r->len, cap - r->len - 1, 0);
			if (got == 0)
				break;
			if (got < 0) {
				assert_true(errno == EAGAIN);
				continue;
			}
			r->len += got;
		}
	}
	close(fd);
	r->raw[r->len] = '\0';
	assert_true(sscanf(r->raw, "HTTP/1.1 %d ", &r->status) == 1);
	end = strstr(r->raw, "\r\n\r\n");
	assert_non_null(end);
	r->body = end + 4;
	r->body_len = r->len - (r->body - r->raw);
}

static void get(struct metrics_server *s, const char *method, const char *path,
		struct response *r)
{
	char request[256];

	snprintf(request, sizeof(request),
		 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", method, path);
	exchange(s, request, r);
}

/* The header's value, in a static buffer, or NULL. Names are compared case-insensitively. */
static const char *header(const struct response *r, const char *name)
{
	static char value[256];
	const char *p = strstr(r->raw, "\r\n");
	size_t n = strlen(name);

	while (p && p + 2 < r->body) {
		p += 2;
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			const char *v = p + n + 1, *e = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(value, sizeof(value), "%.*s", (int)(e - v), v);
			return value;
		}
		p = strstr(p, "\r\n");
	}
	return NULL;
}

static struct metrics_server *open_server(const char *listen, struct render_ctx *ctx)
{
	struct metrics_server *s = NULL;
	char err[256];
	int ret;

	ret = metrics_server_open(&s, listen, render, ctx, err, sizeof(err));
	if (ret)
		fail_msg("metrics_server_open(%s): %d %s", listen, ret, err);
	assert_non_null(s);
	assert_true(metrics_server_fd(s) >= 0);
	assert_true(metrics_server_port(s) > 0);
	return s;
}

static void test_metrics(void **state)
{
	struct render_ctx ctx = { 0 };
	struct metrics_server *s = open_server("127.0.0.1:0", &ctx);
	struct response r;

	get(s, "GET", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(strncmp(r.raw, "HTTP/1.1 200 OK\r\n", 17), 0);
	assert_string_equal(header(&r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
	assert_string_equal(header(&r, "Content-Length"), "42");
	assert_int_equal(r.body_len, strlen(BODY));
	assert_string_equal(r.body, BODY);
	assert_int_equal(ctx.calls, 1);
	response_free(&r);

	/* A query string does not change the route. */
	get(s, "GET", "/metrics?x=1", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, BODY);
	assert_int_equal(ctx.calls, 2);
	response_free(&r);

	get(s, "HEAD", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(header(&r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
	assert_int_equal(r.body_len, 0);
	response_free(&r);

	metrics_server_close(s);
}

static void test_routes(void **state)
{
	struct render_ctx ctx = { 0 };
	struct metrics_server *s = open_server("127.0.0.1:0", &ctx);
	struct response r;

	get(s, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	assert_string_equal(header(&r, "Content-Type"), "text/plain; charset=utf-8");
	response_free(&r);

	get(s, "GET", "/", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "/metrics"));
	response_free(&r);

	get(s, "GET", "/metrics/", &r);
	assert_int_equal(r.status, 404);
	assert_int_equal(strncmp(r.raw, "HTTP/1.1 404 Not Found\r\n", 24), 0);
	response_free(&r);

	get(s, "GET", "/nope", &r);
	assert_int_equal(r.status, 404);
	response_free(&r);

	exchange(s, "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		 "Content-Length: 3\r\n\r\nabc", &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(header(&r, "Allow"), "GET, HEAD");
	response_free(&r);

	get(s, "DELETE", "/healthz", &r);
	assert_int_equal(r.status, 405);
	response_free(&r);

	/* None of these rendered anything. */
	assert_int_equal(ctx.calls, 0);
	metrics_server_close(s);
}

static void test_render_failure(void **state)
{
	struct render_ctx ctx = { .fail = -ENOMEM };
	struct metrics_server *s = open_server("127.0.0.1:0", &ctx);
	struct response r;

	get(s, "GET", "/metrics", &r);
	assert_int_equal(r.status, 500);
	assert_null(strstr(r.body, "gcpause_test"));
	response_free(&r);

	/* The server goes on. */
	ctx.fail = 0;
	get(s, "GET", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, BODY);
	response_free(&r);
	metrics_server_close(s);
}

/* Far more than the socket buffers hold: MHD must be driven to the end through its fd alone. */
static void test_large_body(void **state)
{
	struct render_ctx ctx = { .big = 16 << 20 };
	struct metrics_server *s = open_server("127.0.0.1:0", &ctx);
	struct response r;
	char last[80];
	size_t expected = strlen(BODY) + (ctx.big / 64) * 64;

	get(s, "GET", "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, expected);
	assert_int_equal(strncmp(r.body, BODY, strlen(BODY)), 0);
	snprintf(last, sizeof(last), "# %061zu\n", ctx.big / 64 - 1);
	assert_string_equal(r.body + r.body_len - 64, last);
	response_free(&r);
	metrics_server_close(s);
}

static void test_bad_listen(void **state)
{
	static const char *const bad[] = {
		"", "x", "9547", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000",
		"127.0.0.1:123456", "127.0.0.1:-1", "1.2.3:80", "256.1.1.1:80", "::1:80",
		"[::1]80", "[::1]", "[zz]:80", "[127.0.0.1]:80", "example.com:80",
	};
	struct render_ctx ctx = { 0 };
	struct metrics_server *s;
	char err[256], prefix[128];
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = (struct metrics_server *)&ctx;
		assert_int_equal(metrics_server_open(&s, bad[i], render, &ctx, err, sizeof(err)),
				 -EINVAL);
		assert_null(s);
		snprintf(prefix, sizeof(prefix), "invalid --listen '%s': ", bad[i]);
		if (strncmp(err, prefix, strlen(prefix)) || strlen(err) == strlen(prefix) ||
		    strchr(err, '\n'))
			fail_msg("%s: message '%s'", bad[i], err);
	}
	assert_int_equal(metrics_server_open(&s, "x", render, &ctx, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "invalid --listen 'x': expected ADDR:PORT, [IPV6-ADDR]:PORT or :PORT");
}

static void test_port_in_use(void **state)
{
	struct render_ctx ctx = { 0 };
	struct metrics_server *s = open_server("127.0.0.1:0", &ctx), *other = NULL;
	char listen[64], err[256], expected[128];

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", metrics_server_port(s));
	assert_int_equal(metrics_server_open(&other, listen, render, &ctx, err, sizeof(err)),
			 -EADDRINUSE);
	assert_null(other);
	snprintf(expected, sizeof(expected), "cannot listen on %s: Address already in use", listen);
	assert_string_equal(err, expected);

	/* Closed, the port is free again: MHD's copy of the socket went with it. */
	metrics_server_close(s);
	s = open_server(listen, &ctx);
	assert_int_equal(metrics_server_port(s), atoi(strchr(listen, ':') + 1));
	metrics_server_close(s);
}

static void test_other_addresses(void **state)
{
	struct render_ctx ctx = { 0 };
	struct metrics_server *s;
	struct response r;
	char err[256];
	int ret;

	/* Every address: reachable on 127.0.0.1 (IPv4 mapped into the IPv6 socket or not). */
	s = open_server(":0", &ctx);
	get(s, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
	metrics_server_close(s);

	s = open_server("localhost:0", &ctx);
	get(s, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
	metrics_server_close(s);

	/* Loopback IPv6 where the host has it. */
	ret = metrics_server_open(&s, "[::1]:0", render, &ctx, err, sizeof(err));
	if (ret == -EAFNOSUPPORT || ret == -EADDRNOTAVAIL)
		return;
	assert_int_equal(ret, 0);
	assert_true(metrics_server_port(s) > 0);
	metrics_server_close(s);
}

static unsigned int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_no_fd_leak(void **state)
{
	struct render_ctx ctx = { 0 };
	struct metrics_server *s;
	struct response r;
	unsigned int before = open_fds();
	int i;

	for (i = 0; i < 3; i++) {
		s = open_server("127.0.0.1:0", &ctx);
		get(s, "GET", "/metrics", &r);
		assert_int_equal(r.status, 200);
		response_free(&r);
		metrics_server_close(s);
	}
	assert_int_equal(open_fds(), before);
}

/* A connection waiting in the server's backlog, its request sent. */
static int idle_connection_nowait(struct metrics_server *s)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(metrics_server_port(s)),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_true(send(fd, "GET /metrics HTTP/1.1\r\n", 23, MSG_NOSIGNAL) == 23);
	return fd;
}

/* A connection to the server from src (a loopback address), its request never finished. */
static int idle_connection(struct metrics_server *s, const char *src)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(metrics_server_port(s)),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct sockaddr_in from = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, src, &from.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_true(send(fd, "GET /metrics HTTP/1.1\r\n", 23, MSG_NOSIGNAL) == 23);
	metrics_server_run(s);
	return fd;
}

/*
 * More unfinished requests than the server takes, from the client's own address and from
 * others: a probe on a new connection is still answered at once (it waited for their timeout).
 */
static void test_idle_clients_do_not_shut_out(void **state)
{
	struct render_ctx ctx = { 0 };
	struct metrics_server *s = open_server("127.0.0.1:0", &ctx);
	int fds[100], i, open_left = 0;
	struct response r;
	char src[32];
	uint64_t t0;

	for (i = 0; i < 100; i++) {
		snprintf(src, sizeof(src), "127.0.%d.%d", i < 20 ? 0 : 1, i < 20 ? 1 : 2 + i / 8);
		fds[i] = idle_connection(s, src);
	}
	t0 = clock_now_ns();
	get(s, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	assert_true(clock_now_ns() - t0 < 2000000000ULL);
	response_free(&r);
	/* Those pushed out were closed: the server keeps no more than its limit. */
	for (i = 0; i < 100; i++) {
		char c;

		if (recv(fds[i], &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN)
			open_left++;
		close(fds[i]);
	}
	assert_true(open_left <= 64);
	metrics_server_close(s);
}

/* Out of file descriptors: accept waits 100 ms at a time instead of waking the loop at once. */
static void test_out_of_fds_does_not_spin(void **state)
{
	struct render_ctx ctx = { 0 };
	struct metrics_server *s = open_server("127.0.0.1:0", &ctx);
	struct pollfd pfd = { .fd = metrics_server_fd(s), .events = POLLIN };
	struct rlimit saved, low;
	struct response r;
	int pending, next_fd, timeout;

	pending = idle_connection_nowait(s);
	next_fd = dup(0);
	assert_true(next_fd >= 0);
	close(next_fd);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = next_fd;		/* no new descriptor can be made */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	metrics_server_run(s);		/* accept fails with EMFILE */
	timeout = metrics_server_timeout_ms(s);
	assert_int_equal(poll(&pfd, 1, 50), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	assert_true(timeout > 0 && timeout <= 100);
	/* Then served as usual, the connection that waited included. */
	usleep(110 * 1000);
	get(s, "GET", "/healthz", &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
	close(pending);
	metrics_server_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_render_failure),
		cmocka_unit_test(test_large_body),
		cmocka_unit_test(test_bad_listen),
		cmocka_unit_test(test_port_in_use),
		cmocka_unit_test(test_other_addresses),
		cmocka_unit_test(test_no_fd_leak),
		cmocka_unit_test(test_idle_clients_do_not_shut_out),
		cmocka_unit_test(test_out_of_fds_does_not_spin),
	};

	return cmocka_run_group_tests_name("metrics_server", tests, NULL, NULL);
}
