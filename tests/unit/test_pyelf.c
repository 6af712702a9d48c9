// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "probe/elf/pyelf.h"

#define DEBIAN_PYTHON	"/usr/bin/python3.11"
#define DEBIAN_LIBPYTHON "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"

static void test_sdt_note_64(void **state)
{
	unsigned char desc[24 + 32];
	uint64_t pc = 0x4287f3, base = 0x8cc5a0, sem = 0xa8426e;
	struct sdt_note n;

	memcpy(desc, &pc, 8);
	memcpy(desc + 8, &base, 8);
	memcpy(desc + 16, &sem, 8);
	memcpy(desc + 24, "python\0gc__start\0-4@112(%rsp)", 30);
	assert_int_equal(pyelf_parse_sdt_note(desc, 54, true, &n), 0);
	assert_true(n.pc == pc && n.base == base && n.semaphore == sem);
	assert_string_equal(n.provider, "python");
	assert_string_equal(n.name, "gc__start");
	assert_string_equal(n.args, "-4@112(%rsp)");
}

static void test_sdt_note_32_and_truncated(void **state)
{
	unsigned char desc[12 + 8];
	uint32_t pc = 0x1000, base = 0x2000, sem = 0;
	struct sdt_note n;

	memcpy(desc, &pc, 4);
	memcpy(desc + 4, &base, 4);
	memcpy(desc + 8, &sem, 4);
	memcpy(desc + 12, "p\0n\0a\0", 6);
	assert_int_equal(pyelf_parse_sdt_note(desc, 18, false, &n), 0);
	assert_true(n.pc == 0x1000 && n.semaphore == 0);
	assert_string_equal(n.args, "a");
	/* The argument string's NUL is cut off: a truncated note must not be read past its end. */
	assert_int_equal(pyelf_parse_sdt_note(desc, 17, false, &n), -EINVAL);
	assert_int_equal(pyelf_parse_sdt_note(desc, 11, false, &n), -EINVAL);
}

static void test_format_version(void **state)
{
	char buf[PYELF_VERSION_LEN];

	pyelf_format_version(0x030b02f0, buf, sizeof(buf));
	assert_string_equal(buf, "3.11.2");
	pyelf_format_version(0x030c01f0, buf, sizeof(buf));
	assert_string_equal(buf, "3.12.1");
	pyelf_format_version(0x030d00c1, buf, sizeof(buf));
	assert_string_equal(buf, "3.13.0rc1");
	pyelf_format_version(0x030e00a4, buf, sizeof(buf));
	assert_string_equal(buf, "3.14.0a4");
}

static void test_version_from_name(void **state)
{
	char buf[PYELF_VERSION_LEN];

	pyelf_version_from_name("/usr/lib/libpython3.9.so.1.0", buf, sizeof(buf));
	assert_string_equal(buf, "3.9");
	pyelf_version_from_name("/opt/bin/python3.10", buf, sizeof(buf));
	assert_string_equal(buf, "3.10");
	pyelf_version_from_name("libpython3.8d.so", buf, sizeof(buf));
	assert_string_equal(buf, "3.8");
	pyelf_version_from_name("/usr/bin/python3", buf, sizeof(buf));
	assert_string_equal(buf, "");
	pyelf_version_from_name("/usr/sbin/uwsgi", buf, sizeof(buf));
	assert_string_equal(buf, "");
}

static void test_debian_python_has_markers(void **state)
{
	struct pyelf_info info;

	assert_int_equal(pyelf_inspect(DEBIAN_PYTHON, &info), 0);
	assert_true(info.is_elf && info.exports_python);
	assert_true(info.has_gc_start && info.has_gc_done && info.markers_have_semaphores);
	assert_true((info.py_version_hex >> 16) == 0x030b);
	assert_memory_equal(info.version, "3.11.", 5);
}

static void test_debian_libpython_has_markers(void **state)
{
	struct pyelf_info info;

	assert_int_equal(pyelf_inspect(DEBIAN_LIBPYTHON, &info), 0);
	assert_true(info.exports_python && info.has_gc_start && info.has_gc_done);
	assert_memory_equal(info.version, "3.11.", 5);
}

static void test_pyenv_libpython_has_no_markers(void **state)
{
	struct pyelf_info info;
	glob_t g;

	if (glob("/root/.pyenv/versions/3.12.*/lib/libpython3.12.so.1.0", 0, NULL, &g)) {
		skip();
		return;
	}
	assert_int_equal(pyelf_inspect(g.gl_pathv[0], &info), 0);
	assert_true(info.is_elf && info.exports_python);
	assert_false(info.has_gc_start || info.has_gc_done);
	assert_memory_equal(info.version, "3.12.", 5);
	globfree(&g);
}

static void test_not_python(void **state)
{
	struct pyelf_info info;

	assert_int_equal(pyelf_inspect("/bin/sleep", &info), 0);
	assert_true(info.is_elf);
	assert_false(info.exports_python || info.has_gc_start || info.has_gc_done);
	assert_int_equal(pyelf_inspect("/etc/hostname", &info), 0);
	assert_false(info.is_elf);
	assert_int_equal(pyelf_inspect("/nonexistent/file", &info), -ENOENT);
}

static void test_find_needed(void **state)
{
	char soname[256], runpath[4096];
	glob_t g;

	assert_int_equal(pyelf_find_needed(DEBIAN_PYTHON, "libpython", soname, sizeof(soname),
					   runpath, sizeof(runpath)), 0);
	assert_string_equal(soname, "");	/* libpython is linked in statically */
	if (glob("/root/.pyenv/versions/3.12.*/bin/python3.12", 0, NULL, &g)) {
		skip();
		return;
	}
	assert_int_equal(pyelf_find_needed(g.gl_pathv[0], "libpython", soname, sizeof(soname),
					   runpath, sizeof(runpath)), 0);
	assert_string_equal(soname, "libpython3.12.so.1.0");
	assert_non_null(strstr(runpath, "/lib"));
	globfree(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sdt_note_64),
		cmocka_unit_test(test_sdt_note_32_and_truncated),
		cmocka_unit_test(test_format_version),
		cmocka_unit_test(test_version_from_name),
		cmocka_unit_test(test_debian_python_has_markers),
		cmocka_unit_test(test_debian_libpython_has_markers),
		cmocka_unit_test(test_pyenv_libpython_has_no_markers),
		cmocka_unit_test(test_not_python),
		cmocka_unit_test(test_find_needed),
	};

	return cmocka_run_group_tests_name("pyelf", tests, NULL, NULL);
}
