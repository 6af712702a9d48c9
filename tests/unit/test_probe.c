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
#include <unistd.h>
#include <cmocka.h>

#include "probe/probe.h"
#include "probe/pyversion.h"

#define ERR_LEN	1024

static int plan_for(const char *path, const char *version, enum probe_mode mode,
		    struct probe_plan *plan, char *err)
{
	struct pyelf_info info;

	assert_int_equal(pyelf_inspect(path, &info), 0);
	return probe_plan_make(path, path, "", &info, version, false, mode, plan, err, ERR_LEN);
}

/* The pyenv libpython of a minor version, or NULL (the test is skipped). */
static char *pyenv_lib(const char *minor)
{
	static char path[4096];
	char pattern[128];
	glob_t g;

	snprintf(pattern, sizeof(pattern), "/root/.pyenv/versions/%s.*/lib/libpython%s*.so.1.0",
		 minor, minor);
	if (glob(pattern, 0, NULL, &g))
		return NULL;
	snprintf(path, sizeof(path), "%s", g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
	return path;
}

static void test_version_parse(void **state)
{
	struct py_version v;

	assert_int_equal(py_version_parse("3.12.1", &v), 0);
	assert_true(v.major == 3 && v.minor == 12 && v.micro == 1);
	assert_int_equal(py_version_parse("3.9", &v), 0);
	assert_true(v.minor == 9 && v.micro == -1);
	assert_int_equal(py_version_parse("3.13.0rc1", &v), 0);
	assert_true(v.minor == 13 && v.micro == 0);
	assert_int_equal(py_version_parse("python", &v), -EINVAL);
	assert_int_equal(py_version_parse("", &v), -EINVAL);
}

static void test_semantics_table(void **state)
{
	struct gc_semantics sem;
	struct py_version v = { 3, 0, -1 };
	char err[ERR_LEN];

	v.minor = 7;
	assert_int_equal(gc_semantics_for(&v, false, &sem, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "3.8 to 3.15"));
	v.minor = 8;
	assert_int_equal(gc_semantics_for(&v, false, &sem, err, sizeof(err)), 0);
	assert_true(sem.gcc_clones && !sem.recover_gen);
	v.minor = 12;
	assert_int_equal(gc_semantics_for(&v, false, &sem, err, sizeof(err)), 0);
	assert_string_equal(sem.function, "gc_collect_main");
	assert_true(sem.gen_source == GC_GEN_ARG2 && !sem.recover_gen && !sem.skip_nested);
	v.minor = 13;
	assert_int_equal(gc_semantics_for(&v, false, &sem, err, sizeof(err)), 0);
	assert_true(sem.recover_gen && sem.skip_nested);
	assert_int_equal(gc_semantics_for(&v, true, &sem, err, sizeof(err)), 0);
	assert_true(sem.free_threaded && !sem.recover_gen);
	/* 3.14: the incremental collector up to 3.14.4, and it must know which. */
	v.minor = 14;
	assert_int_equal(gc_semantics_for(&v, false, &sem, err, sizeof(err)), -ENOTSUP);
	v.micro = 4;
	assert_int_equal(gc_semantics_for(&v, false, &sem, err, sizeof(err)), 0);
	assert_string_equal(sem.function, "_PyGC_Collect");
	assert_true(sem.incremental);
	v.micro = 5;
	assert_int_equal(gc_semantics_for(&v, false, &sem, err, sizeof(err)), 0);
	assert_string_equal(sem.function, "gc_collect_main");
	assert_true(sem.recover_gen && !sem.incremental);
	v.minor = 15;
	v.micro = 0;
	assert_int_equal(gc_semantics_for(&v, false, &sem, err, sizeof(err)), 0);
	assert_string_equal(sem.function, "gc_collect_main");
	assert_true(sem.recover_gen && sem.skip_nested && !sem.incremental);
	v.minor = 16;
	assert_int_equal(gc_semantics_for(&v, false, &sem, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "3.8 to 3.15"));
}

static void test_markers_preferred(void **state)
{
	struct probe_plan plan;
	char err[ERR_LEN];

	assert_int_equal(plan_for("/usr/bin/python3.11", "3.11.2", PROBE_AUTO, &plan, err), 0);
	assert_int_equal(plan.tier, PROBE_USDT);
	assert_int_equal(plan.nsites, 0);
	/* Debian's build is stripped and its debug file is not installed: no symbol tier. */
	assert_int_equal(plan_for("/usr/bin/python3.11", "3.11.2", PROBE_SYMBOL, &plan, err),
			 -ENOENT);
	assert_non_null(strstr(err, "no symbols"));
}

static void test_symbol_tier_per_version(void **state)
{
	static const struct {
		const char *minor, *function;
		int gen_source;
	} cases[] = {
		{ "3.9", "collect", GC_GEN_ARG2 },
		{ "3.10", "gc_collect_main", GC_GEN_ARG2 },
		{ "3.11", "gc_collect_main", GC_GEN_ARG2 },
		{ "3.12", "gc_collect_main", GC_GEN_ARG2 },
		{ "3.13", "gc_collect_main", GC_GEN_ARG2 },
	};
	struct probe_plan plan;
	char err[ERR_LEN];
	unsigned int i;
	int tested = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *lib = pyenv_lib(cases[i].minor);

		if (!lib)
			continue;
		assert_int_equal(plan_for(lib, cases[i].minor, PROBE_AUTO, &plan, err), 0);
		assert_int_equal(plan.tier, PROBE_SYMBOL);
		assert_int_equal(plan.nsites, 1);
		assert_string_equal(plan.sites[0].what, cases[i].function);
		assert_int_equal(plan.sites[0].cfg.gen_source, cases[i].gen_source);
		assert_true(plan.sites[0].offset > 0 &&
			    plan.sites[0].offset <= plan.sites[0].vaddr);
		assert_non_null(strstr(plan.source, "symtab from "));
		tested++;
	}
	if (!tested)
		skip();
}

static void test_38_clones(void **state)
{
	char *lib = pyenv_lib("3.8");
	struct probe_plan plan;
	char err[ERR_LEN];
	int i, consts = 0, args = 0;

	if (!lib) {
		skip();
		return;
	}
	assert_int_equal(plan_for(lib, "3.8", PROBE_AUTO, &plan, err), 0);
	assert_int_equal(plan.nsites, 2);
	for (i = 0; i < 2; i++) {
		assert_non_null(strstr(plan.sites[i].what, "collect.constprop."));
		if (plan.sites[i].cfg.gen_source == GC_GEN_CONST) {
			assert_int_equal(plan.sites[i].cfg.gen_const, 2);
			consts++;
		} else {
			assert_int_equal(plan.sites[i].cfg.gen_source, GC_GEN_ARG1);
			args++;
		}
	}
	assert_true(consts == 1 && args == 1);
	assert_true(plan.sites[0].vaddr != plan.sites[1].vaddr);
}

/*
 * Without DWARF, 3.13's counters come from _Py_DebugOffsets: they must land on exactly what
 * DWARF says of the same build.
 */
static void test_313_counters_without_dwarf(void **state)
{
	char *lib = pyenv_lib("3.13"), dir[] = "/tmp/gcpause-probe-XXXXXX", copy[256], cmd[4096];
	struct probe_plan with_dwarf, stripped;
	char err[ERR_LEN];

	if (!lib) {
		skip();
		return;
	}
	assert_int_equal(plan_for(lib, "3.13.0", PROBE_AUTO, &with_dwarf, err), 0);
	assert_string_equal(with_dwarf.counters_source, "DWARF");
	assert_true(with_dwarf.sites[0].cfg.recover_gen);

	assert_non_null(mkdtemp(dir));
	snprintf(copy, sizeof(copy), "%s/libpython3.13.so.1.0", dir);
	snprintf(cmd, sizeof(cmd), "strip --strip-all -o %s %s", copy, lib);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(plan_for(copy, "3.13.0", PROBE_AUTO, &stripped, err), 0);
	assert_int_equal(stripped.tier, PROBE_STRIPPED);
	assert_string_equal(stripped.counters_source, "_Py_DebugOffsets");
	assert_string_equal(stripped.caveat, "");
	assert_true(stripped.sites[0].vaddr == with_dwarf.sites[0].vaddr);
	/* The gc.callbacks calls, found from the code alone, in both. */
	assert_true(with_dwarf.sites[0].window_start_offset > with_dwarf.sites[0].offset);
	assert_true(with_dwarf.sites[0].window_end_offset > with_dwarf.sites[0].offset);
	assert_true(stripped.sites[0].window_start_offset ==
		    with_dwarf.sites[0].window_start_offset);
	assert_true(stripped.sites[0].window_end_offset == with_dwarf.sites[0].window_end_offset);
	assert_memory_equal(&stripped.sites[0].cfg, &with_dwarf.sites[0].cfg,
			    sizeof(struct gc_func_config));
	unlink(copy);
	rmdir(dir);
}

static void test_no_usable_probe(void **state)
{
	struct probe_plan plan;
	char err[ERR_LEN];
	char *lib = pyenv_lib("3.7");

	if (!lib) {
		skip();
		return;
	}
	assert_int_equal(plan_for(lib, "3.7", PROBE_AUTO, &plan, err), -ENOTSUP);
	assert_non_null(strstr(err, "no GC markers"));
	assert_null(strchr(err, '\n'));
	/* Without a version nothing is guessed. */
	assert_int_equal(plan_for(lib, "", PROBE_AUTO, &plan, err), -ENOTSUP);
	assert_non_null(strstr(err, "version cannot be told"));
}

static void test_mode_names(void **state)
{
	enum probe_mode m;

	assert_int_equal(probe_mode_parse("stripped", &m), 0);
	assert_int_equal(m, PROBE_STRIPPED);
	assert_string_equal(probe_mode_name(PROBE_SYMBOL), "symbol");
	assert_int_equal(probe_mode_parse("fentry", &m), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_parse),
		cmocka_unit_test(test_semantics_table),
		cmocka_unit_test(test_markers_preferred),
		cmocka_unit_test(test_symbol_tier_per_version),
		cmocka_unit_test(test_38_clones),
		cmocka_unit_test(test_313_counters_without_dwarf),
		cmocka_unit_test(test_no_usable_probe),
		cmocka_unit_test(test_mode_names),
	};

	return cmocka_run_group_tests_name("probe", tests, NULL, NULL);
}
