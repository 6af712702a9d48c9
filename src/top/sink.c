// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* gcpause top as a sink of its run (stats/sink.h): a frame at every interval, keys on stdin. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "report/report.h"
#include "top/sink.h"
#include "top/top.h"

static void draw(void *ctx, const struct report_summary *s)
{
	struct top **t = ctx;

	/* After stop: the terminal is the user's again. */
	if (*t)
		top_draw(*t, s->procs, s->nprocs, summary_lost_events(s->counters), s->end_ns);
}

static int input_fd(void *ctx)
{
	return STDIN_FILENO;
}

static enum sink_action input(void *ctx)
{
	struct top **t = ctx;

	if (!*t)
		return SINK_NONE;
	switch (top_keys(*t)) {
	case TOP_QUIT:
		return SINK_QUIT;
	case TOP_REDRAW:
		return SINK_REDRAW;
	default:
		return SINK_NONE;
	}
}

static void resize(void *ctx)
{
	struct top **t = ctx;

	if (*t)
		top_resize(*t);
}

static void stop(void *ctx)
{
	struct top **t = ctx;

	top_close(*t);
	*t = NULL;
}

static void close_sink(void *ctx)
{
	stop(ctx);
	free(ctx);
}

static const struct sink_ops top_ops = {
	.interval = draw,
	.stop = stop,
	.input_fd = input_fd,
	.input = input,
	.resize = resize,
	.close = close_sink,
	.interval_lists_all = true,
};

int top_sink(struct sink *out, bool http, uint64_t interval_ns, char *err, size_t err_len)
{
	struct top **t = calloc(1, sizeof(*t));
	int ret;

	if (!t) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	ret = top_open(t, http, interval_ns, err, err_len);
	if (ret) {
		free(t);
		return ret;
	}
	out->ops = &top_ops;
	out->ctx = t;
	return 0;
}
