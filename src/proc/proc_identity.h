/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What tells processes apart beyond their comm: parent, command line, the TCP ports they
 * listen on, their place in a pre-fork pool, the systemd unit they run in; and their CPU time.
 */
#ifndef GCPAUSE_PROC_PROC_IDENTITY_H
#define GCPAUSE_PROC_PROC_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PROC_CMDLINE_LEN	512
#define PROC_MAX_PORTS		4
#define PROC_UNIT_LEN		96

enum proc_role {
	PROC_ROLE_SINGLE,	/* neither below */
	/* Both listen on a TCP port (a pre-fork pool shares its socket), and: */
	PROC_ROLE_MASTER,	/* children run the same executable: a pre-fork pool's master */
	PROC_ROLE_WORKER,	/* its parent runs the same executable and listens on its port */
};

struct proc_identity {
	pid_t pid, ppid;
	char cmdline[PROC_CMDLINE_LEN];	/* arguments joined by spaces, unprintables as '?' */
	int nports;
	uint16_t ports[PROC_MAX_PORTS];	/* TCP ports listened on (sockets it holds open) */
	enum proc_role role;
	char unit[PROC_UNIT_LEN];	/* systemd unit ("web.service"), "" outside one */
};

/* Fills id; what cannot be read stays empty. -ESRCH when the process is gone. */
int proc_identity_read(pid_t pid, struct proc_identity *id);
/*
 * Reads id again when the command line changed (read before an exec) or, while it listens on
 * nothing, when may_listen_later (a server binds after it starts).
 */
void proc_identity_refresh(pid_t pid, struct proc_identity *id, bool may_listen_later);
const char *proc_role_name(enum proc_role role);
/* "web.service", else "pool:PPID" for a worker, else "-": the service a process belongs to. */
void proc_identity_service(const struct proc_identity *id, char *buf, size_t len);
/*
 * The program a Python runs: the script's name ("gunicorn" for /usr/bin/gunicorn), the module
 * of -m, "-c"; for another executable (uwsgi), its name. "" when the command line is empty.
 */
void proc_identity_program(const struct proc_identity *id, char *buf, size_t len);
/* User plus system CPU time of pid, in ns; -errno when it cannot be read. */
int proc_cpu_ns(pid_t pid, uint64_t *ns);

#endif /* GCPAUSE_PROC_PROC_IDENTITY_H */
