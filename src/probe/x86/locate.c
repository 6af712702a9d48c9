// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Finds the collection function of a CPython without symbols. The static collect() (3.8, 3.9)
 * or gc_collect_main() (3.10+) is found from the exported PyGC_Collect, which calls it, directly
 * or through a helper or two, with generation 2. It is the only function there that passes the
 * string "gc: collecting generation %d...\n" to a call; what it passes with it as the %d tells
 * which argument register holds the generation, or that GCC folded a constant in (3.8's
 * collect.constprop clones). Function starts and sizes come from .eh_frame, an allocated
 * section that unwinding needs at run time, so strip keeps it. Every deduction is checked
 * against another fact, and any disagreement is an error: a uprobe at a wrong address would
 * measure something else without a word, or break the traced process mid-instruction.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "probe/x86/locate.h"
#include "probe/x86/dataflow.h"
#include "probe/x86/image.h"

#define MAX_NODES	48
#define MAX_DEPTH	3
#define GC_STRING	"gc: collecting generation %d...\n"

enum {
	S_COLLECT, S_NOFAIL, S_VERSION, S_GC_ENABLE, S_GC_FINALIZED, S_BYTES_MAIN,
	S_FREE_THREADED, S_GC_MALLOC, S_GC_CALLOC, S_GC_NEW, S_GC_NEWVAR, S_COUNT
};

static const char *const sym_names[S_COUNT] = {
	[S_COLLECT] = "PyGC_Collect",
	[S_NOFAIL] = "_PyGC_CollectNoFail",
	[S_VERSION] = "Py_Version",				/* 3.11+ */
	[S_GC_ENABLE] = "PyGC_Enable",				/* 3.10+ */
	[S_GC_FINALIZED] = "PyObject_GC_IsFinalized",		/* 3.9+ */
	[S_BYTES_MAIN] = "Py_BytesMain",			/* 3.8+ */
	[S_FREE_THREADED] = "_Py_MergeZeroLocalRefcount",
	[S_GC_MALLOC] = "_PyObject_GC_Malloc",
	[S_GC_CALLOC] = "_PyObject_GC_Calloc",
	[S_GC_NEW] = "_PyObject_GC_New",
	[S_GC_NEWVAR] = "_PyObject_GC_NewVar",
};

static const char *const reg_names[X86_NARGS] = { "edi", "esi", "edx", "ecx", "r8d", "r9d" };

struct ctx {
	struct x86_image img;
	uint64_t sym[S_COUNT];		/* 0: not exported */
	int minor;
	char *err;
	size_t err_len;
};

/* One function reached from a root through direct calls. */
struct node {
	uint64_t entry, site;		/* site: the call in the parent */
	int parent;			/* -1 for the root */
	struct x86_val args[X86_NARGS];	/* at that call, in the parent's terms */
	struct x86_func fn;
	bool prints;			/* passes GC_STRING to a call */
	struct x86_val gen;		/* what it passes as the %d */
	bool stop_start;		/* passes "start" and "stop" (the gc.callbacks phases) */
};

struct walk {
	const char *name;
	struct node nodes[MAX_NODES];
	int n, found[MAX_NODES], nfound;
};

static int fail(struct ctx *c, int ret, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->err_len, fmt, ap);
	va_end(ap);
	return ret;
}

/* Whether the NUL-terminated string at addr, in the file's data, is s. */
static bool str_is(const struct ctx *c, uint64_t addr, const char *s)
{
	const char *str = x86_image_string(&c->img, addr);

	return str && !strcmp(str, s);
}

static int load_image(struct ctx *c, const char *path)
{
	int k, ret = x86_image_open(&c->img, path, c->err, c->err_len);

	/* Said as what cannot be done, like every other refusal. */
	if (ret == -ENOTSUP)
		return fail(c, ret, "the collection function is located in x86-64 code only "
			    "(this is ELF machine %u)", c->img.machine);
	if (ret)
		return ret;
	for (k = 0; k < S_COUNT; k++)
		c->sym[k] = x86_image_symbol(&c->img, sym_names[k]);
	if (!c->sym[S_COLLECT])
		return fail(c, -ENOENT, "%s exports no PyGC_Collect: not a Python interpreter",
			    path);
	return x86_image_read_fdes(&c->img, c->err, c->err_len);
}

/* The file's own minor version, from what each version added to the exported API. */
static int check_version(struct ctx *c)
{
	uint64_t at = c->sym[S_VERSION];
	const unsigned char *v = at ? x86_image_bytes(&c->img, at, 4) : NULL;
	char how[48];
	uint32_t hex;
	int minor;

	if (v) {
		memcpy(&hex, v, 4);
		snprintf(how, sizeof(how), "Py_Version is %u.%u.%u", hex >> 24, (hex >> 16) & 0xff,
			 (hex >> 8) & 0xff);
		minor = hex >> 24 == 3 ? (int)((hex >> 16) & 0xff) : -1;
	} else if (c->sym[S_GC_ENABLE]) {
		snprintf(how, sizeof(how), "PyGC_Enable, no Py_Version");
		minor = 10;
	} else if (c->sym[S_GC_FINALIZED]) {
		snprintf(how, sizeof(how), "PyObject_GC_IsFinalized, no PyGC_Enable");
		minor = 9;
	} else {
		snprintf(how, sizeof(how), "%s PyObject_GC_IsFinalized",
			 c->sym[S_BYTES_MAIN] ? "Py_BytesMain, no" : "no Py_BytesMain, no");
		minor = c->sym[S_BYTES_MAIN] ? 8 : 7;
	}
	if (minor != c->minor)
		return fail(c, -EINVAL, "the file is not CPython 3.%d (%s)", c->minor, how);
	if (c->sym[S_FREE_THREADED])
		return fail(c, -ENOTSUP, "a free-threaded build: its collector is not located");
	return 0;
}

static void node_facts(const struct ctx *c, struct node *nd)
{
	bool start = false, stop = false;
	size_t i;
	int k;

	for (i = 0; i < nd->fn.ncalls; i++) {
		const struct x86_call *call = &nd->fn.calls[i];

		for (k = 0; k < X86_NARGS; k++) {
			if (call->args[k].mask != X86_V_CONST)
				continue;
			start |= str_is(c, call->args[k].c, "start");
			stop |= str_is(c, call->args[k].c, "stop");
			if (k == 0 && str_is(c, call->args[k].c, GC_STRING)) {
				nd->prints = true;
				x86_val_join(&nd->gen, &call->args[1]);
			}
		}
	}
	nd->stop_start = start && stop;
}

/* A function the walk may enter: a function start, and not part of the API. */
static bool callee_ok(const struct ctx *c, uint64_t addr)
{
	const struct fde *f = fde_table_find(&c->img.fdes, addr);

	return f && f->start == addr && f->entry_like && !x86_image_exports(&c->img, addr);
}

static void walk_free(struct walk *w)
{
	int i;

	for (i = 0; i < w->n; i++)
		x86_func_free(&w->nodes[i].fn);
	w->n = 0;
}

/*
 * Breadth first from the exported function name, through direct calls to non-exported
 * functions, down to the first depth where some function prints GC_STRING.
 */
static int walk(struct ctx *c, const char *name, uint64_t root, struct walk *w)
{
	int depth, i, j, from = 0, to;
	size_t k;

	memset(w, 0, sizeof(*w));
	w->name = name;
	w->nodes[w->n++] = (struct node){ .entry = root, .parent = -1 };
	for (depth = 0; depth <= MAX_DEPTH && !w->nfound; depth++) {
		to = w->n;
		for (i = from; i < to; i++) {
			struct node *nd = &w->nodes[i];
			int ret = x86_analyze(&c->img, nd->entry, &nd->fn, c->err, c->err_len);

			if (ret && (!i || ret == -ENOMEM)) {
				char why[160];

				snprintf(why, sizeof(why), "%s", c->err_len ? c->err : "");
				return fail(c, ret, "%s: %s", name, why);
			}
			node_facts(c, nd);
			if (nd->prints)
				w->found[w->nfound++] = i;
		}
		for (i = from; i < to && !w->nfound && depth < MAX_DEPTH; i++) {
			for (k = 0; k < w->nodes[i].fn.ncalls && w->n < MAX_NODES; k++) {
				const struct x86_call *call = &w->nodes[i].fn.calls[k];

				for (j = 0; j < w->n && w->nodes[j].entry != call->target; j++)
					;
				if (j < w->n || !callee_ok(c, call->target))
					continue;
				w->nodes[w->n] = (struct node){ .entry = call->target,
								.site = call->site, .parent = i };
				memcpy(w->nodes[w->n++].args, call->args, sizeof(call->args));
			}
		}
		from = to;
	}
	return 0;
}

/* The constant the root's caller makes argument k of node be, if the calls in between fix it. */
static bool chain_const(const struct walk *w, int node, int k, int64_t *val)
{
	for (; node > 0; node = w->nodes[node].parent) {
		const struct x86_val *v = &w->nodes[node].args[k];

		if (v->mask == X86_V_CONST) {
			*val = v->c;
			return true;
		}
		if (!(v->mask & X86_V_ARGS) || (v->mask & (v->mask - 1)))
			return false;
		k = __builtin_ctz(v->mask);
	}
	return false;
}

/* The argument printed as the generation, -1 for a constant (in *gen), -2 when unclear. */
static int gen_source(const struct ctx *c, const struct x86_val *v, int64_t *gen)
{
	unsigned int args = v->mask & X86_V_ARGS;

	if (v->mask == X86_V_CONST) {
		*gen = v->c;
		return -1;
	}
	/* 3.13 prints the generation it picked when asked for -1 (automatic): allow that path. */
	if (!args || (args & (args - 1)) || (v->mask != args && c->minor < 13))
		return -2;
	return __builtin_ctz(args);
}

/* 3.8's clones lose the state pointer (generation first); otherwise it is second. */
static bool gen_reg_expected(const struct ctx *c, int arg)
{
	return arg == 1 || (arg == 0 && c->minor == 8);
}

/* "PyGC_Collect+0x88", with "(via a helper)" when the function was found deeper. */
static void describe_site(const struct walk *w, int node, char *buf, size_t len)
{
	int hops = 0;

	while (w->nodes[node].parent > 0) {
		node = w->nodes[node].parent;
		hops++;
	}
	snprintf(buf, len, "%s+0x%llx%s", w->name,
		 (unsigned long long)(w->nodes[node].site - w->nodes[0].entry),
		 hops ? (hops > 1 ? " (via helpers)" : " (via a helper)") : "");
}

/* The single function a walk found, or an error when it found none or several. */
static int walk_result(struct ctx *c, const struct walk *w, uint64_t skip)
{
	int i, found = -1;

	for (i = 0; i < w->nfound; i++) {
		const struct node *nd = &w->nodes[w->found[i]];

		if (nd->entry == skip)
			continue;
		if (found >= 0 && w->nodes[found].entry != nd->entry)
			return fail(c, -ENOENT, "%s calls both 0x%llx and 0x%llx, which both print "
				    "\"gc: collecting generation\"", w->name,
				    (unsigned long long)w->nodes[found].entry,
				    (unsigned long long)nd->entry);
		found = w->found[i];
	}
	if (found < 0)
		return fail(c, -ENOENT, "nothing %s calls (%d functions, %d calls deep) prints "
			    "\"gc: collecting generation\"", w->name, w->n, MAX_DEPTH);
	return found;
}

/* The function PyGC_Collect collects with: generation 2, as argument or folded in. */
static int locate_manual(struct ctx *c, struct walk *w, struct gc_func_site *site)
{
	int64_t gen = 0, passed;
	int a, arg, i;
	char where[48];

	a = walk_result(c, w, 0);
	if (a < 0)
		return a;
	arg = gen_source(c, &w->nodes[a].gen, &gen);
	if (arg == -2)
		return fail(c, -ENOENT, "0x%llx prints a generation that is neither one argument "
			    "nor a constant", (unsigned long long)w->nodes[a].entry);
	if (arg >= 0 && !gen_reg_expected(c, arg))
		return fail(c, -ENOENT, "0x%llx takes the generation in %s, where CPython 3.%d "
			    "passes it in esi", (unsigned long long)w->nodes[a].entry,
			    reg_names[arg], c->minor);
	if (arg >= 0 && (!chain_const(w, a, arg, &passed) || passed != 2))
		return fail(c, -ENOENT, "PyGC_Collect does not pass generation 2 in %s to 0x%llx",
			    reg_names[arg], (unsigned long long)w->nodes[a].entry);
	if (arg < 0 && gen != 2)
		return fail(c, -ENOENT, "0x%llx, called by PyGC_Collect, collects generation %lld",
			    (unsigned long long)w->nodes[a].entry, (long long)gen);
	/* 3.13 moved the gc.callbacks calls from the callers into gc_collect_main. */
	if (c->minor >= 13 && !w->nodes[a].stop_start)
		return fail(c, -ENOENT, "0x%llx does not run gc.callbacks, as 3.13's "
			    "gc_collect_main does", (unsigned long long)w->nodes[a].entry);
	for (i = w->nodes[a].parent; c->minor < 13 && i >= 0 && !w->nodes[i].stop_start;)
		i = w->nodes[i].parent;
	if (c->minor < 13 && i < 0)
		return fail(c, -ENOENT, "PyGC_Collect runs no gc.callbacks around 0x%llx, as "
			    "CPython 3.%d does", (unsigned long long)w->nodes[a].entry, c->minor);
	describe_site(w, a, where, sizeof(where));
	site->vaddr = w->nodes[a].entry;
	site->gen_arg = arg < 0 ? -1 : arg;
	site->gen_const = arg < 0 ? (int)gen : 0;
	if (arg < 0)
		snprintf(site->evidence, sizeof(site->evidence), "0x%llx, called from %s; prints "
			 "the constant generation 2; .eh_frame function start",
			 (unsigned long long)site->vaddr, where);
	else
		snprintf(site->evidence, sizeof(site->evidence), "0x%llx, called from %s with "
			 "%s=2; prints %s as the generation; .eh_frame function start",
			 (unsigned long long)site->vaddr, where, reg_names[arg], reg_names[arg]);
	return a;
}

/* 3.8, 3.9: the exported _PyGC_CollectNoFail must collect generation 2 with it too. */
static int check_nofail(struct ctx *c, const struct gc_func_site *site)
{
	struct walk *w = calloc(1, sizeof(*w));
	int64_t passed;
	int ret, n;

	if (!w)
		return fail(c, -ENOMEM, "out of memory");
	ret = walk(c, "_PyGC_CollectNoFail", c->sym[S_NOFAIL], w);
	if (ret)
		goto cleanup;
	n = walk_result(c, w, 0);
	ret = n < 0 ? n : 0;
	if (!ret && w->nodes[n].entry != site->vaddr)
		ret = fail(c, -ENOENT, "_PyGC_CollectNoFail collects with 0x%llx, PyGC_Collect "
			   "with 0x%llx", (unsigned long long)w->nodes[n].entry,
			   (unsigned long long)site->vaddr);
	else if (!ret && site->gen_arg >= 0 &&
		 (!chain_const(w, n, site->gen_arg, &passed) || passed != 2))
		ret = fail(c, -ENOENT, "_PyGC_CollectNoFail does not pass generation 2 to 0x%llx",
			   (unsigned long long)site->vaddr);
cleanup:
	walk_free(w);
	free(w);
	return ret;
}

static int take_automatic(struct ctx *c, const struct walk *w, int n, int arg,
			  struct gc_func_site *site)
{
	char where[48];

	if (site->vaddr && site->vaddr != w->nodes[n].entry)
		return fail(c, -ENOENT, "the allocator collects with both 0x%llx and 0x%llx",
			    (unsigned long long)site->vaddr, (unsigned long long)w->nodes[n].entry);
	if (site->vaddr)
		return 0;
	describe_site(w, n, where, sizeof(where));
	site->vaddr = w->nodes[n].entry;
	site->gen_arg = arg;
	site->gen_const = 0;
	snprintf(site->evidence, sizeof(site->evidence), "0x%llx, called from %s; prints %s "
		 "as the generation; .eh_frame function start", (unsigned long long)site->vaddr,
		 where, reg_names[arg]);
	return 0;
}

/* The clone with a generation argument, from the allocator's automatic collections. */
static int locate_automatic(struct ctx *c, uint64_t folded, struct gc_func_site *site)
{
	static const int roots[] = { S_GC_MALLOC, S_GC_CALLOC, S_GC_NEW, S_GC_NEWVAR };
	struct walk *w = calloc(1, sizeof(*w));
	int ret = 0, n, arg;
	int64_t gen;
	size_t r;

	if (!w)
		return fail(c, -ENOMEM, "out of memory");
	site->vaddr = 0;
	for (r = 0; r < sizeof(roots) / sizeof(roots[0]) && !ret; r++) {
		if (!c->sym[roots[r]])
			continue;
		/* A root that cannot be read, or that reaches no clone, proves nothing. */
		n = walk(c, sym_names[roots[r]], c->sym[roots[r]], w) ? -1 :
			walk_result(c, w, folded);
		arg = n >= 0 ? gen_source(c, &w->nodes[n].gen, &gen) : -1;
		if (arg >= 0 && gen_reg_expected(c, arg))
			ret = take_automatic(c, w, n, arg, site);
		walk_free(w);
	}
	free(w);
	if (!ret && !site->vaddr)
		ret = fail(c, -ENOENT, "PyGC_Collect's collection function has generation 2 "
			   "folded in, and the allocator calls no copy taking the generation");
	return ret;
}

static int parse_minor(const char *version, int *minor)
{
	int major, n = 0;

	if (!version || sscanf(version, "%d.%d%n", &major, minor, &n) != 2 ||
	    (version[n] && version[n] != '.'))
		return -EINVAL;
	return major == 3 && *minor >= 8 && *minor <= 15 ? 0 : -ENOTSUP;
}

int locate_gc_functions(const char *path, const char *version, struct gc_func_site *out, int max,
			char *err, size_t err_len)
{
	struct ctx c = { .err = err, .err_len = err_len };
	struct walk *w = NULL;
	struct gc_func_site manual, automatic;
	int ret;

	if (err_len)
		err[0] = '\0';
	ret = parse_minor(version, &c.minor);
	if (ret)
		return fail(&c, ret, "version \"%s\": the collection function is located for "
			    "CPython 3.8 to 3.15", version ? version : "");
	if (!out || max < 1)
		return fail(&c, -EINVAL, "no room for a site");
	ret = load_image(&c, path);
	if (!ret)
		ret = check_version(&c);
	if (ret)
		goto cleanup;
	w = calloc(1, sizeof(*w));
	if (!w) {
		ret = fail(&c, -ENOMEM, "out of memory");
		goto cleanup;
	}
	ret = walk(&c, "PyGC_Collect", c.sym[S_COLLECT], w);
	if (!ret)
		ret = locate_manual(&c, w, &manual);
	if (ret >= 0 && c.sym[S_NOFAIL] && c.minor <= 9)
		ret = check_nofail(&c, &manual);
	if (ret < 0)
		goto cleanup;
	if (manual.gen_arg >= 0) {
		out[0] = manual;
		ret = 1;
	} else if (max < 2) {
		ret = fail(&c, -EINVAL, "this build collects with two functions, and there is "
			   "room for one");
	} else {
		/* The allocator's clone first: it sees every automatic collection. */
		ret = locate_automatic(&c, manual.vaddr, &automatic);
		if (!ret) {
			out[0] = automatic;
			out[1] = manual;
			ret = 2;
		}
	}
	/* Helpers that could not be analyzed left their reason behind. */
	if (ret > 0 && err_len)
		err[0] = '\0';
cleanup:
	if (w)
		walk_free(w);
	free(w);
	x86_image_close(&c.img);
	return ret;
}
