/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What "gcpause top" shows, as plain lines of text for a given terminal size: no terminal
 * needed, so the layout is unit-tested; src/top/top.c puts the lines on screen.
 */
#ifndef GCPAUSE_TOP_TUI_VIEW_H
#define GCPAUSE_TOP_TUI_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "stats/stats.h"

#define TUI_MAX_LINES		512
#define TUI_LINE_BYTES		1024	/* UTF-8: µ takes two bytes for one column */
#define TUI_MIN_WIDTH		40
#define TUI_MIN_HEIGHT		8

enum tui_sort { TUI_SORT_PID, TUI_SORT_GC_SHARE, TUI_SORT_GEN2_P99, TUI_SORT_MAX, TUI_SORT_REQ_P99,
		TUI_SORT_COUNT };

struct tui_state {
	int selected;			/* index into the sorted rows */
	/*
	 * The selected process: the selection follows it when the order changes (another sort,
	 * new figures). 0: none yet, selected is used as is.
	 */
	pid_t selected_pid;
	int move;			/* rows to move the selection by at the next render */
	int scroll;			/* first row shown */
	enum tui_sort sort;
	bool interval;			/* "last interval" window, else since start */
	bool paused;
	bool http;
	bool containers;	/* some process runs in a container: the POD column exists */
	uint64_t interval_ns;		/* refresh period */
};

struct tui_screen {
	int width, height;
	int nlines;
	int highlight;			/* the selected row's line, -1 if none */
	char lines[TUI_MAX_LINES][TUI_LINE_BYTES];
};

const char *tui_sort_name(enum tui_sort sort);

/* Sorts procs (in place) as the state says; keeps exited processes after the running ones. */
void tui_sort_procs(const struct tui_state *st, struct proc_stats **procs, int n,
		    uint64_t now_ns);

/*
 * Lays the screen out for procs (already sorted), at now_ns; dropped is the number of lost
 * events. Finds st->selected_pid's row, moves st->move rows from it, clamps st->selected and
 * st->scroll to what exists and fits, and remembers the selected process.
 */
void tui_render(struct tui_state *st, struct proc_stats **procs, int n, uint64_t dropped,
		uint64_t now_ns, struct tui_screen *scr);

#endif /* GCPAUSE_TOP_TUI_VIEW_H */
