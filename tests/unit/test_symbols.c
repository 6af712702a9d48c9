// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Symbols from every source symtab_load() knows, on fixtures built here at test time with cc,
 * strip, objcopy and xz (as Fedora makes MiniDebugInfo), and on the real Python builds present.
 */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "probe/elf/elfutil.h"
#include "probe/elf/symbols.h"

#define DEBIAN_PYTHON		"/usr/bin/python3.11"
/* Debian 12's python3.11 3.11.2-6+deb12u6: facts below were read with readelf -lW/-n. */
#define DEBIAN_PYTHON_BID	"571d98e01096d5c1c32420d229a6731a0a50d2a0"
#define SERVER_PYTHON		"/usr/bin/python3"

static char tmp[64];	/* every fixture lives under this mkdtemp() directory */
static char lib_bid[128];	/* build-id of lib.so and its stripped copies */
static uint64_t local_vaddr, exported_vaddr;

/* Two units: "dup_name" is a local object in one and a local function in the other. */
static const char lib_c[] =
	"static int dup_name = 5;\n"
	"static int __attribute__((noinline)) gcp_local_collect(int generation)\n"
	"{\n"
	"	return generation * 3 + dup_name;\n"
	"}\n"
	"int gcp_exported(int x)\n"
	"{\n"
	"	return gcp_local_collect(x) + 1;\n"
	"}\n"
	"int gcp_exported_data = 42;\n";
static const char lib2_c[] =
	"static int __attribute__((noinline, used)) dup_name(void)\n"
	"{\n"
	"	return 7;\n"
	"}\n"
	"int gcp_second(void)\n"
	"{\n"
	"	return dup_name();\n"
	"}\n";

static int vsh(bool loud, const char *fmt, va_list ap)
{
	char cmd[4096];
	int st;

	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	if (loud && WEXITSTATUS(st))
		fprintf(stderr, "command failed (%d): %s\n", WEXITSTATUS(st), cmd);
	return WEXITSTATUS(st);
}

/* Runs a shell command built like printf; returns its exit status (-1 if it did not run). */
static int sh(const char *fmt, ...)
{
	va_list ap;
	int st;

	va_start(ap, fmt);
	st = vsh(true, fmt, ap);
	va_end(ap);
	return st;
}

/* The same, for commands whose failure is an expected answer. */
static int sh_status(const char *fmt, ...)
{
	va_list ap;
	int st;

	va_start(ap, fmt);
	st = vsh(false, fmt, ap);
	va_end(ap);
	return st;
}

/* A path of PATH_MAX bytes built like printf; a test has no use for a cut one. */
static const char *pf(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && n < PATH_MAX);
	return buf;
}

static const char *tp(char *buf, const char *rel)
{
	return pf(buf, "%s/%s", tmp, rel);
}

static int write_file(const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f = fopen(tp(path, rel), "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static bool exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

/*
 * The file offset of vaddr as readelf -lW's PT_LOAD table gives it: an executable LOAD whose
 * [VirtAddr, VirtAddr + FileSiz) holds vaddr. An implementation apart from the one tested.
 */
static int readelf_offset(const char *path, uint64_t vaddr, uint64_t *off)
{
	unsigned long o, va, pa, filesz, memsz;
	char cmd[PATH_MAX + 32], line[512];
	int ret = -ENOENT, n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -lW '%s'", path);
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	while (fgets(line, sizeof(line), p)) {
		char *flags;

		if (sscanf(line, " LOAD 0x%lx 0x%lx 0x%lx 0x%lx 0x%lx %n", &o, &va, &pa, &filesz,
			   &memsz, &n) != 5)
			continue;
		flags = line + n;
		if (strstr(flags, "0x"))
			*strstr(flags, "0x") = '\0';	/* the alignment follows the flags */
		if (strchr(flags, 'E') && vaddr >= va && vaddr < va + filesz && ret) {
			*off = vaddr - va + o;
			ret = 0;
		}
	}
	pclose(p);
	return ret;
}

/* The build-id as readelf -n prints it, "" when there is none. */
static void readelf_build_id(const char *path, char *hex, size_t len)
{
	char cmd[PATH_MAX + 64], line[512];
	FILE *p;

	hex[0] = '\0';
	snprintf(cmd, sizeof(cmd), "readelf -nW '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	if (!p)
		return;
	while (fgets(line, sizeof(line), p)) {
		char *b = strstr(line, "Build ID: ");

		if (b && sscanf(b + 10, "%127s", hex) == 1 && strlen(hex) < len)
			break;
	}
	pclose(p);
}

/* Loads path, expecting success from source; the caller frees. */
static struct symtab *load_ok(const char *path, const char *root, enum symtab_source source)
{
	struct symtab *st = NULL;
	char err[1024] = "";
	int ret;

	ret = symtab_load(path, root, &st, err, sizeof(err));
	if (ret)
		fprintf(stderr, "symtab_load(%s): %d %s\n", path, ret, err);
	assert_int_equal(ret, 0);
	assert_non_null(st);
	assert_string_equal(symtab_source_name(symtab_source(st)), symtab_source_name(source));
	return st;
}

/* The fixture's functions are where the unstripped library has them. */
static void check_fixture_symbols(const struct symtab *st)
{
	const struct symbol *s;

	s = symtab_find(st, "gcp_local_collect");
	assert_non_null(s);
	assert_true(s->is_func);
	assert_true(s->vaddr == local_vaddr);
	assert_true(s->size > 0);
	s = symtab_find(st, "gcp_exported");
	assert_non_null(s);
	assert_true(s->is_func);
	assert_true(s->vaddr == exported_vaddr);
	assert_string_equal(symtab_build_id(st), lib_bid);
}

static int group_setup(void **state)
{
	char a[PATH_MAX], b[PATH_MAX];
	struct symtab *st = NULL;
	const struct symbol *s;
	char err[256];

	/* No test may reach out to a real debuginfod server. */
	unsetenv("DEBUGINFOD_URLS");
	strcpy(tmp, "/tmp/gcpause-symbols-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	if (write_file("lib.c", lib_c) || write_file("lib2.c", lib2_c) ||
	    write_file("other.c", "int gcp_other(int x) { return x; }\n"
				 "static int gcp_other_local(void) { return 1; }\n"
				 "int gcp_other2(void) { return gcp_other_local(); }\n"))
		return -1;
	if (sh("cd '%s' && cc -shared -fPIC -g -Wl,--build-id -o lib.so lib.c lib2.c && "
	       "cc -shared -fPIC -g -Wl,--build-id -o other.so other.c && "
	       "cc -shared -fPIC -g -Wl,--build-id=none -o nobid.so lib.c lib2.c && "
	       "objcopy --only-keep-debug lib.so lib.debug && "
	       "objcopy --only-keep-debug other.so other.debug && "
	       "objcopy --only-keep-debug nobid.so nobid.debug && "
	       "strip --strip-all -o stripped.so lib.so && "
	       "strip --strip-all -o nobid-stripped.so nobid.so", tmp))
		return -1;
	if (elf_read_build_id(tp(a, "lib.so"), lib_bid, sizeof(lib_bid)))
		return -1;
	if (symtab_load(tp(b, "lib.so"), tmp, &st, err, sizeof(err)))
		return -1;
	s = symtab_find(st, "gcp_local_collect");
	local_vaddr = s ? s->vaddr : 0;
	s = symtab_find(st, "gcp_exported");
	exported_vaddr = s ? s->vaddr : 0;
	symtab_free(st);
	return local_vaddr && exported_vaddr ? 0 : -1;
}

static int group_teardown(void **state)
{
	if (!strncmp(tmp, "/tmp/gcpause-symbols-", 21))
		sh("rm -rf '%s'", tmp);
	return 0;
}

static void test_self(void **state)
{
	char path[PATH_MAX], bid[128];
	const struct symbol *s;
	struct symtab *st;

	st = load_ok(tp(path, "lib.so"), tmp, SYMTAB_SELF);
	check_fixture_symbols(st);
	assert_string_equal(symtab_source_path(st), path);
	/* Built with -g: the library is its own DWARF file. */
	assert_non_null(symtab_dwarf_file(st));
	assert_string_equal(symtab_dwarf_file(st), path);
	readelf_build_id(path, bid, sizeof(bid));
	assert_true(strlen(bid) == 40);
	assert_string_equal(symtab_build_id(st), bid);

	/* A local object and a local function share a name: the function wins. */
	s = symtab_find(st, "dup_name");
	assert_non_null(s);
	assert_true(s->is_func);
	s = symtab_find(st, "gcp_exported_data");
	assert_non_null(s);
	assert_false(s->is_func);
	assert_null(symtab_find(st, "gcp_local"));	/* exact names only */
	assert_null(symtab_find(st, "gcp_local_collectx"));
	assert_null(symtab_find(st, ""));
	symtab_free(st);
}

struct count {
	int funcs, total;
	bool saw_local, saw_exported;
	const char *last;
	int stop_after;
};

static int count_sym(const struct symbol *sym, void *arg)
{
	struct count *c = arg;

	if (c->last)
		assert_true(strcmp(c->last, sym->name) <= 0);	/* name order */
	c->last = sym->name;
	c->total++;
	c->funcs += sym->is_func;
	c->saw_local |= !strcmp(sym->name, "gcp_local_collect");
	c->saw_exported |= !strcmp(sym->name, "gcp_exported");
	assert_true(sym->name[0] != '\0');
	return c->stop_after && c->total == c->stop_after ? 77 : 0;
}

static void test_foreach(void **state)
{
	struct count c = { 0 };
	char path[PATH_MAX];
	struct symtab *st;

	st = load_ok(tp(path, "lib.so"), tmp, SYMTAB_SELF);
	assert_int_equal(symtab_foreach(st, count_sym, &c), 0);
	assert_true(c.saw_local && c.saw_exported);
	assert_true(c.funcs >= 4 && c.total > c.funcs);
	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	assert_int_equal(symtab_foreach(st, count_sym, &c), 77);
	assert_int_equal(c.total, 2);
	symtab_free(st);
}

static void test_stripped_enoent(void **state)
{
	char path[PATH_MAX], root[PATH_MAX], cache[PATH_MAX], err[1024] = "";
	struct symtab *st = (struct symtab *)1;
	char want[PATH_MAX];

	tp(root, "empty-root");
	assert_int_equal(mkdir(root, 0755), 0);
	/* The cache debuginfod would create shows whether it was started at all. */
	setenv("DEBUGINFOD_CACHE_PATH", tp(cache, "cache-unused"), 1);
	assert_int_equal(symtab_load(tp(path, "stripped.so"), root, &st, err, sizeof(err)),
			 -ENOENT);
	assert_null(st);
	assert_non_null(strstr(err, "no .symtab"));
	assert_non_null(strstr(err, "no MiniDebugInfo"));
	pf(want, "no debug file for build-id %s under %s/usr/lib/debug",
		 lib_bid, root);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "no .gnu_debuglink"));
	assert_non_null(strstr(err, "DEBUGINFOD_URLS not set"));
	assert_false(exists(cache));

	/* Set but empty counts as not set. */
	setenv("DEBUGINFOD_URLS", "", 1);
	assert_int_equal(symtab_load(path, root, &st, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "DEBUGINFOD_URLS not set"));
	assert_false(exists(cache));
	unsetenv("DEBUGINFOD_URLS");
	unsetenv("DEBUGINFOD_CACHE_PATH");

	/* A short err buffer is cut, not overrun. */
	memset(err, 'x', sizeof(err));
	assert_int_equal(symtab_load(path, root, &st, err, 8), -ENOENT);
	assert_int_equal(strlen(err), 7);
}

static void test_not_elf(void **state)
{
	char path[PATH_MAX], err[256];
	struct symtab *st;
	uint64_t off;

	assert_int_equal(symtab_load(tp(path, "lib.c"), "", &st, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "not an ELF file"));
	assert_int_equal(symtab_load(tp(path, "missing.so"), NULL, &st, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "missing.so"));
	assert_int_equal(elf_read_build_id(tp(path, "lib.c"), err, sizeof(err)), -ENOEXEC);
	assert_int_equal(elf_vaddr_to_offset(tp(path, "lib.c"), 0, &off), -ENOEXEC);
}

/* As Fedora's find-debuginfo makes it: the local functions' symbols, xz-compressed. */
static void test_minidebuginfo(void **state)
{
	char path[PATH_MAX], mini[PATH_MAX];
	const struct symbol *s;
	struct symtab *st;

	assert_int_equal(sh("cd '%s' && mkdir mini && cd mini && cp ../stripped.so lib.so && "
			    "nm -D ../lib.so --format=posix --defined-only | awk '{ print $1 }' | "
			    "sort > dynsyms && "
			    "nm ../lib.debug --format=posix --defined-only | "
			    "awk '{ if ($2 == \"T\" || $2 == \"t\" || $2 == \"D\") print $1 }' | "
			    "sort > funcsyms && comm -13 dynsyms funcsyms > keep_symbols && "
			    "objcopy -S --remove-section .gdb_index --remove-section .comment "
			    "--keep-symbols=keep_symbols ../lib.debug mini_debuginfo && "
			    "xz mini_debuginfo && "
			    "objcopy --add-section .gnu_debugdata=mini_debuginfo.xz lib.so", tmp),
			 0);
	/* The fixture is what it should be: no .symtab, and the exported function left out. */
	assert_int_equal(sh_status("readelf -SW '%s/mini/lib.so' | grep -q ' .symtab '", tmp), 1);
	assert_int_equal(sh_status("grep -qx gcp_exported '%s/mini/keep_symbols'", tmp), 1);
	assert_int_equal(sh_status("grep -qx gcp_local_collect '%s/mini/keep_symbols'", tmp), 0);

	st = load_ok(tp(path, "mini/lib.so"), tp(mini, "mini"), SYMTAB_MINIDEBUGINFO);
	/* The local function from MiniDebugInfo, the exported one from .dynsym. */
	check_fixture_symbols(st);
	assert_string_equal(symtab_source_path(st), path);
	assert_null(symtab_dwarf_file(st));
	s = symtab_find(st, "dup_name");
	assert_non_null(s);
	assert_true(s->is_func);
	/* .dynsym's objects are there too. */
	s = symtab_find(st, "gcp_exported_data");
	assert_non_null(s);
	assert_false(s->is_func);
	symtab_free(st);
}

static void test_minidebuginfo_corrupt(void **state)
{
	char path[PATH_MAX], err[1024];
	struct symtab *st;

	assert_int_equal(sh("cd '%s' && mkdir badmini && cd badmini && "
			    "head -c 200 /dev/zero > junk.xz && "
			    "objcopy --add-section .gnu_debugdata=junk.xz ../stripped.so lib.so",
			    tmp), 0);
	assert_int_equal(symtab_load(tp(path, "badmini/lib.so"), tmp, &st, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "MiniDebugInfo is not valid xz"));
}

static void make_build_id_file(const char *root, const char *debug)
{
	assert_int_equal(sh("mkdir -p '%s/usr/lib/debug/.build-id/%.2s' && "
			    "cp '%s/%s' '%s/usr/lib/debug/.build-id/%.2s/%s.debug'",
			    root, lib_bid, tmp, debug, root, lib_bid, lib_bid + 2), 0);
}

static void test_build_id(void **state)
{
	char path[PATH_MAX], root[PATH_MAX], want[PATH_MAX];
	struct symtab *st;

	tp(root, "bid-root");
	make_build_id_file(root, "lib.debug");
	assert_int_equal(sh("mkdir -p '%s/bid' && cp '%s/stripped.so' '%s/bid/lib.so'", tmp, tmp,
			    tmp), 0);
	st = load_ok(tp(path, "bid/lib.so"), root, SYMTAB_BUILD_ID);
	check_fixture_symbols(st);
	pf(want, "%s/usr/lib/debug/.build-id/%.2s/%s.debug", root, lib_bid,
		 lib_bid + 2);
	assert_string_equal(symtab_source_path(st), want);
	assert_non_null(symtab_dwarf_file(st));
	assert_string_equal(symtab_dwarf_file(st), want);
	symtab_free(st);

	/* Its .symtab kept, its DWARF stripped: symbols from itself, DWARF from the debug file. */
	assert_int_equal(sh("strip --strip-debug -o '%s/bid/nodwarf.so' '%s/lib.so'", tmp, tmp),
			 0);
	st = load_ok(tp(path, "bid/nodwarf.so"), root, SYMTAB_SELF);
	check_fixture_symbols(st);
	assert_string_equal(symtab_source_path(st), path);
	assert_non_null(symtab_dwarf_file(st));
	assert_string_equal(symtab_dwarf_file(st), want);
	symtab_free(st);

	/* Another build (no -g, so another build-id): the debug file is not its own. */
	assert_int_equal(sh("cd '%s' && cc -shared -fPIC -Wl,--build-id -o bid/nog.so lib.c "
			    "lib2.c", tmp), 0);
	st = load_ok(tp(path, "bid/nog.so"), root, SYMTAB_SELF);
	assert_null(symtab_dwarf_file(st));
	symtab_free(st);
}

static void test_build_id_wrong(void **state)
{
	char path[PATH_MAX], root[PATH_MAX], err[1024];
	struct symtab *st;

	tp(root, "bad-bid-root");
	make_build_id_file(root, "other.debug");	/* another library's, at lib.so's place */
	assert_int_equal(sh("mkdir -p '%s/badbid' && cp '%s/stripped.so' '%s/badbid/lib.so'", tmp,
			    tmp, tmp), 0);
	assert_int_equal(symtab_load(tp(path, "badbid/lib.so"), root, &st, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "rejected: another build-id"));
	assert_non_null(strstr(err, lib_bid + 2));
}

static void test_debuglink(void **state)
{
	char path[PATH_MAX], root[PATH_MAX], want[PATH_MAX];
	struct symtab *st;

	/* Next to the binary. */
	assert_int_equal(sh("cd '%s' && mkdir -p dl && cp lib.debug dl/lib.debug && "
			    "objcopy --add-gnu-debuglink=dl/lib.debug stripped.so dl/lib.so",
			    tmp), 0);
	st = load_ok(tp(path, "dl/lib.so"), tp(root, "dl-empty-root"), SYMTAB_DEBUGLINK);
	check_fixture_symbols(st);
	assert_string_equal(symtab_source_path(st), tp(want, "dl/lib.debug"));
	assert_string_equal(symtab_dwarf_file(st), want);
	symtab_free(st);

	/* In its .debug/ subdirectory. */
	assert_int_equal(sh("cd '%s' && mkdir -p dl2/.debug && cp lib.debug dl2/.debug/ && "
			    "cp dl/lib.so dl2/lib.so", tmp), 0);
	st = load_ok(tp(path, "dl2/lib.so"), root, SYMTAB_DEBUGLINK);
	check_fixture_symbols(st);
	assert_string_equal(symtab_source_path(st), tp(want, "dl2/.debug/lib.debug"));
	symtab_free(st);

	/*
	 * Inside a container's root, under ROOT/usr/lib/debug/<the binary's dir as the process
	 * sees it>.
	 */
	tp(root, "ctr");
	assert_int_equal(sh("cd '%s' && mkdir -p ctr/opt/app ctr/usr/lib/debug/opt/app && "
			    "cp dl/lib.so ctr/opt/app/lib.so && "
			    "cp lib.debug ctr/usr/lib/debug/opt/app/", tmp), 0);
	pf(path, "%s/opt/app/lib.so", root);
	st = load_ok(path, root, SYMTAB_DEBUGLINK);
	check_fixture_symbols(st);
	pf(want, "%s/usr/lib/debug/opt/app/lib.debug", root);
	assert_string_equal(symtab_source_path(st), want);
	symtab_free(st);
}

/*
 * A binary opened through /proc/PID/root: its directory as the process sees it is the rest of
 * the path, whatever root says. Our own /proc/PID/root is "/", so it reaches the tmp tree.
 */
static void test_debuglink_proc_root(void **state)
{
	char path[PATH_MAX], root[PATH_MAX], want[PATH_MAX];
	struct symtab *st;

	tp(root, "prroot");
	assert_int_equal(sh("cd '%s' && mkdir -p pr 'prroot/usr/lib/debug%s/pr' && "
			    "cp dl/lib.so pr/lib.so && cp lib.debug 'prroot/usr/lib/debug%s/pr/'",
			    tmp, tmp, tmp), 0);
	pf(path, "/proc/%d/root%s/pr/lib.so", getpid(), tmp);
	if (!exists(path))
		skip();
	st = load_ok(path, root, SYMTAB_DEBUGLINK);
	check_fixture_symbols(st);
	pf(want, "%s/usr/lib/debug%s/pr/lib.debug", root, tmp);
	assert_string_equal(symtab_source_path(st), want);
	symtab_free(st);
}

static void test_debuglink_wrong_build_id(void **state)
{
	char path[PATH_MAX], root[PATH_MAX], err[1024];
	struct symtab *st;

	/* The named file is there, but it is another library's. */
	assert_int_equal(sh("cd '%s' && mkdir -p dlbad && cp other.debug dlbad/lib.debug && "
			    "cp dl/lib.so dlbad/lib.so", tmp), 0);
	assert_int_equal(symtab_load(tp(path, "dlbad/lib.so"), tp(root, "dl-empty-root"), &st,
				     err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "dlbad/lib.debug rejected: another build-id"));
}

/* Without build-ids, the debuglink CRC is all that ties a debug file to its binary. */
static void test_debuglink_crc(void **state)
{
	char path[PATH_MAX], root[PATH_MAX], want[PATH_MAX], err[1024], bid[8];
	const struct symbol *s;
	struct symtab *st;

	assert_int_equal(elf_read_build_id(tp(path, "nobid.so"), bid, sizeof(bid)), -ENOENT);
	assert_int_equal(sh("cd '%s' && mkdir -p crc && cp nobid.debug crc/nobid.debug && "
			    "objcopy --add-gnu-debuglink=crc/nobid.debug nobid-stripped.so "
			    "crc/nobid.so", tmp), 0);
	st = load_ok(tp(path, "crc/nobid.so"), tp(root, "dl-empty-root"), SYMTAB_DEBUGLINK);
	assert_string_equal(symtab_build_id(st), "");
	assert_string_equal(symtab_source_path(st), tp(want, "crc/nobid.debug"));
	s = symtab_find(st, "gcp_local_collect");
	assert_non_null(s);
	assert_true(s->is_func);
	symtab_free(st);

	/* One byte more and it is no longer the file the link was made for. */
	assert_int_equal(sh("printf x >> '%s/crc/nobid.debug'", tmp), 0);
	assert_int_equal(symtab_load(path, root, &st, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "crc/nobid.debug rejected: CRC mismatch"));
	assert_non_null(strstr(err, "no build-id"));
	assert_non_null(strstr(err, "DEBUGINFOD_URLS not set"));

	/* At the build-id place, a file without build-id must not be taken on trust. */
	assert_int_equal(sh("mkdir -p '%s/nolink' && cp '%s/nobid-stripped.so' "
			    "'%s/nolink/nobid.so'", tmp, tmp, tmp), 0);
	assert_int_equal(symtab_load(tp(path, "nolink/nobid.so"), root, &st, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "no build-id"));
	assert_non_null(strstr(err, "no .gnu_debuglink"));
}

/* A tiny debuginfod: /buildid/<id>/debuginfo served from a directory by python's http.server. */
static const char server_py[] =
	"import functools, http.server, os, sys\n"
	"class H(http.server.SimpleHTTPRequestHandler):\n"
	"    def log_message(self, *args):\n"
	"        pass\n"
	"h = functools.partial(H, directory=sys.argv[1])\n"
	"s = http.server.HTTPServer(('127.0.0.1', 0), h)\n"
	"open(sys.argv[2] + '.tmp', 'w').write(str(s.server_port))\n"
	"os.rename(sys.argv[2] + '.tmp', sys.argv[2])\n"
	"s.serve_forever()\n";

static pid_t server_pid;

/* Runs even when an assertion fails half-way: the server and the environment are put away. */
static int stop_server(void **state)
{
	unsetenv("DEBUGINFOD_URLS");
	unsetenv("DEBUGINFOD_CACHE_PATH");
	unsetenv("DEBUGINFOD_TIMEOUT");
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
	return 0;
}

static pid_t start_server(const char *dir, const char *port_file, int *port)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	FILE *f;
	pid_t pid;
	int i;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(126);
		execl(SERVER_PYTHON, SERVER_PYTHON, "-c", server_py, dir, port_file, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		f = fopen(port_file, "r");
		if (f) {
			int n = fscanf(f, "%d", port);

			fclose(f);
			if (n == 1)
				return pid;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return -1;
}

static void test_debuginfod(void **state)
{
	char path[PATH_MAX], root[PATH_MAX], srv[PATH_MAX], port_file[PATH_MAX], cache[PATH_MAX];
	char urls[64], err[1024];
	struct symtab *st;
	int port = 0;

	if (access(SERVER_PYTHON, X_OK))
		skip();
	assert_int_equal(sh("cd '%s' && mkdir -p srv/buildid/%s dinfod && "
			    "cp lib.debug srv/buildid/%s/debuginfo && "
			    "cp stripped.so dinfod/lib.so && "
			    "cp nobid-stripped.so dinfod/nobid.so && "
			    "cp other.so dinfod/other.so && strip --strip-all dinfod/other.so",
			    tmp, lib_bid, lib_bid), 0);
	server_pid = start_server(tp(srv, "srv"), tp(port_file, "port"), &port);
	if (server_pid < 0)
		skip();
	snprintf(urls, sizeof(urls), "http://127.0.0.1:%d", port);
	setenv("DEBUGINFOD_URLS", urls, 1);
	setenv("DEBUGINFOD_CACHE_PATH", tp(cache, "dcache"), 1);
	setenv("DEBUGINFOD_TIMEOUT", "10", 1);
	setenv("no_proxy", "127.0.0.1", 1);

	st = load_ok(tp(path, "dinfod/lib.so"), tp(root, "dl-empty-root"), SYMTAB_DEBUGINFOD);
	check_fixture_symbols(st);
	/* Downloaded into the cache, and it has the DWARF too. */
	assert_true(!strncmp(symtab_source_path(st), cache, strlen(cache)));
	assert_string_equal(symtab_dwarf_file(st), symtab_source_path(st));
	symtab_free(st);
	/* The server does not know this one: 404. */
	assert_int_equal(symtab_load(tp(path, "dinfod/other.so"), root, &st, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "debuginfod ("));
	assert_non_null(strstr(err, urls));
	/* Nothing to ask by. */
	assert_int_equal(symtab_load(tp(path, "dinfod/nobid.so"), root, &st, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "no build-id to ask debuginfod for"));
}

static void test_build_id_read(void **state)
{
	char path[PATH_MAX], hex[128], small[40];

	assert_int_equal(elf_read_build_id(tp(path, "lib.so"), hex, sizeof(hex)), 0);
	assert_string_equal(hex, lib_bid);
	/* The stripped copy and the debug file keep it. */
	assert_int_equal(elf_read_build_id(tp(path, "stripped.so"), hex, sizeof(hex)), 0);
	assert_string_equal(hex, lib_bid);
	assert_int_equal(elf_read_build_id(tp(path, "lib.debug"), hex, sizeof(hex)), 0);
	assert_string_equal(hex, lib_bid);
	assert_int_equal(elf_read_build_id(path, small, sizeof(small)), -ENOSPC);
	assert_int_equal(elf_read_build_id(tp(path, "nobid.so"), hex, sizeof(hex)), -ENOENT);
	assert_int_equal(elf_read_build_id(tp(path, "missing"), hex, sizeof(hex)), -ENOENT);
}

static void test_vaddr_to_offset_fixture(void **state)
{
	uint64_t off, want;
	char path[PATH_MAX];

	tp(path, "lib.so");
	assert_int_equal(elf_vaddr_to_offset(path, local_vaddr, &off), 0);
	assert_int_equal(readelf_offset(path, local_vaddr, &want), 0);
	assert_true(off == want);
	/* Stripping keeps the program headers. */
	assert_int_equal(elf_vaddr_to_offset(tp(path, "stripped.so"), local_vaddr, &off), 0);
	assert_true(off == want);
	/* Page 0 holds the headers, not code; nothing at all lives that high. */
	assert_int_equal(elf_vaddr_to_offset(path, 0, &off), -ENOENT);
	assert_int_equal(elf_vaddr_to_offset(path, 0x7fffffff0000ULL, &off), -ENOENT);
}

/* Debian's stripped interpreter: a .gnu_debuglink to a debug file that is not installed. */
static void test_debian_python(void **state)
{
	char bid[128], err[1024], want[PATH_MAX];
	struct symtab *st;
	uint64_t off, expect;

	if (!exists(DEBIAN_PYTHON))
		skip();
	assert_int_equal(elf_read_build_id(DEBIAN_PYTHON, bid, sizeof(bid)), 0);
	pf(want, "/usr/lib/debug/.build-id/%.2s/%s.debug", bid, bid + 2);
	if (exists(want))
		skip();	/* python3.11-dbg is installed: nothing to test here */
	assert_int_equal(symtab_load(DEBIAN_PYTHON, "", &st, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no .symtab, no MiniDebugInfo, no debug file for build-id"));
	assert_non_null(strstr(err, bid));
	assert_non_null(strstr(err, " under /usr/lib/debug, "));
	/* Debian names the debuglink after the build-id's tail. */
	pf(want, "no %s.debug (.gnu_debuglink) in /usr/bin, /usr/bin/.debug "
		 "or /usr/lib/debug/usr/bin", bid + 2);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "; DEBUGINFOD_URLS not set"));

	/* A non-PIE executable: code at 0x41f000 is at file offset 0x1f000. */
	assert_int_equal(readelf_offset(DEBIAN_PYTHON, 0x42216a, &expect), 0);
	assert_int_equal(elf_vaddr_to_offset(DEBIAN_PYTHON, 0x42216a, &off), 0);
	assert_true(off == expect);
	if (strcmp(bid, DEBIAN_PYTHON_BID))
		return;
	/* Facts of this build (readelf -lW): R E LOAD 0x01f000 at 0x41f000, 0x2b2289 bytes. */
	assert_true(off == 0x2216a);
	assert_int_equal(elf_vaddr_to_offset(DEBIAN_PYTHON, 0x41f000, &off), 0);
	assert_true(off == 0x1f000);
	assert_int_equal(elf_vaddr_to_offset(DEBIAN_PYTHON, 0x6d1288, &off), 0);
	assert_true(off == 0x2d1288);
	assert_int_equal(elf_vaddr_to_offset(DEBIAN_PYTHON, 0x6d1289, &off), -ENOENT);
	/* In the R segment before the code, and in the RW one after it. */
	assert_int_equal(elf_vaddr_to_offset(DEBIAN_PYTHON, 0x400000, &off), -ENOENT);
	assert_int_equal(elf_vaddr_to_offset(DEBIAN_PYTHON, 0x945dc8, &off), -ENOENT);
}

/* The pyenv build of a minor version, or NULL when it is not installed. */
static bool pyenv_lib(const char *minor, char *path, size_t len)
{
	char pattern[128];
	glob_t g;
	bool ok;

	snprintf(pattern, sizeof(pattern), "/root/.pyenv/versions/%s.*/lib/libpython%s.so.1.0",
		 minor, minor);
	if (glob(pattern, 0, NULL, &g))
		return false;
	ok = g.gl_pathc > 0 && strlen(g.gl_pathv[0]) < len;
	if (ok)
		strcpy(path, g.gl_pathv[0]);
	globfree(&g);
	return ok;
}

static void check_pyenv(const char *minor, const char *const *present, const char *absent)
{
	char path[PATH_MAX], bid[128];
	const struct symbol *s;
	struct symtab *st;
	uint64_t off, want;

	if (!pyenv_lib(minor, path, sizeof(path)))
		skip();
	st = load_ok(path, "", SYMTAB_SELF);
	assert_string_equal(symtab_source_path(st), path);
	/* pyenv builds with -g: the library has its own DWARF. */
	assert_non_null(symtab_dwarf_file(st));
	assert_string_equal(symtab_dwarf_file(st), path);
	readelf_build_id(path, bid, sizeof(bid));
	assert_string_equal(symtab_build_id(st), bid);
	for (; *present; present++) {
		s = symtab_find(st, *present);
		if (!s)
			fail_msg("%s: no %s", path, *present);
		assert_true(s->is_func && s->size > 0);
		assert_int_equal(elf_vaddr_to_offset(path, s->vaddr, &off), 0);
		assert_int_equal(readelf_offset(path, s->vaddr, &want), 0);
		assert_true(off == want);
	}
	if (absent)
		assert_null(symtab_find(st, absent));
	/* An exported function, for contrast. */
	s = symtab_find(st, "PyGC_Collect");
	assert_non_null(s);
	assert_true(s->is_func);
	symtab_free(st);
}

static void test_pyenv_38(void **state)
{
	static const char *const names[] = { "collect.constprop.0", "collect.constprop.1", NULL };

	check_pyenv("3.8", names, "collect");
}

static void test_pyenv_39(void **state)
{
	static const char *const names[] = { "collect", NULL };

	check_pyenv("3.9", names, "gc_collect_main");
}

static void test_pyenv_310_313(void **state)
{
	static const char *const names[] = { "gc_collect_main", NULL };
	static const char *const minors[] = { "3.10", "3.11", "3.12", "3.13" };
	char path[PATH_MAX];
	size_t i, seen = 0;

	for (i = 0; i < sizeof(minors) / sizeof(minors[0]); i++) {
		if (!pyenv_lib(minors[i], path, sizeof(path)))
			continue;
		check_pyenv(minors[i], names, "collect");
		seen++;
	}
	if (!seen)
		skip();
}

/* 3.13.0's gc_collect_main, as readelf -sW and -lW show it in this build. */
static void test_pyenv_313_facts(void **state)
{
	const char *path = "/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0";
	char bid[128], err[256];
	const struct symbol *s;
	struct symtab *st;
	uint64_t off;

	if (elf_read_build_id(path, bid, sizeof(bid)) ||
	    strcmp(bid, "d11d13fb0f82d32f3da1221ffd551ab179afb423"))
		skip();
	assert_int_equal(symtab_load(path, NULL, &st, err, sizeof(err)), 0);
	s = symtab_find(st, "gc_collect_main");
	assert_non_null(s);
	assert_true(s->vaddr == 0x25c5f0 && s->size == 5382);
	/* R E LOAD 0x086000 at 0x86000: offset and address agree in this library. */
	assert_int_equal(elf_vaddr_to_offset(path, s->vaddr, &off), 0);
	assert_true(off == 0x25c5f0);
	symtab_free(st);
}

static void test_source_names(void **state)
{
	assert_string_equal(symtab_source_name(SYMTAB_SELF), "symtab");
	assert_string_equal(symtab_source_name(SYMTAB_MINIDEBUGINFO), "minidebuginfo");
	assert_string_equal(symtab_source_name(SYMTAB_BUILD_ID), "build-id");
	assert_string_equal(symtab_source_name(SYMTAB_DEBUGLINK), "debuglink");
	assert_string_equal(symtab_source_name(SYMTAB_DEBUGINFOD), "debuginfod");
	assert_string_equal(symtab_source_name((enum symtab_source)42), "?");
	symtab_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_source_names),
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_foreach),
		cmocka_unit_test(test_stripped_enoent),
		cmocka_unit_test(test_not_elf),
		cmocka_unit_test(test_minidebuginfo),
		cmocka_unit_test(test_minidebuginfo_corrupt),
		cmocka_unit_test(test_build_id),
		cmocka_unit_test(test_build_id_wrong),
		cmocka_unit_test(test_debuglink),
		cmocka_unit_test(test_debuglink_proc_root),
		cmocka_unit_test(test_debuglink_wrong_build_id),
		cmocka_unit_test(test_debuglink_crc),
		cmocka_unit_test_teardown(test_debuginfod, stop_server),
		cmocka_unit_test(test_build_id_read),
		cmocka_unit_test(test_vaddr_to_offset_fixture),
		cmocka_unit_test(test_debian_python),
		cmocka_unit_test(test_pyenv_38),
		cmocka_unit_test(test_pyenv_39),
		cmocka_unit_test(test_pyenv_310_313),
		cmocka_unit_test(test_pyenv_313_facts),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
