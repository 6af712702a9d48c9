// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "stats/gc_log.h"
#include "http/assemble.h"
#include "http/route.h"
#include "stats/http_stats.h"

static size_t parse(const char *line, char *method, char *path)
{
	return http_parse_request_line(line, strlen(line), method, HTTP_METHOD_LEN, path,
				       HTTP_PATH_LEN, NULL);
}

static void test_request_line(void **state)
{
	char method[HTTP_METHOD_LEN], path[HTTP_PATH_LEN], long_req[400];
	size_t i;
	const char *get = "GET /work/abc?token=secret HTTP/1.1\r\nHost: x\r\n\r\n";

	assert_true(http_parse_request_line(get, strlen(get), method, sizeof(method), path,
					    sizeof(path), NULL) > 0);
	assert_string_equal(method, "GET");
	assert_string_equal(path, "/work/abc");	/* the query string is not kept */
	assert_true(http_parse_request_line("OPTIONS * HTTP/1.1\r\n", 20, method, sizeof(method),
					    path, sizeof(path), NULL) > 0);
	assert_string_equal(path, "*");
	/* Any RFC 9110 token is a method: WebDAV, CalDAV, extensions. */
	assert_true(parse("PROPFIND /dav/ HTTP/1.1\r\n", method, path) > 0);
	assert_string_equal(method, "PROPFIND");
	assert_true(parse("MKCALENDAR /cal/home/ HTTP/1.1\r\n", method, path) > 0);
	assert_string_equal(method, "MKCALENDAR");
	assert_true(parse("BREW /pot HTTP/1.1\r\n", method, path) > 0);
	assert_string_equal(method, "BREW");
	assert_true(parse("X-MS_ENUM.ATTS /a HTTP/1.0\r\n", method, path) > 0);
	/* Not requests: binary, no protocol version, a missing target, text, too long a method. */
	assert_int_equal(parse("GET /\x01\x02 HTTP/1.1", method, path), 0);
	assert_int_equal(parse("GET / HTTP/2.0\r\n", method, path), 0);
	assert_int_equal(parse("GET / FTP/1.1\r\n", method, path), 0);
	assert_int_equal(parse("hello there, this is not HTTP\r\n", method, path), 0);
	assert_int_equal(parse("GET  / HTTP/1.1\r\n", method, path), 0);
	assert_int_equal(parse("ABCDEFGHIJKLMNOPQRSTUVWXYZ / HTTP/1.1\r\n", method, path), 0);
	assert_int_equal(parse("\x16\x03\x01\x02\x00", method, path), 0);
	/* Cut where the buffer ends: said so, whatever was read of it. */
	for (i = 1; i < strlen(get) && get[i] != '\r'; i++) {
		bool cut = false;

		if (get[i - 1] == ' ' && get[i] == ' ')
			continue;
		assert_int_equal(http_parse_request_line(get, i, method, sizeof(method), path,
							 sizeof(path), &cut), i);
		assert_true(cut);
	}
	/* A long path is cut to 128 bytes. */
	memset(long_req, 'a', sizeof(long_req));
	memcpy(long_req, "POST /", 6);
	memcpy(long_req + sizeof(long_req) - 12, " HTTP/1.1\r\n", 11);
	assert_true(http_parse_request_line(long_req, sizeof(long_req) - 1, method, sizeof(method),
					    path, sizeof(path), NULL) > 0);
	assert_int_equal(strlen(path), HTTP_PATH_LEN - 1);
}

/*
 * The kept path of the request line in req ("" when it is not a request, "(cut)" when the line
 * ends with req: such a request is counted, never reported with a path).
 */
static const char *kept(const char *req)
{
	static char path[HTTP_PATH_LEN];
	char method[HTTP_METHOD_LEN];
	bool cut;

	if (!http_parse_request_line(req, strlen(req), method, sizeof(method), path, sizeof(path),
				     &cut))
		return "";
	return cut ? "(cut)" : path;
}

/* Secrets a path can carry are not kept: userinfo, session parameters, an encoded query. */
static void test_secrets_not_kept(void **state)
{
	char cut[300];

	assert_string_equal(kept("GET http://alice:PASSWORD@host:8080/p?q=1 HTTP/1.1\r\n"),
			    "http://host:8080/p");
	assert_string_equal(kept("GET https://alice@host HTTP/1.1\r\n"), "https://host");
	assert_string_equal(kept("GET http://a:b@c@host/x HTTP/1.1\r\n"), "http://host/x");
	assert_string_equal(kept("GET http://host/mail@example HTTP/1.1\r\n"),
			    "http://host/mail@example");
	assert_string_equal(kept("GET /a;jsessionid=SECRET HTTP/1.1\r\n"), "/a");
	assert_string_equal(kept("GET /a;JSESSIONID=SECRET/b;v=2 HTTP/1.1\r\n"), "/a/b;v=2");
	assert_string_equal(kept("GET /a;v=1;PHPSESSID=S;w=2/c HTTP/1.1\r\n"), "/a;v=1;w=2/c");
	assert_string_equal(kept("GET /a;ASPSESSIONIDQSDRSTCB=S HTTP/1.1\r\n"), "/a");
	assert_string_equal(kept("GET /a%3bsid=SECRET/b HTTP/1.1\r\n"), "/a/b");
	assert_string_equal(kept("GET /a;side=1 HTTP/1.1\r\n"), "/a;side=1");
	assert_string_equal(kept("GET /a%3Ftoken=SECRET HTTP/1.1\r\n"), "/a");
	assert_string_equal(kept("GET /a%3ftoken=SECRET HTTP/1.1\r\n"), "/a");
	assert_string_equal(kept("GET /a%2Fb#frag HTTP/1.1\r\n"), "/a%2Fb");
	/* Cut by the capture: nothing of it is kept, what might be a secret included. */
	assert_string_equal(kept("GET /a%3"), "(cut)");
	assert_string_equal(kept("GET /a%"), "(cut)");
	memset(cut, 'x', sizeof(cut));
	memcpy(cut, "GET http://alice:", 17);
	cut[sizeof(cut) - 1] = '\0';
	assert_string_equal(kept(cut), "(cut)");
	/* A long userinfo is removed before the path is cut to 128 bytes. */
	memcpy(cut, "GET http://", 11);
	cut[200] = '@';
	memcpy(cut + 201, "h/p HTTP/1.1", 13);
	assert_string_equal(kept(cut), "http://h/p");
}

static void test_status_line(void **state)
{
	assert_int_equal(http_parse_status("HTTP/1.1 200 OK\r\n", 17), 200);
	assert_int_equal(http_parse_status("HTTP/1.0 404 Not Found", 22), 404);
	assert_int_equal(http_parse_status("HTTP/1.1 100 Continue", 21), 100);
	assert_int_equal(http_parse_status("HTTP/2 200", 10), -1);
	assert_int_equal(http_parse_status("<html>body</html>", 17), -1);
	assert_int_equal(http_parse_status("HTTP/1.1 2", 10), -1);
}

#define MAX_DONE 16
static struct http_request done[MAX_DONE];
static int ndone;

static void collect(const struct http_request *req, void *ctx)
{
	if (ndone < MAX_DONE)
		done[ndone++] = *req;
}

static uint64_t next_cookie;	/* the cookie io() gives its event */

static void io(struct http_conns *c, int kind, int fd, uint64_t sk, uint64_t ts,
	       uint64_t arrival, uint64_t conn_ns, const char *data)
{
	struct http_io e;

	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.pid = 100;
	e.tid = 101;
	e.fd = fd;
	e.sk = sk;
	e.cookie = next_cookie;
	e.ts_ns = ts;
	e.arrival_ns = arrival;
	e.conn_ns = conn_ns;
	e.len = data ? strlen(data) : 0;
	e.bytes = e.len ? e.len : 1000;
	if (data)
		memcpy(e.data, data, e.len);
	http_conns_feed(c, &e);
}

static void test_keepalive_and_pipelining(void **state)
{
	struct http_conns *c = http_conns_new(collect, NULL);

	ndone = 0;
	io(c, HTTP_IO_ACCEPT, 7, 0, 5, 0, 0, NULL);
	/* First request on a new connection: it waited from the connection's arrival. */
	io(c, HTTP_IO_READ, 7, 0xa, 20, 15, 10, "GET /one HTTP/1.1\r\n\r\n");
	io(c, HTTP_IO_WRITE, 7, 0xa, 30, 0, 0, "HTTP/1.1 200 OK\r\n");
	io(c, HTTP_IO_WRITE, 7, 0xa, 35, 0, 0, "body part two");
	assert_int_equal(ndone, 0);	/* the response may go on */
	/* Keep-alive: the next request ends the first response. */
	io(c, HTTP_IO_READ, 7, 0xa, 50, 45, 10, "POST /two HTTP/1.1\r\n\r\n");
	assert_int_equal(ndone, 1);
	assert_string_equal(done[0].path, "/one");
	assert_int_equal(done[0].status, 200);
	assert_true(done[0].arrival_ns == 10 && done[0].arrival_from_tcp);
	assert_true(done[0].start_ns == 20 && done[0].first_byte_ns == 30 && done[0].end_ns == 35);
	/* An interim 100 Continue is not the response. */
	io(c, HTTP_IO_WRITE, 7, 0xa, 55, 0, 0, "HTTP/1.1 100 Continue\r\n\r\n");
	io(c, HTTP_IO_WRITE, 7, 0xa, 60, 0, 0, "HTTP/1.1 201 Created\r\n");
	/* A pipelined pair in one read: two requests, answered in order. */
	io(c, HTTP_IO_READ, 7, 0xa, 70, 65, 0,
	   "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_int_equal(ndone, 2);
	assert_string_equal(done[1].path, "/two");
	assert_true(done[1].status == 201 && done[1].arrival_ns == 45);
	io(c, HTTP_IO_WRITE, 7, 0xa, 80, 0, 0, "HTTP/1.1 200 OK\r\n");
	io(c, HTTP_IO_WRITE, 7, 0xa, 90, 0, 0, "HTTP/1.1 404 Not Found\r\n");
	/* A close of another socket on this fd (another thread's, seen late) ends nothing. */
	io(c, HTTP_IO_CLOSE, 7, 0x99, 94, 0, 0, NULL);
	assert_int_equal(ndone, 3);
	io(c, HTTP_IO_CLOSE, 7, 0xa, 95, 0, 0, NULL);
	assert_int_equal(ndone, 4);
	assert_true(!strcmp(done[2].path, "/a") && done[2].status == 200 &&
		    done[2].end_ns == 80);
	assert_true(!strcmp(done[3].path, "/b") && done[3].status == 404 &&
		    done[3].start_ns == 70 && done[3].end_ns == 90);
	http_conns_free(c);
}

/* struct http_io is big (the capture): one, reused, off the stack. */
static struct http_io big;

static void test_threads_reuse_fds(void **state)
{
	struct http_conns *c = http_conns_new(collect, NULL);
	struct http_unassembled u;

	ndone = 0;
	/* Thread A answers /a on fd 9 (socket 0xa1) and closes it... */
	io(c, HTTP_IO_ACCEPT, 9, 0, 1, 0, 0, NULL);
	io(c, HTTP_IO_READ, 9, 0xa1, 2, 0, 0, "GET /a HTTP/1.1\r\n\r\n");
	io(c, HTTP_IO_WRITE, 9, 0xa1, 3, 0, 0, "HTTP/1.1 200 OK\r\n");
	/* ...but before its close returns, thread M accepts 0xa2 on fd 9, thread B reads /b. */
	io(c, HTTP_IO_ACCEPT, 9, 0, 4, 0, 0, NULL);
	assert_int_equal(ndone, 1);
	io(c, HTTP_IO_READ, 9, 0xa2, 5, 0, 0, "GET /b HTTP/1.1\r\n\r\n");
	io(c, HTTP_IO_CLOSE, 9, 0xa1, 6, 0, 0, NULL);	/* A's close, seen late */
	io(c, HTTP_IO_WRITE, 9, 0xa2, 7, 0, 0, "HTTP/1.1 201 Created\r\n");
	io(c, HTTP_IO_CLOSE, 9, 0xa2, 8, 0, 0, NULL);
	assert_int_equal(ndone, 2);
	assert_true(!strcmp(done[1].path, "/b") && done[1].status == 201 && done[1].end_ns == 7);
	/* A close that is not of a socket (0) ends nothing either. */
	io(c, HTTP_IO_READ, 9, 0xa3, 10, 0, 0, "GET /c HTTP/1.1\r\n\r\n");
	io(c, HTTP_IO_CLOSE, 9, 0, 11, 0, 0, NULL);
	io(c, HTTP_IO_WRITE, 9, 0xa3, 12, 0, 0, "HTTP/1.1 200 OK\r\n");
	/* A request whose connection closed unanswered is counted. */
	io(c, HTTP_IO_READ, 9, 0xa3, 13, 0, 0, "GET /d HTTP/1.1\r\n\r\n");
	io(c, HTTP_IO_CLOSE, 9, 0xa3, 14, 0, 0, NULL);
	assert_int_equal(ndone, 3);
	assert_string_equal(done[2].path, "/c");
	http_conns_unassembled(c, &u);
	assert_true(u.unanswered == 1 && !u.unmatched_responses && !u.cut && !u.overflow);
	/* The freed socket's memory is the next connection's: only the cookie tells them apart. */
	next_cookie = 1;
	io(c, HTTP_IO_READ, 9, 0xa4, 20, 0, 0, "GET /e HTTP/1.1\r\n\r\n");
	io(c, HTTP_IO_WRITE, 9, 0xa4, 21, 0, 0, "HTTP/1.1 200 OK\r\n");
	io(c, HTTP_IO_ACCEPT, 9, 0, 22, 0, 0, NULL);
	next_cookie = 2;
	io(c, HTTP_IO_READ, 9, 0xa4, 23, 0, 0, "GET /f HTTP/1.1\r\n\r\n");
	next_cookie = 1;
	io(c, HTTP_IO_CLOSE, 9, 0xa4, 24, 0, 0, NULL);		/* /e's, late */
	next_cookie = 2;
	io(c, HTTP_IO_WRITE, 9, 0xa4, 25, 0, 0, "HTTP/1.1 200 OK\r\n");
	io(c, HTTP_IO_CLOSE, 9, 0xa4, 26, 0, 0, NULL);
	next_cookie = 0;
	assert_int_equal(ndone, 5);
	assert_true(!strcmp(done[4].path, "/f") && done[4].end_ns == 25);
	http_conns_unassembled(c, &u);
	assert_int_equal(u.unanswered, 1);
	http_conns_free(c);
}

static int npublished;
static char last_path[HTTP_PATH_LEN];

static void count_published(const struct http_request *req, void *ctx)
{
	npublished++;
	strcpy(last_path, req->path);
}

static void big_io(struct http_conns *c, int kind, const char *data, size_t len, long bytes)
{
	memset(&big, 0, offsetof(struct http_io, data));
	big.kind = kind;
	big.pid = 100;
	big.fd = 11;
	big.sk = 0x77;
	big.ts_ns = 1000;
	big.len = len;
	big.bytes = bytes;
	memcpy(big.data, data, len);
	http_conns_feed(c, &big);
}

static void test_deep_pipeline(void **state)
{
	struct http_conns *c = http_conns_new(count_published, NULL);
	static char reqs[3 * HTTP_CAPTURE_BYTES];
	struct http_unassembled u;
	size_t len = 0, line;
	int i, n = 0;

	npublished = 0;
	/* 100 pipelined requests in one read: every one seen and answered. */
	for (i = 0; i < 100; i++)
		len += sprintf(reqs + len, "GET /deep/%d HTTP/1.1\r\nHost: localhost:8000\r\n"
			       "User-Agent: test\r\n\r\n", i);
	assert_true(len < HTTP_CAPTURE_BYTES);
	big_io(c, HTTP_IO_READ, reqs, len, len);
	for (i = 0; i < 100; i++)
		big_io(c, HTTP_IO_WRITE, "HTTP/1.1 200 OK\r\n", 17, 100);
	http_conns_flush(c);
	assert_int_equal(npublished, 100);
	assert_string_equal(last_path, "/deep/99");
	/* More than the capture: the line cut at its edge and those past it are counted. */
	len = 0;
	while (len < 2 * HTTP_CAPTURE_BYTES) {
		/* 26 bytes each: the capture's edge falls inside the line of the 631st. */
		line = sprintf(reqs + len, "GET /cut/%06d HTTP/1.1\r\n\r\n", n);
		if (len + line - 4 <= HTTP_CAPTURE_BYTES)
			i = n;		/* the last request line whole inside the capture */
		len += line;
		n++;
	}
	npublished = 0;
	big_io(c, HTTP_IO_READ, reqs, HTTP_CAPTURE_BYTES, len);
	for (int k = 0; k < n; k++)
		big_io(c, HTTP_IO_WRITE, "HTTP/1.1 200 OK\r\n", 17, 100);
	http_conns_flush(c);
	http_conns_unassembled(c, &u);
	assert_int_equal(npublished, i + 1);
	assert_true(strncmp(last_path, "/cut/", 5) == 0 && strlen(last_path) == 11);
	assert_int_equal(u.cut, 1);
	assert_int_equal(u.unmatched_responses, n - (i + 2));
	http_conns_free(c);
}

static void test_fd_reuse_garbage_and_fallback(void **state)
{
	struct http_conns *c = http_conns_new(collect, NULL);

	ndone = 0;
	/* Binary traffic: counted once, never a request. */
	io(c, HTTP_IO_READ, 3, 0xb, 10, 0, 0, "\x16\x03\x01 tls hello");
	io(c, HTTP_IO_READ, 3, 0xb, 11, 0, 0, "more bytes");
	assert_int_equal(http_conns_non_http(c), 1);
	/* The same fd, now another socket whose close was never seen. */
	io(c, HTTP_IO_READ, 3, 0xc, 20, 0, 0, "GET /x HTTP/1.1\r\n\r\n");
	io(c, HTTP_IO_WRITE, 3, 0xc, 25, 0, 0, "HTTP/1.1 200 OK\r\n");
	/* No arrival stamp: timed from the read. */
	io(c, HTTP_IO_READ, 3, 0xd, 30, 0, 0, "GET /y HTTP/1.1\r\n\r\n");
	assert_int_equal(ndone, 1);
	assert_true(done[0].arrival_ns == 20 && !done[0].arrival_from_tcp);
	/* A request never answered is dropped when the process goes. */
	http_conns_flush_pid(c, 100);
	assert_int_equal(ndone, 1);
	/* A response to a request read before we attached: ignored. */
	io(c, HTTP_IO_READ, 4, 0xe, 40, 0, 0, "partial body of an upload");
	io(c, HTTP_IO_WRITE, 4, 0xe, 45, 0, 0, "HTTP/1.1 200 OK\r\n");
	http_conns_flush(c);
	assert_int_equal(ndone, 1);
	http_conns_free(c);
}

static void test_bodies_are_not_requests(void **state)
{
	struct http_conns *c = http_conns_new(collect, NULL);

	ndone = 0;
	/* Headers alone, then a body that reads like a request line. */
	io(c, HTTP_IO_READ, 5, 0xf, 10, 8, 0,
	   "POST /upload HTTP/1.1\r\nContent-Length: 30\r\n\r\n");
	io(c, HTTP_IO_READ, 5, 0xf, 12, 0, 0, "GET /fake HTTP/1.1\r\n\r\n12345678");
	io(c, HTTP_IO_WRITE, 5, 0xf, 20, 0, 0, "HTTP/1.1 200 OK\r\n");
	/* Headers and body in one read, then a pipelined request after the body. */
	io(c, HTTP_IO_READ, 5, 0xf, 30, 28, 0,
	   "POST /p HTTP/1.1\r\ncontent-length:  9\r\n\r\nGET /no/\nGET /next HTTP/1.1\r\n\r\n");
	io(c, HTTP_IO_WRITE, 5, 0xf, 40, 0, 0, "HTTP/1.1 201 Created\r\n");
	io(c, HTTP_IO_WRITE, 5, 0xf, 50, 0, 0, "HTTP/1.1 204 No Content\r\n");
	http_conns_flush(c);
	assert_int_equal(ndone, 3);
	assert_true(!strcmp(done[0].path, "/upload") && done[0].status == 200);
	assert_true(!strcmp(done[1].path, "/p") && done[1].status == 201);
	assert_true(!strcmp(done[2].path, "/next") && done[2].status == 204);
	http_conns_free(c);
}

/*
 * A Content-Length no body can have (it overflowed a long before): counted, and the body taken
 * as unknown, so that the request pipelined after it is still seen.
 */
static void test_absurd_content_length(void **state)
{
	struct http_conns *c = http_conns_new(collect, NULL);

	ndone = 0;
	io(c, HTTP_IO_READ, 4, 0x11, 10, 8, 0,
	   "POST /big HTTP/1.1\r\nContent-Length: 99999999999999999999999999999\r\n\r\n"
	   "GET /after HTTP/1.1\r\n\r\n");
	io(c, HTTP_IO_WRITE, 4, 0x11, 20, 0, 0, "HTTP/1.1 413 Payload Too Large\r\n");
	io(c, HTTP_IO_WRITE, 4, 0x11, 30, 0, 0, "HTTP/1.1 200 OK\r\n");
	/* Just above the bound, alone in a read: nothing is skipped after it either. */
	io(c, HTTP_IO_READ, 4, 0x11, 40, 38, 0,
	   "PUT /u HTTP/1.1\r\ncontent-length: 1125899906842625\r\n\r\n");
	io(c, HTTP_IO_WRITE, 4, 0x11, 50, 0, 0, "HTTP/1.1 400 Bad Request\r\n");
	io(c, HTTP_IO_READ, 4, 0x11, 60, 58, 0, "GET /last HTTP/1.1\r\n\r\n");
	/* At the bound: a body to skip, not garbage. */
	io(c, HTTP_IO_READ, 9, 0x12, 70, 68, 0,
	   "PUT /max HTTP/1.1\r\nContent-Length: 1125899906842624\r\n\r\n");
	io(c, HTTP_IO_READ, 9, 0x12, 80, 0, 0, "GET /in-body HTTP/1.1\r\n\r\n");
	io(c, HTTP_IO_WRITE, 9, 0x12, 90, 0, 0, "HTTP/1.1 201 Created\r\n");
	http_conns_flush(c);
	assert_int_equal(http_conns_bad_length(c), 2);
	assert_int_equal(ndone, 4);
	assert_true(!strcmp(done[0].path, "/big") && done[0].status == 413);
	assert_true(!strcmp(done[1].path, "/after") && done[1].status == 200);
	assert_true(!strcmp(done[2].path, "/u") && done[2].status == 400);
	assert_true(!strcmp(done[3].path, "/max") && done[3].status == 201);
	http_conns_free(c);
}

static void test_pipelined_arrival(void **state)
{
	struct http_conns *c = http_conns_new(collect, NULL);

	ndone = 0;
	/* New connection: the first request waited from the handshake, the next from its bytes. */
	io(c, HTTP_IO_READ, 6, 0x10, 50, 40, 30,
	   "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
	io(c, HTTP_IO_WRITE, 6, 0x10, 60, 0, 0, "HTTP/1.1 200 OK\r\n");
	io(c, HTTP_IO_WRITE, 6, 0x10, 70, 0, 0, "HTTP/1.1 200 OK\r\n");
	http_conns_flush(c);
	assert_int_equal(ndone, 2);
	assert_true(done[0].arrival_ns == 30 && done[1].arrival_ns == 40);
	http_conns_free(c);
}

static void test_gc_overlap(void **state)
{
	struct gc_log log = {};
	struct gc_overlap o;

	assert_int_equal(gc_log_add(&log, 100, 200, 0), 0);
	assert_int_equal(gc_log_add(&log, 500, 900, 2), 0);
	assert_int_equal(gc_log_add(&log, 300, 350, 1), 0);	/* out of order: sorted in */
	gc_log_overlap(&log, 150, 600, &o);
	assert_int_equal(o.count, 3);
	assert_true(o.ns == 50 + 50 + 100);
	assert_true(o.ns_by_gen[0] == 50 && o.ns_by_gen[1] == 50 && o.ns_by_gen[2] == 100);
	/* The whole pauses are listed, longest first. */
	assert_int_equal(o.nlisted, 3);
	assert_true(o.listed[0].start_ns == 500 && o.listed[0].end_ns == 900);
	assert_true(o.listed[1].end_ns - o.listed[1].start_ns == 100);
	gc_log_overlap(&log, 201, 299, &o);
	assert_int_equal(o.count, 0);
	gc_log_prune(&log, 360);
	gc_log_overlap(&log, 0, 1000, &o);
	assert_true(o.count == 1 && o.ns == 400);
	gc_log_free(&log);
}

static void test_route_templates(void **state)
{
	static const struct { const char *path, *route; } cases[] = {
		{ "/api/items/17", "/api/items/{int}" },
		{ "/api/items/17/comments/3", "/api/items/{int}/comments/{int}" },
		{ "/u/3f2504e0-4f89-11d3-9a0c-0305e82c3301/x", "/u/{uuid}/x" },
		{ "/cal/home/1f2e3d4c5b6a7980.ics", "/cal/home/{hex}.ics" },
		{ "/blob/deadbeef01", "/blob/{hex}" },
		{ "/work/th00413", "/work/{id}" },
		{ "/v2/users", "/v2/users" },			/* not ids: kept */
		{ "/static/app.min.js", "/static/app.min.js" },
		{ "/cafebabe", "/cafebabe" },			/* a word made of hex letters */
		{ "/", "/" },
		{ "*", "*" },
		{ "/a//b/", "/a//b/" },
		{ "/a/17;v=2/b", "/a/{int};v=2/b" },
		{ "http://h:80/items/17", "http://h:80/items/{int}" },
		{ "http://h:80", "http://h:80" },
	};
	char *patterns[] = { "/dav/{user}/*.vcf", "/files/**", "/api/items/:id/raw" };
	char out[HTTP_ROUTE_LEN], err[128];
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		http_route_template(cases[i].path, NULL, 0, out, sizeof(out));
		assert_string_equal(out, cases[i].route);
	}
	http_route_template("/dav/alice/contact-9.vcf", patterns, 3, out, sizeof(out));
	assert_string_equal(out, "/dav/{user}/*.vcf");
	http_route_template("/dav/alice/contact-9.ics", patterns, 3, out, sizeof(out));
	assert_string_equal(out, "/dav/alice/contact-9.ics");
	http_route_template("/files/a/b/c.txt", patterns, 3, out, sizeof(out));
	assert_string_equal(out, "/files/**");
	http_route_template("/api/items/12/raw", patterns, 3, out, sizeof(out));
	assert_string_equal(out, "/api/items/:id/raw");
	http_route_template("/api/items/12/raw/more", patterns, 3, out, sizeof(out));
	assert_string_equal(out, "/api/items/{int}/raw/more");
	/* A template longer than the buffer is cut, still terminated. */
	http_route_template("/1/2/3/4/5/6/7/8/9", NULL, 0, out, 16);
	assert_int_equal(strlen(out), 15);
	assert_true(http_route_pattern_valid("/a/{id}/**", err, sizeof(err)));
	assert_false(http_route_pattern_valid("a/b", err, sizeof(err)));
	assert_false(http_route_pattern_valid("/a/**/b", err, sizeof(err)));
}

static void test_gc_wall_cover(void **state)
{
	struct gc_log log = {};
	uint64_t newly[GC_LOG_GENS] = {};

	assert_int_equal(gc_log_add(&log, 100, 200, 0), 0);
	assert_int_equal(gc_log_add(&log, 1000, 2000, 2), 0);
	/* Three concurrent requests over the same pause: it counts once. */
	gc_log_cover(&log, 900, 2100, newly);
	gc_log_cover(&log, 950, 2200, newly);
	gc_log_cover(&log, 1000, 2000, newly);
	assert_true(newly[2] == 1000 && newly[0] == 0);
	/* Parts of a pause: the union, however they come. */
	gc_log_cover(&log, 0, 120, newly);
	gc_log_cover(&log, 180, 300, newly);
	assert_true(newly[0] == 40);
	gc_log_cover(&log, 110, 190, newly);
	assert_true(newly[0] == 100);
	gc_log_cover(&log, 0, 5000, newly);
	assert_true(newly[0] == 100 && newly[2] == 1000);
	gc_log_free(&log);
}

static void test_stats_split_and_tail(void **state)
{
	struct http_stats s;
	struct http_sample x;
	struct http_tail t;
	int i;

	assert_int_equal(http_stats_init(&s), 0);
	for (i = 0; i < 100; i++) {
		memset(&x, 0, sizeof(x));
		strcpy(x.req.method, "GET");
		snprintf(x.req.path, sizeof(x.req.path), "/id/%d", i);
		x.req.arrival_ns = 1000;
		x.req.start_ns = 1000;
		/* The five slowest overlapped a 50 ms collection; the rest took 1 ms. */
		x.req.end_ns = 1000 + (i < 95 ? 1000000 : 60000000);
		x.req.arrival_from_tcp = true;
		if (i >= 95) {
			x.gc.ns = 50000000;
			x.gc.count = 1;
			x.gc.ns_by_gen[2] = 50000000;
		} else if (i >= 20) {
			/* Allocation-heavy: most requests take a 100 us gen-0 collection. */
			x.gc.ns = 100000;
			x.gc.count = 1;
			x.gc.ns_by_gen[0] = 100000;
		}
		x.hit_min_ns = 1000000;
		assert_int_equal(http_stats_add(&s, &x), 0);
	}
	assert_true(s.latency.count == 100 && s.gc_hit.count == 80 && s.clean.count == 20);
	assert_true(s.gen2_hit.count == 5 && s.big_hit.count == 5 && s.hit_min_ns == 1000000);
	assert_true(s.request_weighted_gc_ns_by_gen[2] == 250000000);
	http_stats_tail(&s, 99, &t);
	assert_true(t.requests == 5 && t.gc_hit == 5 && t.gc_ns == 250000000);
	assert_true(t.gen2_hit == 5 && t.gen2_gc_ns == 250000000 && t.big_hit == 5);
	assert_true(t.gen2_latency_ns == 5 * 60000000ull);
	assert_int_equal(s.nslowest, HTTP_SLOWEST);
	assert_true(http_latency(&s.slowest[0].req) == 60000000);
	/* Routes are bounded: 100 distinct paths share the last slot past the limit. */
	assert_int_equal(s.nroutes, HTTP_MAX_ROUTES);
	assert_string_equal(s.routes[HTTP_MAX_ROUTES - 1].path, "(other routes)");
	assert_true(s.routes[HTTP_MAX_ROUTES - 1].latency.count == 100 - (HTTP_MAX_ROUTES - 1));
	/* Two processes' figures together. */
	{
		struct http_stats both;

		assert_int_equal(http_stats_init(&both), 0);
		assert_int_equal(http_stats_merge(&both, &s), 0);
		assert_int_equal(http_stats_merge(&both, &s), 0);
		assert_true(both.latency.count == 200 && both.gc_hit.count == 160);
		assert_true(both.gen2_hit.count == 10 && both.big_hit.count == 10);
		assert_true(both.request_weighted_gc_ns_by_gen[2] == 500000000);
		http_stats_tail(&both, 99, &t);
		assert_true(t.requests == 10 && t.gc_hit == 10);
		assert_int_equal(both.nslowest, HTTP_SLOWEST);
		assert_true(http_latency(&both.slowest[HTTP_SLOWEST - 1].req) == 60000000);
		assert_int_equal(both.nroutes, HTTP_MAX_ROUTES);
		assert_true(both.routes[0].latency.count == 2);
		http_stats_free(&both);
	}
	http_stats_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_line),
		cmocka_unit_test(test_secrets_not_kept),
		cmocka_unit_test(test_status_line),
		cmocka_unit_test(test_keepalive_and_pipelining),
		cmocka_unit_test(test_threads_reuse_fds),
		cmocka_unit_test(test_deep_pipeline),
		cmocka_unit_test(test_fd_reuse_garbage_and_fallback),
		cmocka_unit_test(test_bodies_are_not_requests),
		cmocka_unit_test(test_absurd_content_length),
		cmocka_unit_test(test_pipelined_arrival),
		cmocka_unit_test(test_gc_overlap),
		cmocka_unit_test(test_stats_split_and_tail),
		cmocka_unit_test(test_route_templates),
		cmocka_unit_test(test_gc_wall_cover),
	};

	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
