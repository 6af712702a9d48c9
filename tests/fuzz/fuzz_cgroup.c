// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* /proc/PID/cgroup: container runtime, ID and pod UID, then the label built from them. */
#include <assert.h>
#include "proc/container.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size);
	struct container_info c;
	char label[128];

	memset(&c, 0x5a, sizeof(c));	/* whatever the parser leaves unset shows */
	if (!container_parse_cgroup(text, &c)) {
		assert(memchr(c.id, 0, sizeof(c.id)) && memchr(c.pod_uid, 0, sizeof(c.pod_uid)));
		assert(memchr(c.runtime, 0, sizeof(c.runtime)));
		container_id_label(&c, label, sizeof(label));
		assert(strlen(label) < sizeof(label));
	}
	free(text);
	return 0;
}
