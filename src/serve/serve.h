/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* gcpause serve: the traced processes' figures by label set, on a Prometheus endpoint. */
#ifndef GCPAUSE_SERVE_SERVE_H
#define GCPAUSE_SERVE_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "serve/prom_text.h"
#include "stats/sink.h"

struct serve_opts {
	const char *listen;		/* ADDR:PORT */
	unsigned int max_series;
	uint64_t expire_ns;		/* a series idle this long goes */
	bool http;			/* request series too */
	bool per_pid;			/* a pid label: a series per process */
	bool gc_state;			/* the GC state gauges */
};

/* What a scrape asks of the run: serve calls no tracer or fleet function itself. */
struct serve_feed {
	/* The run's own figures: losses, processes and binaries traced, the fleet's counts. */
	void (*fill)(void *run, struct agent_metrics *m);
	/* each(serve, p) for every live process, its GC state read now. */
	void (*each_live)(void *run, void (*each)(void *serve, struct proc_stats *p),
			  void *serve);
	void *run;
};

/* Makes the series table and starts listening. One line in err on failure. */
int serve_sink(struct sink *out, const struct serve_opts *opts, const struct serve_feed *feed,
	       char *err, size_t err_len);

#endif /* GCPAUSE_SERVE_SERVE_H */
