// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "serve/prom_text.h"
#include "serve/series.h"

#define NSEC_PER_USEC	1000ULL
#define NSEC_PER_MSEC	1000000ULL
#define NSEC_PER_SEC	1000000000ULL

#define WEB1 "namespace=\"shop\",pod=\"web-1\",pod_uid=\"6f1c2a9e-0d4b-4e55-9a3e-2b7c1d0e9f81\"," \
	"container_id=\"containerd://4f2a\",command=\"gunicorn\",python_version=\"3.11.2\""
/* The second series: outside any pod, a hostile comm, per-PID. */
#define ODD "command=\"a\\\"b\\\\c\\n\",python_version=\"3.12.1\",pid=\"77\""

static const char *const families[] = {
	"gcpause_gc_pause_seconds histogram",
	"gcpause_gc_collections_total counter",
	"gcpause_gc_pause_time_seconds_total counter",
	"gcpause_gc_collected_objects_total counter",
	"gcpause_python_processes gauge",
	"gcpause_http_request_duration_seconds histogram",
	"gcpause_http_request_weighted_gc_seconds_total counter",
	"gcpause_http_gc_wall_seconds_total counter",
	"gcpause_http_requests_total counter",
	"gcpause_events_dropped_total counter",
	"gcpause_http_unassembled_total counter",
	"gcpause_processes_traced gauge",
	"gcpause_processes_discovered_total counter",
	"gcpause_processes_skipped_total counter",
	"gcpause_binaries_probed gauge",
	"gcpause_series gauge",
	"gcpause_series_dropped_total counter",
	"gcpause_series_expired_total counter",
	"gcpause_build_info gauge",
	"gcpause_start_time_seconds gauge",
};
#define NFAMILIES	(sizeof(families) / sizeof(families[0]))

static const struct agent_metrics agent = {
	.gc_events_dropped = 3,
	.http_events_dropped = 4,
	.processes_traced = 5,
	.processes_discovered = 9,
	.processes_skipped_limit = 1,
	.processes_skipped_unsupported = 2,
	.processes_skipped_filtered = 6,
	.binaries_probed = 2,
	.series_dropped = 11,
	.series_expired = 12,
	.start_time_seconds = 1700000000.5,
	.version = "0.4.0-\"dev\"",
};

/* Whole line: the text between two newlines (or the start) and nothing else. */
static const char *find_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return p;
		p++;
	}
	return NULL;
}

static void assert_line(const char *text, const char *line)
{
	if (!find_line(text, line))
		fail_msg("missing line: %s\n--- output ---\n%s", line, text);
}

static unsigned int count_of(const char *text, const char *s)
{
	unsigned int n = 0;

	while ((text = strstr(text, s))) {
		n++;
		text++;
	}
	return n;
}

static struct series *add_series(struct series_table *t, const char *ns, const char *pod,
				 const char *uid, const char *cid, const char *command,
				 const char *python, int pid)
{
	struct series_labels l;
	struct series *s;

	memset(&l, 0, sizeof(l));
	snprintf(l.ns, sizeof(l.ns), "%s", ns);
	snprintf(l.pod, sizeof(l.pod), "%s", pod);
	snprintf(l.pod_uid, sizeof(l.pod_uid), "%s", uid);
	snprintf(l.container_id, sizeof(l.container_id), "%s", cid);
	snprintf(l.command, sizeof(l.command), "%s", command);
	snprintf(l.python, sizeof(l.python), "%s", python);
	l.pid = pid;
	s = series_get(t, &l);
	assert_non_null(s);
	return s;
}

/* web-1: gen 2 three pauses of 30, 40 and 50 ms, gen 0 1 ms and 1 ms + 1 ns; 2 processes. */
static struct series_table *make_table(bool http)
{
	struct series_table *t = series_table_new(16, http);
	struct series *web, *odd;

	assert_non_null(t);
	web = add_series(t, "shop", "web-1", "6f1c2a9e-0d4b-4e55-9a3e-2b7c1d0e9f81",
			 "containerd://4f2a", "gunicorn", "3.11.2", 0);
	series_hold(web);
	series_hold(web);
	series_add_gc(web, 2, 30 * NSEC_PER_MSEC, 1000);
	series_add_gc(web, 2, 40 * NSEC_PER_MSEC, 2000);
	series_add_gc(web, 2, 50 * NSEC_PER_MSEC, 3000);
	series_add_gc(web, 0, 1 * NSEC_PER_MSEC, 5);
	series_add_gc(web, 0, 1 * NSEC_PER_MSEC + 1, 6);

	odd = add_series(t, "", "", "", "", "a\"b\\c\n", "3.12.1", 77);
	series_add_gc(odd, 5, 2 * NSEC_PER_SEC, 4);
	return t;
}

static char *render(const struct series_table *t, bool http)
{
	struct agent_metrics m = agent;
	struct prom_buf buf = { 0 };

	m.http = http;
	assert_int_equal(prom_render(t, &m, &buf), 0);
	assert_non_null(buf.data);
	assert_int_equal(strlen(buf.data), buf.len);
	assert_true(buf.len > 0 && buf.data[buf.len - 1] == '\n');
	return buf.data;
}

static void test_gc_histogram(void **state)
{
	struct series_table *t = make_table(false);
	char *out = render(t, false);

	assert_line(out, "gcpause_gc_pause_seconds_bucket{" WEB1 ",generation=\"2\",le=\"0.025\"} 0");
	assert_line(out, "gcpause_gc_pause_seconds_bucket{" WEB1 ",generation=\"2\",le=\"0.05\"} 3");
	assert_line(out, "gcpause_gc_pause_seconds_bucket{" WEB1 ",generation=\"2\",le=\"10\"} 3");
	assert_line(out, "gcpause_gc_pause_seconds_bucket{" WEB1 ",generation=\"2\",le=\"+Inf\"} 3");
	assert_line(out, "gcpause_gc_pause_seconds_sum{" WEB1 ",generation=\"2\"} 0.12");
	assert_line(out, "gcpause_gc_pause_seconds_count{" WEB1 ",generation=\"2\"} 3");

	/* Exact edges: 1 ms is in le="0.001", 1 ms + 1 ns only from le="0.0025". */
	assert_line(out, "gcpause_gc_pause_seconds_bucket{" WEB1 ",generation=\"0\",le=\"0.0005\"} 0");
	assert_line(out, "gcpause_gc_pause_seconds_bucket{" WEB1 ",generation=\"0\",le=\"0.001\"} 1");
	assert_line(out, "gcpause_gc_pause_seconds_bucket{" WEB1 ",generation=\"0\",le=\"0.0025\"} 2");
	assert_line(out, "gcpause_gc_pause_seconds_sum{" WEB1 ",generation=\"0\"} 0.002000001");
	assert_line(out, "gcpause_gc_pause_seconds_count{" WEB1 ",generation=\"0\"} 2");

	/* Every bound written the way Prometheus users write it. */
	assert_line(out, "gcpause_gc_pause_seconds_bucket{" WEB1 ",generation=\"1\",le=\"0.0001\"} 0");
	assert_line(out, "gcpause_gc_pause_seconds_bucket{" WEB1 ",generation=\"1\",le=\"0.00025\"} 0");
	assert_line(out, "gcpause_gc_pause_seconds_bucket{" WEB1 ",generation=\"1\",le=\"2.5\"} 0");
	assert_line(out, "gcpause_gc_pause_seconds_bucket{" WEB1 ",generation=\"1\",le=\"+Inf\"} 0");
	assert_line(out, "gcpause_gc_pause_seconds_sum{" WEB1 ",generation=\"1\"} 0");
	assert_line(out, "gcpause_gc_pause_seconds_count{" WEB1 ",generation=\"1\"} 0");
	/* 17 buckets for generations 0-2 of both series, and "other" of the odd one. */
	assert_int_equal(count_of(out, "gcpause_gc_pause_seconds_bucket{"), 7 * 17);

	/* "other" only where it was seen; 0-2 everywhere. */
	assert_null(strstr(out, WEB1 ",generation=\"other\""));
	assert_line(out, "gcpause_gc_pause_seconds_bucket{" ODD ",generation=\"other\",le=\"1\"} 0");
	assert_line(out, "gcpause_gc_pause_seconds_bucket{" ODD ",generation=\"other\",le=\"2.5\"} 1");
	assert_line(out, "gcpause_gc_pause_seconds_sum{" ODD ",generation=\"other\"} 2");
	assert_line(out, "gcpause_gc_pause_seconds_count{" ODD ",generation=\"2\"} 0");

	free(out);
	series_table_free(t);
}

static void test_counters_and_gauge(void **state)
{
	struct series_table *t = make_table(false);
	char *out = render(t, false);

	assert_line(out, "gcpause_gc_collections_total{" WEB1 ",generation=\"0\"} 2");
	assert_line(out, "gcpause_gc_collections_total{" WEB1 ",generation=\"1\"} 0");
	assert_line(out, "gcpause_gc_collections_total{" WEB1 ",generation=\"2\"} 3");
	assert_line(out, "gcpause_gc_pause_time_seconds_total{" WEB1 ",generation=\"2\"} 0.12");
	assert_line(out, "gcpause_gc_pause_time_seconds_total{" WEB1 ",generation=\"0\"} 0.002000001");
	assert_line(out, "gcpause_gc_collected_objects_total{" WEB1 ",generation=\"2\"} 6000");
	assert_line(out, "gcpause_gc_collected_objects_total{" WEB1 ",generation=\"0\"} 11");
	assert_line(out, "gcpause_gc_collections_total{" ODD ",generation=\"other\"} 1");
	assert_line(out, "gcpause_gc_collected_objects_total{" ODD ",generation=\"other\"} 4");
	assert_line(out, "gcpause_python_processes{" WEB1 "} 2");
	assert_line(out, "gcpause_python_processes{" ODD "} 0");

	free(out);
	series_table_free(t);
}

static void test_agent_metrics(void **state)
{
	struct series_table *t = make_table(false);
	char *out = render(t, false);

	assert_line(out, "gcpause_events_dropped_total{source=\"gc\"} 3");
	assert_null(strstr(out, "source=\"http\""));
	assert_line(out, "gcpause_processes_traced 5");
	assert_line(out, "gcpause_processes_discovered_total 9");
	assert_line(out, "gcpause_processes_skipped_total{reason=\"limit\"} 1");
	assert_line(out, "gcpause_processes_skipped_total{reason=\"unsupported\"} 2");
	assert_line(out, "gcpause_processes_skipped_total{reason=\"filtered\"} 6");
	assert_line(out, "gcpause_binaries_probed 2");
	assert_line(out, "gcpause_series 2");
	assert_line(out, "gcpause_series_dropped_total 11");
	assert_line(out, "gcpause_series_expired_total 12");
	assert_line(out, "gcpause_build_info{version=\"0.4.0-\\\"dev\\\"\"} 1");
	assert_line(out, "gcpause_start_time_seconds 1700000000.500000");

	free(out);
	series_table_free(t);
}

/* Each family once, headers in order, and every sample under its own family's header. */
static void check_families(const char *out, bool http)
{
	const char *prev = out, *p, *line;
	char type[128], help[128], family[128] = "";
	unsigned int i;

	for (i = 0; i < NFAMILIES; i++) {
		bool expected = http || !strstr(families[i], "_http_");

		snprintf(type, sizeof(type), "# TYPE %s", families[i]);
		snprintf(help, sizeof(help), "# HELP %.*s ", (int)strcspn(families[i], " "),
			 families[i]);
		p = find_line(out, type);
		if (!expected) {
			assert_null(p);
			assert_null(strstr(out, help));
			continue;
		}
		if (!p)
			fail_msg("missing %s", type);
		assert_true(p > prev);
		assert_int_equal(count_of(out, type), 1);
		assert_int_equal(count_of(out, help), 1);
		/* HELP comes right before TYPE. */
		line = strstr(out, help);
		assert_ptr_equal(strchr(line, '\n') + 1, p);
		prev = p;
	}

	/* A sample's name starts with the family of the last # TYPE line before it. */
	for (line = out; *line; line = strchr(line, '\n') + 1) {
		if (!strncmp(line, "# TYPE ", 7)) {
			snprintf(family, sizeof(family), "%.*s", (int)strcspn(line + 7, " "),
				 line + 7);
			continue;
		}
		if (line[0] == '#')
			continue;
		assert_int_equal(strncmp(line, family, strlen(family)), 0);
	}
}

static void test_family_order(void **state)
{
	struct series_table *t = make_table(true);
	char *out = render(t, false);

	check_families(out, false);
	free(out);
	out = render(t, true);
	check_families(out, true);
	free(out);
	series_table_free(t);
}

static void test_http(void **state)
{
	struct series_table *t = make_table(true);
	const struct series *web = series_first(t);
	char *out;

	series_add_request((struct series *)web, 400 * NSEC_PER_USEC, 0, 0);
	series_add_request((struct series *)web, 500 * NSEC_PER_USEC, 0, 0);
	series_add_request((struct series *)web, 500 * NSEC_PER_USEC + 1, 0, 0);
	series_add_request((struct series *)web, 90 * NSEC_PER_MSEC, 40 * NSEC_PER_MSEC, 0);
	series_add_request((struct series *)web, 15 * NSEC_PER_SEC, 2 * NSEC_PER_SEC + 7,
			   2 * NSEC_PER_SEC + 7);
	out = render(t, true);

	assert_line(out, "gcpause_http_request_duration_seconds_bucket{" WEB1
		    ",gc=\"clean\",le=\"0.0005\"} 2");
	assert_line(out, "gcpause_http_request_duration_seconds_bucket{" WEB1
		    ",gc=\"clean\",le=\"0.001\"} 3");
	assert_line(out, "gcpause_http_request_duration_seconds_bucket{" WEB1
		    ",gc=\"clean\",le=\"+Inf\"} 3");
	assert_line(out, "gcpause_http_request_duration_seconds_sum{" WEB1
		    ",gc=\"clean\"} 0.001400001");
	assert_line(out, "gcpause_http_request_duration_seconds_count{" WEB1 ",gc=\"clean\"} 3");
	assert_line(out, "gcpause_http_request_duration_seconds_bucket{" WEB1
		    ",gc=\"hit\",le=\"0.05\"} 0");
	assert_line(out, "gcpause_http_request_duration_seconds_bucket{" WEB1
		    ",gc=\"hit\",le=\"0.1\"} 1");
	assert_line(out, "gcpause_http_request_duration_seconds_bucket{" WEB1
		    ",gc=\"hit\",le=\"10\"} 1");
	assert_line(out, "gcpause_http_request_duration_seconds_bucket{" WEB1
		    ",gc=\"hit\",le=\"+Inf\"} 2");
	assert_line(out, "gcpause_http_request_duration_seconds_sum{" WEB1 ",gc=\"hit\"} 15.09");
	assert_line(out, "gcpause_http_request_duration_seconds_count{" WEB1 ",gc=\"hit\"} 2");
	assert_int_equal(count_of(out, "gcpause_http_request_duration_seconds_bucket{"),
			 2 * 2 * 15);
	assert_line(out, "gcpause_http_request_weighted_gc_seconds_total{" WEB1 "} 2.040000007");
	assert_line(out, "gcpause_http_request_weighted_gc_seconds_total{" ODD "} 0");
	assert_line(out, "gcpause_http_gc_wall_seconds_total{" WEB1 "} 2.000000007");
	assert_line(out, "gcpause_http_gc_wall_seconds_total{" ODD "} 0");
	assert_line(out, "gcpause_http_requests_total{" WEB1 ",gc=\"clean\"} 3");
	assert_line(out, "gcpause_http_requests_total{" WEB1 ",gc=\"hit\"} 2");
	assert_line(out, "gcpause_http_requests_total{" ODD ",gc=\"hit\"} 0");
	assert_line(out, "gcpause_events_dropped_total{source=\"gc\"} 3");
	assert_line(out, "gcpause_events_dropped_total{source=\"http\"} 4");
	free(out);

	/* Without --http nothing of it, even with requests recorded. */
	out = render(t, false);
	assert_null(strstr(out, "http"));
	free(out);
	series_table_free(t);
}

static void test_empty_labels_and_utf8(void **state)
{
	struct series_table *t = series_table_new(4, false);
	char *out;

	assert_non_null(t);
	/* No label at all besides the family's own; a comm cut inside "é"; a stray 0xff byte. */
	add_series(t, "", "", "", "", "", "", 0);
	add_series(t, "", "", "", "", "caf\xc3", "", 0);
	add_series(t, "", "", "", "", "\xff" "ok\xe2\x82\xac", "", 0);
	out = render(t, false);

	assert_line(out, "gcpause_gc_collections_total{generation=\"0\"} 0");
	assert_line(out, "gcpause_python_processes 0");
	assert_line(out, "gcpause_python_processes{command=\"caf\xef\xbf\xbd\"} 0");
	assert_line(out, "gcpause_python_processes{command=\"\xef\xbf\xbdok\xe2\x82\xac\"} 0");
	assert_null(strstr(out, "=\"\""));
	assert_null(strstr(out, "{,"));
	assert_null(strstr(out, ",}"));
	free(out);
	series_table_free(t);
}

static void test_appends_and_no_table(void **state)
{
	struct agent_metrics m = agent;
	struct prom_buf buf = { 0 };
	const char *prefix;

	m.version = NULL;
	assert_int_equal(prom_buf_printf(&buf, "# first %d\n", 1), 0);
	assert_int_equal(prom_render(NULL, &m, &buf), 0);
	prefix = "# first 1\n# HELP gcpause_gc_pause_seconds ";
	assert_int_equal(strncmp(buf.data, prefix, strlen(prefix)), 0);
	assert_line(buf.data, "gcpause_series 0");
	assert_line(buf.data, "gcpause_build_info{version=\"unknown\"} 1");
	assert_null(strstr(buf.data, "_bucket"));
	prom_buf_free(&buf);
	assert_null(buf.data);
	assert_int_equal(buf.len, 0);

	/* Growth well past the first allocation keeps every byte. */
	for (int i = 0; i < 10000; i++)
		assert_int_equal(prom_buf_printf(&buf, "%05d,", i), 0);
	assert_int_equal(buf.len, 60000);
	assert_int_equal(strncmp(buf.data + 6 * 9999, "09999,", 6), 0);
	prom_buf_free(&buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gc_histogram),
		cmocka_unit_test(test_counters_and_gauge),
		cmocka_unit_test(test_agent_metrics),
		cmocka_unit_test(test_family_order),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_empty_labels_and_utf8),
		cmocka_unit_test(test_appends_and_no_table),
	};

	return cmocka_run_group_tests_name("prom_text", tests, NULL, NULL);
}
