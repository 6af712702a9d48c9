/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared by the fuzz harnesses: the parsers that take a path get the input through a memfd, so
 * a run touches no file on disk; the text parsers get it NUL-terminated.
 */
#ifndef GCPAUSE_FUZZ_UTIL_H
#define GCPAUSE_FUZZ_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A copy of data with a NUL after it; free() it. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * The one memfd the harness reuses, holding exactly data; path gets "/proc/self/fd/N", which
 * libelf, libdw and open() all take.
 */
static inline void fuzz_file(const uint8_t *data, size_t size, char *path, size_t len)
{
	static int fd = -1;

	if (fd < 0) {
		fd = memfd_create("fuzz-input", 0);
		if (fd < 0) {
			perror("memfd_create");
			abort();
		}
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size) {
		perror("memfd write");
		abort();
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
}

#endif /* GCPAUSE_FUZZ_UTIL_H */
