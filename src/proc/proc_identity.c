// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "proc/proc_identity.h"

#define TCP_LISTEN_STATE	0x0A

/* The fields of /proc/PID/stat after "(comm) ": field 3 is the first. */
static int read_stat_fields(pid_t pid, char *buf, size_t len, const char **after_comm)
{
	char path[64], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* comm may hold ") ": the last one ends it. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EINVAL;
	*after_comm = p + 2;
	return 0;
}

/* Field k (3 = state) of a stat line's tail, as a number. */
static int stat_field(const char *tail, int k, unsigned long long *v)
{
	const char *p = tail;
	int i;

	for (i = 3; i < k && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || sscanf(p, "%llu", v) != 1)
		return -EINVAL;
	return 0;
}

int proc_cpu_ns(pid_t pid, uint64_t *ns)
{
	unsigned long long utime, stime;
	const char *tail;
	char buf[1024];
	long hz = sysconf(_SC_CLK_TCK);
	int ret = read_stat_fields(pid, buf, sizeof(buf), &tail);

	if (ret)
		return ret;
	if (stat_field(tail, 14, &utime) || stat_field(tail, 15, &stime) || hz <= 0)
		return -EINVAL;
	*ns = (utime + stime) * (1000000000ull / (uint64_t)hz);
	return 0;
}

static pid_t parent_of(pid_t pid)
{
	unsigned long long ppid;
	const char *tail;
	char buf[1024];

	if (read_stat_fields(pid, buf, sizeof(buf), &tail) || stat_field(tail, 4, &ppid))
		return 0;
	return (pid_t)ppid;
}

static void read_cmdline(pid_t pid, char *out, size_t len)
{
	char path[64];
	ssize_t n, i;
	int fd;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, out, len - 1);
	close(fd);
	if (n <= 0)
		return;
	while (n > 0 && !out[n - 1])
		n--;
	for (i = 0; i < n; i++) {
		if (!out[i])
			out[i] = ' ';
		else if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';	/* never a terminal control sequence */
	}
	out[n] = '\0';
}

/* Whether a and b run the same executable (both readable). */
static bool same_exe(pid_t a, pid_t b)
{
	char pa[64], pb[64], ea[4096], eb[4096];
	ssize_t na, nb;

	snprintf(pa, sizeof(pa), "/proc/%d/exe", a);
	snprintf(pb, sizeof(pb), "/proc/%d/exe", b);
	na = readlink(pa, ea, sizeof(ea));
	nb = readlink(pb, eb, sizeof(eb));
	return na > 0 && na == nb && !memcmp(ea, eb, na);
}

static bool has_child_like(pid_t pid)
{
	char path[96], buf[4096], *p, *end;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (p = buf; *p; p = end) {
		long child = strtol(p, &end, 10);

		if (end == p)
			break;
		if (child > 0 && same_exe(pid, (pid_t)child))
			return true;
	}
	return false;
}

static void read_unit(pid_t pid, char *out, size_t len)
{
	char path[64], line[1024], *unit, *end;
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* cgroup v2: "0::/system.slice/web.service"; the innermost unit names it. */
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		for (unit = strtok_r(line + 3, "/", &end); unit; unit = strtok_r(NULL, "/", &end)) {
			size_t n = strlen(unit);

			if ((n > 8 && !strcmp(unit + n - 8, ".service")) ||
			    (n > 6 && !strcmp(unit + n - 6, ".scope")))
				snprintf(out, len, "%s", unit);
		}
	}
	fclose(f);
}

/* Socket inodes pid holds, sorted, for matching /proc/net/tcp's listeners. */
static int socket_inodes(pid_t pid, unsigned long **out)
{
	char path[64], link[96], target[64];
	unsigned long *inodes = NULL, *grown, ino;
	int n = 0, cap = 0;
	struct dirent *de;
	ssize_t len;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%.20s", path, de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (sscanf(target, "socket:[%lu]", &ino) != 1)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			grown = realloc(inodes, cap * sizeof(*grown));
			if (!grown)
				break;
			inodes = grown;
		}
		inodes[n++] = ino;
	}
	closedir(dir);
	*out = inodes;
	return n;
}

static void add_listeners(pid_t pid, const char *table, const unsigned long *inodes, int ninodes,
			  struct proc_identity *id)
{
	char path[64], line[512];
	unsigned int port, state;
	unsigned long ino;
	FILE *f;
	int i, k;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, table);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && id->nports < PROC_MAX_PORTS) {
		/* "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode" */
		if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*x:%*x %*x:%*x %*x "
			   "%*u %*u %lu", &port, &state, &ino) != 3 || state != TCP_LISTEN_STATE)
			continue;
		for (i = 0; i < ninodes && inodes[i] != ino; i++)
			;
		if (i == ninodes)
			continue;
		for (k = 0; k < id->nports && id->ports[k] != port; k++)
			;
		if (k == id->nports)
			id->ports[id->nports++] = (uint16_t)port;
	}
	fclose(f);
}

static void read_ports(pid_t pid, struct proc_identity *id)
{
	unsigned long *inodes = NULL;
	int ninodes = socket_inodes(pid, &inodes);

	if (ninodes) {
		add_listeners(pid, "tcp", inodes, ninodes, id);
		add_listeners(pid, "tcp6", inodes, ninodes, id);
	}
	free(inodes);
}

static bool share_a_port(const struct proc_identity *a, const struct proc_identity *b)
{
	int i, k;

	for (i = 0; i < a->nports; i++)
		for (k = 0; k < b->nports; k++)
			if (a->ports[i] == b->ports[k])
				return true;
	return false;
}

int proc_identity_read(pid_t pid, struct proc_identity *id)
{
	struct proc_identity parent;

	memset(id, 0, sizeof(*id));
	id->pid = pid;
	id->ppid = parent_of(pid);
	if (!id->ppid && kill(pid, 0) && errno == ESRCH)
		return -ESRCH;
	read_cmdline(pid, id->cmdline, sizeof(id->cmdline));
	read_unit(pid, id->unit, sizeof(id->unit));
	read_ports(pid, id);
	if (!id->nports)
		return 0;
	/*
	 * A pre-fork pool's processes run one executable and share the listening socket: a
	 * Python launched by another (a test runner, a shell script) does not share its port.
	 */
	memset(&parent, 0, sizeof(parent));
	if (id->ppid > 1 && same_exe(pid, id->ppid)) {
		read_ports(id->ppid, &parent);
		if (share_a_port(id, &parent)) {
			id->role = PROC_ROLE_WORKER;
			return 0;
		}
	}
	if (has_child_like(pid))
		id->role = PROC_ROLE_MASTER;
	return 0;
}

void proc_identity_refresh(pid_t pid, struct proc_identity *id, bool may_listen_later)
{
	char cmdline[PROC_CMDLINE_LEN];

	read_cmdline(pid, cmdline, sizeof(cmdline));
	if (!cmdline[0])
		return;		/* gone, or a kernel thread: keep what was read */
	if (strcmp(cmdline, id->cmdline) || (!id->nports && may_listen_later))
		proc_identity_read(pid, id);
}

void proc_identity_program(const struct proc_identity *id, char *buf, size_t len)
{
	char args[PROC_CMDLINE_LEN], *arg, *save, *name;
	bool python, take_next = false;

	buf[0] = '\0';
	snprintf(args, sizeof(args), "%s", id->cmdline);
	arg = strtok_r(args, " ", &save);
	if (!arg)
		return;
	name = strrchr(arg, '/') ? strrchr(arg, '/') + 1 : arg;
	python = !strncmp(name, "python", 6);
	if (!python) {
		snprintf(buf, len, "%s", name);
		return;
	}
	while ((arg = strtok_r(NULL, " ", &save))) {
		if (take_next || arg[0] != '-') {
			name = strrchr(arg, '/') ? strrchr(arg, '/') + 1 : arg;
			snprintf(buf, len, "%s", name);
			return;
		}
		if (!strcmp(arg, "-c")) {
			snprintf(buf, len, "-c");
			return;
		}
		/* -m mod, or -mmod; options with a separate value (-X opt, -W arg) skip it. */
		if (!strcmp(arg, "-m") || !strcmp(arg, "-X") || !strcmp(arg, "-W")) {
			if (arg[1] != 'm') {
				arg = strtok_r(NULL, " ", &save);
				if (!arg)
					return;
				continue;
			}
			take_next = true;
		} else if (!strncmp(arg, "-m", 2)) {
			snprintf(buf, len, "%s", arg + 2);
			return;
		}
	}
	snprintf(buf, len, "%s", name);	/* the interpreter alone: a REPL */
}

const char *proc_role_name(enum proc_role role)
{
	switch (role) {
	case PROC_ROLE_MASTER:
		return "master";
	case PROC_ROLE_WORKER:
		return "worker";
	default:
		return "-";
	}
}

void proc_identity_service(const struct proc_identity *id, char *buf, size_t len)
{
	if (id->unit[0])
		snprintf(buf, len, "%s", id->unit);
	else if (id->role == PROC_ROLE_WORKER)
		snprintf(buf, len, "pool:%d", id->ppid);
	else if (id->role == PROC_ROLE_MASTER)
		snprintf(buf, len, "pool:%d", id->pid);
	else
		snprintf(buf, len, "-");
}
