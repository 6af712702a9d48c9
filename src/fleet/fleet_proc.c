// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The fleet's view of processes from the real /proc (struct fleet_proc_ops). */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include "fleet/fleet.h"
#include "probe/elf/pyelf.h"
#include "proc/container.h"
#include "proc/proc.h"
#include "trace/discovery.h"
#include "util/file_id.h"

/* The real /proc's answers. */
static int host_exe(pid_t pid, struct file_id *id)
{
	char exe[64];
	struct stat st;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	if (stat(exe, &st))
		return -errno;
	*id = file_id_of(&st);
	return 0;
}

static enum fleet_exe_kind host_exe_kind(pid_t pid)
{
	char exe[64], soname[256], runpath[16];
	struct pyelf_info info;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	if (!pyelf_inspect(exe, &info) && info.is_elf &&
	    (info.exports_python || (info.has_gc_start && info.has_gc_done)))
		return FLEET_EXE_PYTHON;
	if (!pyelf_find_needed(exe, "libpython", soname, sizeof(soname), runpath,
			       sizeof(runpath)) && soname[0])
		return FLEET_EXE_NEEDS_LIBPYTHON;
	return FLEET_EXE_OTHER;
}

static void host_container(pid_t pid, struct container_info *c)
{
	container_read(pid, c);
}

const struct fleet_proc_ops fleet_proc_host = {
	.identity = proc_read_identity,
	.same_incarnation = proc_same_incarnation,
	.exe = host_exe,
	.exe_kind = host_exe_kind,
	.resolve = target_resolve_cached,
	.container = host_container,
	.scan = discovery_scan_proc,
	.children = proc_for_each_child,
};
