/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* gcpause serve: the traced processes' figures by label set, on a Prometheus endpoint. */
#ifndef GCPAUSE_SERVE_SERVE_H
#define GCPAUSE_SERVE_SERVE_H

#include <stdint.h>
#include "run/app.h"

/* Makes the series table and starts listening. One line in err on failure. */
int serve_start(struct app *app, char *err, size_t err_len);
/* A collection of p, for its series. */
void serve_record_gc(struct app *app, struct traced *p, const struct gc_event *e);
/* The endpoint's socket is readable. */
void serve_on_request(struct app *app);
/* Once a second: idle series expire, stalled clients time out. */
void serve_housekeeping(struct app *app, uint64_t now_ns);
void serve_close(struct app *app);

#endif /* GCPAUSE_SERVE_SERVE_H */
