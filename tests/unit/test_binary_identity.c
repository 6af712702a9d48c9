// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "trace/binary_identity.h"

#define PYTHON	"/usr/bin/python3.11"

/* A copy of PYTHON at path, written in place when path exists (same inode). */
static void copy_into(const char *path, size_t skip)
{
	char buf[65536];
	int in, out;
	ssize_t n;

	in = open(PYTHON, O_RDONLY);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(in >= 0 && out >= 0);
	assert_int_equal(lseek(in, skip, SEEK_SET), (off_t)skip);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, n), n);
	close(in);
	close(out);
}

static void identity_of(const char *path, struct binary_identity *id)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(binary_identity_read(fd, id), 0);
	close(fd);
}

/* Debian's python3.11 has a build-id: it is part of the identity. */
static void test_build_id_read(void **state)
{
	struct binary_identity a, b;

	identity_of(PYTHON, &a);
	identity_of(PYTHON, &b);
	assert_int_equal(a.build_id_len, 20);
	assert_true(binary_identity_equal(&a, &b));
}

/* The same inode with new contents, or new times, is another binary. */
static void test_rewritten_in_place(void **state)
{
	char path[] = "/tmp/gcpause-identity-XXXXXX";
	struct binary_identity before, after;
	struct timespec times[2];
	struct stat st1, st2;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	copy_into(path, 0);
	identity_of(path, &before);
	assert_int_equal(stat(path, &st1), 0);

	/* Same size, same times, another build-id: only the note tells. */
	after = before;
	after.build_id[0] ^= 1;
	assert_false(binary_identity_equal(&before, &after));

	/* Other contents (not ELF any more), same inode. */
	copy_into(path, 1);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	identity_of(path, &after);
	assert_int_equal(after.build_id_len, 0);
	assert_false(binary_identity_equal(&before, &after));

	/* The original contents back, with the original times: the same binary again. */
	copy_into(path, 0);
	times[0] = st1.st_atim;
	times[1] = st1.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	identity_of(path, &after);
	assert_true(binary_identity_equal(&before, &after));

	/* A touch alone. */
	times[1].tv_sec += 1;
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	identity_of(path, &after);
	assert_false(binary_identity_equal(&before, &after));
	unlink(path);
}

static void test_not_elf(void **state)
{
	struct binary_identity id;
	int fd = open("/etc/hostname", O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(binary_identity_read(fd, &id), 0);
	assert_int_equal(id.build_id_len, 0);
	close(fd);
	assert_int_equal(binary_identity_read(-1, &id), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_id_read),
		cmocka_unit_test(test_rewritten_in_place),
		cmocka_unit_test(test_not_elf),
	};

	return cmocka_run_group_tests_name("binary_identity", tests, NULL, NULL);
}
