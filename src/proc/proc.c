// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "proc/proc.h"

int proc_parse_maps_line(const char *line, struct map_entry *out)
{
	char perms[8];
	int path_at = -1;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n",
		   &out->start, &out->end, perms, &out->offset, &out->dev_major, &out->dev_minor,
		   &out->inode, &path_at) < 7 || path_at < 0)
		return -EINVAL;
	if (strlen(perms) != 4)
		return -EINVAL;
	out->exec = perms[2] == 'x';

	line += path_at;
	len = strcspn(line, "\n");
	if (len >= sizeof(out->path))
		return -EINVAL;
	memcpy(out->path, line, len);
	out->path[len] = '\0';
	return 0;
}

int proc_parse_stat(const char *stat, char *comm, size_t comm_len, uint64_t *start_ticks)
{
	const char *open = strchr(stat, '('), *close = strrchr(stat, ')'), *p;
	unsigned long long ticks;
	size_t n;
	int field;

	/* Nothing after the comm: the field walk below would start past the terminator. */
	if (!open || !close || close < open || !close[1])
		return -EINVAL;
	n = close - open - 1;
	if (n >= comm_len)
		n = comm_len - 1;
	memcpy(comm, open + 1, n);
	comm[n] = '\0';

	/* The comm is field 2; starttime is field 22, so skip 19 more fields after the state. */
	p = close + 1;
	for (field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EINVAL;
	}
	if (sscanf(p, " %llu", &ticks) != 1)
		return -EINVAL;
	*start_ticks = ticks;
	return 0;
}

static int read_small_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	buf[n] = '\0';
	return n;
}

bool proc_same_incarnation(pid_t pid, uint64_t start_ticks)
{
	char comm[PROC_COMM_LEN];
	uint64_t start;

	return !proc_read_identity(pid, comm, sizeof(comm), &start) && start == start_ticks;
}

uint64_t proc_ticks_from_boottime_ns(uint64_t ns)
{
	static uint64_t ns_per_tick;
	long hz;

	/* The kernel divides the same way: nsec_to_clock_t() of the task's start_boottime. */
	if (!ns_per_tick) {
		hz = sysconf(_SC_CLK_TCK);
		ns_per_tick = 1000000000ull / (hz > 0 ? hz : 100);
	}
	return ns / ns_per_tick;
}

int proc_read_identity(pid_t pid, char *comm, size_t comm_len, uint64_t *start_ticks)
{
	char path[64], stat[1024], *state;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	err = read_small_file(path, stat, sizeof(stat));
	if (err == -ESRCH)
		return -ENOENT;
	if (err < 0)
		return err;
	err = proc_parse_stat(stat, comm, comm_len, start_ticks);
	if (err)
		return err;
	state = strrchr(stat, ')');
	if (state && (state[2] == 'Z' || state[2] == 'X'))
		return -ENOENT;
	return 0;
}

struct seen_path {
	char *path;
	struct seen_path *next;
};

static bool seen_before(struct seen_path **seen, const char *path)
{
	struct seen_path *s;

	for (s = *seen; s; s = s->next)
		if (!strcmp(s->path, path))
			return true;
	s = malloc(sizeof(*s));
	if (!s)
		return false;
	s->path = strdup(path);
	if (!s->path) {
		free(s);
		return false;
	}
	s->next = *seen;
	*seen = s;
	return false;
}

int proc_for_each_mapped_file(pid_t pid, proc_map_fn fn, void *arg)
{
	struct seen_path *seen = NULL, *next;
	struct map_entry *entry = NULL;
	char path[64], *line = NULL;
	size_t line_len = 0;
	int err = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ESRCH ? -ENOENT : -errno;
	entry = malloc(sizeof(*entry));
	if (!entry) {
		err = -ENOMEM;
		goto cleanup;
	}
	while (getline(&line, &line_len, f) > 0) {
		if (proc_parse_maps_line(line, entry) || entry->inode == 0 || entry->path[0] != '/')
			continue;
		if (seen_before(&seen, entry->path))
			continue;
		err = fn(entry, arg);
		if (err)
			break;
	}
cleanup:
	for (; seen; seen = next) {
		next = seen->next;
		free(seen->path);
		free(seen);
	}
	free(entry);
	free(line);
	fclose(f);
	return err;
}

const char *proc_inside_path(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (n && !strncmp(path, root, n) && path[n] == '/')
		return path + n;
	return path;
}

int proc_host_path(pid_t pid, const char *path, char *buf, size_t len)
{
	int n = snprintf(buf, len, "/proc/%d/root%s", pid, path);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* readlink of /proc/PID/<name>; -ENOENT once the process is gone. */
static int read_proc_link(pid_t pid, const char *name, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/%s", pid, name);
	n = readlink(link, buf, len - 1);
	if (n < 0)
		return errno == ESRCH ? -ENOENT : -errno;
	buf[n] = '\0';
	return 0;
}

int proc_root_dir(pid_t pid, char *buf, size_t len)
{
	int err = read_proc_link(pid, "root", buf, len);

	if (!err && !strcmp(buf, "/"))
		buf[0] = '\0';
	return err;
}

int proc_exe_path(pid_t pid, char *buf, size_t len)
{
	return read_proc_link(pid, "exe", buf, len);
}

int proc_for_each_child(pid_t pid, void (*fn)(pid_t child, void *ctx), void *ctx)
{
	char path[96];
	struct dirent *de;
	DIR *tasks;
	FILE *f;
	int child;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	tasks = opendir(path);
	if (!tasks)
		return -errno;
	while ((de = readdir(tasks))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/children", pid, de->d_name);
		f = fopen(path, "re");
		/* A thread that ended meanwhile has no children left to list. */
		if (!f)
			continue;
		while (fscanf(f, "%d", &child) == 1)
			if (child > 0)
				fn(child, ctx);
		fclose(f);
	}
	closedir(tasks);
	return 0;
}
