// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Prometheus text renderer with label values from outside (a process's comm, a pod's name
 * and namespace, a container ID, a Python version): whatever they hold, the exposition must
 * stay valid text format 0.0.4, which this checks line by line. The input is split at NULs
 * into the label values of a few series.
 */
#include <assert.h>
#include "fuzz_util.h"
#include <ctype.h>
#include "serve/prom_text.h"
#include "serve/series.h"

/* Valid UTF-8 of length n, as the text format requires. */
static bool valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0, len, k;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		len = s[i] >= 0xf0 ? 4 : s[i] >= 0xe0 ? 3 : s[i] >= 0xc2 ? 2 : 0;
		if (!len || s[i] > 0xf4 || i + len > n)
			return false;
		for (k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += len;
	}
	return true;
}

/* One sample line: name, optional {label="value",...}, a space, a value, nothing else. */
static void check_sample(const char *l, const char *end)
{
	const char *p = l;

	while (p < end && (isalnum((unsigned char)*p) || *p == '_' || *p == ':'))
		p++;
	assert(p > l);
	if (*p == '{') {
		p++;
		while (*p != '}') {
			while (isalnum((unsigned char)*p) || *p == '_')
				p++;
			assert(p[0] == '=' && p[1] == '"');
			for (p += 2; *p != '"'; p++) {
				assert(p < end);
				if (*p == '\\') {
					p++;
					assert(*p == '\\' || *p == '"' || *p == 'n');
				}
			}
			p++;
			assert(*p == ',' || *p == '}');
			if (*p == ',')
				p++;
		}
		p++;
	}
	assert(*p == ' ' && p + 1 < end);
	for (p++; p < end; p++)
		assert(!isspace((unsigned char)*p));
}

static void take(char *dst, size_t len, const char **p, const char *end)
{
	size_t n = strnlen(*p, end - *p);

	if (n >= len)
		n = len - 1;
	memcpy(dst, *p, n);
	dst[n] = '\0';
	*p += strnlen(*p, end - *p);
	if (*p < end)
		(*p)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct series_table *t = series_table_new(8, size & 1);
	struct agent_metrics m = { .version = "fuzz", .http = size & 1, .discovery = true };
	const char *p = (const char *)data, *end = p + size;
	struct prom_buf out = { 0 };
	struct series_labels l;
	struct series *s;
	const char *line, *nl;
	int i;

	assert(t);
	for (i = 0; i < 8 && p < end; i++) {
		memset(&l, 0, sizeof(l));
		take(l.ns, sizeof(l.ns), &p, end);
		take(l.pod, sizeof(l.pod), &p, end);
		take(l.pod_uid, sizeof(l.pod_uid), &p, end);
		take(l.container_id, sizeof(l.container_id), &p, end);
		take(l.command, sizeof(l.command), &p, end);
		take(l.program, sizeof(l.program), &p, end);
		take(l.service, sizeof(l.service), &p, end);
		take(l.python, sizeof(l.python), &p, end);
		l.pid = i & 1 ? 1000 + i : 0;
		s = series_get(t, &l);
		if (!s)
			continue;
		series_add_gc(s, i % 5, 1000ull << i, i);
		if (size & 1)
			series_add_request(s, 2000000ull << i, 1000ull << i, 500ull << i);
	}
	assert(!prom_render(t, &m, &out));
	assert(out.data && out.len && out.data[out.len - 1] == '\n');
	assert(strlen(out.data) == out.len);
	assert(valid_utf8((const unsigned char *)out.data, out.len));
	for (line = out.data; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		assert(nl);
		if (*line == '#')
			assert(!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7));
		else
			check_sample(line, nl);
	}
	prom_buf_free(&out);
	series_table_free(t);
	return 0;
}
