/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reading /proc: what a process is, what it maps, and its paths seen from the host. */
#ifndef GCPAUSE_PROC_PROC_H
#define GCPAUSE_PROC_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PROC_COMM_LEN	16
#define PROC_PATH_MAX	4096

struct map_entry {
	uint64_t start, end, offset, inode;
	unsigned int dev_major, dev_minor;
	bool exec;
	char path[PROC_PATH_MAX];	/* as the process sees it; empty for anonymous mappings */
};

/* Parses one line of /proc/PID/maps. Returns 0, or -EINVAL for a malformed line. */
int proc_parse_maps_line(const char *line, struct map_entry *out);

/* Parses /proc/PID/stat content: comm (may hold spaces and parens) and start time in ticks. */
int proc_parse_stat(const char *stat, char *comm, size_t comm_len, uint64_t *start_ticks);

/* Whether pid still names the process that started at start_ticks (and is not a zombie). */
bool proc_same_incarnation(pid_t pid, uint64_t start_ticks);

/* A start time in the kernel's boot-time nanoseconds, in /proc/PID/stat's clock ticks. */
uint64_t proc_ticks_from_boottime_ns(uint64_t ns);

/* 0 if the process exists, -ENOENT if not (a zombie counts as gone), other -errno on failure. */
int proc_read_identity(pid_t pid, char *comm, size_t comm_len, uint64_t *start_ticks);

/* Calls fn for each file-backed mapping, once per distinct path; stops when fn returns non-zero. */
typedef int (*proc_map_fn)(const struct map_entry *entry, void *arg);
int proc_for_each_mapped_file(pid_t pid, proc_map_fn fn, void *arg);

/*
 * A path the kernel showed us for a process (maps, exe) as the process itself sees it. For a
 * chrooted process the kernel shows paths from our root, with the process's root in front;
 * for one in its own mount namespace they are already its own. root as from proc_root_dir().
 */
const char *proc_inside_path(const char *root, const char *path);

/* The path to open from this (host) namespace for a path inside the process's mount namespace. */
int proc_host_path(pid_t pid, const char *path, char *buf, size_t len);

/* Root directory of the process when it is not ours (a container), else "" . */
int proc_root_dir(pid_t pid, char *buf, size_t len);

/*
 * Calls fn for each child process of pid (forked by any of its threads: each thread's
 * /proc/PID/task/TID/children). 0, or -errno when pid's threads cannot be read.
 */
int proc_for_each_child(pid_t pid, void (*fn)(pid_t child, void *ctx), void *ctx);

/* readlink /proc/PID/exe as the process sees it. */
int proc_exe_path(pid_t pid, char *buf, size_t len);

#endif /* GCPAUSE_PROC_PROC_H */
