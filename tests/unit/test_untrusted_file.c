// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * untrusted_open(): a regular file opens; a FIFO (with no writer: a plain open() would block),
 * a device, a directory or a too large file are refused at once; a path under /proc/PID/root
 * has its symlinks resolved inside that root.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/untrusted_file.h"

static char tmp[64];

static const char *tp(char *buf, const char *rel)
{
	snprintf(buf, PATH_MAX, "%s/%s", tmp, rel);
	return buf;
}

static int setup(void **state)
{
	char path[PATH_MAX];
	FILE *f;

	strcpy(tmp, "/tmp/gcpause-untrusted-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	f = fopen(tp(path, "file"), "w");
	if (!f || fputs("0123456789", f) < 0 || fclose(f))
		return -1;
	if (mkfifo(tp(path, "fifo"), 0600) || symlink("file", tp(path, "link")) ||
	    symlink("fifo", tp(path, "fifo-link")))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == -1;
}

static void test_regular(void **state)
{
	char path[PATH_MAX], buf[16] = "";
	struct stat st;
	int fd;

	fd = untrusted_open(tp(path, "file"), 100, &st);
	assert_true(fd >= 0);
	assert_true(S_ISREG(st.st_mode) && st.st_size == 10);
	assert_int_equal(read(fd, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "0123456789");
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	/* A symlink to a regular file is followed. */
	fd = untrusted_open(tp(path, "link"), 100, NULL);
	assert_true(fd >= 0);
	close(fd);
}

static void test_refused(void **state)
{
	char path[PATH_MAX];

	/* With no writer, an open() for reading would wait for one forever. */
	assert_int_equal(untrusted_open(tp(path, "fifo"), 100, NULL), -EINVAL);
	assert_int_equal(untrusted_open(tp(path, "fifo-link"), 100, NULL), -EINVAL);
	assert_int_equal(untrusted_open("/dev/null", 100, NULL), -EINVAL);
	assert_int_equal(untrusted_open(tmp, 100, NULL), -EINVAL);
	assert_int_equal(untrusted_open(tp(path, "file"), 9, NULL), -EFBIG);
	assert_int_equal(untrusted_open(tp(path, "missing"), 100, NULL), -ENOENT);
	assert_string_equal(untrusted_strerror(-EINVAL), "not a regular file");
}

/* Through /proc/self/root: the same files, the FIFO still refused. */
static void test_in_root(void **state)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/root%s/link", getpid(), tmp);
	fd = untrusted_open(path, 100, NULL);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "/proc/%d/root%s/fifo", getpid(), tmp);
	assert_int_equal(untrusted_open(path, 100, NULL), -EINVAL);
	/* No magic link is followed inside a root: /proc/self/exe from there is refused. */
	snprintf(path, sizeof(path), "/proc/%d/root/proc/self/exe", getpid());
	assert_int_equal(untrusted_open(path, UNTRUSTED_ELF_MAX, NULL), -ELOOP);
	/* ...but one given as such is the file the process runs. */
	fd = untrusted_open("/proc/self/exe", UNTRUSTED_ELF_MAX, NULL);
	assert_true(fd >= 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regular),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_in_root),
	};

	alarm(30);	/* a regression here would block in open() */
	return cmocka_run_group_tests(tests, setup, teardown);
}
