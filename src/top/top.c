// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <curses.h>
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "top/top.h"
#include "top/tui_view.h"

struct top {
	struct tui_state st;
	struct tui_screen scr;		/* the last frame: repainted as is while paused */
	struct proc_stats **sorted;
	int cap;
	bool frozen;			/* paused and the paused frame is drawn */
};

int top_open(struct top **out, bool http, uint64_t interval_ns, char *err, size_t err_len)
{
	struct top *t = calloc(1, sizeof(*t));

	if (!t) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	t->st.http = http;
	t->st.interval_ns = interval_ns;
	/* The locale's UTF-8, so that µ is one column on screen. */
	setlocale(LC_ALL, "");
	if (!initscr()) {
		free(t);
		snprintf(err, err_len, "cannot take the terminal over (TERM=%s)",
			 getenv("TERM") ? getenv("TERM") : "unset");
		return -ENOTTY;
	}
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	*out = t;
	return 0;
}

/* Bytes of line that fill at most cols columns: curses would wrap the rest onto the next line. */
static int bytes_for_columns(const char *line, int cols)
{
	int i, n = 0;

	for (i = 0; line[i]; i++) {
		if (((unsigned char)line[i] & 0xc0) == 0x80)
			continue;
		if (n++ == cols)
			break;
	}
	return i;
}

static void paint(struct top *t)
{
	int i;

	erase();
	for (i = 0; i < t->scr.nlines && i < LINES; i++) {
		if (i == t->scr.highlight)
			attron(A_REVERSE);
		/* The last cell of the last line scrolls some terminals: leave it. */
		mvaddnstr(i, 0, t->scr.lines[i], bytes_for_columns(t->scr.lines[i],
			  i == LINES - 1 ? COLS - 1 : COLS));
		if (i == t->scr.highlight) {
			/* The whole row, not just its text. */
			clrtoeol();
			mvchgat(i, 0, -1, A_REVERSE, 0, NULL);
			attroff(A_REVERSE);
		}
	}
	refresh();
}

void top_draw(struct top *t, struct proc_stats *const *procs, int n, uint64_t dropped,
	      uint64_t now_ns)
{
	struct proc_stats **grown;

	/* Paused: the frame that says so is drawn once, then only repainted. */
	if (t->st.paused && t->frozen) {
		paint(t);
		return;
	}
	t->frozen = t->st.paused;
	if (n > t->cap) {
		grown = realloc(t->sorted, n * sizeof(*grown));
		if (!grown)
			return;
		t->sorted = grown;
		t->cap = n;
	}
	memcpy(t->sorted, procs, n * sizeof(*procs));
	tui_sort_procs(&t->st, t->sorted, n, now_ns);
	t->scr.width = COLS;
	t->scr.height = LINES;
	tui_render(&t->st, t->sorted, n, dropped, now_ns, &t->scr);
	paint(t);
}

enum top_action top_keys(struct top *t)
{
	enum top_action action = TOP_NONE;
	int ch, page = LINES / 3 > 1 ? LINES / 3 : 1;

	while ((ch = getch()) != ERR) {
		action = TOP_REDRAW;
		switch (ch) {
		case 'q':
		case 'Q':
			return TOP_QUIT;
		case 'j':
		case KEY_DOWN:
			t->st.move++;
			break;
		case 'k':
		case KEY_UP:
			t->st.move--;
			break;
		case KEY_NPAGE:
			t->st.move += page;
			break;
		case KEY_PPAGE:
			t->st.move -= page;
			break;
		case 's':
			t->st.sort = (t->st.sort + 1) % TUI_SORT_COUNT;
			if (t->st.sort == TUI_SORT_REQ_P99 && !t->st.http)
				t->st.sort = TUI_SORT_PID;
			break;
		case 'w':
			t->st.interval = !t->st.interval;
			break;
		case 'p':
			t->st.paused = !t->st.paused;
			t->frozen = false;
			break;
		case KEY_RESIZE:
			break;
		default:
			action = TOP_NONE;
			break;
		}
	}
	return action;
}

void top_resize(struct top *t)
{
	struct winsize ws;

	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row && ws.ws_col)
		resizeterm(ws.ws_row, ws.ws_col);
	clear();
	/* A frozen frame was laid out for the old size: lay out once more, still paused. */
	t->frozen = false;
}

void top_close(struct top *t)
{
	if (!t)
		return;
	endwin();
	free(t->sorted);
	free(t);
}
