// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "run/privileges.h"

/* Older userspace headers lack the 5.8 split of CAP_SYS_ADMIN. */
#ifndef CAP_PERFMON
#define CAP_PERFMON	38
#endif
#ifndef CAP_BPF
#define CAP_BPF		39
#endif

static bool has_cap(const struct __user_cap_data_struct data[2], int cap)
{
	return data[cap / 32].effective & (1u << (cap % 32));
}

/* Linux 6.16 went back to requiring CAP_SYS_ADMIN for uprobes (commit ba677dbe77af). */
static bool uprobes_need_sys_admin(void)
{
	unsigned int major = 0, minor = 0;
	struct utsname u;

	if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 16);
}

/*
 * Without CAP_SYS_ADMIN, whether this kernel lets CAP_PERFMON create uprobes (before 6.16 it
 * did; since ba677dbe77af, and its stable backports, it does not): one uprobe on our own
 * executable, at offset 0, which no executable mapping covers, so nothing is ever hit. Only a
 * refusal counts; any other error is left for the real attaches to report.
 */
static int uprobe_refused(void)
{
	struct perf_event_attr attr = { .size = sizeof(attr) };
	const char *path = "/proc/self/exe";
	unsigned int type;
	FILE *f;
	int fd, ok;

	f = fopen("/sys/bus/event_source/devices/uprobe/type", "re");
	if (!f)
		return 0;
	ok = fscanf(f, "%u", &type) == 1;
	fclose(f);
	if (!ok)
		return 0;
	attr.type = type;
	attr.config1 = (uint64_t)(uintptr_t)path;	/* uprobe_path */
	attr.config2 = 0;				/* probe_offset */
	attr.disabled = 1;
	fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno == EACCES || errno == EPERM ? -errno : 0;
}

int privileges_check(char *err, size_t err_len)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	bool bpf, perfmon, ptrace, admin, dac;

	if (syscall(SYS_capget, &hdr, data)) {
		snprintf(err, err_len, "cannot read own capabilities: %m");
		return -errno;
	}
	/* Before 5.8, CAP_SYS_ADMIN alone stood for both BPF and perf. */
	bpf = has_cap(data, CAP_BPF) || has_cap(data, CAP_SYS_ADMIN);
	perfmon = has_cap(data, CAP_PERFMON) || has_cap(data, CAP_SYS_ADMIN);
	ptrace = has_cap(data, CAP_SYS_PTRACE);
	if (bpf && perfmon && ptrace) {
		int ret = has_cap(data, CAP_SYS_ADMIN) ? 0 : uprobe_refused();

		if (!ret)
			return 0;
		/* Up and healthy but tracing nothing would be worse than exiting. */
		snprintf(err, err_len, "cannot create uprobes: %s (this kernel requires "
			 "CAP_SYS_ADMIN for them, as 6.16+ and some stable ones do; run as root)",
			 strerror(-ret));
		return -EPERM;
	}
	/*
	 * Not required, as kernels before 6.16 and binaries anyone may read do without them;
	 * named all the same when missing, so that one attempt finds the whole list.
	 */
	admin = has_cap(data, CAP_SYS_ADMIN) || !uprobes_need_sys_admin();
	dac = has_cap(data, CAP_DAC_READ_SEARCH) || has_cap(data, CAP_DAC_OVERRIDE);
	snprintf(err, err_len,
		 "insufficient privileges: run as root, or grant CAP_BPF, CAP_PERFMON, "
		 "CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH (and CAP_SYS_ADMIN on kernels 6.16+) "
		 "(uid %u lacks%s%s%s%s%s)",
		 (unsigned int)geteuid(),
		 bpf ? "" : " CAP_BPF", perfmon ? "" : " CAP_PERFMON",
		 ptrace ? "" : " CAP_SYS_PTRACE", dac ? "" : " CAP_DAC_READ_SEARCH",
		 admin ? "" : " CAP_SYS_ADMIN");
	return -EPERM;
}
