// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "run/launch.h"

static void test_shebang(void **state)
{
	char interp[256], arg[256];

	assert_int_equal(launch_parse_shebang("#!/usr/bin/python3.11\n", interp, sizeof(interp),
					      arg, sizeof(arg)), 0);
	assert_string_equal(interp, "/usr/bin/python3.11");
	assert_string_equal(arg, "");
	assert_int_equal(launch_parse_shebang("#! /usr/bin/env  python3 -u \r\n", interp,
					      sizeof(interp), arg, sizeof(arg)), 0);
	assert_string_equal(interp, "/usr/bin/env");
	assert_string_equal(arg, "python3 -u");
	assert_int_equal(launch_parse_shebang("import gc\n", interp, sizeof(interp), arg,
					      sizeof(arg)), -ENOEXEC);
	assert_int_equal(launch_parse_shebang("#!\n", interp, sizeof(interp), arg, sizeof(arg)),
			 -ENOEXEC);
}

static void test_find_in_path(void **state)
{
	char out[4096];

	assert_int_equal(launch_find_in_path("python3.11", "/nonexistent:/usr/bin", out,
					     sizeof(out)), 0);
	assert_string_equal(out, "/usr/bin/python3.11");
	assert_int_equal(launch_find_in_path("/usr/bin/python3.11", "", out, sizeof(out)), 0);
	assert_string_equal(out, "/usr/bin/python3.11");
	assert_int_equal(launch_find_in_path("no-such-command-here", "/usr/bin:/bin", out,
					     sizeof(out)), -ENOENT);
	/* Not executable: ld.so's config is readable but must not be taken for a command. */
	assert_int_equal(launch_find_in_path("ld.so.conf", "/etc", out, sizeof(out)), -ENOENT);
}

static char script_dir[] = "/tmp/gcpause-launch-XXXXXX";

static const char *write_script(const char *name, const char *first_line)
{
	static char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", script_dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s\nimport gc\n", first_line);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	return path;
}

static void test_resolve_scripts(void **state)
{
	char err[512];
	struct target t;
	char *argv[2] = { NULL, NULL };

	assert_non_null(mkdtemp(script_dir));

	argv[0] = "/usr/bin/python3.11";
	assert_int_equal(launch_resolve(argv, PROBE_AUTO, &t, err, sizeof(err)), 0);
	assert_string_equal(t.binary, "/usr/bin/python3.11");
	assert_string_equal(t.comm, "python3.11");
	assert_string_equal(t.probe, "usdt");

	argv[0] = (char *)write_script("direct", "#!/usr/bin/python3.11");
	assert_int_equal(launch_resolve(argv, PROBE_AUTO, &t, err, sizeof(err)), 0);
	assert_string_equal(t.binary, "/usr/bin/python3.11");

	setenv("PATH", "/usr/bin:/bin", 1);
	argv[0] = (char *)write_script("via-env", "#!/usr/bin/env -S python3.11 -u");
	assert_int_equal(launch_resolve(argv, PROBE_AUTO, &t, err, sizeof(err)), 0);
	assert_string_equal(t.binary, "/usr/bin/python3.11");

	/* A program that is not Python is run and watched: it may dlopen a libpython (uwsgi). */
	argv[0] = (char *)write_script("shell", "#!/bin/sh");
	assert_int_equal(launch_resolve(argv, PROBE_AUTO, &t, err, sizeof(err)),
			 LAUNCH_NOT_PYTHON_YET);
	assert_string_equal(t.binary, "/bin/sh");
	assert_non_null(strstr(err, "not a Python program"));

	argv[0] = (char *)write_script("no-shebang", "print('hi')");
	assert_int_equal(launch_resolve(argv, PROBE_AUTO, &t, err, sizeof(err)), -ENOEXEC);

	argv[0] = "no-such-command-here";
	assert_int_equal(launch_resolve(argv, PROBE_AUTO, &t, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "command not found"));
}

static void test_resolve_linked_libpython(void **state)
{
	char err[1024];
	struct target t;
	char *argv[2] = { NULL, NULL };
	glob_t g;

	/* pyenv's python links its libpython through RUNPATH=$prefix/lib; it has no markers. */
	if (glob("/root/.pyenv/versions/3.12.*/bin/python3.12", 0, NULL, &g)) {
		skip();
		return;
	}
	argv[0] = g.gl_pathv[0];
	assert_int_equal(launch_resolve(argv, PROBE_AUTO, &t, err, sizeof(err)), 0);
	assert_non_null(strstr(t.binary, "/lib/libpython3.12.so.1.0"));
	assert_memory_equal(t.version, "3.12.", 5);
	assert_string_equal(t.probe, "symbol");
	assert_true(t.shared_lib && !t.stripped && !t.free_threaded);
	assert_int_equal(t.plan.nsites, 1);
	assert_string_equal(t.plan.sites[0].what, "gc_collect_main");
	assert_int_equal(t.plan.sites[0].cfg.gen_source, GC_GEN_ARG2);

	/* Forced to the markers it has not got: refused, naming the library. */
	assert_int_equal(launch_resolve(argv, PROBE_USDT, &t, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "libpython3.12.so.1.0 has no GC markers"));
	globfree(&g);
}

static void test_resolve_too_old(void **state)
{
	char err[1024];
	struct target t;
	char *argv[2] = { NULL, NULL };
	glob_t g;

	if (glob("/root/.pyenv/versions/3.7.*/bin/python3.7", 0, NULL, &g)) {
		skip();
		return;
	}
	argv[0] = g.gl_pathv[0];
	assert_int_equal(launch_resolve(argv, PROBE_AUTO, &t, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "Python 3.7"));
	assert_non_null(strstr(err, "3.8 to 3.15"));
	globfree(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shebang),
		cmocka_unit_test(test_find_in_path),
		cmocka_unit_test(test_resolve_scripts),
		cmocka_unit_test(test_resolve_linked_libpython),
		cmocka_unit_test(test_resolve_too_old),
	};
	int ret = cmocka_run_group_tests_name("launch", tests, NULL, NULL);
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", script_dir);
	if (script_dir[sizeof(script_dir) - 2] != 'X' && system(cmd))
		ret = ret ? ret : 1;
	return ret;
}
