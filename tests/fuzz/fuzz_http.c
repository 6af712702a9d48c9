// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/1.x requests assembled from socket I/O as the BPF side captures it: the input is a
 * sequence of events, each a 6-byte header (kind, connection, byte count, captured length)
 * and up to 256 captured bytes, on a few connections of two processes. Every request that comes
 * out must be well formed whatever went in.
 */
#include <assert.h>
#include "fuzz_util.h"
#include "http/assemble.h"

static void on_request(const struct http_request *req, void *ctx)
{
	(*(unsigned long *)ctx)++;
	assert(memchr(req->method, 0, sizeof(req->method)) && req->method[0]);
	assert(memchr(req->path, 0, sizeof(req->path)));
	assert(!strchr(req->path, '?'));	/* the query string is never kept */
	assert(req->status == 0 || (req->status >= 100 && req->status <= 599));
	assert(req->arrival_ns <= req->start_ns);
	assert(!req->first_byte_ns || req->start_ns <= req->first_byte_ns);
	assert(req->first_byte_ns <= req->end_ns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long requests = 0;
	struct http_conns *c = http_conns_new(on_request, &requests);
	struct http_io io;
	char method[HTTP_METHOD_LEN], path[HTTP_PATH_LEN];
	uint64_t now = 1000000;
	size_t off = 0;

	assert(c);
	if (http_parse_request_line((const char *)data, size, method, sizeof(method), path,
				    sizeof(path), NULL))
		assert(strlen(path) < sizeof(path));
	(void)http_parse_status((const char *)data, size);

	while (off + 6 <= size) {
		const uint8_t *h = data + off;

		memset(&io, 0, sizeof(io));
		io.kind = HTTP_IO_READ + h[0] % 4;
		io.pid = 100 + (h[1] >> 7);
		io.tid = io.pid;
		io.fd = 3 + (h[1] & 3);
		io.sk = 0xffff0000u + ((h[1] >> 2) & 1);
		io.len = h[5] <= size - off - 6 ? h[5] : size - off - 6;
		/* The syscall's result: mostly the captured length, sometimes more or an error. */
		io.bytes = h[2] & 0x80 ? (int16_t)(h[3] | h[4] << 8) : io.len + (h[3] | h[4] << 8);
		now += 1000 + h[2];
		io.ts_ns = now;
		io.arrival_ns = h[2] & 1 ? now - 500 : 0;
		io.conn_ns = h[2] & 2 ? now - 700 : 0;
		memcpy(io.data, h + 6, io.len);
		http_conns_feed(c, &io);
		off += 6 + io.len;
		if (h[2] == 0x7f)
			http_conns_flush_pid(c, io.pid);
	}
	http_conns_flush(c);
	(void)http_conns_non_http(c);
	http_conns_free(c);
	return 0;
}
