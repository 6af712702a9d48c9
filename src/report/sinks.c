// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The text report and the JSON stream as sinks of a run (stats/sink.h). */
#include <errno.h>
#include <stdlib.h>
#include "report/gc_state_report.h"
#include "report/report.h"
#include "report/sinks.h"

struct report_sink {
	FILE *out;
	bool intervals;
};

static struct report_sink *new_report_sink(FILE *out, bool intervals)
{
	struct report_sink *r = calloc(1, sizeof(*r));

	if (r) {
		r->out = out;
		r->intervals = intervals;
	}
	return r;
}

static void text_interval(void *ctx, const struct report_summary *s)
{
	struct report_sink *r = ctx;

	if (r->intervals)
		report_text_summary(r->out, s);
}

static void text_total(void *ctx, const struct report_summary *s)
{
	struct report_sink *r = ctx;

	report_text_summary(r->out, s);
}

static const struct sink_ops text_ops = {
	.interval = text_interval,
	.total = text_total,
	.close = free,
};

int report_text_sink(struct sink *out, FILE *f, bool intervals)
{
	out->ops = &text_ops;
	out->ctx = new_report_sink(f, intervals);
	return out->ctx ? 0 : -ENOMEM;
}

static void json_ready(void *ctx, int processes, int binaries)
{
	report_json_ready(((struct report_sink *)ctx)->out, processes, binaries);
}

static void json_attach(void *ctx, struct proc_stats *p)
{
	report_json_attach(((struct report_sink *)ctx)->out, p);
}

static void json_collection(void *ctx, struct proc_stats *p, const struct gc_event *e)
{
	report_json_gc(((struct report_sink *)ctx)->out, e);
}

static void json_gc_state(void *ctx, struct proc_stats *p, int gen)
{
	gc_state_emit_json(((struct report_sink *)ctx)->out, p->process.pid, gen, &p->gc_state);
}

static void json_request(void *ctx, struct proc_stats *p, const struct http_sample *sample)
{
	report_json_request(((struct report_sink *)ctx)->out, sample);
}

static void json_exit(void *ctx, struct proc_stats *p)
{
	report_json_exit(((struct report_sink *)ctx)->out, p);
}

static void json_summary(void *ctx, const struct report_summary *s)
{
	report_json_summary(((struct report_sink *)ctx)->out, s);
}

static const struct sink_ops json_ops = {
	.ready = json_ready,
	.attach = json_attach,
	.collection = json_collection,
	.gc_state = json_gc_state,
	.request = json_request,
	.exit = json_exit,
	.interval = json_summary,
	.total = json_summary,
	.close = free,
};

int report_json_sink(struct sink *out, FILE *f)
{
	out->ops = &json_ops;
	out->ctx = new_report_sink(f, true);
	return out->ctx ? 0 : -ENOMEM;
}
