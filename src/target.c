// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "target.h"

struct candidate_search {
	pid_t pid;
	struct target *t;
	bool found_python;		/* some binary defines the C API */
	char python_binary[PROC_PATH_MAX];
	char python_version[PYELF_VERSION_LEN];
	bool found_markers;
	int first_error;
};

static bool is_libpython(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libpython", 9) && strstr(base, ".so");
}

/*
 * Looks at one candidate: returns 1 when it is the interpreter and carries both markers (search
 * done), 0 to go on.
 */
static int check_candidate(struct candidate_search *s, const char *binary, const char *host_path)
{
	struct pyelf_info info;
	char version[PYELF_VERSION_LEN];
	int err;

	err = pyelf_inspect(host_path, &info);
	if (err) {
		if (!s->first_error)
			s->first_error = err;
		return 0;
	}
	if (!info.is_elf || (!info.exports_python && !(info.has_gc_start && info.has_gc_done)))
		return 0;

	if (info.version[0])
		snprintf(version, sizeof(version), "%s", info.version);
	else
		pyelf_version_from_name(binary, version, sizeof(version));

	if (info.has_gc_start && info.has_gc_done) {
		snprintf(s->t->binary, sizeof(s->t->binary), "%s", binary);
		snprintf(s->t->host_path, sizeof(s->t->host_path), "%s", host_path);
		snprintf(s->t->version, sizeof(s->t->version), "%s", version);
		s->t->probe = "usdt";
		s->found_markers = true;
		return 1;
	}
	if (!s->found_python) {
		s->found_python = true;
		snprintf(s->python_binary, sizeof(s->python_binary), "%s", binary);
		snprintf(s->python_version, sizeof(s->python_version), "%s", version);
	}
	return 0;
}

static int check_mapping(const struct map_entry *m, void *arg)
{
	struct candidate_search *s = arg;
	char host_path[PROC_PATH_MAX];

	if (!is_libpython(m->path) || proc_host_path(s->pid, m->path, host_path, sizeof(host_path)))
		return 0;
	return check_candidate(s, m->path, host_path);
}

int target_resolve(pid_t pid, struct target *t, char *err, size_t err_len)
{
	struct candidate_search s = { .pid = pid, .t = t };
	char exe[PROC_PATH_MAX], exe_host[64];
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
	if (!s.found_markers && !proc_exe_path(pid, exe, sizeof(exe))) {
		/* /proc/PID/exe opens the executable even when its path is in another namespace. */
		snprintf(exe_host, sizeof(exe_host), "/proc/%d/exe", pid);
		check_candidate(&s, exe, exe_host);
	}
	if (s.found_markers)
		return 0;
	if (s.found_python) {
		snprintf(err, err_len,
			 "pid %d (%s): Python %s in %s has no GC markers "
			 "(python:gc__start/gc__done); function probes for builds without markers "
			 "are not supported yet",
			 pid, t->comm, s.python_version[0] ? s.python_version : "(unknown version)",
			 s.python_binary);
		return -ENOTSUP;
	}
	if (s.first_error == -EACCES || s.first_error == -EPERM) {
		snprintf(err, err_len, "pid %d (%s): cannot read its binaries: %s", pid, t->comm,
			 strerror(-s.first_error));
		return s.first_error;
	}
	snprintf(err, err_len,
		 "pid %d (%s): not a Python process (no Python executable or libpython mapped)",
		 pid, t->comm);
	return -ENOEXEC;
}
