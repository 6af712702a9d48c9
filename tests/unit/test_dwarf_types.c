// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Struct layouts from DWARF: on a fixture built here (its expected offsets are _Static_asserts
 * the compiler checked), in DWARF 5 and DWARF 2, and on the pyenv CPython builds present (values
 * checked with gdb's print &((T *)0)->member).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "probe/elf/dwarf_types.h"

#define PY313		"/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0"
#define PY312		"/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0"
#define PY311		"/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"
#define DEBIAN_PYTHON	"/usr/bin/python3.11"

static char tmp[64];

/*
 * The first unit only declares the structs: its typedef Outer leads to an incomplete struct,
 * and Handle's struct is completed only in the second unit, which has no Handle typedef.
 */
static const char a_c[] =
	"typedef struct outer Outer;\n"
	"typedef struct hidden Handle;\n"
	"Outer *gcp_make(void);\n"
	"Handle *gcp_handle(void);\n"
	"Outer *gcp_first(void) { return gcp_make(); }\n"
	"Handle *gcp_first_handle(void) { return gcp_handle(); }\n";

static const char b_c[] =
	"#include <stddef.h>\n"
	"typedef long Py_ssize_t;\n"
	"struct stats { Py_ssize_t collections, collected, uncollectable; };\n"
	"struct inner { int pad; struct stats generation_stats[3]; };\n"
	"union number { int i; double d; };\n"
	"enum color { RED, GREEN };\n"
	"struct outer {\n"
	"	char c;\n"
	"	struct inner gc;\n"
	"	union { int ui; double ud; };\n"
	"	struct { short s1; short s2; };\n"
	"	const volatile struct inner cv;\n"
	"	unsigned int flag : 3;\n"
	"	int tail[4];\n"
	"	union number num;\n"
	"	enum color color;\n"
	"};\n"
	"typedef struct outer Outer;\n"
	"typedef const Outer ConstOuter;\n"
	"struct hidden { long a; int b; };\n"
	"Outer *gcp_make(void) { static Outer o; return &o; }\n"
	"ConstOuter *gcp_const(void) { return gcp_make(); }\n"
	"struct hidden *gcp_handle(void) { static struct hidden h; return &h; }\n"
	"#define CHECK(e) _Static_assert(e, #e)\n"
	"CHECK(offsetof(struct outer, gc) == 8);\n"
	"CHECK(offsetof(struct outer, gc.generation_stats) == 16);\n"
	"CHECK(offsetof(struct outer, ui) == 88 && offsetof(struct outer, ud) == 88);\n"
	"CHECK(offsetof(struct outer, s1) == 96 && offsetof(struct outer, s2) == 98);\n"
	"CHECK(offsetof(struct outer, cv.generation_stats) == 112);\n"
	"CHECK(offsetof(struct outer, tail) == 188);\n"
	"CHECK(offsetof(struct outer, num.d) == 208);\n"
	"CHECK(offsetof(struct outer, color) == 216);\n"
	"CHECK(sizeof(struct outer) == 224);\n"
	"CHECK(sizeof(struct inner) == 80 && sizeof(struct stats) == 24);\n"
	"CHECK(offsetof(struct stats, collected) == 8);\n"
	"CHECK(offsetof(struct hidden, b) == 8 && sizeof(struct hidden) == 16);\n";

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	if (WEXITSTATUS(st))
		fprintf(stderr, "command failed (%d): %s\n", WEXITSTATUS(st), cmd);
	return WEXITSTATUS(st);
}

static const char *tp(char *buf, const char *rel)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", tmp, rel);

	assert_true(n > 0 && n < PATH_MAX);
	return buf;
}

static int write_file(const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;
	int n = snprintf(path, sizeof(path), "%s/%s", tmp, rel);

	if (n < 0 || n >= (int)sizeof(path))
		return -1;
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int group_setup(void **state)
{
	strcpy(tmp, "/tmp/gcpause-dwarf-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	if (write_file("a.c", a_c) || write_file("b.c", b_c))
		return -1;
	/* DWARF 2 has member offsets as DW_OP_plus_uconst expressions, not constants. */
	if (sh("cd '%s' && cc -shared -fPIC -g -o fix5.so a.c b.c && "
	       "cc -shared -fPIC -gdwarf-2 -gstrict-dwarf -o fix2.so a.c b.c && "
	       "strip --strip-debug -o nodwarf.so fix5.so && "
	       "readelf --debug-dump=info fix2.so | grep -q 'DW_OP_plus_uconst'", tmp))
		return -1;
	/*
	 * dwz (if installed): what two files share moves to a common file their
	 * .gnu_debugaltlink names. Two copies share their types (dz*.so, common.debug); the
	 * fixture and c.c only strings, such as the name of the member "collected" (ds*.so,
	 * strings.debug, which libdw itself would open, then refuse for want of .debug_info).
	 */
	if (!access("/usr/bin/dwz", X_OK) &&
	    (write_file("c.c", "struct other { long collections, collected; };\n"
				"struct other *gcp_other(void) { static struct other o; "
				"return &o; }\n") ||
	     sh("cd '%s' && cp fix5.so dz1.so && cp fix5.so dz2.so && "
		"dwz -m common.debug -M '%s/common.debug' dz1.so dz2.so && "
		"readelf -S common.debug | grep -q debug_info && "
		"cp fix5.so ds1.so && cc -shared -fPIC -g -o ds2.so c.c && "
		"dwz -m strings.debug -M '%s/strings.debug' ds1.so ds2.so && "
		"readelf --debug-dump=info ds1.so | grep -q 'alt indirect string.*collected'",
		tmp, tmp, tmp)))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	if (!strncmp(tmp, "/tmp/gcpause-dwarf-", 19))
		sh("rm -rf '%s'", tmp);
	return 0;
}

static void expect_offset(const char *file, const char *type, const char *member, long want)
{
	long off = -1;
	int ret = dwarf_offsetof(file, type, member, &off);

	if (ret || off != want)
		fail_msg("%s: offsetof(%s, %s): %d, %ld (want %ld)", file, type, member, ret, off,
			 want);
}

static void expect_size(const char *file, const char *type, long want)
{
	long size = -1;
	int ret = dwarf_sizeof(file, type, &size);

	if (ret || size != want)
		fail_msg("%s: sizeof(%s): %d, %ld (want %ld)", file, type, ret, size, want);
}

static void expect_offset_err(const char *file, const char *type, const char *member, int err)
{
	long off = -1;

	assert_int_equal(dwarf_offsetof(file, type, member, &off), err);
	assert_int_equal(off, -1);	/* untouched */
}

static void check_fixture(const char *file)
{
	expect_offset(file, "struct outer", "c", 0);
	expect_offset(file, "struct outer", "gc", 8);
	expect_offset(file, "struct outer", "gc.generation_stats", 16);
	expect_offset(file, "struct outer", "gc.pad", 8);
	/* Through the typedef, though the first unit's Outer is of an incomplete struct. */
	expect_offset(file, "Outer", "gc.generation_stats", 16);
	expect_offset(file, "ConstOuter", "tail", 188);
	/* Anonymous union and struct members, found as C finds them. */
	expect_offset(file, "struct outer", "ui", 88);
	expect_offset(file, "struct outer", "ud", 88);
	expect_offset(file, "struct outer", "s1", 96);
	expect_offset(file, "struct outer", "s2", 98);
	/* Through a const volatile member. */
	expect_offset(file, "struct outer", "cv.generation_stats", 112);
	expect_offset(file, "struct outer", "num.d", 208);
	expect_offset(file, "struct outer", "color", 216);
	expect_offset(file, "struct stats", "collected", 8);
	expect_offset(file, "union number", "d", 0);
	/* A typedef whose struct is complete only where the typedef is not. */
	expect_offset(file, "Handle", "b", 8);
	expect_offset(file, "  struct   hidden", "b", 8);

	expect_size(file, "struct outer", 224);
	expect_size(file, "Outer", 224);
	expect_size(file, "struct inner", 80);
	expect_size(file, "struct stats", 24);
	expect_size(file, "union number", 8);
	expect_size(file, "enum color", 4);
	expect_size(file, "Py_ssize_t", 8);
	expect_size(file, "int", 4);
	expect_size(file, "Handle", 16);

	expect_offset_err(file, "struct outer", "nosuch", -ENOENT);
	expect_offset_err(file, "struct outer", "gc.nosuch", -ENOENT);
	/* Not into an array: the caller indexes it with the element size. */
	expect_offset_err(file, "struct outer", "gc.generation_stats.collected", -ENOENT);
	expect_offset_err(file, "struct outer", "c.x", -ENOENT);
	expect_offset_err(file, "struct nosuch", "c", -ENOENT);
	/* Outer is a typedef, not a struct tag; and struct tags are not typedef names. */
	expect_offset_err(file, "struct Outer", "c", -ENOENT);
	expect_offset_err(file, "outer", "c", -ENOENT);
	expect_offset_err(file, "struct outer", "flag", -EINVAL);	/* a bit-field */
	expect_offset_err(file, "struct outer", "", -EINVAL);
	expect_offset_err(file, "struct outer", "gc.", -EINVAL);
	expect_offset_err(file, "struct outer", ".gc", -EINVAL);
	expect_offset_err(file, "struct outer", "gc..pad", -EINVAL);
	expect_offset_err(file, "struct ", "c", -EINVAL);
	expect_offset_err(file, "", "c", -EINVAL);
}

static void test_fixture_dwarf5(void **state)
{
	char path[PATH_MAX];

	check_fixture(tp(path, "fix5.so"));
}

static void test_fixture_dwarf2(void **state)
{
	char path[PATH_MAX];

	check_fixture(tp(path, "fix2.so"));
}

/* No .debug_info at all is -ENODATA, told apart from a missing type's -ENOENT. */
static void test_no_dwarf(void **state)
{
	char path[PATH_MAX];
	long v = -1;

	assert_int_equal(dwarf_offsetof(tp(path, "nodwarf.so"), "struct outer", "c", &v),
			 -ENODATA);
	assert_int_equal(dwarf_sizeof(path, "struct outer", &v), -ENODATA);
	assert_int_equal(dwarf_offsetof(tp(path, "a.c"), "struct outer", "c", &v), -ENOEXEC);
	assert_int_equal(dwarf_sizeof(tp(path, "missing.so"), "int", &v), -ENOENT);
	assert_int_equal(v, -1);
	if (access(DEBIAN_PYTHON, R_OK))
		return;
	/* Debian's interpreter: stripped, its DWARF in a package not installed. */
	assert_int_equal(dwarf_offsetof(DEBIAN_PYTHON, "PyThreadState", "interp", &v), -ENODATA);
}

/*
 * The file .gnu_debugaltlink names is found and checked by gcpause, never opened by libdw on
 * its own: a FIFO in its place (anyone may create one where a user's own debug file points)
 * gives -ENODATA at once instead of a read that waits for a writer forever.
 */
static void test_dwz_altlink(void **state)
{
	char path[PATH_MAX], common[PATH_MAX], moved[PATH_MAX];
	int status;
	long v = -1;
	pid_t pid;

	if (access("/usr/bin/dwz", X_OK))
		skip();
	/*
	 * With the file there, the units are read (the names in them are in common.debug), but
	 * the types moved into common.debug's partial units are not looked for: -ENOENT, where a
	 * refused alternate file would be -ENODATA.
	 */
	expect_offset_err(tp(path, "dz1.so"), "struct stats", "collected", -ENOENT);

	tp(common, "strings.debug");
	tp(moved, "strings.debug.moved");
	assert_int_equal(rename(common, moved), 0);
	assert_int_equal(mkfifo(common, 0600), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(20);
		_exit(dwarf_offsetof(tp(path, "ds1.so"), "struct stats", "collected", &v) ==
		      -ENODATA ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	unlink(common);
	assert_int_equal(rename(moved, common), 0);
	if (WIFSIGNALED(status))
		fail_msg("dwarf_offsetof() blocked on the FIFO (signal %d)", WTERMSIG(status));
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_python313(void **state)
{
	if (access(PY313, R_OK))
		skip();
	expect_offset(PY313, "PyThreadState", "interp", 0x10);
	expect_offset(PY313, "struct _ts", "interp", 0x10);
	expect_offset(PY313, "PyInterpreterState", "gc.generation_stats", 0x1d68);
	expect_offset(PY313, "struct _is", "gc", 0x1ce8);
	expect_offset(PY313, "struct _gc_runtime_state", "generation_stats", 0x80);
	expect_size(PY313, "struct gc_generation_stats", 24);
	expect_offset(PY313, "struct gc_generation_stats", "collections", 0);
	expect_offset(PY313, "struct gc_generation_stats", "collected", 8);
	expect_size(PY313, "PyInterpreterState", 194968);
	expect_size(PY313, "struct _gc_runtime_state", 240);
	expect_offset(PY313, "PyObject", "ob_type", 8);
	expect_offset_err(PY313, "PyInterpreterState", "gc.no_such_member", -ENOENT);
	expect_offset_err(PY313, "PyInterpreterState", "no_such_member", -ENOENT);
	expect_offset_err(PY313, "struct no_such_struct_in_cpython", "x", -ENOENT);
}

/* 3.12 keeps the same counters much nearer the start of the interpreter state. */
static void test_python312(void **state)
{
	if (access(PY312, R_OK))
		skip();
	expect_offset(PY312, "PyThreadState", "interp", 0x10);
	expect_offset(PY312, "PyInterpreterState", "gc", 0x70);
	expect_offset(PY312, "PyInterpreterState", "gc.generation_stats", 0xf0);
	expect_size(PY312, "struct gc_generation_stats", 24);
	expect_offset(PY312, "struct gc_generation_stats", "collections", 0);
	expect_size(PY312, "PyInterpreterState", 383552);
}

static void test_python311(void **state)
{
	if (access(PY311, R_OK))
		skip();
	expect_offset(PY311, "PyInterpreterState", "gc.generation_stats", 0x308);
	expect_size(PY311, "PyInterpreterState", 107752);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_dwarf5),
		cmocka_unit_test(test_fixture_dwarf2),
		cmocka_unit_test(test_no_dwarf),
		cmocka_unit_test(test_dwz_altlink),
		cmocka_unit_test(test_python313),
		cmocka_unit_test(test_python312),
		cmocka_unit_test(test_python311),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
