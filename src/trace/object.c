// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "trace/object.h"

int trace_share_filter(struct bpf_map *filter, int filter_fd, char *err, size_t err_len)
{
	int ret = bpf_map__reuse_fd(filter, filter_fd);

	if (ret)
		snprintf(err, err_len, "cannot share the process filter: %s", strerror(-ret));
	return ret;
}

static int handle_record(void *ctx, void *data, size_t size)
{
	struct trace_ring *r = ctx;

	r->fn(data, size, r->ctx);
	return 0;
}

int trace_ring_open(struct trace_ring *r, struct bpf_map *map, const char *what,
		    trace_record_fn fn, void *ctx, char *err, size_t err_len)
{
	int ret;

	r->fn = fn;
	r->ctx = ctx;
	r->rb = ring_buffer__new(bpf_map__fd(map), handle_record, r, NULL);
	if (r->rb)
		return 0;
	ret = -errno;
	snprintf(err, err_len, "cannot open the %s ring buffer: %s", what, strerror(-ret));
	return ret;
}

int trace_ring_consume(struct trace_ring *r)
{
	return ring_buffer__consume(r->rb);
}

int trace_ring_epoll_fd(const struct trace_ring *r)
{
	return ring_buffer__epoll_fd(r->rb);
}

void trace_ring_close(struct trace_ring *r)
{
	ring_buffer__free(r->rb);
	r->rb = NULL;
}
