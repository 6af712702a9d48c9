/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a probed binary was when its probes were made: device, inode, size, modification time
 * and build-id. Uprobes are keyed by inode and offset, so a file rewritten in place (same
 * inode, new contents) must be told from the one that was probed.
 */
#ifndef GCPAUSE_TRACE_BINARY_IDENTITY_H
#define GCPAUSE_TRACE_BINARY_IDENTITY_H

#include <stdbool.h>
#include "probe/elf/elfutil.h"
#include "util/file_id.h"

struct binary_identity {
	struct file_id file;
	/*
	 * On overlayfs (every container image): each container's mount has a device number of its
	 * own, but the kernel puts uprobes on the layer's file underneath (d_real_inode()), which
	 * all containers of an image share, and whose inode number overlayfs reports. Two
	 * identities on overlayfs are the same file whatever their devices; keyed by device, each
	 * further container of an image would add another set of uprobes to that same file, and
	 * every collection in all of them would be counted once per container. (A binary copied up
	 * into a container's upper layer keeps the number too; its processes would then go unseen.
	 * Nothing copies an interpreter up.)
	 */
	bool overlay;
	int build_id_len;		/* 0: the file has none */
	unsigned char build_id[BUILD_ID_MAX];
};

/* The identity of the open file fd. Returns 0 or a negative errno (fstat). */
int binary_identity_read(int fd, struct binary_identity *id);
bool binary_identity_equal(const struct binary_identity *a, const struct binary_identity *b);
/* Whether a and b are the same file, whatever it holds now (the inode uprobes are put on). */
bool binary_identity_same_file(const struct binary_identity *a, const struct binary_identity *b);

#endif /* GCPAUSE_TRACE_BINARY_IDENTITY_H */
