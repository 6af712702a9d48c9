// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "proc/proc.h"

static void test_maps_file_backed(void **state)
{
	struct map_entry m;

	assert_int_equal(proc_parse_maps_line("7f1c2a000000-7f1c2a1f0000 r-xp 00028000 fe:01 "
					      "1311021                    /usr/lib/x86_64-linux-"
					      "gnu/libpython3.11.so.1.0\n", &m), 0);
	assert_true(m.start == 0x7f1c2a000000ull && m.end == 0x7f1c2a1f0000ull);
	assert_true(m.offset == 0x28000 && m.inode == 1311021);
	assert_int_equal(m.dev_major, 0xfe);
	assert_int_equal(m.dev_minor, 1);
	assert_true(m.exec);
	assert_string_equal(m.path, "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0");
}

static void test_maps_anonymous_and_special(void **state)
{
	struct map_entry m;

	assert_int_equal(proc_parse_maps_line("55d0c0e00000-55d0c0e21000 rw-p 00000000 00:00 0 \n",
					      &m), 0);
	assert_string_equal(m.path, "");
	assert_int_equal(m.inode, 0);
	assert_false(m.exec);
	assert_int_equal(proc_parse_maps_line("7ffd1-7ffd2 rw-p 00000000 00:00 0   [stack]", &m),
			 0);
	assert_string_equal(m.path, "[stack]");
}

static void test_maps_path_with_spaces_and_deleted(void **state)
{
	struct map_entry m;

	assert_int_equal(proc_parse_maps_line("1000-2000 r-xp 00000000 08:02 42   /opt/my app/"
					      "libpython3.9.so (deleted)\n", &m), 0);
	assert_string_equal(m.path, "/opt/my app/libpython3.9.so (deleted)");
}

static void test_maps_malformed(void **state)
{
	struct map_entry m;

	assert_int_equal(proc_parse_maps_line("", &m), -EINVAL);
	assert_int_equal(proc_parse_maps_line("garbage line", &m), -EINVAL);
	assert_int_equal(proc_parse_maps_line("1000-2000 r-x 0 08:02 42 /x", &m), -EINVAL);
	assert_int_equal(proc_parse_maps_line("1000-2000 r-xp 0 08:02", &m), -EINVAL);
}

static void test_stat_plain(void **state)
{
	const char *stat = "4242 (python3.11) S 1 4242 4242 0 -1 4194560 1234 0 0 0 12 3 0 0 20 0 "
			   "1 0 987654 12345678 2345 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 "
			   "0 17 1 0 0 0 0 0\n";
	char comm[PROC_COMM_LEN];
	uint64_t start;

	assert_int_equal(proc_parse_stat(stat, comm, sizeof(comm), &start), 0);
	assert_string_equal(comm, "python3.11");
	assert_true(start == 987654);
}

static void test_stat_hostile_comm(void **state)
{
	/* A comm may hold spaces and parentheses: only the last ')' ends it. */
	const char *stat = "77 (a) b (c) ) R 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5555 0 0\n";
	char comm[PROC_COMM_LEN], tiny[4];
	uint64_t start;

	assert_int_equal(proc_parse_stat(stat, comm, sizeof(comm), &start), 0);
	assert_string_equal(comm, "a) b (c) ");
	assert_true(start == 5555);
	assert_int_equal(proc_parse_stat(stat, tiny, sizeof(tiny), &start), 0);
	assert_string_equal(tiny, "a) ");
}

static void test_stat_truncated(void **state)
{
	char comm[PROC_COMM_LEN];
	uint64_t start;

	assert_int_equal(proc_parse_stat("12 (x) S 1 2 3", comm, sizeof(comm), &start), -EINVAL);
	assert_int_equal(proc_parse_stat("12 x S", comm, sizeof(comm), &start), -EINVAL);
}

static int count_self_exe(const struct map_entry *m, void *arg)
{
	char exe[PROC_PATH_MAX];
	int *count = arg;

	if (!proc_exe_path(getpid(), exe, sizeof(exe)) && !strcmp(exe, m->path))
		(*count)++;
	return 0;
}

static void test_live_self(void **state)
{
	char comm[PROC_COMM_LEN], path[PROC_PATH_MAX];
	uint64_t start, again;
	int count = 0;

	assert_int_equal(proc_read_identity(getpid(), comm, sizeof(comm), &start), 0);
	assert_string_equal(comm, "test_proc");
	assert_int_equal(proc_read_identity(getpid(), comm, sizeof(comm), &again), 0);
	assert_true(start == again && start > 0);
	/* Our own executable is mapped several times; the callback must see it once. */
	assert_int_equal(proc_for_each_mapped_file(getpid(), count_self_exe, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(proc_host_path(42, "/usr/bin/python3", path, sizeof(path)), 0);
	assert_string_equal(path, "/proc/42/root/usr/bin/python3");
	assert_int_equal(proc_root_dir(getpid(), path, sizeof(path)), 0);
	assert_string_equal(path, "");
}

static void test_inside_path(void **state)
{
	/* chroot: the kernel shows the host path, the root in front. */
	assert_string_equal(proc_inside_path("/srv/root", "/srv/root/usr/bin/python3"),
			    "/usr/bin/python3");
	/* Own mount namespace, or not chrooted: already the process's own path. */
	assert_string_equal(proc_inside_path("", "/usr/bin/python3"), "/usr/bin/python3");
	assert_string_equal(proc_inside_path("/srv/root", "/usr/bin/python3"), "/usr/bin/python3");
	/* A sibling directory sharing the prefix is not inside the root. */
	assert_string_equal(proc_inside_path("/srv/root", "/srv/rootfs/lib/x.so"),
			    "/srv/rootfs/lib/x.so");
}

static void test_missing_process(void **state)
{
	char comm[PROC_COMM_LEN];
	uint64_t start;
	int count = 0;

	/* Above the kernel's pid_max limit (4194304), so it can never exist. */
	assert_int_equal(proc_read_identity(99999999, comm, sizeof(comm), &start), -ENOENT);
	assert_int_equal(proc_for_each_mapped_file(99999999, count_self_exe, &count), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_file_backed),
		cmocka_unit_test(test_maps_anonymous_and_special),
		cmocka_unit_test(test_maps_path_with_spaces_and_deleted),
		cmocka_unit_test(test_maps_malformed),
		cmocka_unit_test(test_stat_plain),
		cmocka_unit_test(test_stat_hostile_comm),
		cmocka_unit_test(test_stat_truncated),
		cmocka_unit_test(test_live_self),
		cmocka_unit_test(test_inside_path),
		cmocka_unit_test(test_missing_process),
	};

	return cmocka_run_group_tests_name("proc", tests, NULL, NULL);
}
