// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include "trace/binary_identity.h"
#include "util/untrusted_file.h"

#ifndef OVERLAYFS_SUPER_MAGIC
#define OVERLAYFS_SUPER_MAGIC	0x794c7630
#endif

int binary_identity_read(int fd, struct binary_identity *id)
{
	struct statfs sfs;
	struct stat st;
	Elf *elf;
	int len;

	memset(id, 0, sizeof(*id));
	if (fstat(fd, &st))
		return -errno;
	id->file = file_id_of(&st);
	id->overlay = !fstatfs(fd, &sfs) && sfs.f_type == OVERLAYFS_SUPER_MAGIC;
	/* Read, not mapped: a file being rewritten may shrink under a mapping (SIGBUS). */
	elf = untrusted_elf_begin(fd);
	if (elf && elf_kind(elf) == ELF_K_ELF) {
		len = elf_build_id_bytes(elf, id->build_id, sizeof(id->build_id));
		id->build_id_len = len > 0 ? len : 0;
	}
	elf_end(elf);
	return 0;
}

bool binary_identity_equal(const struct binary_identity *a, const struct binary_identity *b)
{
	struct file_id fa = a->file, fb = b->file;

	if (a->overlay && b->overlay)
		fa.dev = fb.dev = 0;
	return a->overlay == b->overlay && file_id_equal(&fa, &fb) &&
	       a->build_id_len == b->build_id_len &&
	       !memcmp(a->build_id, b->build_id, a->build_id_len);
}

bool binary_identity_same_file(const struct binary_identity *a, const struct binary_identity *b)
{
	return a->file.ino == b->file.ino &&
	       (a->file.dev == b->file.dev || (a->overlay && b->overlay));
}
