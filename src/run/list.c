// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util/format.h"
#include "run/list.h"
#include "util/messages.h"
#include "proc/proc_identity.h"
#include "report/report.h"
#include "probe/target.h"

/* "gil,shared,unstripped": what decides which probes can work. */
static void describe_build(const struct target *t, char *buf, size_t len)
{
	snprintf(buf, len, "%s,%s,%s", t->free_threaded ? "free-threaded" : "gil",
		 t->shared_lib ? "shared" : "static", t->stripped ? "stripped" : "unstripped");
}

static void print_header(FILE *out)
{
	fprintf(out, "%7s  %7s  %-15s  %-6s  %-11s  %-20s  %-9s  %-26s  %-12s  %-24s  %-40s  "
		"%s\n", "PID", "PPID", "COMM", "ROLE", "LISTEN", "SERVICE", "VERSION", "BUILD",
		"ROOT", "CONTAINER", "COMMAND LINE", "PROBE");
}

/* Only the part of a message after its "pid N (comm): " prefix: the row already says that. */
static const char *reason_only(const char *err)
{
	const char *p = strstr(err, "): ");

	return p ? p + 3 : err;
}

/* "8000", "8000,8001", "-": the TCP ports it listens on. */
static void describe_ports(const struct proc_identity *id, char *buf, size_t len)
{
	size_t used = 0;
	int i;

	snprintf(buf, len, "-");
	for (i = 0; i < id->nports && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%u", i ? "," : "", id->ports[i]);
}

#define CMDLINE_COLUMN 40

/*
 * The command line for its 40-column cell. When the whole does not fit, the interpreter's and
 * the program's directories go (JSON keeps them): "/usr/bin/python3.11 /srv/app/tornado_app.py"
 * would otherwise be cut before the one word that tells it from other python3.11 processes.
 */
static void cell_cmdline(const struct proc_identity *id, char *buf, size_t len)
{
	char args[PROC_CMDLINE_LEN], program[PROC_CMDLINE_LEN], *arg, *save, *slash;
	bool program_done = false;
	size_t used = 0;
	int n = 0;

	if (strlen(id->cmdline) <= CMDLINE_COLUMN) {
		snprintf(buf, len, "%s", id->cmdline);
		return;
	}
	proc_identity_program(id, program, sizeof(program));
	snprintf(args, sizeof(args), "%s", id->cmdline);
	buf[0] = '\0';
	for (arg = strtok_r(args, " ", &save); arg && used < len;
	     arg = strtok_r(NULL, " ", &save), n++) {
		slash = strrchr(arg, '/');
		if (slash && slash[1] && (n == 0 || (!program_done && !strcmp(slash + 1, program)))) {
			program_done = n > 0;
			arg = slash + 1;
		}
		/* Not an interpreter: its program is itself, no later argument is shortened. */
		if (n == 0 && strncmp(arg, "python", 6))
			program_done = true;
		used += snprintf(buf + used, len - used, "%s%s", n ? " " : "", arg);
	}
}

/* Every field but the PID comes from the process or its files: escaped for the terminal. */
static void print_row(FILE *out, const struct target *t, int ret, const char *err)
{
	char build[64], container[CONTAINER_NS_LEN + CONTAINER_POD_LEN + 1];
	char comm[FMT_TERMINAL_LEN(sizeof(t->comm))], version[FMT_TERMINAL_LEN(sizeof(t->version))];
	char root[FMT_TERMINAL_LEN(sizeof(t->root))], where[FMT_TERMINAL_LEN(sizeof(container))];
	char source[FMT_TERMINAL_LEN(sizeof(t->plan.source))];
	char caveat[FMT_TERMINAL_LEN(sizeof(t->plan.caveat))];
	char reason[FMT_TERMINAL_LEN(TARGET_ERR_LEN)];
	char cmdline[FMT_TERMINAL_LEN(PROC_CMDLINE_LEN)], service[FMT_TERMINAL_LEN(PROC_UNIT_LEN)];
	char ports[32], unit[PROC_UNIT_LEN], cell[PROC_CMDLINE_LEN];
	struct proc_identity id;

	proc_identity_read(t->pid, &id);
	describe_ports(&id, ports, sizeof(ports));
	proc_identity_service(&id, unit, sizeof(unit));
	fmt_terminal(service, sizeof(service), unit);
	cell_cmdline(&id, cell, sizeof(cell));
	fmt_terminal(cmdline, sizeof(cmdline), cell[0] ? cell : "-");

	if (t->binary[0])
		describe_build(t, build, sizeof(build));
	else
		snprintf(build, sizeof(build), "-");
	container_short_name(&t->container, container, sizeof(container));
	fmt_terminal(comm, sizeof(comm), t->comm);
	fmt_terminal(version, sizeof(version), t->version[0] ? t->version : "?");
	fmt_terminal(root, sizeof(root), t->root[0] ? t->root : "/");
	fmt_terminal(where, sizeof(where), container);
	if (ret) {
		fprintf(out, "%7d  %7d  %-15s  %-6s  %-11s  %-20.20s  %-9s  %-26s  %-12s  %-24s  "
			"%-40.40s  none: %s\n", t->pid, id.ppid, comm, proc_role_name(id.role), ports,
			service, version, build, root, where, cmdline,
			fmt_terminal(reason, sizeof(reason), reason_only(err)));
		return;
	}
	fprintf(out, "%7d  %7d  %-15s  %-6s  %-11s  %-20.20s  %-9s  %-26s  %-12s  %-24s  %-40.40s  "
		"%s (%s)%s%s\n", t->pid, id.ppid, comm, proc_role_name(id.role), ports, service,
		version, build, root, where, cmdline, t->probe,
		fmt_terminal(source, sizeof(source), t->plan.source),
		t->plan.caveat[0] ? "; " : "",
		fmt_terminal(caveat, sizeof(caveat), t->plan.caveat));
}

/* Returns 1 for a PID asked for that failed, 2 for a process not looked at (privileges). */
static int list_one(FILE *out, pid_t pid, const struct options *o, bool given)
{
	char err[TARGET_ERR_LEN], build[64];
	struct target *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	ret = target_resolve(pid, o->probe_mode, t, err, sizeof(err));
	if (ret != -ESRCH)
		container_read(pid, &t->container);
	/* Scanning everything, only Pythons are of interest; a PID asked for always answers. */
	if (!given && (ret == -ESRCH || ret == -ENOEXEC || ret == -EACCES || ret == -EPERM ||
		       ret == -ENOENT)) {
		free(t);
		return ret == -EACCES || ret == -EPERM ? 2 : 0;
	}
	if (o->json) {
		describe_build(t, build, sizeof(build));
		report_json_list_entry(out, t, ret ? err : NULL, build);
	} else {
		print_row(out, t, ret, err);
	}
	free(t);
	return ret ? 1 : 0;
}

static int compare_pids(const void *a, const void *b)
{
	return *(const pid_t *)a - *(const pid_t *)b;
}

int list_processes(FILE *out, const struct options *o)
{
	pid_t *pids = NULL, *grown;
	int i, n = 0, cap = 0, failed = 0, hidden = 0;
	struct dirent *de;
	DIR *dir;

	if (!o->json)
		print_header(out);
	if (o->npids) {
		for (i = 0; i < o->npids; i++)
			failed |= list_one(out, o->pids[i], o, true);
		return failed ? 1 : 0;
	}
	dir = opendir("/proc");
	if (!dir) {
		msg_error("cannot read /proc: %s", strerror(errno));
		return 1;
	}
	while ((de = readdir(dir))) {
		if (!isdigit((unsigned char)de->d_name[0]) || atoi(de->d_name) == getpid())
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			grown = realloc(pids, cap * sizeof(*pids));
			if (!grown)
				break;
			pids = grown;
		}
		pids[n++] = atoi(de->d_name);
	}
	closedir(dir);
	qsort(pids, n, sizeof(*pids), compare_pids);
	for (i = 0; i < n; i++)
		hidden += list_one(out, pids[i], o, false) == 2;
	free(pids);
	/* Without privileges the table is empty or nearly: say why rather than let it mislead. */
	if (hidden)
		msg_error("note: %d process%s could not be looked at: another user's memory maps "
			  "need root or CAP_SYS_PTRACE (and binaries their file modes hide "
			  "CAP_DAC_READ_SEARCH)", hidden, hidden == 1 ? "" : "es");
	return 0;
}
