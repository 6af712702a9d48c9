// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include "http/route.h"

#define SEGMENT_MAX	256

static bool is_placeholder(const char *seg, size_t n)
{
	return (n >= 2 && seg[0] == '{' && seg[n - 1] == '}') ||
	       (n >= 2 && seg[0] == '<' && seg[n - 1] == '>') || (n >= 2 && seg[0] == ':');
}

bool http_route_pattern_valid(const char *pattern, char *err, size_t err_len)
{
	const char *seg, *end;

	if (pattern[0] != '/') {
		snprintf(err, err_len, "invalid --route '%s': a path pattern starts with '/'",
			 pattern);
		return false;
	}
	for (seg = pattern + 1; *seg; seg = *end ? end + 1 : end) {
		end = strchrnul(seg, '/');
		if (end - seg >= SEGMENT_MAX) {
			snprintf(err, err_len, "invalid --route '%s': a segment is too long",
				 pattern);
			return false;
		}
		if (end - seg == 2 && !memcmp(seg, "**", 2) && *end) {
			snprintf(err, err_len, "invalid --route '%s': \"**\" can only be the last "
				 "segment", pattern);
			return false;
		}
	}
	return true;
}

/* One segment of a pattern against one of the path (neither holds '/'). */
static bool segment_matches(const char *pat, size_t pn, const char *seg, size_t sn)
{
	char p[SEGMENT_MAX], s[SEGMENT_MAX];

	if (is_placeholder(pat, pn))
		return sn > 0;
	if (pn >= sizeof(p) || sn >= sizeof(s))
		return false;
	memcpy(p, pat, pn);
	p[pn] = '\0';
	memcpy(s, seg, sn);
	s[sn] = '\0';
	return !fnmatch(p, s, 0);
}

static bool pattern_matches(const char *pat, const char *path)
{
	const char *pe, *se;

	if (*pat != '/' || *path != '/')
		return false;
	pat++;
	path++;
	for (;;) {
		pe = strchrnul(pat, '/');
		se = strchrnul(path, '/');
		if (pe - pat == 2 && !memcmp(pat, "**", 2) && !*pe)
			return true;
		if (!segment_matches(pat, pe - pat, path, se - path))
			return false;
		if (!*pe || !*se)
			return !*pe && !*se;
		pat = pe + 1;
		path = se + 1;
	}
}

static bool all_of(const char *s, size_t n, int (*is)(int))
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is((unsigned char)s[i]))
			return false;
	return n > 0;
}

static size_t count_digits(const char *s, size_t n)
{
	size_t i, d = 0;

	for (i = 0; i < n; i++)
		d += isdigit((unsigned char)s[i]) != 0;
	return d;
}

static bool is_uuid(const char *s, size_t n)
{
	size_t i;

	if (n != 36)
		return false;
	for (i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

/* The placeholder for an id segment (without its extension), or NULL when it is not one. */
static const char *id_kind(const char *s, size_t n)
{
	size_t digits = count_digits(s, n);

	if (all_of(s, n, isdigit))
		return "{int}";
	if (is_uuid(s, n))
		return "{uuid}";
	if (n >= 8 && digits && all_of(s, n, isxdigit))
		return "{hex}";
	if (n >= 6 && digits >= 3 && all_of(s, n, isalnum))
		return "{id}";
	return NULL;
}

/* Appends n bytes of s to out, which holds *len of out_len (always NUL-terminated). */
static void append(char *out, size_t out_len, size_t *len, const char *s, size_t n)
{
	if (*len + n >= out_len)
		n = out_len - 1 - *len;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
}

void http_route_template(const char *path, char *const *patterns, int npatterns, char *out,
			 size_t out_len)
{
	const char *seg, *end, *dot, *kind;
	size_t len = 0, stem;
	int i;

	if (!out_len)
		return;
	out[0] = '\0';
	for (i = 0; i < npatterns; i++) {
		if (pattern_matches(patterns[i], path)) {
			append(out, out_len, &len, patterns[i], strlen(patterns[i]));
			return;
		}
	}
	if (path[0] != '/') {
		/* An absolute URI (to a proxy): scheme and host as sent, its path templated. */
		seg = strstr(path, "://");
		seg = seg ? strchr(seg + 3, '/') : NULL;
		append(out, out_len, &len, path, seg ? (size_t)(seg - path) : strlen(path));
		if (!seg)
			return;		/* "*" (OPTIONS), or no path */
		path = seg;
	}
	for (seg = path + 1;; seg = end + 1) {
		const char *params;

		end = strchrnul(seg, '/');
		append(out, out_len, &len, "/", 1);
		/* Matrix parameters (";v=2") stay as sent, after the segment's template. */
		params = memchr(seg, ';', end - seg);
		params = params ? params : end;
		/* A short extension stays: /cal/1f2e3d4c5b6a.ics is /cal/{hex}.ics. */
		dot = memrchr(seg, '.', params - seg);
		stem = dot && dot > seg && params - dot <= 6 &&
		       all_of(dot + 1, params - dot - 1, isalnum) ?
		       (size_t)(dot - seg) : (size_t)(params - seg);
		kind = id_kind(seg, stem);
		if (kind) {
			append(out, out_len, &len, kind, strlen(kind));
			append(out, out_len, &len, seg + stem, end - seg - stem);
		} else {
			append(out, out_len, &len, seg, end - seg);
		}
		if (!*end)
			break;
	}
}
