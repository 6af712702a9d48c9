// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/format.h"
#include "probe/target.h"
#include "top/tui_view.h"

#define MS	1000000ull

static struct proc_stats *proc(pid_t pid, const char *comm, uint64_t gen2_pause_ns)
{
	struct target t = { .pid = pid, .probe = "usdt", .version = "3.11.2" };
	struct proc_stats *p;
	struct gc_event e = { .pid = pid, .tid = pid };
	int i;

	snprintf(t.comm, sizeof(t.comm), "%s", comm);
	p = stats_new(&t, 0);
	assert_non_null(p);
	for (i = 0; i < 100; i++) {
		e.gen = 0;
		e.duration_ns = 50000 + i;
		assert_int_equal(stats_add(p, &e), 0);
	}
	e.gen = 2;
	e.duration_ns = gen2_pause_ns;
	assert_int_equal(stats_add(p, &e), 0);
	return p;
}

static struct tui_screen *render(struct tui_state *st, struct proc_stats **procs, int n,
				 int width, int height)
{
	struct tui_screen *scr = calloc(1, sizeof(*scr));

	assert_non_null(scr);
	scr->width = width;
	scr->height = height;
	tui_sort_procs(st, procs, n, 1000 * MS);
	tui_render(st, procs, n, 7, 1000 * MS, scr);
	return scr;
}

static int find_line(const struct tui_screen *scr, const char *needle)
{
	int i;

	for (i = 0; i < scr->nlines; i++)
		if (strstr(scr->lines[i], needle))
			return i;
	return -1;
}

static void check_widths(const struct tui_screen *scr)
{
	int i;

	for (i = 0; i < scr->nlines; i++)
		if ((int)fmt_display_width(scr->lines[i]) > scr->width)
			fail_msg("line %d is %zu columns wide, more than %d: %s", i,
				 fmt_display_width(scr->lines[i]), scr->width, scr->lines[i]);
}

static void test_wide_screen(void **state)
{
	struct proc_stats *procs[2] = { proc(200, "worker-b", 5 * MS),
					proc(100, "worker-a", 50 * MS) };
	struct tui_state st = { .interval_ns = 1000 * MS };
	struct tui_screen *scr = render(&st, procs, 2, 160, 40);
	int header, row_a, row_b;

	assert_int_equal(scr->nlines, 40);
	check_widths(scr);
	assert_non_null(strstr(scr->lines[0], "gcpause top  window: since start  2 processes"));
	assert_non_null(strstr(scr->lines[0], "dropped 7"));
	assert_non_null(strstr(scr->lines[0], "window: since start"));
	header = find_line(scr, "COMMAND");
	assert_true(header > 0 && strstr(scr->lines[header], "GC%") &&
		    strstr(scr->lines[header], "G2 P99"));
	/* Sorted by PID by default; the first row is selected. */
	row_a = find_line(scr, "worker-a");
	row_b = find_line(scr, "worker-b");
	assert_true(row_a == header + 1 && row_b == header + 2);
	assert_int_equal(scr->highlight, row_a);
	assert_true(scr->lines[row_a][0] == '>' && scr->lines[row_b][0] == ' ');
	/* 101 collections in the window, and the gen-2 pause of 50 ms. */
	assert_non_null(strstr(scr->lines[row_a], "101"));
	assert_non_null(strstr(scr->lines[row_a], "50.0ms"));
	/* The selected process's histograms, the footer last. */
	assert_true(find_line(scr, "pid 100 worker-a: pauses") > row_b);
	assert_true(find_line(scr, "gen 2") > 0 && find_line(scr, "gen 0") > 0);
	assert_non_null(strstr(scr->lines[39], "s sort: pid"));
	free(scr);
	stats_free(procs[0]);
	stats_free(procs[1]);
}

/* --sample: counts, GC share and the longest pause from the sampled figures, the pane's lines. */
static void test_sampled_process(void **state)
{
	struct target t = { .pid = 300, .probe = "usdt", .version = "3.11.2" };
	struct proc_stats *p = stats_new(&t, 0);
	struct tui_state st = { .interval_ns = 1000 * MS };
	struct tui_screen *scr;
	int row;

	assert_non_null(p);
	snprintf(p->process.comm, sizeof(p->process.comm), "sampled-one");
	p->process.probe = "sampled";
	p->sampled.hz = 1000;
	p->sampled.last.collections[0] = 1200;
	p->sampled.last.collections[2] = 3;
	p->sampled.samples.pause_ns = 100 * MS;
	p->sampled.samples.max_pause_ns = 24 * MS;
	p->sampled.samples.runs[0] = 70;
	p->sampled.samples.runs[4] = 3;
	scr = render(&st, &p, 1, 160, 40);
	check_widths(scr);
	row = find_line(scr, "sampled-one");
	assert_true(row > 0);
	/* 1,203 collections in 1 s of wall time, 10% of it in GC. */
	assert_non_null(strstr(scr->lines[row], "1203"));
	assert_non_null(strstr(scr->lines[row], "1200.0/0.0/3.0"));
	assert_non_null(strstr(scr->lines[row], "10.00%"));
	assert_true(find_line(scr, "sampled at 1000 Hz: collections 1200/0/3 (exact)") > row);
	assert_true(find_line(scr, "longest ~24.0ms") > row);
	assert_true(find_line(scr, "16.0ms to    32.0ms : 3") > row);
	free(scr);
	stats_free(p);
}

/* On a node: the pod column appears only when some process runs in a container. */
static void test_container_column(void **state)
{
	struct proc_stats *procs[3] = { proc(300, "gunicorn", 5 * MS), proc(301, "celery", MS),
					proc(302, "host-py", MS) };
	struct tui_state st = { .interval_ns = 1000 * MS };
	struct tui_screen *scr;
	int header;

	scr = render(&st, procs + 2, 1, 200, 30);
	assert_int_equal(find_line(scr, "NAMESPACE/POD"), -1);
	free(scr);

	snprintf(procs[0]->process.container.id, CONTAINER_ID_LEN, "%s",
		 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	snprintf(procs[0]->process.container.pod, CONTAINER_POD_LEN, "web-7d9f8b-x2kq9");
	snprintf(procs[0]->process.container.ns, CONTAINER_NS_LEN, "shop");
	snprintf(procs[1]->process.container.id, CONTAINER_ID_LEN, "%s",
		 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210");
	scr = render(&st, procs, 3, 200, 30);
	check_widths(scr);
	header = find_line(scr, "NAMESPACE/POD");
	assert_true(header > 0);
	assert_non_null(strstr(scr->lines[find_line(scr, "gunicorn")], "shop/web-7d9f8b-x2kq9"));
	assert_non_null(strstr(scr->lines[find_line(scr, "celery")], "fedcba987654 "));
	assert_null(strstr(scr->lines[find_line(scr, "celery")], "fedcba9876543"));
	assert_non_null(strstr(scr->lines[find_line(scr, "host-py")], " - "));
	free(scr);
	/* Narrow: the column goes before the GC share does. */
	scr = render(&st, procs, 3, 80, 30);
	check_widths(scr);
	assert_int_equal(find_line(scr, "NAMESPACE/POD"), -1);
	assert_true(find_line(scr, "GC%") > 0);
	free(scr);
	stats_free(procs[0]);
	stats_free(procs[1]);
	stats_free(procs[2]);
}

static void test_sorting_and_selection(void **state)
{
	struct proc_stats *procs[3] = { proc(100, "small", 1 * MS), proc(200, "big", 90 * MS),
					proc(300, "gone", 500 * MS) };
	struct tui_state st = { .sort = TUI_SORT_GEN2_P99, .selected = 10 };
	struct tui_screen *scr;

	procs[2]->exited = true;
	procs[2]->end_ns = 500 * MS;
	scr = render(&st, procs, 3, 120, 30);
	/* Biggest gen-2 p99 first, the exited process last whatever its numbers. */
	assert_int_equal(procs[0]->process.pid, 200);
	assert_int_equal(procs[1]->process.pid, 100);
	assert_int_equal(procs[2]->process.pid, 300);
	assert_int_equal(st.selected, 2);	/* clamped to the last row */
	assert_true(find_line(scr, "(exited)") == scr->highlight);
	assert_non_null(strstr(scr->lines[29], "s sort: gen2 p99"));
	free(scr);
	/* j j s: the selection follows the process, not the row, when the order changes. */
	st.move = -2;
	scr = render(&st, procs, 3, 120, 30);
	assert_int_equal(st.selected_pid, 200);
	free(scr);
	st.move = 1;
	scr = render(&st, procs, 3, 120, 30);
	assert_true(st.selected == 1 && st.selected_pid == 100);
	free(scr);
	st.sort = TUI_SORT_PID;
	tui_sort_procs(&st, procs, 3, 500 * MS);
	assert_int_equal(procs[0]->process.pid, 100);
	scr = render(&st, procs, 3, 120, 30);
	assert_true(st.selected == 0 && st.selected_pid == 100);
	assert_true(find_line(scr, " 100 ") == scr->highlight);
	free(scr);
	stats_free(procs[0]);
	stats_free(procs[1]);
	stats_free(procs[2]);
}

static void test_narrow_and_tiny(void **state)
{
	struct proc_stats *procs[1] = { proc(4242, "python3.11", 20 * MS) };
	struct tui_state st = { .interval = true, .paused = true, .interval_ns = 500 * MS };
	struct tui_screen *scr = render(&st, procs, 1, 40, 12);
	int header;

	check_widths(scr);
	header = find_line(scr, "PID");
	/* The essential columns stay, the detail goes. */
	assert_true(header >= 0 && strstr(scr->lines[header], "GC%") &&
		    !strstr(scr->lines[header], "G0 P50"));
	assert_true(find_line(scr, "4242") > header);
	free(scr);
	scr = render(&st, procs, 1, 200, 12);
	assert_non_null(strstr(scr->lines[0],
			       "gcpause top  window: last 500ms  PAUSED  1 process"));
	free(scr);
	scr = render(&st, procs, 1, 30, 6);
	assert_non_null(strstr(scr->lines[0], "too small"));
	assert_int_equal(scr->highlight, -1);
	free(scr);
	stats_free(procs[0]);
}

/* A comm and a pod name with escapes are drawn escaped: no line holds a control byte. */
static void test_hostile_names_escaped(void **state)
{
	struct proc_stats *procs[1] = { proc(400, "\x1b[2Jevil\x07\r\n", 5 * MS) };
	struct tui_state st = { .interval_ns = 1000 * MS };
	struct tui_screen *scr;
	const char *c;
	int i;

	snprintf(procs[0]->process.container.id, CONTAINER_ID_LEN, "%s", "0123456789abcdef");
	snprintf(procs[0]->process.container.pod, CONTAINER_POD_LEN, "p\x1b]0;x\x07\xc2\x9b");
	scr = render(&st, procs, 1, 200, 30);
	for (i = 0; i < scr->nlines; i++)
		for (c = scr->lines[i]; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f || (unsigned char)*c == 0x9b)
				fail_msg("line %d has byte 0x%02x: %s", i, (unsigned char)*c,
					 scr->lines[i]);
	assert_true(find_line(scr, "\\x1b[2Jevil\\x07") > 0);
	assert_true(find_line(scr, "pid 400 \\x1b[2Jevil\\x07\\x0d\\x0a: pauses") > 0);
	assert_true(find_line(scr, "p\\x1b]0;x\\x07\\xc2\\x9b") > 0);
	free(scr);
	stats_free(procs[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wide_screen),
		cmocka_unit_test(test_sampled_process),
		cmocka_unit_test(test_container_column),
		cmocka_unit_test(test_sorting_and_selection),
		cmocka_unit_test(test_narrow_and_tiny),
		cmocka_unit_test(test_hostile_names_escaped),
	};

	return cmocka_run_group_tests_name("tui_view", tests, NULL, NULL);
}
