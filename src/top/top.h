/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* "gcpause top": the terminal side (ncurses) of the live view laid out by tui_view.c. */
#ifndef GCPAUSE_TOP_TOP_H
#define GCPAUSE_TOP_TOP_H

#include <stdbool.h>
#include <stdint.h>
#include "stats/stats.h"

struct top;

enum top_action { TOP_NONE, TOP_REDRAW, TOP_QUIT };

/* Takes the terminal over. Returns 0, or a negative errno with one line in err. */
int top_open(struct top **out, bool http, uint64_t interval_ns, char *err, size_t err_len);
/* Lays out and paints procs (n of them, any order); a paused view keeps its last frame. */
void top_draw(struct top *t, struct proc_stats *const *procs, int n, uint64_t dropped,
	      uint64_t now_ns);
/* Handles the keys waiting on stdin. */
enum top_action top_keys(struct top *t);
/* The terminal changed size. */
void top_resize(struct top *t);
/* Gives the terminal back, as it was. */
void top_close(struct top *t);

#endif /* GCPAUSE_TOP_TOP_H */
