/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Opening a file another user may control: a binary named in a process's memory maps, a debug
 * file found by build-id or .gnu_debuglink, a script's #! line. gcpause runs as root and reads
 * them for every process on a node, so a FIFO, a device or a huge file planted at such a path
 * must not block it, run a driver, or make it read without end. Every file gcpause reads that
 * is not its own or the kernel's goes through here.
 */
#ifndef GCPAUSE_UTIL_UNTRUSTED_FILE_H
#define GCPAUSE_UTIL_UNTRUSTED_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <libelf.h>

/*
 * The largest ELF file read: a libpython's separate debug file is tens of MiB; anything near
 * this is not one, and reading it would cost seconds of I/O and its size in memory.
 */
#define UNTRUSTED_ELF_MAX	(1ULL << 30)

/*
 * Opens path for reading if it is a regular file of at most max_size bytes. The file is first
 * opened with O_PATH (which neither blocks on a FIFO nor runs a device's open), checked with
 * fstat, and only then reopened for reading, with O_NONBLOCK and O_NOCTTY, through its
 * descriptor: what is read is the very file checked. A path under /proc/PID/root is resolved
 * as that process sees it (openat2 RESOLVE_IN_ROOT): its symlinks, absolute or "..", stay
 * inside its root. /proc/PID/exe and /proc/PID/map_files/ links are followed, as they must be.
 *
 * Returns the descriptor (O_CLOEXEC), and fills st if not NULL; or -EINVAL for anything but a
 * regular file, -EFBIG for a larger one, or another -errno.
 */
int untrusted_open(const char *path, uint64_t max_size, struct stat *st);

/* strerror(-err), but for untrusted_open()'s own -EINVAL and -EFBIG what they mean there. */
const char *untrusted_strerror(int err);

/*
 * elf_begin() for reading a descriptor from untrusted_open(). Reads with pread rather than
 * mmap: a file its owner truncates while it is parsed then gives a read error instead of
 * SIGBUS, which would kill gcpause; and a mapping would show another tracer's uprobe int3s
 * (docs/design.md). NULL when libelf cannot start.
 */
Elf *untrusted_elf_begin(int fd);

#endif /* GCPAUSE_UTIL_UNTRUSTED_FILE_H */
