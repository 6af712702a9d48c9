// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* /proc/PID/maps text, line by line, as proc_for_each_mapped_file() reads it. */
#include <assert.h>
#include "fuzz_util.h"
#include "proc/proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *line, *save = NULL;
	struct map_entry e;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (proc_parse_maps_line(line, &e))
			continue;
		assert(strlen(e.path) < sizeof(e.path));
		/* What probe and target code do next with a parsed path. */
		(void)proc_inside_path("/proc/1/root", e.path);
	}
	free(text);
	return 0;
}
