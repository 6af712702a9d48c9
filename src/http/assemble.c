// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Requests from socket I/O. On one connection HTTP/1.x is strictly ordered: requests are read,
 * responses written in the same order, so a read starting with a request line opens a request,
 * a write starting with a status line opens the response of the oldest unanswered one, and the
 * response lasts until the next response, the next request after it, or the connection's end.
 * No body is parsed or needed: only the first bytes of reads and writes are ever seen.
 */
#include <stdlib.h>
#include <string.h>
#include "http/assemble.h"

#define CONN_BUCKETS	4096
/*
 * Above this a Content-Length is taken for garbage rather than a body to skip: no upload is a
 * petabyte, and it keeps every sum with it far from overflowing.
 */
#define MAX_CONTENT_LENGTH	(1L << 50)

struct conn {
	pid_t pid;
	int fd;
	uint64_t sock;			/* sock_id() of the socket the fd names */
	bool read_before;		/* the first request gets the connection's arrival */
	bool upgraded;			/* 101 Switching Protocols: no longer HTTP/1.x */
	bool responding;
	long body_left;			/* bytes of a request body still to be read */
	struct http_request cur;	/* whose response is being written */
	/* Requests read and not yet answered, oldest first (pipelining queues many). */
	int nqueued, queue_cap;
	struct http_request *queued;
	struct conn *next;
};

struct http_conns {
	http_request_fn on_request;
	void *ctx;
	uint64_t non_http;
	struct http_unassembled lost;
	uint64_t bad_length;
	struct conn *buckets[CONN_BUCKETS];
};

/*
 * Matrix parameters (";name=value" in a path segment) that carry a session or a credential,
 * compared case-insensitively; a name ending in '*' is a prefix (ASP's ASPSESSIONIDQSDRSTCB).
 */
static const char *const secret_params[] = {
	"jsessionid", "phpsessid", "sid", "sessid", "sessionid", "session_id", "session",
	"aspsessionid*", "cfid", "cftoken", "token", "access_token", "auth", "apikey", "api_key",
	"password", "passwd", "pwd",
};

/* s[0..n) starts with the percent-encoding of c ("%3F" or "%3f" for '?'). */
static bool starts_escaped(const char *s, size_t n, char c)
{
	static const char hex[] = "0123456789ABCDEF";

	return n >= 3 && s[0] == '%' && s[1] == hex[(unsigned char)c >> 4] &&
	       (s[2] | 0x20) == (hex[c & 0xf] | 0x20);
}

/* Length of the parameter separator at s: ';' or "%3B", else 0. */
static size_t param_separator(const char *s, size_t n)
{
	if (n && s[0] == ';')
		return 1;
	return starts_escaped(s, n, ';') ? 3 : 0;
}

/* The parameter name at s (up to '=', ';', '/' or n) is one of secret_params. */
static bool secret_param(const char *s, size_t n)
{
	size_t name_len, i, k;

	for (name_len = 0; name_len < n && s[name_len] != '=' && s[name_len] != ';' &&
	     s[name_len] != '/' && s[name_len] != '%'; name_len++)
		;
	for (i = 0; i < sizeof(secret_params) / sizeof(secret_params[0]); i++) {
		const char *want = secret_params[i];
		size_t want_len = strlen(want);
		bool prefix = want[want_len - 1] == '*';

		if (prefix)
			want_len--;
		if (name_len < want_len || (!prefix && name_len != want_len))
			continue;
		for (k = 0; k < want_len && (s[k] | 0x20) == want[k]; k++)
			;
		if (k == want_len)
			return true;
	}
	return false;
}

/*
 * What of a request target is kept: the query ('?', or its encoding "%3F") and a fragment are
 * dropped, so is the userinfo of an absolute URI ("http://user:password@host/"), and so are the
 * session and credential matrix parameters (";jsessionid=..."). cut: the target went on past
 * the captured bytes, so its last part may be the start of something longer. Whatever is not
 * known to be harmless is dropped rather than kept.
 */
static void keep_of_target(const char *t, size_t n, bool cut, char *out, size_t out_len)
{
	size_t end, auth = 0, auth_end = 0, user_end = 0, i = 0, o = 0, sep;
	const char *at;

	for (end = 0; end < n && t[end] != '?' && t[end] != '#' &&
	     !starts_escaped(t + end, n - end, '?'); end++)
		;
	/* "%3" at the very end of a cut target may have been "%3F". */
	if (cut && end == n) {
		if (end >= 1 && t[end - 1] == '%')
			end -= 1;
		else if (end >= 2 && t[end - 2] == '%')
			end -= 2;
	}
	if (end && t[0] != '/' && t[0] != '*') {
		/* Absolute form: the authority runs from after "scheme://" to the next '/'. */
		at = memmem(t, end, "://", 3);
		auth = at ? (size_t)(at - t) + 3 : 0;
		for (auth_end = auth; auth_end < end && t[auth_end] != '/'; auth_end++)
			;
		at = memrchr(t + auth, '@', auth_end - auth);
		/* A cut authority may go on past the capture, its '@' included. */
		if (auth_end == n && cut)
			end = auth;
		else if (at)
			user_end = (size_t)(at - t) + 1;
	}
	while (i < end && o < out_len - 1) {
		if (i == auth && user_end) {
			i = user_end;
			continue;
		}
		sep = i >= auth_end ? param_separator(t + i, end - i) : 0;
		if (sep && secret_param(t + i + sep, end - i - sep)) {
			/* Up to the next segment or parameter: the value is the secret. */
			for (i += sep; i < end && t[i] != '/' && !param_separator(t + i, end - i);
			     i++)
				;
			continue;
		}
		out[o++] = t[i++];
	}
	out[o] = '\0';
}

/* RFC 9110 tchar: what a method is made of. */
static bool is_tchar(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

size_t http_parse_request_line(const char *buf, size_t len, char *method, size_t method_len,
			       char *path, size_t path_len, bool *cut)
{
	static const char version[] = " HTTP/1.";
	size_t m, p, end, v;

	/* Terminated whatever is returned: a line cut at the capture's edge leaves them empty. */
	if (method_len)
		method[0] = '\0';
	if (path_len)
		path[0] = '\0';
	if (cut)
		*cut = false;
	for (m = 0; m < len && is_tchar(buf[m]); m++)
		;
	if (m == len && m > 0 && m < method_len) {
		if (cut)
			*cut = true;
		return len;
	}
	if (m == 0 || m >= method_len || buf[m] != ' ')
		return 0;
	p = m + 1;
	if (p >= len) {
		if (cut)
			*cut = true;
		return len;
	}
	if (buf[p] != '/' && buf[p] != '*' && buf[p] != 'h')
		return 0;
	for (end = p; end < len && buf[end] != ' ' && buf[end] != '\r' && buf[end] != '\n';
	     end++) {
		if ((unsigned char)buf[end] < 0x21 || (unsigned char)buf[end] > 0x7e)
			return 0;	/* binary that happens to start with "GET " */
	}
	/* Any token can be a method: the protocol version tells a request line from text. */
	for (v = 0; v < sizeof(version) - 1 && end + v < len; v++)
		if (buf[end + v] != version[v])
			return 0;
	if (end + v >= len) {
		if (cut)
			*cut = true;
		return len;
	}
	if (buf[end + v] < '0' || buf[end + v] > '9')
		return 0;
	if (p - 1 >= method_len)
		return 0;
	memcpy(method, buf, m);
	method[m] = '\0';
	keep_of_target(buf + p, end - p, end == len, path, path_len);
	return end;
}

int http_parse_status(const char *buf, size_t len)
{
	if (len < 12 || memcmp(buf, "HTTP/1.", 7) || buf[8] != ' ' || buf[9] < '1' ||
	    buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9')
		return -1;
	return (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
}

struct http_conns *http_conns_new(http_request_fn on_request, void *ctx)
{
	struct http_conns *c = calloc(1, sizeof(*c));

	if (c) {
		c->on_request = on_request;
		c->ctx = ctx;
	}
	return c;
}

static unsigned int bucket(pid_t pid, int fd)
{
	return ((unsigned int)pid * 2654435761u ^ (unsigned int)fd) % CONN_BUCKETS;
}

static struct conn **find(struct http_conns *c, pid_t pid, int fd)
{
	struct conn **pp = &c->buckets[bucket(pid, fd)];

	while (*pp && ((*pp)->pid != pid || (*pp)->fd != fd))
		pp = &(*pp)->next;
	return pp;
}

static void complete(struct http_conns *c, struct conn *conn)
{
	if (!conn->responding)
		return;
	conn->responding = false;
	if (!conn->cur.cut)	/* counted when read: its path was never seen */
		c->on_request(&conn->cur, c->ctx);
}

/*
 * The connection is over: its answered request completes, unanswered ones are dropped (and
 * counted when the connection really ended, not when tracing did).
 */
static void drop(struct http_conns *c, struct conn **pp, bool ended)
{
	struct conn *conn = *pp;

	complete(c, conn);
	if (ended)
		c->lost.unanswered += conn->nqueued;
	*pp = conn->next;
	free(conn->queued);
	free(conn);
}

static void enqueue(struct http_conns *c, struct conn *conn, const struct http_request *req)
{
	if (conn->nqueued == conn->queue_cap) {
		int cap = conn->queue_cap ? 2 * conn->queue_cap : 4;
		struct http_request *grown;

		if (cap > HTTP_MAX_QUEUED ||
		    !(grown = realloc(conn->queued, cap * sizeof(*grown)))) {
			c->lost.overflow++;
			return;
		}
		conn->queued = grown;
		conn->queue_cap = cap;
	}
	conn->queued[conn->nqueued++] = *req;
}

/*
 * Content-Length of the header block in [from, to): -1 when it is not there, -2 when its value is
 * not a number up to MAX_CONTENT_LENGTH (then the body is unknown, as if there were none).
 */
static long content_length(const char *data, size_t from, size_t to)
{
	static const char name[] = "\r\ncontent-length:";
	size_t i, k, n = sizeof(name) - 1;
	long v;

	for (i = from; i + n <= to; i++) {
		for (k = 0; k < n && (data[i + k] | (k > 1 ? 0x20 : 0)) == name[k]; k++)
			;
		if (k < n)
			continue;
		for (i += n; i < to && data[i] == ' '; i++)
			;
		for (v = 0; i < to && data[i] >= '0' && data[i] <= '9'; i++) {
			/* Checked before it grows: the header is the client's to make absurd. */
			if (v > (MAX_CONTENT_LENGTH - (data[i] - '0')) / 10)
				return -2;
			v = v * 10 + (data[i] - '0');
		}
		return v;
	}
	return -1;
}

/*
 * Queues the requests that start in this read. Each one's body (by its Content-Length) is
 * skipped, here and in the reads that follow, so that a body is never taken for a request.
 */
static void on_read(struct http_conns *c, struct conn *conn, const struct http_io *io)
{
	const char *data = (const char *)io->data;
	size_t len = io->len, used, off = 0, header_end;
	struct http_request req;
	uint64_t arrival;
	bool cut;
	long body;
	int n = 0;

	if (conn->body_left > 0) {
		conn->body_left -= io->bytes;
		return;
	}
	memset(&req, 0, sizeof(req));
	used = http_parse_request_line(data, len, req.method, sizeof(req.method), req.path,
				       sizeof(req.path), &cut);
	if (!used || (cut && len >= (size_t)io->bytes)) {
		/* Not a request, or one split across reads (written byte by byte). */
		if (!conn->responding && !conn->nqueued && !conn->read_before)
			c->non_http++;
		conn->read_before = true;
		return;
	}
	/* The previous response, if any, is complete: the client asked for the next one. */
	complete(c, conn);
	req.pid = io->pid;
	req.tid = io->tid;
	req.fd = io->fd;
	req.start_ns = io->ts_ns;
	for (;;) {
		/* Only the first request on a connection waited from the handshake on. */
		arrival = io->arrival_ns;
		if (!n && !conn->read_before && io->conn_ns && (!arrival || io->conn_ns < arrival))
			arrival = io->conn_ns;
		req.arrival_from_tcp = arrival && arrival <= io->ts_ns;
		req.arrival_ns = req.arrival_from_tcp ? arrival : io->ts_ns;
		if (cut) {
			/*
			 * The capture ends inside this request line: its path is unknown, and the
			 * read may hold more requests past it. It is counted, not reported; the
			 * responses to what was not seen are counted as unmatched.
			 */
			c->lost.cut++;
			req.cut = true;
			enqueue(c, conn, &req);
			break;
		}
		enqueue(c, conn, &req);
		n++;
		/* Pipelined: another request line after this one's header block and body. */
		for (header_end = off + used; header_end + 4 <= len &&
		     memcmp(data + header_end, "\r\n\r\n", 4); header_end++)
			;
		body = content_length(data, off + used, header_end + 4 <= len ? header_end : len);
		if (body == -2)
			c->bad_length++;
		if (header_end + 4 > len) {
			/* Headers longer than the capture: the body starts in a later read. */
			conn->body_left = body > 0 ? body : 0;
			break;
		}
		off = header_end + 4 + (body > 0 ? body : 0);
		if (off >= (size_t)io->bytes || off >= len) {
			conn->body_left = (long)off - io->bytes;
			break;
		}
		used = http_parse_request_line(data + off, len - off, req.method,
					       sizeof(req.method), req.path, sizeof(req.path), &cut);
		if (!used)
			break;
	}
	conn->read_before = true;
}

static void on_write(struct http_conns *c, struct conn *conn, const struct http_io *io)
{
	int status = http_parse_status((const char *)io->data, io->len);

	if (status >= 100 && status < 200 && status != 101)
		return;		/* interim (100 Continue): the real response follows */
	if (status < 0) {
		if (conn->responding)
			conn->cur.end_ns = io->ts_ns;
		return;
	}
	complete(c, conn);
	/* A server answers once it has read the body: whatever was expected of it is over. */
	conn->body_left = 0;
	if (!conn->nqueued) {
		/* A response to nothing we saw: attached mid-request, or past the capture. */
		if (conn->read_before)
			c->lost.unmatched_responses++;
		return;
	}
	conn->cur = conn->queued[0];
	memmove(&conn->queued[0], &conn->queued[1], --conn->nqueued * sizeof(conn->queued[0]));
	conn->cur.status = status;
	conn->cur.first_byte_ns = conn->cur.end_ns = io->ts_ns;
	conn->responding = true;
	if (status == 101) {
		/* What follows is another protocol (WebSocket): the upgrade is the response. */
		complete(c, conn);
		conn->upgraded = true;
	}
}

/* Which socket: its cookie, never reused, else its address. */
static uint64_t sock_id(const struct http_io *io)
{
	return io->cookie ? io->cookie : io->sk;
}

void http_conns_feed(struct http_conns *c, const struct http_io *io)
{
	struct conn **pp = find(c, io->pid, io->fd), *conn = *pp;

	/*
	 * Events of different threads reach us in the order their syscalls returned, not the
	 * order the kernel reused fds in: thread A's close of fd N can arrive after thread B
	 * accepted another connection on N and read its request. A close therefore ends only the
	 * socket it names; an accept's fd is new, so whatever the fd named before is over.
	 */
	if (io->kind == HTTP_IO_CLOSE) {
		if (conn && sock_id(io) && conn->sock == sock_id(io))
			drop(c, pp, true);
		return;
	}
	if (io->kind == HTTP_IO_ACCEPT) {
		if (conn)
			drop(c, pp, true);
		return;
	}
	/* The fd now names another socket: its close went unseen (attached in between). */
	if (conn && sock_id(io) && conn->sock && conn->sock != sock_id(io)) {
		drop(c, pp, true);
		conn = NULL;
	}
	if (!conn) {
		if (io->kind != HTTP_IO_READ)
			return;
		conn = calloc(1, sizeof(*conn));
		if (!conn)
			return;
		conn->pid = io->pid;
		conn->fd = io->fd;
		conn->next = *pp;
		*pp = conn;
	}
	conn->sock = sock_id(io);
	if (conn->upgraded)
		return;
	if (io->kind == HTTP_IO_READ)
		on_read(c, conn, io);
	else
		on_write(c, conn, io);
}

static void flush_matching(struct http_conns *c, bool all, pid_t pid)
{
	unsigned int b;

	for (b = 0; b < CONN_BUCKETS; b++) {
		struct conn **pp = &c->buckets[b];

		while (*pp) {
			if (all || (*pp)->pid == pid)
				drop(c, pp, false);
			else
				pp = &(*pp)->next;
		}
	}
}

void http_conns_flush_pid(struct http_conns *c, pid_t pid)
{
	flush_matching(c, false, pid);
}

void http_conns_flush(struct http_conns *c)
{
	flush_matching(c, true, 0);
}

uint64_t http_conns_non_http(const struct http_conns *c)
{
	return c->non_http;
}

uint64_t http_conns_bad_length(const struct http_conns *c)
{
	return c->bad_length;
}

void http_conns_unassembled(const struct http_conns *c, struct http_unassembled *u)
{
	*u = c->lost;
}

void http_conns_free(struct http_conns *c)
{
	if (!c)
		return;
	http_conns_flush(c);
	free(c);
}
