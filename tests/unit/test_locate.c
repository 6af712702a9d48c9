// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The locator runs on stripped copies of the pyenv builds and is checked against the symbols of
 * the originals; Debian's two 3.11 builds (a shared -O2 one and a PGO+LTO executable, both
 * stripped) are checked against their USDT markers, which sit inside the collection function.
 * The oracles use libelf, readelf and objdump, never the locator's own code.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <glob.h>
#include <inttypes.h>
#include <libelf.h>
#include <limits.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "probe/x86/locate.h"

#define DEBIAN_LIBPYTHON	"/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"
#define DEBIAN_PYTHON		"/usr/bin/python3.11"
#define LIBC			"/lib/x86_64-linux-gnu/libc.so.6"
#define NVERSIONS		6

extern char **environ;

static const char *const minors[NVERSIONS] = { "3.8", "3.9", "3.10", "3.11", "3.12", "3.13" };
static char tmpdir[] = "/tmp/test_locate.XXXXXX";
static char original[NVERSIONS][PATH_MAX], stripped[NVERSIONS][PATH_MAX];

struct sym {
	uint64_t value, size;
};

static int run(const char *const argv[])
{
	pid_t pid;
	int status;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ))
		return -1;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int setup(void **state)
{
	int i;

	if (!mkdtemp(tmpdir) || elf_version(EV_CURRENT) == EV_NONE)
		return -1;
	for (i = 0; i < NVERSIONS; i++) {
		char pattern[128];
		glob_t g;

		snprintf(pattern, sizeof(pattern),
			 "/root/.pyenv/versions/%s.*/lib/libpython%s.so.1.0", minors[i], minors[i]);
		if (glob(pattern, 0, NULL, &g))
			continue;
		snprintf(original[i], sizeof(original[i]), "%s", g.gl_pathv[0]);
		globfree(&g);
		snprintf(stripped[i], sizeof(stripped[i]), "%s/libpython%s.so", tmpdir, minors[i]);
		if (run((const char *const[]){ "strip", "--strip-all", "-o", stripped[i],
					       original[i], NULL }))
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	char path[PATH_MAX];
	int i;

	for (i = 0; i < NVERSIONS; i++) {
		if (stripped[i][0])
			unlink(stripped[i]);
	}
	snprintf(path, sizeof(path), "%s/not-elf", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/aarch64", tmpdir);
	unlink(path);
	return rmdir(tmpdir);
}

static int version_index(const char *minor)
{
	int i;

	for (i = 0; i < NVERSIONS; i++) {
		if (!strcmp(minors[i], minor))
			return i;
	}
	return -1;
}

/* A local or global symbol from .symtab, which only the unstripped file has. */
static int symtab_lookup(const char *path, const char *name, struct sym *out)
{
	int fd = open(path, O_RDONLY), ret = -ENOENT;
	Elf_Scn *scn = NULL;
	Elf *elf;

	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	while (elf && (scn = elf_nextscn(elf, scn)) && ret) {
		Elf_Data *data = elf_getdata(scn, NULL);
		GElf_Shdr sh;
		size_t i;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !data)
			continue;
		for (i = 0; i < sh.sh_size / sh.sh_entsize && ret; i++) {
			GElf_Sym s;
			const char *n;

			if (!gelf_getsym(data, i, &s))
				continue;
			n = elf_strptr(elf, sh.sh_link, s.st_name);
			if (n && !strcmp(n, name) && GELF_ST_TYPE(s.st_info) == STT_FUNC) {
				out->value = s.st_value;
				out->size = s.st_size;
				ret = 0;
			}
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return ret;
}

/* Whether the caller's bytes hold a call or jump (e8/e9 rel32) to target. */
static bool calls(const char *path, const struct sym *caller, uint64_t target)
{
	int fd = open(path, O_RDONLY);
	Elf_Scn *scn = NULL;
	bool found = false;
	Elf *elf;

	if (fd < 0)
		return false;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	while (elf && (scn = elf_nextscn(elf, scn)) && !found) {
		Elf_Data *data = elf_getdata(scn, NULL);
		const unsigned char *p;
		GElf_Shdr sh;
		uint64_t off;

		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR) || !data ||
		    caller->value < sh.sh_addr || caller->value + caller->size > sh.sh_addr +
		    data->d_size)
			continue;
		p = (const unsigned char *)data->d_buf + (caller->value - sh.sh_addr);
		for (off = 0; off + 5 <= caller->size && !found; off++) {
			int32_t rel;

			memcpy(&rel, p + off + 1, 4);
			found = (p[off] == 0xe8 || p[off] == 0xe9) &&
				caller->value + off + 5 + rel == target;
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return found;
}

static void check_pyenv_on(const char *path, int v, const char *minor)
{
	struct gc_func_site out[2];
	char err[256];
	struct sym col, clone0, clone1, api;
	int n;

	n = locate_gc_functions(path, minor, out, 2, err, sizeof(err));
	if (n < 0)
		print_error("%s: %s\n", path, err);
	if (v == 0) {
		const struct gc_func_site *var, *fixed;

		/* Which clone is which: the one PyGC_Collect calls has generation 2 folded in. */
		assert_int_equal(n, 2);
		assert_int_equal(symtab_lookup(original[v], "collect.constprop.0", &clone0), 0);
		assert_int_equal(symtab_lookup(original[v], "collect.constprop.1", &clone1), 0);
		assert_int_equal(symtab_lookup(original[v], "PyGC_Collect", &api), 0);
		if (!calls(original[v], &api, clone0.value)) {
			struct sym t = clone0;

			clone0 = clone1;
			clone1 = t;
		}
		assert_true(calls(original[v], &api, clone0.value));
		assert_false(calls(original[v], &api, clone1.value));
		assert_int_equal(symtab_lookup(original[v], "_PyObject_GC_Malloc", &api), 0);
		assert_true(calls(original[v], &api, clone1.value));
		fixed = out[0].gen_arg < 0 ? &out[0] : &out[1];
		var = out[0].gen_arg < 0 ? &out[1] : &out[0];
		assert_int_equal(fixed->vaddr, clone0.value);
		assert_int_equal(fixed->gen_arg, -1);
		assert_int_equal(fixed->gen_const, 2);
		assert_int_equal(var->vaddr, clone1.value);
		assert_int_equal(var->gen_arg, 0);	/* the state pointer is folded in too */
		assert_non_null(strstr(fixed->evidence, "PyGC_Collect"));
		assert_non_null(strstr(var->evidence, "_PyObject_GC_"));
		return;
	}
	assert_int_equal(n, 1);
	/* 3.9 still calls it collect(); 3.10 renamed it. */
	assert_int_equal(symtab_lookup(original[v], v == 1 ? "collect" : "gc_collect_main", &col),
			 0);
	assert_int_equal(out[0].vaddr, col.value);
	assert_int_equal(out[0].gen_arg, 1);
	assert_non_null(strstr(out[0].evidence, "PyGC_Collect"));
}

static void check_pyenv(const char *minor)
{
	int v = version_index(minor);
	struct sym col;

	if (!original[v][0]) {
		skip();
		return;
	}
	/* The copy really is stripped, and the original really is not. */
	assert_int_equal(symtab_lookup(stripped[v], "PyGC_Collect", &col), -ENOENT);
	assert_int_equal(symtab_lookup(original[v], "PyGC_Collect", &col), 0);
	check_pyenv_on(stripped[v], v, minor);
	check_pyenv_on(original[v], v, minor);
}

static void test_pyenv_3_8(void **state)
{
	check_pyenv("3.8");
}

static void test_pyenv_3_9(void **state)
{
	check_pyenv("3.9");
}

static void test_pyenv_3_10(void **state)
{
	check_pyenv("3.10");
}

static void test_pyenv_3_11(void **state)
{
	check_pyenv("3.11");
}

static void test_pyenv_3_12(void **state)
{
	check_pyenv("3.12");
}

static void test_pyenv_3_13(void **state)
{
	check_pyenv("3.13");
}

static void assert_refused(const char *path, const char *version, int max, int expect,
			   const char *says)
{
	struct gc_func_site out[2] = { { .vaddr = 0x5a5a } };
	char err[256] = "";

	assert_int_equal(locate_gc_functions(path, version, out, max, err, sizeof(err)), expect);
	assert_true(err[0] && !strchr(err, '\n'));
	if (says && !strstr(err, says))
		fail_msg("\"%s\" does not say \"%s\"", err, says);
	assert_int_equal(out[0].vaddr, 0x5a5a);	/* nothing written */
}

static void test_wrong_version(void **state)
{
	int i, j, tried = 0;

	for (i = 0; i < NVERSIONS; i++) {
		for (j = 0; j < NVERSIONS && stripped[i][0]; j++, tried++) {
			if (i != j)
				assert_refused(stripped[i], minors[j], 2, -EINVAL, "not CPython");
		}
	}
	if (access(DEBIAN_LIBPYTHON, R_OK) == 0) {
		assert_refused(DEBIAN_LIBPYTHON, "3.12", 2, -EINVAL, "Py_Version is 3.11");
		assert_refused(DEBIAN_LIBPYTHON, "3.10", 2, -EINVAL, "Py_Version is 3.11");
		tried++;
	}
	if (!tried)
		skip();
}

static void test_not_python(void **state)
{
	char path[PATH_MAX];
	glob_t g;
	FILE *f;

	assert_refused(LIBC, "3.11", 2, -ENOENT, "PyGC_Collect");
	assert_refused("/nonexistent/libpython3.11.so", "3.11", 2, -ENOENT, NULL);
	snprintf(path, sizeof(path), "%s/not-elf", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\nexec python3 \"$@\"\n", f);
	assert_int_equal(fclose(f), 0);
	assert_refused(path, "3.11", 2, -EINVAL, "not an ELF");
	/* pyenv's python3.12 is a launcher: the interpreter is in its libpython. */
	if (!glob("/root/.pyenv/versions/3.12.*/bin/python3.12", 0, NULL, &g)) {
		assert_refused(g.gl_pathv[0], "3.12", 2, -ENOENT, "PyGC_Collect");
		globfree(&g);
	}
}

static void test_not_x86_64(void **state)
{
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB,
			     EV_CURRENT },
		.e_type = ET_DYN,
		.e_machine = EM_AARCH64,
		.e_version = EV_CURRENT,
		.e_ehsize = sizeof(Elf64_Ehdr),
	};
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/aarch64", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(&eh, sizeof(eh), 1, f), 1);
	assert_int_equal(fclose(f), 0);
	assert_refused(path, "3.12", 2, -ENOTSUP, "x86-64");
}

static void test_bad_arguments(void **state)
{
	static const char *const unsupported[] = { "3.7", "3.16", "2.7", "4.0" };
	static const char *const malformed[] = { "abc", "", "3", "3.x", "3.12rc1" };
	struct gc_func_site out[2];
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		assert_refused(LIBC, unsupported[i], 2, -ENOTSUP, "3.8 to 3.15");
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
		assert_refused(LIBC, malformed[i], 2, -EINVAL, NULL);
	assert_refused(LIBC, NULL, 2, -EINVAL, NULL);
	assert_int_equal(locate_gc_functions(LIBC, "3.11", out, 0, err, sizeof(err)), -EINVAL);
	/* 3.8 has two functions: one slot is not enough, and nothing half-done is returned. */
	if (stripped[0][0])
		assert_refused(stripped[0], "3.8", 1, -EINVAL, "two functions");
	/* A micro version is accepted, and no error buffer at all is fine. */
	assert_int_equal(locate_gc_functions(LIBC, "3.11", out, 2, NULL, 0), -ENOENT);
	if (stripped[4][0])
		assert_int_equal(locate_gc_functions(stripped[4], "3.12.1", out, 2, NULL, 0), 1);
}

/* Output lines of a command, through a shell-free pipe. */
static FILE *run_pipe(const char *const argv[], pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	int fds[2];
	FILE *f;

	if (pipe(fds))
		return NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	if (posix_spawnp(pid, argv[0], &fa, NULL, (char *const *)argv, environ)) {
		posix_spawn_file_actions_destroy(&fa);
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (!f)
		close(fds[0]);
	return f;
}

static void end_pipe(FILE *f, pid_t pid)
{
	int status;

	fclose(f);
	waitpid(pid, &status, 0);
}

/* The python:gc__start and python:gc__done locations, from readelf -n. */
static int marker_pcs(const char *path, uint64_t pcs[2])
{
	FILE *f;
	char line[512];
	pid_t pid;
	int which = -1, n = 0;

	f = run_pipe((const char *const[]){ "readelf", "-n", path, NULL }, &pid);
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *loc = strstr(line, "Location: 0x");

		if (strstr(line, "Name: gc__start"))
			which = 0;
		else if (strstr(line, "Name: gc__done"))
			which = 1;
		else if (strstr(line, "Name: "))
			which = -1;
		else if (loc && which >= 0) {
			pcs[which] = strtoull(loc + 10, NULL, 16);
			n++;
			which = -1;
		}
	}
	end_pipe(f, pid);
	return n;
}

/* The FDE range holding addr, from readelf --debug-dump=frames. */
static int fde_of(const char *path, uint64_t addr, uint64_t *start, uint64_t *end)
{
	FILE *f;
	char line[512];
	pid_t pid;
	int ret = -ENOENT;

	f = run_pipe((const char *const[]){ "readelf", "--debug-dump=frames", path, NULL }, &pid);
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *pc = strstr(line, " FDE ");
		uint64_t s, e;

		pc = pc ? strstr(pc, "pc=") : NULL;
		if (pc && sscanf(pc, "pc=%" SCNx64 "..%" SCNx64, &s, &e) == 2 && s <= addr &&
		    addr < e && ret) {
			*start = s;
			*end = e;
			ret = 0;
		}
	}
	end_pipe(f, pid);
	return ret;
}

/* Whether objdump shows a jump in [from, to) to somewhere in [lo, hi). */
static bool jumps_into(const char *path, uint64_t from, uint64_t to, uint64_t lo, uint64_t hi)
{
	char start[32], stop[32], line[512];
	bool found = false;
	pid_t pid;
	FILE *f;

	snprintf(start, sizeof(start), "--start-address=0x%" PRIx64, from);
	snprintf(stop, sizeof(stop), "--stop-address=0x%" PRIx64, to);
	f = run_pipe((const char *const[]){ "objdump", "-d", "--no-show-raw-insn", start, stop,
					    path, NULL }, &pid);
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *insn = strchr(line, '\t');
		uint64_t t;

		if (!insn || insn[1] != 'j' || !(insn = strpbrk(insn + 1, " ")))
			continue;
		t = strtoull(insn, NULL, 16);
		found |= t >= lo && t < hi;
	}
	end_pipe(f, pid);
	return found;
}

/*
 * A third and fourth build: the markers Debian compiled into the collection function must lie
 * in the located function, or in a cold part of it (an FDE it jumps into, with PGO).
 */
static void check_markers(const char *path)
{
	uint64_t pcs[2], fs, fe, cs, ce;
	struct gc_func_site out[2];
	char err[256];
	int i, n;

	if (access(path, R_OK) || marker_pcs(path, pcs) != 2) {
		skip();
		return;
	}
	n = locate_gc_functions(path, "3.11", out, 2, err, sizeof(err));
	if (n < 0)
		print_error("%s: %s\n", path, err);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].gen_arg, 1);
	assert_int_equal(fde_of(path, out[0].vaddr, &fs, &fe), 0);
	assert_int_equal(fs, out[0].vaddr);
	for (i = 0; i < 2; i++) {
		if (pcs[i] >= fs && pcs[i] < fe)
			continue;
		assert_int_equal(fde_of(path, pcs[i], &cs, &ce), 0);
		if (!jumps_into(path, fs, fe, cs, ce))
			fail_msg("marker at 0x%" PRIx64 " is neither in 0x%" PRIx64 "..0x%" PRIx64
				 " nor in a part it jumps to", pcs[i], fs, fe);
	}
}

static void test_debian_libpython(void **state)
{
	check_markers(DEBIAN_LIBPYTHON);
}

static void test_debian_python_pgo(void **state)
{
	check_markers(DEBIAN_PYTHON);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pyenv_3_8),
		cmocka_unit_test(test_pyenv_3_9),
		cmocka_unit_test(test_pyenv_3_10),
		cmocka_unit_test(test_pyenv_3_11),
		cmocka_unit_test(test_pyenv_3_12),
		cmocka_unit_test(test_pyenv_3_13),
		cmocka_unit_test(test_wrong_version),
		cmocka_unit_test(test_not_python),
		cmocka_unit_test(test_not_x86_64),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_debian_libpython),
		cmocka_unit_test(test_debian_python_pgo),
	};

	return cmocka_run_group_tests_name("locate", tests, setup, teardown);
}
