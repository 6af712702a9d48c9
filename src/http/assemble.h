/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTP/1.x requests assembled from socket I/O events: which read started a request, which write
 * started its response, which write ended it.
 */
#ifndef GCPAUSE_HTTP_ASSEMBLE_H
#define GCPAUSE_HTTP_ASSEMBLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "http.h"

#define HTTP_METHOD_LEN		24	/* RFC 9110 token methods; longer ones are not requests */
#define HTTP_PATH_LEN		129	/* 128 bytes and the NUL */
#define HTTP_ROUTE_LEN		160	/* a path's template: {int} is longer than 1 */

struct http_request {
	pid_t pid;
	uint32_t tid;
	int fd;
	char method[HTTP_METHOD_LEN];
	char path[HTTP_PATH_LEN];
	char route[HTTP_ROUTE_LEN];	/* path's template, when published ("" before) */
	int status;			/* 0 when no response was seen */
	uint64_t arrival_ns;		/* in the kernel (arrival_from_tcp) or = start_ns */
	uint64_t start_ns;		/* the worker's read of its first bytes returned */
	uint64_t first_byte_ns;		/* the first write of the response returned */
	uint64_t end_ns;		/* the last write of the response returned */
	bool arrival_from_tcp;
	bool cut;			/* its request line was cut at the capture's edge */
};

/*
 * A request line at the start of buf: method (any RFC 9110 token), path (query dropped), then
 * " HTTP/1.x". Returns the bytes of the line, or 0 when it is not one. When buf ends inside what
 * still reads like a request line (cut at the capture's edge), *cut is set (if cut is not NULL)
 * and len returned: method and path are then not to be trusted.
 */
size_t http_parse_request_line(const char *buf, size_t len, char *method, size_t method_len,
			       char *path, size_t path_len, bool *cut);

/* The status code of a response that starts at buf ("HTTP/1.1 200 ..."), or -1. */
int http_parse_status(const char *buf, size_t len);

struct http_conns;
typedef void (*http_request_fn)(const struct http_request *req, void *ctx);

struct http_conns *http_conns_new(http_request_fn on_request, void *ctx);
/* Feeds one I/O event; completed requests go to on_request. */
void http_conns_feed(struct http_conns *c, const struct http_io *io);
/* Completes every request of pid (exited) whose response began; drops the others. */
void http_conns_flush_pid(struct http_conns *c, pid_t pid);
/* Completes every request in flight whose response began (at the end of tracing). */
void http_conns_flush(struct http_conns *c);
/* Reads that began with no request line (binary or non-HTTP traffic), ignored. */
uint64_t http_conns_non_http(const struct http_conns *c);

/* What was seen but could not be made into a request. */
struct http_unassembled {
	uint64_t unanswered;		/* read, then the connection ended with no response */
	uint64_t unmatched_responses;	/* a status line with no request seen before it */
	uint64_t cut;			/* a request line cut at the capture's edge */
	uint64_t overflow;		/* pipelined past HTTP_MAX_QUEUED unanswered requests */
	uint64_t untraced;		/* answered in a process that was never traced */
};

#define HTTP_MAX_QUEUED		4096

void http_conns_unassembled(const struct http_conns *c, struct http_unassembled *u);
/* Requests whose Content-Length was not a plausible number: their body was not skipped. */
uint64_t http_conns_bad_length(const struct http_conns *c);
void http_conns_free(struct http_conns *c);

#endif /* GCPAUSE_HTTP_ASSEMBLE_H */
