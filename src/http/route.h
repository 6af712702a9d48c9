/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Route templates: request paths with their ids taken out, so that /api/items/17 and
 * /api/items/18 are one route, /api/items/{int}.
 */
#ifndef GCPAUSE_HTTP_ROUTE_H
#define GCPAUSE_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Whether pattern is a usable --route: it starts with '/'; a segment "{name}", "<name>" or
 * ":name" stands for any one segment, shell wildcards match within a segment, and a last
 * segment "**" matches the rest of the path. On error, one line in err.
 */
bool http_route_pattern_valid(const char *pattern, char *err, size_t err_len);

/*
 * The template of path: the first of patterns that matches it, as written; else the path with
 * each segment that is an id replaced: digits by {int}, a UUID by {uuid}, 8 or more hex digits
 * (some of them digits) by {hex}, a token of 6 or more letters and digits with 3 or more
 * digits by {id}. A file extension and matrix parameters are kept ("/cal/{hex}.ics",
 * "/a/{int};v=2"); an absolute URI keeps its scheme and host.
 */
void http_route_template(const char *path, char *const *patterns, int npatterns, char *out,
			 size_t out_len);

#endif /* GCPAUSE_HTTP_ROUTE_H */
