// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>
#include "util/untrusted_file.h"

/* For "/proc/PID/root/REST": the length of "/proc/PID/root", else 0. */
static size_t proc_root_prefix(const char *path)
{
	int n = 0;

	if (sscanf(path, "/proc/%*u/root%n", &n) == 0 && n > 0 && path[n] == '/' && path[n + 1])
		return n;
	return 0;
}

/* An O_PATH descriptor for path, inside the process's root when path is under one. */
static int open_path_only(const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	size_t n = proc_root_prefix(path);
	char root_path[64];
	int root, fd, err;

	if (!n || n >= sizeof(root_path))
		return open(path, O_PATH | O_CLOEXEC);
	memcpy(root_path, path, n);
	root_path[n] = '\0';
	root = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -1;
	fd = syscall(SYS_openat2, root, path + n + 1, &how, sizeof(how));
	/* Before Linux 5.6: the symlinks resolve as they always did, from our root. */
	if (fd < 0 && errno == ENOSYS)
		fd = open(path, O_PATH | O_CLOEXEC);
	err = errno;
	close(root);
	errno = err;
	return fd;
}

int untrusted_open(const char *path, uint64_t max_size, struct stat *st)
{
	struct stat own;
	char fd_path[32];
	int fd, file, err;

	if (!st)
		st = &own;
	fd = open_path_only(path);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st->st_mode) || (uint64_t)st->st_size > max_size) {
		close(fd);
		return S_ISREG(st->st_mode) ? -EFBIG : -EINVAL;
	}
	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd);
	file = open(fd_path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	err = errno;
	close(fd);
	return file < 0 ? -err : file;
}

const char *untrusted_strerror(int err)
{
	if (err == -EINVAL)
		return "not a regular file";
	if (err == -EFBIG)
		return "too large to be read";
	return strerror(-err);
}

Elf *untrusted_elf_begin(int fd)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	return elf_begin(fd, ELF_C_READ, NULL);
}
