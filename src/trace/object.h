/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the three loaders (GC, HTTP I/O, discovery) do alike with their BPF objects: share the
 * process filter, and read a ring buffer record by record.
 */
#ifndef GCPAUSE_TRACE_OBJECT_H
#define GCPAUSE_TRACE_OBJECT_H

#include <stddef.h>
#include <bpf/libbpf.h>

/* Before load: filter (the object's traced_pids) becomes the GC object's map, filter_fd. */
int trace_share_filter(struct bpf_map *filter, int filter_fd, char *err, size_t err_len);

/* One record as the kernel wrote it; the loader checks its size before trusting it. */
typedef void (*trace_record_fn)(const void *data, size_t size, void *ctx);

struct trace_ring {
	struct ring_buffer *rb;
	trace_record_fn fn;
	void *ctx;
};

/* Opens the ring buffer map; what names it in err ("GC", "HTTP", "discovery"). */
int trace_ring_open(struct trace_ring *r, struct bpf_map *map, const char *what,
		    trace_record_fn fn, void *ctx, char *err, size_t err_len);
/* Calls fn for every record waiting; the number read, or a negative errno. */
int trace_ring_consume(struct trace_ring *r);
int trace_ring_epoll_fd(const struct trace_ring *r);
void trace_ring_close(struct trace_ring *r);

#endif /* GCPAUSE_TRACE_OBJECT_H */
