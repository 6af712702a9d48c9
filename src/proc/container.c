// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "proc/container.h"

#define HEX_ID_LEN	64
#define UID_LEN		36
/* Lines of v1 cgroup paths can each reach PATH_MAX; a dozen controllers fit here. */
#define CGROUP_TEXT_MAX	65536

/* What one cgroup line tells; pointers into the text, not terminated. */
struct cg_match {
	const char *runtime;
	const char *id;
	const char *uid;
};

/* Scope (systemd driver) or plain (cgroupfs driver) names runtimes give a container's cgroup. */
static const struct {
	const char *prefix;
	const char *runtime;
} id_prefixes[] = {
	{ "cri-containerd-", "containerd" },
	{ "crio-", "cri-o" },	/* "crio-conmon-<id>" is the monitor: no hex follows "crio-" */
	{ "docker-", "docker" },
	{ "libpod-", "podman" },	/* "libpod-conmon-<id>" likewise */
};

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_hex64(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && is_hex(s[i]); i++)
		;
	return n == HEX_ID_LEN && i == n;
}

/* 8-4-4-4-12 hex; the systemd driver writes '_' for '-' because '-' nests slices. */
static bool is_uid(const char *s, size_t n)
{
	size_t i;

	if (n != UID_LEN)
		return false;
	for (i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' && s[i] != '_' : !is_hex(s[i]))
			return false;
	}
	return true;
}

static bool has_prefix(const char *s, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);

	return n >= p && !memcmp(s, prefix, p);
}

static bool has_suffix(const char *s, size_t n, const char *suffix)
{
	size_t x = strlen(suffix);

	return n >= x && !memcmp(s + n - x, suffix, x);
}

/* One path segment; prev is the one before it, to tell Docker's "/docker/<id>". */
static void match_segment(const char *s, size_t n, const char *prev, size_t prev_n,
			  struct cg_match *m)
{
	size_t i;

	if (has_suffix(s, n, ".slice")) {
		/* kubepods-pod<uid>.slice, kubepods-{burstable,besteffort}-pod<uid>.slice */
		n -= strlen(".slice");
		if (has_prefix(s, n, "kubepods") && n >= 4 + UID_LEN &&
		    !memcmp(s + n - UID_LEN - 4, "-pod", 4) && is_uid(s + n - UID_LEN, UID_LEN))
			m->uid = s + n - UID_LEN;
		return;
	}
	if (has_prefix(s, n, "pod") && is_uid(s + 3, n - 3)) {
		m->uid = s + 3;
		return;
	}
	if (has_suffix(s, n, ".scope"))
		n -= strlen(".scope");
	if (is_hex64(s, n)) {
		m->id = s;
		m->runtime = prev_n == 6 && !memcmp(prev, "docker", 6) ? "docker" : "";
		return;
	}
	for (i = 0; i < sizeof(id_prefixes) / sizeof(id_prefixes[0]); i++) {
		size_t p = strlen(id_prefixes[i].prefix);

		if (has_prefix(s, n, id_prefixes[i].prefix) && is_hex64(s + p, n - p)) {
			m->id = s + p;
			m->runtime = id_prefixes[i].runtime;
			return;
		}
	}
}

/*
 * "N:controllers:/path". The path is split in segments rather than matched against prefixes:
 * seen from another cgroup namespace it starts with "/../..", and runtimes nest it variously.
 * The innermost ID wins, so a pod on a kind node (itself "/docker/<id>") gets its container's.
 */
static int parse_line(const char *line, size_t len, bool *v2, struct cg_match *m)
{
	const char *end = line + len, *ctl, *path, *seg, *prev = "";
	size_t digits = 0, prev_n = 0, n;

	while (line + digits < end && line[digits] >= '0' && line[digits] <= '9')
		digits++;
	if (!digits || line + digits == end || line[digits] != ':')
		return -EINVAL;
	ctl = line + digits + 1;
	path = memchr(ctl, ':', end - ctl);
	if (!path || ++path == end || *path != '/')
		return -EINVAL;
	*v2 = digits == 1 && line[0] == '0' && path == ctl + 1;
	/* A removed cgroup still shows in a process being reaped. */
	if (has_suffix(path, end - path, " (deleted)"))
		end -= strlen(" (deleted)");

	memset(m, 0, sizeof(*m));
	for (seg = path; seg < end; seg += n + 1) {
		n = strcspn(seg, "/\n");
		if (seg + n > end)
			n = end - seg;
		if (n) {
			match_segment(seg, n, prev, prev_n, m);
			prev = seg;
			prev_n = n;
		}
	}
	return 0;
}

static int rank(const struct cg_match *m)
{
	return m->id ? 2 : m->uid ? 1 : 0;
}

int container_parse_cgroup(const char *text, struct container_info *out)
{
	struct cg_match best = { 0 }, m;
	bool v2, best_v2 = false;
	const char *p, *next;
	int lines = 0, err;
	size_t len, i;

	memset(out, 0, sizeof(*out));
	if (!text)
		return -EINVAL;
	for (p = text; *p; p = next) {
		len = strcspn(p, "\n");
		next = p + len + (p[len] == '\n');
		if (!len)
			continue;
		err = parse_line(p, len, &v2, &m);
		if (err)
			return err;
		lines++;
		/* The first line that tells most wins, except that the unified one is preferred. */
		if (rank(&m) > rank(&best) ||
		    (rank(&m) && rank(&m) == rank(&best) && v2 && !best_v2)) {
			best = m;
			best_v2 = v2;
		}
	}
	if (!lines)
		return -EINVAL;
	if (best.id) {
		memcpy(out->id, best.id, HEX_ID_LEN);
		snprintf(out->runtime, sizeof(out->runtime), "%s", best.runtime);
	}
	if (best.uid)
		for (i = 0; i < UID_LEN; i++)
			out->pod_uid[i] = best.uid[i] == '_' ? '-' : best.uid[i];
	return 0;
}

/* Reads fd to its end or until buf is full, terminates it and closes fd: length or -errno. */
static ssize_t read_close(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n = 0;

	while (got < len - 1) {
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	n = n < 0 ? -errno : (ssize_t)got;
	close(fd);
	buf[got] = '\0';
	return n;
}

static int read_cgroup(const char *proc_dir, pid_t pid, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	n = snprintf(path, sizeof(path), "%s/%d/cgroup", proc_dir, pid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read_close(fd, buf, len);
	if (n < 0)
		return n;
	return (size_t)n == len - 1 ? -EFBIG : 0;
}

/*
 * A small regular file under the container's root. root is the process's root directory, and
 * path is resolved as if it were "/": the container owns every symlink on the way, and an
 * absolute one or a ".." must not lead us, root on the host, to the host's files. Only a
 * regular file is then opened for reading, so a FIFO or a device planted there is never opened.
 * Returns the length read, or -errno.
 */
static ssize_t read_in_root(int root, const char *path, char *buf, size_t len)
{
	/* O_PATH: a device node planted there is not opened (its driver not run) to be checked. */
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	char fd_path[32];
	struct stat st;
	int fd, file;

	/*
	 * Before Linux 5.6 there is no openat2 (ENOSYS), and nothing else confines symlinks to a
	 * directory short of walking every component by hand; the label is not worth that risk,
	 * so the caller leaves the field empty.
	 */
	fd = syscall(SYS_openat2, root, path, &how, sizeof(how));
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	/* The very file checked, opened for reading through its descriptor. */
	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd);
	file = open(fd_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	close(fd);
	if (file < 0)
		return -errno;
	return read_close(file, buf, len);
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* RFC 1123, as Kubernetes checks names: a label, or labels joined by dots when !label_only. */
static bool is_dns_name(const char *s, size_t n, bool label_only)
{
	size_t i;

	if (!n || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (i = 1; i < n - 1; i++) {
		if (s[i] == '.' && !label_only && is_alnum(s[i - 1]) && is_alnum(s[i + 1]))
			continue;
		if (!is_alnum(s[i]) && s[i] != '-')
			return false;
	}
	return true;
}

/* Fills out (else leaves it empty) from a file holding one name; false if no such file. */
static bool read_name(int root, const char *path, bool label_only, char *out, size_t out_len)
{
	char buf[CONTAINER_POD_LEN + 64], *s;
	ssize_t n = read_in_root(root, path, buf, sizeof(buf));
	size_t len;

	if (n < 0)
		return false;
	/* A full buffer means a longer file, whose cut end might look like a valid name. */
	if ((size_t)n == sizeof(buf) - 1)
		return true;
	for (s = buf; *s && strchr(" \t\r\n", *s); s++)
		;
	for (len = strlen(s); len && strchr(" \t\r\n", s[len - 1]); len--)
		;
	if (len < out_len && is_dns_name(s, len, label_only)) {
		memcpy(out, s, len);
		out[len] = '\0';
	}
	return true;
}

int container_read_at(const char *proc_dir, pid_t pid, struct container_info *out)
{
	static const char *const ns_paths[] = {
		"var/run/secrets/kubernetes.io/serviceaccount/namespace",
		"run/secrets/kubernetes.io/serviceaccount/namespace",
	};
	char path[PATH_MAX], *text;
	bool has_ns = false;
	int err, root;
	size_t i;

	memset(out, 0, sizeof(*out));
	text = malloc(CGROUP_TEXT_MAX);
	if (!text)
		return -ENOMEM;
	err = read_cgroup(proc_dir, pid, text, CGROUP_TEXT_MAX);
	if (!err)
		err = container_parse_cgroup(text, out);
	free(text);
	if (err)
		return err;

	err = snprintf(path, sizeof(path), "%s/%d/root", proc_dir, pid);
	if (err < 0 || (size_t)err >= sizeof(path))
		return -ENAMETOOLONG;
	root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		/* A zombie has a cgroup but no root any more. */
		return errno == ENOENT || errno == ESRCH ? -ESRCH : 0;
	for (i = 0; i < sizeof(ns_paths) / sizeof(ns_paths[0]) && !out->ns[0]; i++)
		has_ns |= read_name(root, ns_paths[i], true, out->ns, sizeof(out->ns));
	/* Kubernetes makes a pod's hostname its name; elsewhere the hostname is anything. */
	if (out->pod_uid[0] || has_ns)
		read_name(root, "etc/hostname", false, out->pod, sizeof(out->pod));
	close(root);
	return 0;
}

int container_read(pid_t pid, struct container_info *out)
{
	return container_read_at("/proc", pid, out);
}

void container_id_label(const struct container_info *c, char *buf, size_t len)
{
	if (!len)
		return;
	if (!c->id[0])
		buf[0] = '\0';
	else if (c->runtime[0])
		snprintf(buf, len, "%s://%s", c->runtime, c->id);
	else
		snprintf(buf, len, "%s", c->id);
}

void container_short_name(const struct container_info *c, char *buf, size_t len)
{
	if (c->pod[0])
		snprintf(buf, len, "%s%s%s", c->ns, c->ns[0] ? "/" : "", c->pod);
	else
		snprintf(buf, len, "%.12s", c->id[0] ? c->id : "-");
}
