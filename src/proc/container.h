/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which container and Kubernetes pod a process runs in, told from the node alone: its cgroup
 * path and a few files of its own root, never the API server.
 */
#ifndef GCPAUSE_PROC_CONTAINER_H
#define GCPAUSE_PROC_CONTAINER_H

#include <stddef.h>
#include <sys/types.h>

#define CONTAINER_ID_LEN	65	/* 64 hex digits */
#define CONTAINER_POD_LEN	254	/* a pod name is a DNS subdomain: 253 characters at most */
#define CONTAINER_NS_LEN	64	/* a namespace is a DNS label: 63 at most */
#define CONTAINER_UID_LEN	37	/* a pod UID: 8-4-4-4-12 */

struct container_info {
	char runtime[16];		/* "containerd", "cri-o", "docker", "podman", "" */
	char id[CONTAINER_ID_LEN];	/* full hex ID, "" when not in a container */
	char pod_uid[CONTAINER_UID_LEN];	/* from a kubepods cgroup path, with dashes */
	char pod[CONTAINER_POD_LEN];	/* the pod's name, when the process is in a pod */
	char ns[CONTAINER_NS_LEN];	/* the pod's namespace, when it tells */
};

/*
 * Pure: fills out from the text of /proc/PID/cgroup (all lines). Returns 0 (also when no
 * container is found: fields empty), -EINVAL on malformed text. Never sets pod or ns.
 */
int container_parse_cgroup(const char *text, struct container_info *out);

/*
 * Reads /proc/PID/cgroup and, through /proc/PID/root, the container's own files. Returns 0,
 * -ESRCH when the process is gone, other -errno. A file that is missing, unreadable or odd just
 * leaves its field empty.
 */
int container_read(pid_t pid, struct container_info *out);
/* Same with an explicit proc directory (e.g. "/proc") — lets tests point at a fake tree. */
int container_read_at(const char *proc_dir, pid_t pid, struct container_info *out);

/*
 * "containerd://<id>", "cri-o://<id>", "docker://<id>", "podman://<id>" — the form Kubernetes
 * puts in a pod's status.containerStatuses[].containerID, so metrics join with
 * kube-state-metrics; the bare ID when the runtime cannot be told; "" when not in a container.
 */
void container_id_label(const struct container_info *c, char *buf, size_t len);
/* What a table shows: "shop/web-7d9f", else the ID's first 12 digits, else "-" (the host). */
void container_short_name(const struct container_info *c, char *buf, size_t len);

#endif /* GCPAUSE_PROC_CONTAINER_H */
