// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "proc/container.h"

#define ID_A	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID_B	"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define UID	"1f0e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
#define UID_US	"1f0e2d3c_4b5a_6978_8796_a5b4c3d2e1f0"
#define PID	4242

static void parse_ok(const char *text, struct container_info *c)
{
	assert_int_equal(container_parse_cgroup(text, c), 0);
	assert_string_equal(c->pod, "");
	assert_string_equal(c->ns, "");
}

static void assert_nothing(const struct container_info *c)
{
	assert_string_equal(c->runtime, "");
	assert_string_equal(c->id, "");
	assert_string_equal(c->pod_uid, "");
	assert_string_equal(c->pod, "");
	assert_string_equal(c->ns, "");
}

static void test_systemd_containerd(void **state)
{
	struct container_info c;

	parse_ok("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_US
		 ".slice/cri-containerd-" ID_A ".scope\n", &c);
	assert_string_equal(c.runtime, "containerd");
	assert_string_equal(c.id, ID_A);
	assert_string_equal(c.pod_uid, UID);

	parse_ok("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_US
		 ".slice/cri-containerd-" ID_B ".scope\n", &c);
	assert_string_equal(c.id, ID_B);
	assert_string_equal(c.pod_uid, UID);

	/* Guaranteed pods sit directly under kubepods.slice. */
	parse_ok("0::/kubepods.slice/kubepods-pod" UID_US ".slice/cri-containerd-" ID_A ".scope",
		 &c);
	assert_string_equal(c.runtime, "containerd");
	assert_string_equal(c.id, ID_A);
	assert_string_equal(c.pod_uid, UID);
}

static void test_systemd_crio(void **state)
{
	struct container_info c;

	parse_ok("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_US
		 ".slice/crio-" ID_B ".scope\n", &c);
	assert_string_equal(c.runtime, "cri-o");
	assert_string_equal(c.id, ID_B);
	assert_string_equal(c.pod_uid, UID);

	/* The conmon monitor is in the pod but is no container. */
	parse_ok("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_US
		 ".slice/crio-conmon-" ID_B ".scope\n", &c);
	assert_string_equal(c.runtime, "");
	assert_string_equal(c.id, "");
	assert_string_equal(c.pod_uid, UID);
}

static void test_cgroupfs_driver(void **state)
{
	struct container_info c;

	/* The path does not tell the runtime: none is guessed. */
	parse_ok("0::/kubepods/burstable/pod" UID "/" ID_A "\n", &c);
	assert_string_equal(c.runtime, "");
	assert_string_equal(c.id, ID_A);
	assert_string_equal(c.pod_uid, UID);

	parse_ok("0::/kubepods/pod" UID "/" ID_B "\n", &c);
	assert_string_equal(c.id, ID_B);
	assert_string_equal(c.pod_uid, UID);

	parse_ok("0::/kubepods/besteffort/pod" UID "/" ID_A, &c);
	assert_string_equal(c.id, ID_A);
	assert_string_equal(c.pod_uid, UID);

	/* A kind node is itself a Docker container: the innermost ID is the pod's container. */
	parse_ok("0::/docker/" ID_B "/kubepods/burstable/pod" UID "/" ID_A "\n", &c);
	assert_string_equal(c.runtime, "");
	assert_string_equal(c.id, ID_A);
	assert_string_equal(c.pod_uid, UID);
}

static void test_docker_and_podman(void **state)
{
	struct container_info c;

	parse_ok("0::/system.slice/docker-" ID_A ".scope\n", &c);
	assert_string_equal(c.runtime, "docker");
	assert_string_equal(c.id, ID_A);
	assert_string_equal(c.pod_uid, "");

	parse_ok("12:pids:/docker/" ID_B "\n11:memory:/docker/" ID_B "\n0::/docker/" ID_B "\n",
		 &c);
	assert_string_equal(c.runtime, "docker");
	assert_string_equal(c.id, ID_B);

	parse_ok("0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID_A
		 ".scope\n", &c);
	assert_string_equal(c.runtime, "podman");
	assert_string_equal(c.id, ID_A);

	/* Segments after the container's own are its sub-cgroups. */
	parse_ok("0::/machine.slice/libpod-" ID_B ".scope/container\n", &c);
	assert_string_equal(c.runtime, "podman");
	assert_string_equal(c.id, ID_B);

	parse_ok("0::/machine.slice/libpod-conmon-" ID_B ".scope\n", &c);
	assert_nothing(&c);
}

static void test_other_cgroup_namespace(void **state)
{
	struct container_info c;

	parse_ok("0::/../../kubepods-besteffort-pod" UID_US ".slice/cri-containerd-" ID_A
		 ".scope\n", &c);
	assert_string_equal(c.runtime, "containerd");
	assert_string_equal(c.id, ID_A);
	assert_string_equal(c.pod_uid, UID);

	parse_ok("0::/../../pod" UID "/" ID_B "\n", &c);
	assert_string_equal(c.id, ID_B);
	assert_string_equal(c.pod_uid, UID);
}

static void test_v1_lines(void **state)
{
	struct container_info c;

	/* The first v1 line with an ID, when the unified line has none. */
	parse_ok("12:cpuset:/\n"
		 "11:memory:/kubepods/burstable/pod" UID "/" ID_A "\n"
		 "10:pids:/kubepods/burstable/pod" UID "/" ID_B "\n"
		 "1:name=systemd:/\n"
		 "0::/\n", &c);
	assert_string_equal(c.id, ID_A);
	assert_string_equal(c.pod_uid, UID);

	/* The unified line wins when it has one. */
	parse_ok("11:memory:/docker/" ID_A "\n0::/system.slice/docker-" ID_B ".scope\n", &c);
	assert_string_equal(c.runtime, "docker");
	assert_string_equal(c.id, ID_B);

	/* A line with an ID beats one with only a pod UID, even the unified one. */
	parse_ok("0::/kubepods/pod" UID "\n4:memory:/system.slice/docker-" ID_A ".scope\n", &c);
	assert_string_equal(c.runtime, "docker");
	assert_string_equal(c.id, ID_A);
	assert_string_equal(c.pod_uid, "");

	/* A pod's own cgroup, with no container below it, still tells the pod. */
	parse_ok("0::/kubepods.slice/kubepods-pod" UID_US ".slice\n", &c);
	assert_string_equal(c.id, "");
	assert_string_equal(c.pod_uid, UID);

	/* A process being reaped may show its removed cgroup. */
	parse_ok("0::/system.slice/docker-" ID_A ".scope (deleted)\n", &c);
	assert_string_equal(c.id, ID_A);
}

static void test_bad_ids_rejected(void **state)
{
	struct container_info c;

	/* 63 and 65 digits, uppercase, a non-hex digit. */
	parse_ok("0::/system.slice/docker-" "0123456789abcdef0123456789abcdef"
		 "0123456789abcdef0123456789abcde.scope\n", &c);
	assert_nothing(&c);
	parse_ok("0::/docker/" ID_A "0\n", &c);
	assert_nothing(&c);
	parse_ok("0::/docker/0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\n",
		 &c);
	assert_nothing(&c);
	parse_ok("0::/machine.slice/libpod-0123456789abcdeg0123456789abcdef0123456789abcdef"
		 "0123456789abcdef.scope\n", &c);
	assert_nothing(&c);
	/* A 32-digit ID is some other tool's, not a container's. */
	parse_ok("4:memory:/process_api/95a5ccdc2e83660145c180a846176e60\n0::/\n", &c);
	assert_nothing(&c);
	/* UIDs: a digit short, separators missing. */
	parse_ok("0::/kubepods/pod1f0e2d3c-4b5a-6978-8796-a5b4c3d2e1f\n", &c);
	assert_nothing(&c);
	parse_ok("0::/kubepods.slice/kubepods-pod1f0e2d3c04b5a06978087960a5b4c3d2e1f0.slice\n", &c);
	assert_nothing(&c);
}

static void test_no_container(void **state)
{
	struct container_info c;

	parse_ok("0::/\n", &c);
	assert_nothing(&c);
	parse_ok("0::/user.slice/user-1000.slice/session-3.scope\n", &c);
	assert_nothing(&c);
	parse_ok("9:name=systemd:/\n8:pids:/\n1:cpu:/\n0::/init.scope\n", &c);
	assert_nothing(&c);
}

static void test_malformed(void **state)
{
	struct container_info c;

	memset(&c, 'x', sizeof(c));
	assert_int_equal(container_parse_cgroup("", &c), -EINVAL);
	assert_string_equal(c.id, "");
	assert_int_equal(container_parse_cgroup(NULL, &c), -EINVAL);
	assert_int_equal(container_parse_cgroup("garbage\n", &c), -EINVAL);
	assert_int_equal(container_parse_cgroup("1:cpu\n", &c), -EINVAL);
	assert_int_equal(container_parse_cgroup("x::/docker/" ID_A "\n", &c), -EINVAL);
	assert_int_equal(container_parse_cgroup("0::relative\n", &c), -EINVAL);
	assert_int_equal(container_parse_cgroup("0::/\nbroken\n", &c), -EINVAL);
}

static void test_id_label(void **state)
{
	struct container_info c;
	char buf[128], tiny[12];

	memset(&c, 0, sizeof(c));
	memset(buf, 'x', sizeof(buf));
	container_id_label(&c, buf, sizeof(buf));
	assert_string_equal(buf, "");

	strcpy(c.id, ID_A);
	container_id_label(&c, buf, sizeof(buf));
	assert_string_equal(buf, ID_A);

	strcpy(c.runtime, "containerd");
	container_id_label(&c, buf, sizeof(buf));
	assert_string_equal(buf, "containerd://" ID_A);
	strcpy(c.runtime, "cri-o");
	container_id_label(&c, buf, sizeof(buf));
	assert_string_equal(buf, "cri-o://" ID_A);
	strcpy(c.runtime, "docker");
	container_id_label(&c, buf, sizeof(buf));
	assert_string_equal(buf, "docker://" ID_A);
	strcpy(c.runtime, "podman");
	container_id_label(&c, buf, sizeof(buf));
	assert_string_equal(buf, "podman://" ID_A);

	container_id_label(&c, tiny, sizeof(tiny));
	assert_string_equal(tiny, "podman://01");
	tiny[0] = 'x';
	container_id_label(&c, tiny, 0);
	assert_int_equal(tiny[0], 'x');
}

/* The fake proc tree: dir/PID/cgroup and dir/PID/root/... */
static char tree[PATH_MAX];

static void path_of(char *buf, const char *rel)
{
	assert_true(snprintf(buf, PATH_MAX, "%s/%d/%s", tree, PID, rel) < PATH_MAX);
}

static void make_parents(const char *rel)
{
	char path[PATH_MAX], *slash;

	path_of(path, rel);
	for (slash = strchr(path + strlen(tree) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
		*slash = '/';
	}
}

static void put(const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	make_parents(rel);
	path_of(path, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void link_to(const char *rel, const char *target)
{
	char path[PATH_MAX];

	make_parents(rel);
	path_of(path, rel);
	assert_int_equal(symlink(target, path), 0);
}

#define NS_FILE	"root/var/run/secrets/kubernetes.io/serviceaccount/namespace"
#define IN_POD	"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_US \
		".slice/cri-containerd-" ID_A ".scope\n"

static int make_tree(void **state)
{
	strcpy(tree, "/tmp/gcpause-test-container-XXXXXX");
	if (!mkdtemp(tree))
		return -1;
	make_parents("root/x");
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int remove_tree(void **state)
{
	return nftw(tree, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_read_pod(void **state)
{
	struct container_info c;

	put("cgroup", IN_POD);
	put("root/etc/hostname", "checkout-7d4b9c5f6-xk2lp\n");
	put(NS_FILE, "shop");
	assert_int_equal(container_read_at(tree, PID, &c), 0);
	assert_string_equal(c.runtime, "containerd");
	assert_string_equal(c.id, ID_A);
	assert_string_equal(c.pod_uid, UID);
	assert_string_equal(c.pod, "checkout-7d4b9c5f6-xk2lp");
	assert_string_equal(c.ns, "shop");
}

static void test_read_run_secrets(void **state)
{
	struct container_info c;

	/* No var/run: the namespace is found under /run, and whitespace is trimmed. */
	put("cgroup", IN_POD);
	put("root/etc/hostname", "  api-0 \r\n");
	put("root/run/secrets/kubernetes.io/serviceaccount/namespace", "\tkube-system\n");
	assert_int_equal(container_read_at(tree, PID, &c), 0);
	assert_string_equal(c.pod, "api-0");
	assert_string_equal(c.ns, "kube-system");
}

static void test_symlinks_stay_in_root(void **state)
{
	struct container_info c;

	put("cgroup", IN_POD);
	/* Absolute and climbing links must end in the fake root, not in the host's /etc. */
	put("root/etc/real", "inside-root\n");
	link_to("root/etc/hostname", "/etc/real");
	put("root/etc/ns", "inside-ns\n");
	link_to(NS_FILE, "../../../../../../../../../../etc/ns");
	assert_int_equal(container_read_at(tree, PID, &c), 0);
	assert_string_equal(c.pod, "inside-root");
	assert_string_equal(c.ns, "inside-ns");
}

static void test_var_run_link(void **state)
{
	struct container_info c;

	/* /var/run -> /run, as in most images: the container's /run, not the host's. */
	put("cgroup", IN_POD);
	link_to("root/var/run", "/run");
	put("root/run/secrets/kubernetes.io/serviceaccount/namespace", "payments\n");
	assert_int_equal(container_read_at(tree, PID, &c), 0);
	assert_string_equal(c.ns, "payments");
	assert_string_equal(c.pod, "");
}

static double now(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_fifo_does_not_block(void **state)
{
	struct container_info c;
	char path[PATH_MAX];
	double start;
	int fd;

	put("cgroup", IN_POD);
	put(NS_FILE, "shop\n");
	make_parents("root/etc/hostname");
	path_of(path, "root/etc/hostname");
	assert_int_equal(mkfifo(path, 0644), 0);
	/* A blocking open would never return: the alarm kills the test instead of hanging. */
	alarm(10);
	start = now();
	assert_int_equal(container_read_at(tree, PID, &c), 0);
	assert_true(now() - start < 1.0);
	alarm(0);
	assert_string_equal(c.pod, "");
	assert_string_equal(c.ns, "shop");
	assert_string_equal(c.id, ID_A);

	/* With a writer and data waiting it would read; a FIFO is still no file. */
	fd = open(path, O_RDWR | O_NONBLOCK);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "fifo-pod\n", 9), 9);
	assert_int_equal(container_read_at(tree, PID, &c), 0);
	assert_string_equal(c.pod, "");
	assert_int_equal(close(fd), 0);
}

static void test_bad_names(void **state)
{
	struct container_info c;
	char long_name[400];

	put("cgroup", IN_POD);
	put("root/etc/hostname", "Bad_Host!\n");
	put(NS_FILE, "shop\n");
	assert_int_equal(container_read_at(tree, PID, &c), 0);
	assert_string_equal(c.pod, "");
	assert_string_equal(c.ns, "shop");

	/* A namespace is a single label; a hostname has no inner whitespace nor uppercase. */
	put("root/etc/hostname", "MyPod\n");
	put(NS_FILE, "a.b\n");
	assert_int_equal(container_read_at(tree, PID, &c), 0);
	assert_string_equal(c.pod, "");
	assert_string_equal(c.ns, "");

	put("root/etc/hostname", "web 1\n");
	put(NS_FILE, "\n");
	assert_int_equal(container_read_at(tree, PID, &c), 0);
	assert_string_equal(c.pod, "");
	assert_string_equal(c.ns, "");

	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	put("root/etc/hostname", long_name);
	long_name[64] = '\0';
	put(NS_FILE, long_name);
	assert_int_equal(container_read_at(tree, PID, &c), 0);
	assert_string_equal(c.pod, "");
	assert_string_equal(c.ns, "");

	/* Past what is read, a long file's cut end must not pass for a name. */
	memset(long_name, ' ', sizeof(long_name) - 1);
	memcpy(long_name + 310, "pod-name-cut-here", 17);
	put("root/etc/hostname", long_name);
	assert_int_equal(container_read_at(tree, PID, &c), 0);
	assert_string_equal(c.pod, "");

	/* At the limits: 253 and 63 characters. */
	memset(long_name, 'b', 253);
	long_name[253] = '\0';
	put("root/etc/hostname", long_name);
	long_name[63] = '\0';
	put(NS_FILE, long_name);
	assert_int_equal(container_read_at(tree, PID, &c), 0);
	assert_int_equal(strlen(c.pod), 253);
	assert_string_equal(c.ns, long_name);
}

static void test_hostname_only_in_pod(void **state)
{
	struct container_info c;
	char path[PATH_MAX];

	/* Outside Kubernetes a hostname is not a pod name. */
	put("cgroup", "0::/system.slice/docker-" ID_B ".scope\n");
	put("root/etc/hostname", "builder\n");
	assert_int_equal(container_read_at(tree, PID, &c), 0);
	assert_string_equal(c.runtime, "docker");
	assert_string_equal(c.pod, "");
	assert_string_equal(c.ns, "");

	/* Unless a service account namespace says it is in one. */
	put(NS_FILE, "ci\n");
	assert_int_equal(container_read_at(tree, PID, &c), 0);
	assert_string_equal(c.pod, "builder");
	assert_string_equal(c.ns, "ci");

	/* A directory where a file belongs is no name. */
	path_of(path, "root/etc/hostname");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(container_read_at(tree, PID, &c), 0);
	assert_string_equal(c.pod, "");
	assert_string_equal(c.ns, "ci");
}

static void test_read_errors(void **state)
{
	struct container_info c;
	char path[PATH_MAX];

	/* No such process directory. */
	assert_int_equal(container_read_at(tree, PID + 1, &c), -ESRCH);
	assert_nothing(&c);
	/* Above the kernel's pid_max limit (4194304), so it can never exist. */
	assert_int_equal(container_read(99999999, &c), -ESRCH);

	put("cgroup", "not a cgroup file\n");
	assert_int_equal(container_read_at(tree, PID, &c), -EINVAL);

	/* A zombie keeps its cgroup but has no root: it is gone. */
	put("cgroup", IN_POD);
	path_of(path, "root");
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(container_read_at(tree, PID, &c), -ESRCH);

	/* Whatever we run in, our own process reads. */
	assert_int_equal(container_read(getpid(), &c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_systemd_containerd),
		cmocka_unit_test(test_systemd_crio),
		cmocka_unit_test(test_cgroupfs_driver),
		cmocka_unit_test(test_docker_and_podman),
		cmocka_unit_test(test_other_cgroup_namespace),
		cmocka_unit_test(test_v1_lines),
		cmocka_unit_test(test_bad_ids_rejected),
		cmocka_unit_test(test_no_container),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_id_label),
		cmocka_unit_test_setup_teardown(test_read_pod, make_tree, remove_tree),
		cmocka_unit_test_setup_teardown(test_read_run_secrets, make_tree, remove_tree),
		cmocka_unit_test_setup_teardown(test_symlinks_stay_in_root, make_tree, remove_tree),
		cmocka_unit_test_setup_teardown(test_var_run_link, make_tree, remove_tree),
		cmocka_unit_test_setup_teardown(test_fifo_does_not_block, make_tree, remove_tree),
		cmocka_unit_test_setup_teardown(test_bad_names, make_tree, remove_tree),
		cmocka_unit_test_setup_teardown(test_hostname_only_in_pod, make_tree, remove_tree),
		cmocka_unit_test_setup_teardown(test_read_errors, make_tree, remove_tree),
	};

	return cmocka_run_group_tests_name("container", tests, NULL, NULL);
}
