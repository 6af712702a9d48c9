// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/format.h"
#include "top/tui_view.h"

#define NGENS		3
#define HIST_ROWS_MAX	12

static const char *const sort_names[TUI_SORT_COUNT] = {
	[TUI_SORT_PID] = "pid",
	[TUI_SORT_GC_SHARE] = "gc%",
	[TUI_SORT_GEN2_P99] = "gen2 p99",
	[TUI_SORT_MAX] = "max",
	[TUI_SORT_REQ_P99] = "req p99",
};

const char *tui_sort_name(enum tui_sort sort)
{
	return sort < TUI_SORT_COUNT ? sort_names[sort] : "?";
}

static enum stats_scope scope_of(const struct tui_state *st)
{
	return st->interval ? STATS_INTERVAL : STATS_TOTAL;
}

/* A generation's pauses in the window; NULL when it never collected. */
static const struct pause_stats *gen_pauses(const struct proc_stats *p, int gen,
					    enum stats_scope scope)
{
	int i;

	for (i = 0; i < p->ngens; i++)
		if (p->gens[i]->gen == gen)
			return stats_scope(p->gens[i], scope);
	return NULL;
}

static const struct http_stats *http_of(const struct proc_stats *p, enum stats_scope scope)
{
	return scope == STATS_TOTAL ? p->http : p->http_interval;
}

static double per_second(uint64_t count, uint64_t wall_ns)
{
	return wall_ns ? count * 1e9 / wall_ns : 0;
}

struct totals {
	uint64_t count, sum, max;
};

/* Collections, pause time and longest pause over every generation, without merging histograms. */
static struct totals totals_of(const struct proc_stats *p, enum stats_scope scope)
{
	struct stats_sampled_view v;
	struct totals t = { 0 };
	int i;

	/* --sample: exact counts, pause time and the longest pause to the sampling period. */
	if (stats_sampled_view(p, scope, &v)) {
		t.count = v.collections[0] + v.collections[1] + v.collections[2];
		t.sum = v.gc_ns;
		t.max = v.max_pause_ns;
		return t;
	}
	for (i = 0; i < p->ngens; i++) {
		const struct hist *h = &stats_scope(p->gens[i], scope)->pauses;

		t.count += h->count;
		t.sum += h->sum;
		if (h->count && h->max > t.max)
			t.max = h->max;
	}
	return t;
}

/* What a row is sorted by, in the window: bigger first, except for the PID. */
static uint64_t sort_value(const struct tui_state *st, const struct proc_stats *p,
			   uint64_t now_ns)
{
	enum stats_scope scope = scope_of(st);
	const struct pause_stats *g2 = gen_pauses(p, 2, scope);
	const struct http_stats *h = http_of(p, scope);
	uint64_t wall;

	switch (st->sort) {
	case TUI_SORT_GC_SHARE:
		wall = stats_wall_ns(p, scope, now_ns);
		return wall ? totals_of(p, scope).sum * 1000000 / wall : 0;
	case TUI_SORT_GEN2_P99:
		return g2 ? hist_percentile(&g2->pauses, 99) : 0;
	case TUI_SORT_MAX:
		return totals_of(p, scope).max;
	case TUI_SORT_REQ_P99:
		return h ? hist_percentile(&h->latency, 99) : 0;
	default:
		return 0;
	}
}

struct sort_row {
	struct proc_stats *p;
	uint64_t value;
};

static int compare_rows(const void *a, const void *b)
{
	const struct sort_row *x = a, *y = b;

	if (x->p->exited != y->p->exited)
		return x->p->exited ? 1 : -1;
	if (x->value != y->value)
		return x->value > y->value ? -1 : 1;
	return x->p->process.pid - y->p->process.pid;
}

/* Each row's key is computed once: with --all a node's hundreds of rows are sorted each second. */
void tui_sort_procs(const struct tui_state *st, struct proc_stats **procs, int n,
		    uint64_t now_ns)
{
	struct sort_row *rows = malloc(n * sizeof(*rows));
	int i;

	if (!rows)
		return;
	for (i = 0; i < n; i++) {
		rows[i].p = procs[i];
		rows[i].value = st->sort == TUI_SORT_PID ? 0 : sort_value(st, procs[i], now_ns);
	}
	qsort(rows, n, sizeof(*rows), compare_rows);
	for (i = 0; i < n; i++)
		procs[i] = rows[i].p;
	free(rows);
}

/*
 * Appends a line, cut to the screen's width in columns (µ is two bytes, one column). Lines name
 * processes, pods and paths that others chose: escaped, so that none moves the cursor.
 */
static void add_line(struct tui_screen *scr, const char *fmt, ...)
{
	char *line, raw[TUI_LINE_BYTES];
	va_list args;
	size_t i, cols = 0;

	if (scr->nlines >= scr->height || scr->nlines >= TUI_MAX_LINES)
		return;
	line = scr->lines[scr->nlines++];
	va_start(args, fmt);
	vsnprintf(raw, sizeof(raw), fmt, args);
	va_end(args);
	fmt_terminal(line, TUI_LINE_BYTES, raw);
	for (i = 0; line[i]; i++) {
		if (((unsigned char)line[i] & 0xc0) == 0x80)
			continue;	/* a UTF-8 continuation byte */
		if (cols++ == (size_t)scr->width) {
			line[i] = '\0';
			break;
		}
	}
}

/* Right-aligns s in width columns into out. */
static void pad(char *out, size_t len, const char *s, int width)
{
	int n = width - (int)fmt_display_width(s);

	/* Cells are short; a cut one is still a cell. */
	if (snprintf(out, len, "%*s%s", n > 0 ? n : 0, "", s) >= (int)len)
		out[len - 1] = '\0';
}

static void dur_cell(char *out, size_t len, const struct hist *h, double pct)
{
	char d[FMT_DURATION_LEN];

	pad(out, len, h && h->count ? fmt_duration(d, sizeof(d), hist_percentile(h, pct)) : "-",
	    8);
}

static void container_cell(char *out, size_t len, const struct container_info *c)
{
	char buf[CONTAINER_NS_LEN + CONTAINER_POD_LEN + 1];

	container_short_name(c, buf, sizeof(buf));
	snprintf(out, len, "%-26.26s", buf);
}

/* Table columns, in display order; the least important go first when the terminal is narrow. */
enum column {
	COL_PID, COL_COMM, COL_POD, COL_PY, COL_PROBE, COL_GCS, COL_RATE, COL_G0_P50, COL_G0_P99,
	COL_G0_MAX, COL_G1_P50, COL_G1_P99, COL_G1_MAX, COL_G2_P50, COL_G2_P99, COL_G2_MAX,
	COL_SHARE, COL_REQS, COL_REQ_P99, COL_HIT_P99, COL_CLEAN_P99, NCOLS
};

static const struct {
	const char *title;
	int width, priority;	/* 0 = always */
	bool http;
} columns[NCOLS] = {
	[COL_PID] = { "PID", 7, 0, false },
	[COL_COMM] = { "COMMAND", 15, 0, false },
	/* Only when some process runs in a container (--all on a node). */
	[COL_POD] = { "NAMESPACE/POD OR CONTAINER", 26, 4, false },
	[COL_PY] = { "PYTHON", 8, 6, false },
	[COL_PROBE] = { "PROBE", 8, 7, false },
	[COL_GCS] = { "GCS", 7, 1, false },
	[COL_RATE] = { "GEN0/1/2 PER S", 17, 2, false },
	[COL_G0_P50] = { "G0 P50", 8, 8, false },
	[COL_G0_P99] = { "G0 P99", 8, 4, false },
	[COL_G0_MAX] = { "G0 MAX", 8, 9, false },
	[COL_G1_P50] = { "G1 P50", 8, 9, false },
	[COL_G1_P99] = { "G1 P99", 8, 5, false },
	[COL_G1_MAX] = { "G1 MAX", 8, 9, false },
	[COL_G2_P50] = { "G2 P50", 8, 6, false },
	[COL_G2_P99] = { "G2 P99", 8, 1, false },
	[COL_G2_MAX] = { "G2 MAX", 8, 3, false },
	[COL_SHARE] = { "GC%", 7, 0, false },
	[COL_REQS] = { "REQ/S", 8, 2, true },
	[COL_REQ_P99] = { "REQ P99", 8, 1, true },
	[COL_HIT_P99] = { "HIT P99", 8, 3, true },
	[COL_CLEAN_P99] = { "CLEAN P99", 9, 3, true },
};

/* Which columns fit in width (one space between columns, two for the selection mark). */
static int fit_columns(const struct tui_state *st, int width, bool shown[NCOLS])
{
	int used = 2, prio, c, n = 0;

	memset(shown, 0, NCOLS * sizeof(shown[0]));
	for (prio = 0; prio <= 9; prio++) {
		for (c = 0; c < NCOLS; c++) {
			if (columns[c].priority != prio || (columns[c].http && !st->http) ||
			    (c == COL_POD && !st->containers))
				continue;
			if (used + columns[c].width + 1 > width)
				continue;
			shown[c] = true;
			used += columns[c].width + 1;
			n++;
		}
	}
	return n;
}

static void cell(const struct tui_state *st, const struct proc_stats *p, enum column c,
		 uint64_t now_ns, char *out, size_t len)
{
	enum stats_scope scope = scope_of(st);
	uint64_t wall = stats_wall_ns(p, scope, now_ns);
	const struct http_stats *h = http_of(p, scope);
	const struct pause_stats *g;
	char buf[64];
	int gen;

	switch (c) {
	case COL_PID:
		snprintf(out, len, "%7d", p->process.pid);
		return;
	case COL_COMM:
		snprintf(out, len, "%-15.15s", p->exited ? "(exited)" : p->process.comm);
		return;
	case COL_POD:
		container_cell(out, len, &p->process.container);
		return;
	case COL_PY:
		snprintf(out, len, "%-8.8s", p->process.version[0] ? p->process.version : "?");
		return;
	case COL_PROBE:
		snprintf(out, len, "%-8.8s", p->process.probe);
		return;
	case COL_GCS:
		snprintf(out, len, "%7s", fmt_count(buf, sizeof(buf), totals_of(p, scope).count));
		return;
	case COL_RATE: {
		const struct pause_stats *g0 = gen_pauses(p, 0, scope);
		const struct pause_stats *g1 = gen_pauses(p, 1, scope);
		const struct pause_stats *g2 = gen_pauses(p, 2, scope);
		struct stats_sampled_view v;

		if (stats_sampled_view(p, scope, &v))
			snprintf(buf, sizeof(buf), "%.1f/%.1f/%.1f",
				 per_second(v.collections[0], wall),
				 per_second(v.collections[1], wall),
				 per_second(v.collections[2], wall));
		else
			snprintf(buf, sizeof(buf), "%.1f/%.1f/%.1f",
			 per_second(g0 ? g0->pauses.count : 0, wall),
			 per_second(g1 ? g1->pauses.count : 0, wall),
			 per_second(g2 ? g2->pauses.count : 0, wall));
		pad(out, len, buf, 17);
		return;
	}
	case COL_SHARE:
		pad(out, len, fmt_percent(buf, sizeof(buf),
					  wall ? (double)totals_of(p, scope).sum / wall : 0), 7);
		return;
	case COL_REQS:
		snprintf(buf, sizeof(buf), "%.1f", per_second(h ? h->latency.count : 0, wall));
		pad(out, len, buf, 8);
		return;
	case COL_REQ_P99:
		dur_cell(out, len, h ? &h->latency : NULL, 99);
		return;
	case COL_HIT_P99:
		dur_cell(out, len, h ? &h->gc_hit : NULL, 99);
		return;
	case COL_CLEAN_P99:
		dur_cell(out, len, h ? &h->clean : NULL, 99);
		pad(out, len, strcpy(buf, out), 9);
		return;
	default:
		gen = (c - COL_G0_P50) / 3;
		g = gen_pauses(p, gen, scope);
		dur_cell(out, len, g ? &g->pauses : NULL,
			 (c - COL_G0_P50) % 3 == 0 ? 50 : (c - COL_G0_P50) % 3 == 1 ? 99 : 100);
		return;
	}
}

static void add_table_line(struct tui_screen *scr, const bool shown[NCOLS], const char *mark,
			   char cells[NCOLS][64])
{
	char line[TUI_LINE_BYTES];
	size_t off;
	int c;

	off = snprintf(line, sizeof(line), "%s", mark);
	for (c = 0; c < NCOLS && off < sizeof(line); c++)
		if (shown[c])
			off += snprintf(line + off, sizeof(line) - off, " %s", cells[c]);
	add_line(scr, "%s", line);
}

static void add_header(struct tui_state *st, struct proc_stats **procs, int n, uint64_t dropped,
		       uint64_t now_ns, struct tui_screen *scr)
{
	uint64_t count = 0, pause = 0, wall = 0;
	char share[FMT_PERCENT_LEN], win[FMT_DURATION_LEN], a[FMT_DURATION_LEN];
	char b[FMT_DURATION_LEN], c[FMT_DURATION_LEN];
	enum stats_scope scope = scope_of(st);
	struct hist lat, hit, clean;
	int i, alive = 0;

	for (i = 0; i < n; i++) {
		struct totals t = totals_of(procs[i], scope);

		count += t.count;
		pause += t.sum;
		wall += stats_wall_ns(procs[i], scope, now_ns);
		alive += !procs[i]->exited;
	}
	/* Rates over the processes' mean traced time: collections/s of the whole set. */
	/* The window and the pause first: on an 80-column terminal the rest may be cut. */
	add_line(scr, "gcpause top  window: %s%s%s  %d process%s%s  %.1f collections/s  GC %s of "
		 "wall  dropped %llu", st->interval ? "last " : "since start",
		 st->interval ? fmt_duration(win, sizeof(win), st->interval_ns) : "",
		 st->paused ? "  PAUSED" : "", alive, alive == 1 ? "" : "es",
		 n > alive ? " (more exited)" : "",
		 n && wall ? count * 1e9 / ((double)wall / n) : 0,
		 fmt_percent(share, sizeof(share), wall ? (double)pause / wall : 0),
		 (unsigned long long)dropped);
	if (!st->http)
		return;
	/* Only the three latency histograms: no copy of every request's tail entry each refresh. */
	hist_init(&lat);
	hist_init(&hit);
	hist_init(&clean);
	for (i = 0; i < n; i++) {
		const struct http_stats *h = http_of(procs[i], scope);

		if (!h)
			continue;
		hist_merge(&lat, &h->latency);
		hist_merge(&hit, &h->gc_hit);
		hist_merge(&clean, &h->clean);
	}
	add_line(scr, "requests/s %.1f  p99 %s  (gc-hit p99 %s, clean p99 %s)",
		 n && wall ? lat.count * 1e9 / ((double)wall / n) : 0,
		 lat.count ? fmt_duration(a, sizeof(a), hist_percentile(&lat, 99)) : "-",
		 hit.count ? fmt_duration(b, sizeof(b), hist_percentile(&hit, 99)) : "-",
		 clean.count ? fmt_duration(c, sizeof(c), hist_percentile(&clean, 99)) : "-");
}

static void add_histogram(struct tui_screen *scr, const char *title, const struct hist *h,
			  int max_rows)
{
	struct hist_row rows[HIST_ROWS_MAX];
	char low[FMT_DURATION_LEN], high[FMT_DURATION_LEN], l[16], r[16];
	int nrows, i, bar = scr->width - 36;
	char bars[TUI_LINE_BYTES];
	uint64_t peak;

	if (max_rows > HIST_ROWS_MAX)
		max_rows = HIST_ROWS_MAX;
	nrows = hist_octaves(h, rows, max_rows);
	if (!nrows)
		return;
	add_line(scr, "%s", title);
	if (bar < 4)
		bar = 4;
	if (bar > 60)
		bar = 60;
	peak = hist_rows_peak(rows, nrows);
	for (i = 0; i < nrows; i++) {
		hist_bar(bars, bar, rows[i].count, peak);
		pad(l, sizeof(l), fmt_duration(low, sizeof(low), rows[i].low), 8);
		pad(r, sizeof(r), fmt_duration(high, sizeof(high), rows[i].high + 1), 8);
		add_line(scr, "  %s -> %s %7llu |%s|", l, r, (unsigned long long)rows[i].count,
			 bars);
	}
}

/* Parent, role, ports and command line: what tells workers of one command apart. */
static void add_identity(struct tui_screen *scr, const struct proc_identity *id)
{
	char ports[40] = "-", service[PROC_UNIT_LEN];
	size_t used = 0;
	int i;

	for (i = 0; i < id->nports && used < sizeof(ports); i++)
		used += snprintf(ports + used, sizeof(ports) - used, "%s%u", i ? "," : "",
				 id->ports[i]);
	proc_identity_service(id, service, sizeof(service));
	add_line(scr, "  parent %d  %s  listen %s  %s  %s", id->ppid, proc_role_name(id->role),
		 ports, service, id->cmdline[0] ? id->cmdline : "");
}

/* --sample: the exact counts, and the pauses the samples saw, as many lines as fit. */
static void add_sampled(struct tui_screen *scr, const struct stats_sampled_view *v, int left)
{
	char a[FMT_DURATION_LEN], b[FMT_DURATION_LEN], c[FMT_DURATION_LEN];
	int i;

	if (left < 2)
		return;
	add_line(scr, "sampled at %u Hz: collections %lld/%lld/%lld (exact)  GC time ~%s +/- %s  "
		 "longest ~%s", v->hz, (long long)v->collections[0],
		 (long long)v->collections[1], (long long)v->collections[2],
		 fmt_duration(a, sizeof(a), v->gc_ns), fmt_duration(b, sizeof(b), v->gc_err_ns),
		 fmt_duration(c, sizeof(c), v->max_pause_ns));
	for (i = 0, left -= 2; i < SAMPLE_RUN_BUCKETS && left > 0; i++) {
		if (!v->runs[i])
			continue;
		add_line(scr, "  pauses %9s to %9s : %llu",
			 fmt_duration(a, sizeof(a), (1ull << i) * v->resolution_ns),
			 fmt_duration(b, sizeof(b), (2ull << i) * v->resolution_ns),
			 (unsigned long long)v->runs[i]);
		left--;
	}
}

static void add_pane(struct tui_state *st, const struct proc_stats *p, struct tui_screen *scr,
		     int footer_lines)
{
	enum stats_scope scope = scope_of(st);
	const struct http_stats *h = http_of(p, scope);
	struct stats_sampled_view sampled;
	int left, gens = 0, i, rows;
	char title[64];

	add_line(scr, "pid %d %s: pauses (%s)", p->process.pid, p->process.comm,
		 st->interval ? "last interval" : "since start");
	add_identity(scr, &p->identity);
	if (p->gc_state.valid && scr->height - footer_lines - scr->nlines > 1)
		add_line(scr, "gc %s  threshold %d/%d/%d  count %d/%d/%d  tracked %lld/%lld/%lld  "
			 "frozen %lld", p->gc_state.enabled ? "on" : "OFF",
			 p->gc_state.threshold[0], p->gc_state.threshold[1],
			 p->gc_state.threshold[2], p->gc_state.count[0], p->gc_state.count[1],
			 p->gc_state.count[2], (long long)p->gc_state.tracked[0],
			 (long long)p->gc_state.tracked[1], (long long)p->gc_state.tracked[2],
			 (long long)p->gc_state.frozen);
	if (stats_sampled_view(p, scope, &sampled)) {
		add_sampled(scr, &sampled, scr->height - footer_lines - scr->nlines);
		return;
	}
	for (i = 0; i < p->ngens; i++)
		gens += stats_scope(p->gens[i], scope)->pauses.count > 0;
	gens += h && h->latency.count ? 2 : 0;
	if (!gens)
		return;
	for (i = 0; i < p->ngens; i++) {
		const struct pause_stats *g = stats_scope(p->gens[i], scope);

		if (!g->pauses.count)
			continue;
		left = scr->height - footer_lines - scr->nlines;
		rows = left / gens - 1;
		if (rows < 1)
			return;
		snprintf(title, sizeof(title), "gen %d", p->gens[i]->gen);
		add_histogram(scr, title, &g->pauses, rows);
		gens--;
	}
	if (h && h->latency.count) {
		left = scr->height - footer_lines - scr->nlines;
		rows = left / 2 - 1;
		if (rows < 1)
			return;
		add_histogram(scr, "requests that overlapped a collection", &h->gc_hit, rows);
		add_histogram(scr, "requests without a collection", &h->clean, rows);
	}
}

void tui_render(struct tui_state *st, struct proc_stats **procs, int n, uint64_t dropped,
		uint64_t now_ns, struct tui_screen *scr)
{
	char cells[NCOLS][64];
	bool shown[NCOLS];
	int c, i, table_rows, footer = 1;

	scr->nlines = 0;
	scr->highlight = -1;
	if (scr->width < TUI_MIN_WIDTH || scr->height < TUI_MIN_HEIGHT) {
		add_line(scr, "terminal %dx%d too small", scr->width, scr->height);
		add_line(scr, "(%dx%d at least)", TUI_MIN_WIDTH, TUI_MIN_HEIGHT);
		add_line(scr, "q quit");
		return;
	}
	add_header(st, procs, n, dropped, now_ns, scr);
	st->containers = false;
	for (i = 0; i < n; i++)
		st->containers |= procs[i]->process.container.id[0] ||
				  procs[i]->process.container.pod_uid[0];
	fit_columns(st, scr->width, shown);
	for (c = 0; c < NCOLS; c++)
		snprintf(cells[c], sizeof(cells[c]), "%*s", columns[c].width, columns[c].title);
	snprintf(cells[COL_COMM], sizeof(cells[COL_COMM]), "%-15s", "COMMAND");
	snprintf(cells[COL_POD], sizeof(cells[COL_POD]), "%-26s", columns[COL_POD].title);
	snprintf(cells[COL_PY], sizeof(cells[COL_PY]), "%-8s", "PYTHON");
	snprintf(cells[COL_PROBE], sizeof(cells[COL_PROBE]), "%-8s", "PROBE");
	add_table_line(scr, shown, " ", cells);

	for (i = 0; st->selected_pid && i < n; i++)
		if (procs[i]->process.pid == st->selected_pid)
			st->selected = i;
	st->selected += st->move;
	st->move = 0;
	if (st->selected >= n)
		st->selected = n - 1;
	if (st->selected < 0)
		st->selected = 0;
	if (n)
		st->selected_pid = procs[st->selected]->process.pid;
	/* Half of what is left for the table, at least three rows; the rest for histograms. */
	table_rows = (scr->height - scr->nlines - footer) / 2;
	if (table_rows < 3)
		table_rows = scr->height - scr->nlines - footer;
	if (st->selected < st->scroll)
		st->scroll = st->selected;
	if (st->selected >= st->scroll + table_rows)
		st->scroll = st->selected - table_rows + 1;
	if (st->scroll < 0)
		st->scroll = 0;
	for (i = st->scroll; i < n && i < st->scroll + table_rows; i++) {
		for (c = 0; c < NCOLS; c++)
			if (shown[c])
				cell(st, procs[i], c, now_ns, cells[c], sizeof(cells[c]));
		if (i == st->selected)
			scr->highlight = scr->nlines;
		add_table_line(scr, shown, i == st->selected ? ">" : " ", cells);
	}
	if (!n)
		add_line(scr, "  (no process)");
	if (n && scr->height - scr->nlines - footer > 2)
		add_pane(st, procs[st->selected], scr, footer);
	/* The footer is always the last line of the screen. */
	while (scr->nlines < scr->height - 1)
		add_line(scr, "%s", "");
	add_line(scr, "q quit  j/k select  PgUp/PgDn scroll  s sort: %s  w window  p pause",
		 tui_sort_name(st->sort));
}
