// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "probe/elf/elfutil.h"
#include "probe/gc_counters.h"
#include "probe/x86/locate.h"
#include "probe/probe.h"
#include "probe/pyversion.h"
#include "probe/elf/symbols.h"
#include "probe/x86/call_sites.h"

/* Calls a collection function makes; 3.13's gc_collect_main makes about 60. */
#define MAX_CALL_SITES	512

static const char *const mode_names[] = {
	[PROBE_AUTO] = "auto",
	[PROBE_USDT] = "usdt",
	[PROBE_SYMBOL] = "symbol",
	[PROBE_STRIPPED] = "stripped",
};

const char *probe_mode_name(enum probe_mode mode)
{
	return mode <= PROBE_STRIPPED ? mode_names[mode] : "?";
}

int probe_mode_parse(const char *s, enum probe_mode *mode)
{
	unsigned int i;

	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (!strcmp(s, mode_names[i])) {
			*mode = i;
			return 0;
		}
	}
	return -EINVAL;
}

/* A file opened through /proc/PID/root, named as the process sees it. */
static const char *inside_root(const char *path)
{
	int n = 0;

	if (sscanf(path, "/proc/%*d/root%n", &n) == 0 && n > 0 && path[n] == '/')
		return path + n;
	return path;
}

static void config_from(struct gc_func_config *cfg, const struct gc_semantics *sem,
			enum gc_gen_source source, int gen_const)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->gen_source = source;
	cfg->gen_const = gen_const;
	cfg->skip_nested = sem->skip_nested;
}

/*
 * 3.13+: where the per-generation collection counters are (gc_counters.c). Without them the
 * generation of an automatic collection stays unknown (-1): said in the plan's caveat.
 */
static void plan_counters(struct probe_plan *plan, const char *dwarf_file,
			  const struct pyelf_info *info, const struct py_version *v)
{
	struct gc_func_config cfg = { 0 };
	char how[32], why[160];
	int i;

	if (gc_counters_find(dwarf_file, info, v, &cfg, how, sizeof(how), why, sizeof(why))) {
		snprintf(plan->caveat, sizeof(plan->caveat),
			 "the interpreter's GC counters cannot be found (%s): automatic "
			 "collections are reported with generation -1, and a call that finds "
			 "another thread collecting is counted as a pause", why);
		return;
	}
	for (i = 0; i < plan->nsites; i++) {
		struct gc_func_config *site = &plan->sites[i].cfg;
		struct gc_func_config keep = *site;

		*site = cfg;
		site->gen_source = keep.gen_source;
		site->gen_const = keep.gen_const;
		site->skip_nested = keep.skip_nested;
	}
	snprintf(plan->counters_source, sizeof(plan->counters_source), "%s", how);
}

/* The call passing phase ("start", "stop") in some argument register; NULL unless just one. */
static const struct x86_call_site *phase_call(const struct x86_call_site *calls, int n,
					      const char *phase)
{
	const struct x86_call_site *found = NULL;
	int i, r;

	for (i = 0; i < n; i++) {
		for (r = 0; r < X86_CALL_NARGS; r++) {
			if (strcmp(calls[i].arg_string[r], phase))
				continue;
			if (found)
				return NULL;
			found = &calls[i];
			break;
		}
	}
	return found;
}

/*
 * 3.13+ run gc.callbacks inside the collection function, where the markers leave them out.
 * Marks just after the "start" call returns and at the "stop" call give the markers' window.
 * Without them (the calls inlined, or not found) the pause includes the callbacks: said.
 */
static void plan_window(struct probe_plan *plan, const char *host_path)
{
	struct x86_call_site *calls;
	const struct x86_call_site *start, *stop;
	char why[PROBE_TEXT_LEN] = "";
	int i, n;

	calls = calloc(MAX_CALL_SITES, sizeof(*calls));
	if (!calls)
		return;
	for (i = 0; i < plan->nsites; i++) {
		struct probe_site *site = &plan->sites[i];

		n = x86_call_sites(host_path, site->vaddr, calls, MAX_CALL_SITES, why, sizeof(why));
		if (n > MAX_CALL_SITES)
			n = MAX_CALL_SITES;
		start = n > 0 ? phase_call(calls, n, "start") : NULL;
		stop = n > 0 ? phase_call(calls, n, "stop") : NULL;
		if (!start || !stop || start->target != stop->target ||
		    elf_vaddr_to_offset(host_path, start->vaddr + start->len,
					&site->window_start_offset) ||
		    elf_vaddr_to_offset(host_path, stop->vaddr, &site->window_end_offset) ||
		    elf_vaddr_to_offset(host_path, stop->vaddr + stop->len, &site->end_offset)) {
			site->window_start_offset = site->window_end_offset = site->end_offset = 0;
			snprintf(plan->caveat, sizeof(plan->caveat), "the gc.callbacks calls were "
				 "not found in %s%s%s: pauses include the callbacks' run time",
				 site->what, why[0] ? ": " : "", why);
		} else {
			site->end_vaddr = stop->vaddr + stop->len;
		}
	}
	free(calls);
}

/*
 * 3.15+ keep each collection's own start and end in their statistics: where the interpreter
 * can be found from _PyRuntime, one probe after the "stop" callback's call replaces the four
 * (entry, return, window marks), a quarter of the traps. Shutdown collections skip the
 * callbacks by jumping to that same instruction; the tests check that none is missed.
 */
static void plan_end_only(struct probe_plan *plan)
{
	int i;

	if (getenv("GCPAUSE_NO_END_PROBE"))
		return;
	for (i = 0; i < plan->nsites; i++) {
		struct probe_site *site = &plan->sites[i];

		if (!site->cfg.recover_gen || !site->cfg.stats_indirect || !site->end_offset ||
		    !site->cfg.runtime_vaddr || !site->cfg.runtime_interp_head)
			continue;
		site->cfg.end_only = 1;
		site->cfg.site_vaddr = site->end_vaddr;
		snprintf(plan->source + strlen(plan->source),
			 sizeof(plan->source) - strlen(plan->source),
			 "; one probe after each collection, timed by the interpreter's own "
			 "statistics");
	}
}

static int add_site(struct probe_plan *plan, const char *host_path, uint64_t vaddr,
		    const struct gc_func_config *cfg, const char *what, char *err, size_t err_len)
{
	struct probe_site *site = &plan->sites[plan->nsites];
	int ret;

	ret = elf_vaddr_to_offset(host_path, vaddr, &site->offset);
	if (ret) {
		snprintf(err, err_len, "%s: %s at 0x%llx is in no loaded segment", plan->display,
			 what, (unsigned long long)vaddr);
		return ret;
	}
	site->vaddr = vaddr;
	site->cfg = *cfg;
	snprintf(site->what, sizeof(site->what), "%s", what);
	plan->nsites++;
	return 0;
}

/* Turns located sites (with or without symbols to confirm them) into the plan's sites. */
static int add_located_sites(struct probe_plan *plan, const char *host_path,
			     const struct gc_semantics *sem, const struct gc_func_site *found,
			     int nfound, const struct symtab *st, char *err, size_t err_len)
{
	struct gc_func_config cfg;
	char what[96];
	int i, ret;

	for (i = 0; i < nfound && i < PROBE_MAX_SITES; i++) {
		const char *name = NULL;

		if (st) {
			/* With symbols, a located address must be the function they name. */
			const struct symbol *sym = NULL;

			if (sem->gcc_clones) {
				char clone[64];
				int n;

				for (n = 0; n < 8 && !sym; n++) {
					snprintf(clone, sizeof(clone), "%s.constprop.%d",
						 sem->function, n);
					sym = symtab_find(st, clone);
					if (sym && sym->vaddr != found[i].vaddr)
						sym = NULL;
				}
			}
			if (!sym) {
				sym = symtab_find(st, sem->function);
				if (sym && sym->vaddr != found[i].vaddr)
					sym = NULL;
			}
			if (!sym) {
				snprintf(err, err_len, "%s: the collection function found at "
					 "0x%llx matches no %s symbol", plan->display,
					 (unsigned long long)found[i].vaddr, sem->function);
				return -ENOENT;
			}
			name = sym->name;
		}
		if (found[i].gen_arg < 0) {
			config_from(&cfg, sem, GC_GEN_CONST, found[i].gen_const);
			snprintf(what, sizeof(what), "%s (generation %d)",
				 name ? name : sem->function, found[i].gen_const);
		} else {
			config_from(&cfg, sem, found[i].gen_arg ? GC_GEN_ARG2 : GC_GEN_ARG1, 0);
			snprintf(what, sizeof(what), "%s", name ? name : sem->function);
		}
		ret = add_site(plan, host_path, found[i].vaddr, &cfg, what, err, err_len);
		if (ret)
			return ret;
	}
	return 0;
}

static int plan_symbols(struct probe_plan *plan, const char *host_path, const char *root,
			const struct gc_semantics *sem, const struct pyelf_info *info,
			const struct py_version *v, const char *version, char *err, size_t err_len)
{
	struct gc_func_site found[PROBE_MAX_SITES];
	struct gc_func_config cfg;
	const struct symbol *sym;
	struct symtab *st = NULL;
	char why[PROBE_TEXT_LEN];
	int ret, n;

	ret = symtab_load_named(host_path, plan->display, root, &st, why, sizeof(why));
	if (ret) {
		snprintf(err, err_len, "%s: no symbols: %s", plan->display, why);
		return ret;
	}
	snprintf(plan->source, sizeof(plan->source), "%s from %s",
		 symtab_source_name(symtab_source(st)),
		 symtab_source(st) == SYMTAB_SELF ? plan->display :
		 inside_root(symtab_source_path(st)));

	sym = symtab_find(st, sem->function);
	if (sem->gcc_clones && !sym) {
		/* Which clone has the generation folded in shows only in the code: the locator. */
		n = locate_gc_functions(host_path, version, found, PROBE_MAX_SITES, why,
					sizeof(why));
		if (n <= 0) {
			snprintf(err, err_len, "%s: cannot tell the %s.constprop clones apart: %s",
				 plan->display, sem->function, why);
			ret = n ? n : -ENOENT;
			goto cleanup;
		}
		ret = add_located_sites(plan, host_path, sem, found, n, st, err, err_len);
	} else if (!sym || !sym->is_func) {
		snprintf(err, err_len, "%s: no %s in its symbols (%s)", plan->display,
			 sem->function, plan->source);
		ret = -ENOENT;
		goto cleanup;
	} else {
		config_from(&cfg, sem, sem->gen_source, 0);
		ret = add_site(plan, host_path, sym->vaddr, &cfg, sem->function, err, err_len);
	}
	if (!ret && sem->recover_gen)
		plan_counters(plan, symtab_dwarf_file(st), info, v);
	if (!ret && sem->skip_nested) {
		plan_window(plan, host_path);
		plan_end_only(plan);
	}
cleanup:
	symtab_free(st);
	return ret;
}

static int plan_stripped(struct probe_plan *plan, const char *host_path,
			 const struct gc_semantics *sem, const struct pyelf_info *info,
			 const struct py_version *v, const char *version, char *err,
			 size_t err_len)
{
	struct gc_func_site found[PROBE_MAX_SITES];
	char why[PROBE_TEXT_LEN];
	int n, ret;

	n = locate_gc_functions(host_path, version, found, PROBE_MAX_SITES, why, sizeof(why));
	if (n <= 0) {
		snprintf(err, err_len, "%s: cannot find the collection function without symbols: "
			 "%s", plan->display, why);
		return n ? n : -ENOENT;
	}
	ret = add_located_sites(plan, host_path, sem, found, n, NULL, err, err_len);
	if (ret)
		return ret;
	snprintf(plan->source, sizeof(plan->source), "located without symbols: %s",
		 found[0].evidence);
	if (sem->recover_gen)
		plan_counters(plan, NULL, info, v);
	if (sem->skip_nested) {
		plan_window(plan, host_path);
		plan_end_only(plan);
	}
	return 0;
}

static int plan_make(const char *host_path, const char *display, const char *root,
		     const struct pyelf_info *info, const char *version, bool free_threaded,
		     enum probe_mode mode, struct probe_plan *plan, char *err, size_t err_len)
{
	char minor[16], sym_err[PROBE_TEXT_LEN];
	struct gc_semantics sem;
	struct py_version v;
	int ret;

	memset(plan, 0, sizeof(*plan));
	plan->display = display;
	plan->free_threaded = free_threaded;
	if (info->has_gc_start && info->has_gc_done && (mode == PROBE_AUTO || mode == PROBE_USDT)) {
		plan->tier = PROBE_USDT;
		snprintf(plan->source, sizeof(plan->source), "python:gc__start/gc__done markers");
		return 0;
	}
	if (mode == PROBE_USDT) {
		snprintf(err, err_len, "%s has no GC markers (python:gc__start/gc__done)",
			 plan->display);
		return -ENOTSUP;
	}
	if (!version[0] || py_version_parse(version, &v)) {
		snprintf(err, err_len, "%s: no GC markers, and its Python version cannot be "
			 "told (no Py_Version, no version in the file name), so its collection "
			 "function is unknown", plan->display);
		return -ENOTSUP;
	}
	ret = gc_semantics_for(&v, free_threaded, &sem, sym_err, sizeof(sym_err));
	if (ret) {
		snprintf(err, err_len, "%s: no GC markers, and %s", plan->display, sym_err);
		return ret;
	}
	plan->incremental = sem.incremental;
	snprintf(minor, sizeof(minor), "%d.%d", v.major, v.minor);

	if (mode == PROBE_AUTO || mode == PROBE_SYMBOL) {
		plan->tier = PROBE_SYMBOL;
		ret = plan_symbols(plan, host_path, root, &sem, info, &v, minor, err, err_len);
		if (!ret || mode == PROBE_SYMBOL)
			return ret;
		snprintf(sym_err, sizeof(sym_err), "%s", err);
		memset(plan, 0, sizeof(*plan));
		plan->display = display;
		plan->free_threaded = free_threaded;
		plan->incremental = sem.incremental;
	}
	plan->tier = PROBE_STRIPPED;
	ret = plan_stripped(plan, host_path, &sem, info, &v, minor, err, err_len);
	if (ret && mode == PROBE_AUTO) {
		char located[PROBE_TEXT_LEN];

		snprintf(located, sizeof(located), "%s", err);
		snprintf(err, err_len, "no GC markers; %s; %s", sym_err, located);
	}
	return ret;
}

int probe_plan_make(const char *host_path, const char *display, const char *root,
		    const struct pyelf_info *info, const char *version, bool free_threaded,
		    enum probe_mode mode, struct probe_plan *plan, char *err, size_t err_len)
{
	int ret = plan_make(host_path, display, root, info, version, free_threaded, mode, plan,
			    err, err_len);

	/* The name belongs to the caller; a plan outlives it when copied. */
	plan->display = NULL;
	return ret;
}
