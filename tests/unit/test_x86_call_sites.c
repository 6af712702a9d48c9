// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * x86_call_sites() on pyenv's 3.13 libpython, whose gc_collect_main runs the gc.callbacks
 * through invoke_gc_callback.isra.0 with the phase "start" or "stop". The oracles are nm (the
 * symbols, which the stripped copy no longer has) and objdump (the calls), never the code under
 * test.
 */
#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "probe/x86/call_sites.h"

#define LIBPYTHON_GLOB	"/root/.pyenv/versions/3.13.*/lib/libpython3.13.so.1.0"
#define MAX_SITES	256

static char tmpdir[] = "/tmp/test_x86_call_sites.XXXXXX";
static char libpython[PATH_MAX], stripped[PATH_MAX], not_elf[PATH_MAX];

struct nm_sym {
	uint64_t value, size;
};

/* What objdump says one direct call is. */
struct oracle_call {
	uint64_t vaddr, target;
	unsigned int len;	/* to the next instruction */
};

static int setup(void **state)
{
	char cmd[2 * PATH_MAX + 64];
	glob_t g;
	FILE *f;

	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(not_elf, sizeof(not_elf), "%s/not-elf", tmpdir);
	f = fopen(not_elf, "w");
	if (!f || fputs("#!/bin/sh\n", f) < 0 || fclose(f))
		return -1;
	if (glob(LIBPYTHON_GLOB, 0, NULL, &g))
		return 0;
	snprintf(libpython, sizeof(libpython), "%s", g.gl_pathv[0]);
	globfree(&g);
	snprintf(stripped, sizeof(stripped), "%s/libpython3.13.so", tmpdir);
	snprintf(cmd, sizeof(cmd), "strip --strip-all -o '%s' '%s'", stripped, libpython);
	return system(cmd) ? -1 : 0;
}

static int teardown(void **state)
{
	if (stripped[0])
		unlink(stripped);
	unlink(not_elf);
	return rmdir(tmpdir);
}

/* A function symbol's address and size, from nm -S. */
static int nm_lookup(const char *path, const char *name, struct nm_sym *out)
{
	char cmd[PATH_MAX + 32], line[512], type, sym[256];
	int ret = -ENOENT;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "nm -S '%s' 2>/dev/null", path);
	f = popen(cmd, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		uint64_t value, size;

		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %c %255s", &value, &size, &type,
			   sym) == 4 && (type == 't' || type == 'T') && !strcmp(sym, name)) {
			out->value = value;
			out->size = size;
			ret = 0;
		}
	}
	pclose(f);
	return ret;
}

/* The target of the direct call that objdump shows as text, if it is one. */
static bool direct_call(char *text, uint64_t *target)
{
	char *sym = strstr(text, " <"), *call, *end;

	/* "call   25c3f0 <invoke_gc_callback.isra.0>", maybe after prefixes; not "call *%rax". */
	if (!sym)
		return false;
	*sym = '\0';
	for (call = text; (call = strstr(call, "call")); call += 4) {
		if ((call == text || call[-1] == ' ') && (call[4] == ' ' || call[4] == 'q'))
			break;
	}
	if (!call)
		return false;
	call += 4 + (call[4] == 'q');
	*target = strtoull(call, &end, 16);
	return end != call && !*end;
}

/* The direct calls objdump shows in [sym->value, sym->value + sym->size). */
static int objdump_calls(const char *path, const struct nm_sym *sym, struct oracle_call *out,
			 int max)
{
	char cmd[PATH_MAX + 128], line[512];
	struct oracle_call *last = NULL;
	uint64_t end = sym->value + sym->size;
	int n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "objdump -d --no-show-raw-insn --start-address=0x%" PRIx64
		 " --stop-address=0x%" PRIx64 " '%s'", sym->value, end, path);
	f = popen(cmd, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *insn = strchr(line, '\t');
		uint64_t vaddr, target;

		if (!insn || sscanf(line, " %" SCNx64 ":", &vaddr) != 1)
			continue;
		if (last)
			last->len = vaddr - last->vaddr;
		last = NULL;
		if (!direct_call(insn + 1, &target) || n == max)
			continue;
		last = &out[n++];
		*last = (struct oracle_call){ vaddr, target, 0 };
	}
	if (last)
		last->len = end - last->vaddr;
	pclose(f);
	return n;
}

static int sites_of(const char *path, uint64_t func, struct x86_call_site *out)
{
	char err[256] = "";
	int n;

	n = x86_call_sites(path, func, out, MAX_SITES, err, sizeof(err));
	if (n < 0)
		print_error("%s: %s\n", path, err);
	assert_in_range(n, 1, MAX_SITES);
	return n;
}

static void assert_same_sites(const struct x86_call_site *a, const struct x86_call_site *b, int n)
{
	int i, k;

	for (i = 0; i < n; i++) {
		assert_int_equal(a[i].vaddr, b[i].vaddr);
		assert_int_equal(a[i].len, b[i].len);
		assert_int_equal(a[i].target, b[i].target);
		for (k = 0; k < X86_CALL_NARGS; k++)
			assert_string_equal(a[i].arg_string[k], b[i].arg_string[k]);
	}
}

static void test_gc_callbacks(void **state)
{
	static struct x86_call_site sites[MAX_SITES];
	static struct oracle_call calls[MAX_SITES];
	struct nm_sym main_fn, callback;
	int i, n, ncalls, start = 0, stop = 0;

	if (!libpython[0]) {
		skip();
		return;
	}
	assert_int_equal(nm_lookup(libpython, "gc_collect_main", &main_fn), 0);
	assert_int_equal(nm_lookup(libpython, "invoke_gc_callback.isra.0", &callback), 0);
	n = sites_of(libpython, main_fn.value, sites);
	ncalls = objdump_calls(libpython, &main_fn, calls, MAX_SITES);
	/* gc_collect_main has no cold part in this build: objdump sees every call. */
	assert_int_equal(n, ncalls);
	for (i = 0; i < n; i++) {
		const struct x86_call_site *s = &sites[i];

		assert_int_equal(s->vaddr, calls[i].vaddr);
		assert_int_equal(s->target, calls[i].target);
		assert_int_equal(s->len, calls[i].len);
		if (s->target != callback.value)
			continue;
		/* The phase stays in rsi after GCC's isra; rdi is the interpreter, not a string. */
		assert_string_equal(s->arg_string[X86_ARG_RDI], "");
		start += !strcmp(s->arg_string[X86_ARG_RSI], "start");
		stop += !strcmp(s->arg_string[X86_ARG_RSI], "stop");
	}
	assert_int_equal(start, 1);
	assert_int_equal(stop, 1);
}

/* Without symbols, the same calls and strings. */
static void test_stripped(void **state)
{
	static struct x86_call_site sites[MAX_SITES], from_stripped[MAX_SITES];
	struct nm_sym main_fn, none;
	int n;

	if (!libpython[0]) {
		skip();
		return;
	}
	assert_int_equal(nm_lookup(libpython, "gc_collect_main", &main_fn), 0);
	assert_int_equal(nm_lookup(stripped, "gc_collect_main", &none), -ENOENT);
	n = sites_of(libpython, main_fn.value, sites);
	assert_int_equal(sites_of(stripped, main_fn.value, from_stripped), n);
	assert_same_sites(sites, from_stripped, n);
}

static void test_small_out(void **state)
{
	static struct x86_call_site sites[MAX_SITES];
	struct x86_call_site few[3];
	struct nm_sym main_fn;
	int n;

	if (!libpython[0]) {
		skip();
		return;
	}
	assert_int_equal(nm_lookup(libpython, "gc_collect_main", &main_fn), 0);
	n = sites_of(libpython, main_fn.value, sites);
	assert_true(n > 2);
	memset(few, 0x5a, sizeof(few));
	/* The count is the whole count; only the first calls are written. */
	assert_int_equal(x86_call_sites(libpython, main_fn.value, few, 2, NULL, 0), n);
	assert_same_sites(few, sites, 2);
	assert_int_equal(few[2].vaddr, 0x5a5a5a5a5a5a5a5aULL);
	assert_int_equal(x86_call_sites(libpython, main_fn.value, NULL, 0, NULL, 0), n);
}

static void assert_refused(const char *path, uint64_t func, struct x86_call_site *out, int max,
			   int expect, const char *says)
{
	char err[256] = "";

	assert_int_equal(x86_call_sites(path, func, out, max, err, sizeof(err)), expect);
	assert_true(err[0] && !strchr(err, '\n'));
	if (says && !strstr(err, says))
		fail_msg("\"%s\" does not say \"%s\"", err, says);
}

static void test_refused(void **state)
{
	struct x86_call_site out[1];
	struct nm_sym main_fn;

	assert_refused("/nonexistent/libpython3.13.so", 0x1000, out, 1, -ENOENT, NULL);
	assert_refused(not_elf, 0x1000, out, 1, -EINVAL, "not an ELF");
	assert_refused("/lib/x86_64-linux-gnu/libc.so.6", 0, out, 1, -ENOENT,
		       "starts no function");
	assert_refused("/lib/x86_64-linux-gnu/libc.so.6", 0, NULL, 1, -EINVAL, NULL);
	assert_refused("/lib/x86_64-linux-gnu/libc.so.6", 0, out, -1, -EINVAL, NULL);
	if (!libpython[0])
		return;
	assert_int_equal(nm_lookup(libpython, "gc_collect_main", &main_fn), 0);
	/* Inside a function is not its start. */
	assert_refused(libpython, main_fn.value + 1, out, 1, -ENOENT, "starts no function");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gc_callbacks),
		cmocka_unit_test(test_stripped),
		cmocka_unit_test(test_small_out),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests_name("x86_call_sites", tests, setup, teardown);
}
