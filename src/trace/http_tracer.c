// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "trace/object.h"
#include "trace/percpu.h"
#include "http.skel.h"
#include "trace/http_tracer.h"

struct http_tracer {
	struct http_bpf *skel;
	struct trace_ring ring;
	http_io_fn on_io;
	void *ctx;
	int ncpus;
	struct http_io io;	/* the record being handled, whole */
};

static void handle_io(const void *data, size_t size, void *ctx)
{
	struct http_tracer *ht = ctx;
	const struct http_io *io = data;

	/* A record ends with the bytes it captured: copied whole, so that data[] is addressable. */
	if (size < offsetof(struct http_io, data) ||
	    io->len > size - offsetof(struct http_io, data) || io->len > HTTP_CAPTURE_BYTES)
		return;
	memcpy(&ht->io, data, size);
	ht->on_io(&ht->io, ht->ctx);
}

int http_tracer_open(struct http_tracer **out, int traced_pids_fd, http_io_fn on_io, void *ctx,
		     char *err, size_t err_len, char *arrival_note, size_t note_len)
{
	struct http_tracer *ht;
	int ret;

	arrival_note[0] = '\0';
	ht = calloc(1, sizeof(*ht));
	if (!ht) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	ht->on_io = on_io;
	ht->ctx = ctx;
	ht->ncpus = libbpf_num_possible_cpus();
	ht->skel = http_bpf__open();
	if (!ht->skel || ht->ncpus <= 0) {
		ret = -errno ? -errno : -EINVAL;
		snprintf(err, err_len, "cannot open the HTTP BPF object: %s", strerror(-ret));
		goto cleanup;
	}
	ret = trace_share_filter(ht->skel->maps.traced_pids, traced_pids_fd, err, err_len);
	if (ret)
		goto cleanup;
	ret = http_bpf__load(ht->skel);
	if (ret) {
		snprintf(err, err_len, "cannot load the HTTP BPF programs: %s (BTF-enabled "
			 "tracepoints, kernel 5.5+, and the sock_recv_length tracepoint, 6.3+, are "
			 "needed)", strerror(-ret));
		goto cleanup;
	}
	ret = http_bpf__attach(ht->skel);
	if (ret) {
		/* The TCP stamps are optional: retry without them, and say so. */
		bpf_program__set_autoattach(ht->skel->progs.http_tcp_probe, false);
		bpf_program__set_autoattach(ht->skel->progs.http_sock_state, false);
		http_bpf__detach(ht->skel);
		ret = http_bpf__attach(ht->skel);
		if (ret) {
			snprintf(err, err_len, "cannot attach the HTTP BPF programs: %s",
				 strerror(-ret));
			goto cleanup;
		}
		snprintf(arrival_note, note_len, "the tcp_probe/inet_sock_set_state tracepoints "
			 "cannot be attached: requests are timed from the worker's first read, so "
			 "time spent queued in the kernel is not seen");
	}
	ret = trace_ring_open(&ht->ring, ht->skel->maps.http_events, "HTTP", handle_io, ht, err,
			      err_len);
	if (ret)
		goto cleanup;
	*out = ht;
	return 0;
cleanup:
	http_tracer_close(ht);
	return ret;
}

int http_tracer_consume(struct http_tracer *ht)
{
	return trace_ring_consume(&ht->ring);
}

void http_tracer_read_counters(struct http_tracer *ht, uint64_t counters[HTTP_CNT_MAX])
{
	percpu_sum(bpf_map__fd(ht->skel->maps.http_counters), ht->ncpus, counters,
		   HTTP_CNT_MAX);
}

void http_tracer_close(struct http_tracer *ht)
{
	if (!ht)
		return;
	trace_ring_close(&ht->ring);
	http_bpf__destroy(ht->skel);
	free(ht);
}
