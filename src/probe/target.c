// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "util/file_id.h"
#include "probe/target.h"

/* What the kernel appends to the name of a mapped file that was unlinked. */
#define DELETED_SUFFIX		" (deleted)"

/* Binaries remembered; a node runs a few Python builds, and many other programs. */
#define TARGET_CACHE_SIZE	256

struct cached_binary {
	struct file_id id;
	int inspect_err;
	struct pyelf_info info;
	bool planned;			/* the fields below are valid */
	enum probe_mode mode;
	int plan_ret;
	struct target plan;		/* version, build flags, plan; not the process's fields */
	char plan_err[TARGET_ERR_LEN];
};

struct target_cache {
	struct cached_binary entries[TARGET_CACHE_SIZE];
	unsigned int used, next_victim;
};

struct interpreter_search {
	pid_t pid;
	const char *root;
	bool found;
	char binary[PROC_PATH_MAX];
	char host_path[PROC_PATH_MAX];
	struct pyelf_info info;
	int first_error;
	struct target_cache *cache;
	struct cached_binary *hit;	/* the found binary's cache entry, if any */
};

struct target_cache *target_cache_new(void)
{
	return calloc(1, sizeof(struct target_cache));
}

void target_cache_free(struct target_cache *c)
{
	free(c);
}

static struct cached_binary *cache_lookup(struct target_cache *c, const struct file_id *id)
{
	unsigned int i;

	for (i = 0; i < c->used; i++)
		if (file_id_equal(&c->entries[i].id, id))
			return &c->entries[i];
	return NULL;
}

static struct cached_binary *cache_insert(struct target_cache *c, const struct file_id *id)
{
	struct cached_binary *e;

	e = &c->entries[file_cache_slot(&c->used, &c->next_victim, TARGET_CACHE_SIZE)];
	memset(e, 0, sizeof(*e));
	e->id = *id;
	return e;
}

/* pyelf_inspect() through the cache; sets s->hit to the entry it used. */
static int inspect(struct interpreter_search *s, const char *host_path)
{
	struct cached_binary *e;
	struct file_id id;
	struct stat st;

	s->hit = NULL;
	if (!s->cache || stat(host_path, &st))
		return pyelf_inspect(host_path, &s->info);
	id = file_id_of(&st);
	e = cache_lookup(s->cache, &id);
	if (!e) {
		e = cache_insert(s->cache, &id);
		e->inspect_err = pyelf_inspect(host_path, &e->info);
	}
	s->info = e->info;
	s->hit = e;
	return e->inspect_err;
}

static bool is_libpython(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libpython", 9) && strstr(base, ".so");
}

/* "python3.13t", "libpython3.13t.so.1.0": the free-threaded build's names. */
static bool free_threaded_name(const char *path)
{
	const char *base = strrchr(path, '/');
	unsigned int major, minor;
	int n = 0;

	base = base ? base + 1 : path;
	if (!strncmp(base, "lib", 3))
		base += 3;
	return sscanf(base, "python%u.%u%n", &major, &minor, &n) == 2 && base[n] == 't';
}

/* Returns 1 (search done) when the candidate holds the interpreter. */
static int check_candidate(struct interpreter_search *s, const char *binary, const char *host_path)
{
	int err = inspect(s, host_path);

	if (err) {
		if (!s->first_error)
			s->first_error = err;
		return 0;
	}
	if (!s->info.is_elf ||
	    (!s->info.exports_python && !(s->info.has_gc_start && s->info.has_gc_done)))
		return 0;
	snprintf(s->binary, sizeof(s->binary), "%s", binary);
	snprintf(s->host_path, sizeof(s->host_path), "%s", host_path);
	s->found = true;
	return 1;
}

static bool is_deleted(const char *path)
{
	size_t n = strlen(path), d = strlen(DELETED_SUFFIX);

	return n > d && !strcmp(path + n - d, DELETED_SUFFIX);
}

/*
 * Where to open a mapped file from here: /proc/PID/map_files/START-END is the mapped file
 * itself, even once deleted (a package upgrade) or replaced; the name in maps may by now be
 * anything its owner put there. Without the capability map_files needs (CAP_SYS_ADMIN or
 * CAP_CHECKPOINT_RESTORE), the name under /proc/PID/root, unless it is known to be gone.
 */
static int mapped_file_path(pid_t pid, const struct map_entry *m, const char *path, char *buf,
			    size_t len)
{
	struct stat st;
	int n;

	n = snprintf(buf, len, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid, m->start, m->end);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (!stat(buf, &st))
		return 0;
	if (is_deleted(path))
		return -ENOENT;
	return proc_host_path(pid, path, buf, len);
}

static int check_mapping(const struct map_entry *m, void *arg)
{
	struct interpreter_search *s = arg;
	const char *path = proc_inside_path(s->root, m->path);
	char host_path[PROC_PATH_MAX];

	if (!is_libpython(path) || mapped_file_path(s->pid, m, path, host_path, sizeof(host_path)))
		return 0;
	return check_candidate(s, path, host_path);
}

int target_plan(struct target *t, const char *binary, const char *host_path,
		const struct pyelf_info *info, enum probe_mode mode, char *err, size_t err_len)
{
	char debug_root[64] = "";
	struct stat st;

	/* Before anything is read: a file rewritten meanwhile is then told from this one. */
	memset(&t->file, 0, sizeof(t->file));
	if (!stat(host_path, &st))
		t->file = file_id_of(&st);
	snprintf(t->binary, sizeof(t->binary), "%s", binary);
	snprintf(t->host_path, sizeof(t->host_path), "%s", host_path);
	if (info->version[0])
		snprintf(t->version, sizeof(t->version), "%s", info->version);
	else
		pyelf_version_from_name(binary, t->version, sizeof(t->version));
	t->shared_lib = is_libpython(binary);
	t->stripped = !info->has_symtab;
	t->free_threaded = info->free_threaded || free_threaded_name(binary);
	t->probe = NULL;
	/* A running process's debug files are those under its own root, container or not. */
	if (t->pid > 0)
		snprintf(debug_root, sizeof(debug_root), "/proc/%d/root", t->pid);
	if (probe_plan_make(host_path, t->binary, debug_root, info, t->version, t->free_threaded,
			    mode, &t->plan, err, err_len))
		return -ENOTSUP;
	t->probe = probe_mode_name(t->plan.tier);
	return 0;
}

/* target_plan() through the cache entry e (NULL: none), which then remembers the result. */
static int plan_cached(struct target *t, struct cached_binary *e, const char *binary,
		       const char *host_path, const struct pyelf_info *info, enum probe_mode mode,
		       char *err, size_t err_len)
{
	int ret;

	if (e && e->planned && e->mode == mode) {
		snprintf(t->binary, sizeof(t->binary), "%s", binary);
		snprintf(t->host_path, sizeof(t->host_path), "%s", host_path);
		memcpy(t->version, e->plan.version, sizeof(t->version));
		t->shared_lib = e->plan.shared_lib;
		t->stripped = e->plan.stripped;
		t->free_threaded = e->plan.free_threaded;
		t->probe = e->plan.probe;
		t->plan = e->plan.plan;
		t->file = e->plan.file;
		snprintf(err, err_len, "%s", e->plan_err);
		return e->plan_ret;
	}
	ret = target_plan(t, binary, host_path, info, mode, err, err_len);
	/* A failure because the process exited while its files were read says nothing. */
	if (e && (!ret || proc_same_incarnation(t->pid, t->start_ticks))) {
		e->plan = *t;
		e->mode = mode;
		e->plan_ret = ret;
		snprintf(e->plan_err, sizeof(e->plan_err), "%s", ret ? err : "");
		e->planned = true;
	}
	return ret;
}

int target_resolve(pid_t pid, enum probe_mode mode, struct target *t, char *err, size_t err_len)
{
	return target_resolve_cached(pid, mode, NULL, t, err, err_len);
}

int target_resolve_cached(pid_t pid, enum probe_mode mode, struct target_cache *cache,
			  struct target *t, char *err, size_t err_len)
{
	struct interpreter_search s = { .pid = pid, .root = t->root, .cache = cache };
	char exe[PROC_PATH_MAX], exe_host[64], why[TARGET_ERR_LEN];
	int ret;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	ret = proc_read_identity(pid, t->comm, sizeof(t->comm), &t->start_ticks);
	if (ret == -ENOENT) {
		snprintf(err, err_len, "pid %d: no such process", pid);
		return -ESRCH;
	}
	if (ret) {
		snprintf(err, err_len, "pid %d: cannot read /proc/%d/stat: %s", pid, pid,
			 strerror(-ret));
		return ret;
	}
	proc_root_dir(pid, t->root, sizeof(t->root));

	/*
	 * A mapped libpython comes first: when one is there the executable is only a launcher
	 * (pyenv, uwsgi) even if it exports the C API too.
	 */
	ret = proc_for_each_mapped_file(pid, check_mapping, &s);
	if (ret < 0) {
		snprintf(err, err_len, "pid %d (%s): cannot read its memory maps: %s", pid, t->comm,
			 ret == -ENOENT ? "process exited" : strerror(-ret));
		return ret == -ENOENT ? -ESRCH : ret;
	}
	if (!s.found && !proc_exe_path(pid, exe, sizeof(exe))) {
		/* /proc/PID/exe opens the executable even when its path is in another namespace. */
		snprintf(exe_host, sizeof(exe_host), "/proc/%d/exe", pid);
		check_candidate(&s, proc_inside_path(t->root, exe), exe_host);
	}
	if (!s.found) {
		if (s.first_error == -EACCES || s.first_error == -EPERM) {
			snprintf(err, err_len, "pid %d (%s): cannot read its binaries: %s (files "
				 "other users' modes hide need root or CAP_DAC_READ_SEARCH)", pid,
				 t->comm, strerror(-s.first_error));
			return s.first_error;
		}
		snprintf(err, err_len, "pid %d (%s): not a Python process (no Python executable "
			 "or libpython mapped)", pid, t->comm);
		return -ENOEXEC;
	}
	ret = plan_cached(t, s.hit, s.binary, s.host_path, &s.info, mode, why, sizeof(why));
	if (ret) {
		snprintf(err, err_len, "pid %d (%s): Python %s: %s", pid, t->comm,
			 t->version[0] ? t->version : "(unknown version)", why);
		return ret;
	}
	return 0;
}
