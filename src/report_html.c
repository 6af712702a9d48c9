// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "cause.h"
int cause_report_main(int argc, char **argv) { return 2; }
#include "report_html.h"
int report_html_write(const char *path, const struct recording *r, const struct recording *before, char *err, size_t err_len) { return 0; }
