// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* /proc/PID/stat: a comm that may hold spaces and parentheses, then the start time. */
#include <assert.h>
#include "fuzz_util.h"
#include "proc/proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);
	char comm[PROC_COMM_LEN];
	uint64_t ticks;

	if (!proc_parse_stat(text, comm, sizeof(comm), &ticks))
		assert(strlen(comm) < sizeof(comm));
	free(text);
	return 0;
}
