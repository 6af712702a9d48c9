// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "run/launch.h"
#include "util/untrusted_file.h"

#define MAX_SHEBANG_DEPTH	4

/* Where ld.so looks after RUNPATH and LD_LIBRARY_PATH on Debian and most distributions. */
static const char *const default_lib_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
	"/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
	"/usr/local/lib", NULL,
};

int launch_find_in_path(const char *cmd, const char *path_env, char *out, size_t len)
{
	const char *dir, *end;

	if (strchr(cmd, '/')) {
		if (access(cmd, X_OK))
			return -errno;
		snprintf(out, len, "%s", cmd);
		return 0;
	}
	if (!path_env)
		path_env = "/usr/local/bin:/usr/bin:/bin";
	for (dir = path_env; ; dir = end + 1) {
		size_t dlen;

		end = strchr(dir, ':');
		dlen = end ? (size_t)(end - dir) : strlen(dir);
		if (dlen == 0)
			snprintf(out, len, "./%s", cmd);
		else
			snprintf(out, len, "%.*s/%s", (int)dlen, dir, cmd);
		if (!access(out, X_OK))
			return 0;
		if (!end)
			break;
	}
	return -ENOENT;
}

int launch_parse_shebang(const char *line, char *interp, size_t interp_len, char *arg,
			 size_t arg_len)
{
	const char *p = line + 2, *word;
	size_t n;

	if (strncmp(line, "#!", 2))
		return -ENOEXEC;
	p += strspn(p, " \t");
	word = p;
	n = strcspn(p, " \t\r\n");
	if (!n || n >= interp_len)
		return -ENOEXEC;
	snprintf(interp, interp_len, "%.*s", (int)n, word);
	p += n;
	p += strspn(p, " \t");
	/* Like the kernel: everything after the interpreter is one argument. */
	n = strcspn(p, "\r\n");
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	snprintf(arg, arg_len, "%.*s", (int)n, p);
	return 0;
}

/* For "#!/usr/bin/env [-S] python3 ...": the program env will run. */
static const char *env_program(char *arg)
{
	char *word = strtok(arg, " \t");

	while (word && word[0] == '-')
		word = strtok(NULL, " \t");
	return word;
}

static int search_dirs(const char *dirs, const char *origin, const char *soname, char *out,
		       size_t len)
{
	char *copy, *dir, *save = NULL;
	int ret = -ENOENT;

	if (!dirs || !dirs[0])
		return -ENOENT;
	copy = strdup(dirs);
	if (!copy)
		return -ENOMEM;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		if (!strncmp(dir, "$ORIGIN", 7))
			snprintf(out, len, "%s%s/%s", origin, dir + 7, soname);
		else if (!strncmp(dir, "${ORIGIN}", 9))
			snprintf(out, len, "%s%s/%s", origin, dir + 9, soname);
		else
			snprintf(out, len, "%s/%s", dir, soname);
		if (!access(out, R_OK)) {
			ret = 0;
			break;
		}
	}
	free(copy);
	return ret;
}

/* Where ld.so would find soname for the executable at exe (ld.so.cache aside). */
static int find_library(const char *exe, const char *soname, const char *runpath, char *out,
			size_t len)
{
	char origin[PROC_PATH_MAX], *slash;
	int i;

	snprintf(origin, sizeof(origin), "%s", exe);
	slash = strrchr(origin, '/');
	if (slash)
		*slash = '\0';
	if (!search_dirs(getenv("LD_LIBRARY_PATH"), origin, soname, out, len) ||
	    !search_dirs(runpath, origin, soname, out, len))
		return 0;
	for (i = 0; default_lib_dirs[i]; i++) {
		snprintf(out, len, "%s/%s", default_lib_dirs[i], soname);
		if (!access(out, R_OK))
			return 0;
	}
	return -ENOENT;
}

static void set_comm(struct target *t, const char *exe)
{
	const char *base = strrchr(exe, '/');

	/* comm is what the kernel keeps: the first 15 bytes of the name. */
	snprintf(t->comm, sizeof(t->comm), "%.*s", (int)sizeof(t->comm) - 1,
		 base ? base + 1 : exe);
}

/* For its #! line; pyelf_inspect() has checked it is a regular file, but it may be swapped. */
static FILE *open_script(const char *path)
{
	int fd = untrusted_open(path, UNTRUSTED_ELF_MAX, NULL);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "r");
	if (!f)
		close(fd);
	return f;
}

int launch_resolve(char *const argv[], enum probe_mode mode, struct target *t, char *err,
		   size_t err_len)
{
	char exe[PROC_PATH_MAX], next[PROC_PATH_MAX], line[512], interp[PROC_PATH_MAX], arg[256];
	char soname[256], runpath[PROC_PATH_MAX], lib[PROC_PATH_MAX], why[TARGET_ERR_LEN];
	struct pyelf_info info;
	const char *cmd = argv[0];
	int depth, ret;
	FILE *f;

	memset(t, 0, sizeof(*t));
	if (launch_find_in_path(cmd, getenv("PATH"), exe, sizeof(exe))) {
		snprintf(err, err_len, "cannot run '%s': command not found or not executable", cmd);
		return -ENOENT;
	}
	for (depth = 0; ; depth++) {
		ret = pyelf_inspect(exe, &info);
		if (ret) {
			snprintf(err, err_len, "cannot read %s: %s", exe, untrusted_strerror(ret));
			return ret;
		}
		if (info.is_elf)
			break;
		f = open_script(exe);
		if (!f || !fgets(line, sizeof(line), f) ||
		    launch_parse_shebang(line, interp, sizeof(interp), arg, sizeof(arg)) ||
		    depth == MAX_SHEBANG_DEPTH) {
			if (f)
				fclose(f);
			snprintf(err, err_len,
				 "'%s' is neither a program nor a script with a #! line", exe);
			return -ENOEXEC;
		}
		fclose(f);
		snprintf(next, sizeof(next), "%s", interp);
		if (!strcmp(strrchr(interp, '/') ? strrchr(interp, '/') + 1 : interp, "env")) {
			const char *prog = env_program(arg);

			if (!prog ||
			    launch_find_in_path(prog, getenv("PATH"), next, sizeof(next))) {
				snprintf(err, err_len, "%s: cannot find the program in '#!%s %s'",
					 exe, interp, arg);
				return -ENOENT;
			}
		}
		snprintf(exe, sizeof(exe), "%s", next);
	}

	set_comm(t, exe);
	if (!info.exports_python && !(info.has_gc_start && info.has_gc_done)) {
		/* A launcher (pyenv, an embedder): the interpreter is the libpython it links. */
		ret = pyelf_find_needed(exe, "libpython", soname, sizeof(soname), runpath,
					sizeof(runpath));
		if (ret || !soname[0] || find_library(exe, soname, runpath, lib, sizeof(lib)) ||
		    pyelf_inspect(lib, &info) || !info.exports_python) {
			/* Maybe an embedder that will dlopen one (uwsgi): the caller waits. */
			snprintf(t->binary, sizeof(t->binary), "%s", exe);
			snprintf(err, err_len, "%s: not a Python program (no Python interpreter "
				 "or libpython found)", exe);
			return LAUNCH_NOT_PYTHON_YET;
		}
		snprintf(exe, sizeof(exe), "%s", lib);
	}
	ret = target_plan(t, exe, exe, &info, mode, why, sizeof(why));
	if (ret) {
		snprintf(err, err_len, "%s: Python %s: %s", argv[0],
			 t->version[0] ? t->version : "(unknown version)", why);
		return ret;
	}
	return 0;
}

/* In the child: stdin from /dev/null, stdout and stderr to out. */
static int redirect(int out)
{
	int in = open("/dev/null", O_RDONLY);

	if (in < 0 || dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
	    dup2(out, STDERR_FILENO) < 0)
		return -1;
	close(in);
	return 0;
}

int launch_fork(char *const argv[], int output_fd, struct launch *l, char *err, size_t err_len)
{
	int gate[2], exec_err[2];
	sigset_t none;
	char go;
	int e;

	if (pipe2(gate, O_CLOEXEC) || pipe2(exec_err, O_CLOEXEC)) {
		snprintf(err, err_len, "pipe: %s", strerror(errno));
		return -errno;
	}
	l->pid = fork();
	if (l->pid < 0) {
		e = errno;
		snprintf(err, err_len, "fork: %s", strerror(e));
		return -e;
	}
	if (l->pid == 0) {
		close(gate[1]);
		close(exec_err[0]);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* EOF instead of a byte: gcpause died before tracing began, so do not run. */
		if (read(gate[0], &go, 1) != 1)
			_exit(127);
		if (output_fd >= 0 && redirect(output_fd))
			_exit(127);
		execvp(argv[0], argv);
		e = errno;
		if (write(exec_err[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(gate[0]);
	close(exec_err[1]);
	l->gate_fd = gate[1];
	l->exec_err_fd = exec_err[0];
	return 0;
}

int launch_release(struct launch *l, char *err, size_t err_len)
{
	char go = 1;
	ssize_t n;
	int e = 0;

	if (write(l->gate_fd, &go, 1) != 1) {
		e = errno;
		snprintf(err, err_len, "cannot start the command: %s", strerror(e));
		return -e;
	}
	close(l->gate_fd);
	l->gate_fd = -1;
	n = read(l->exec_err_fd, &e, sizeof(e));
	close(l->exec_err_fd);
	l->exec_err_fd = -1;
	if (n == sizeof(e)) {
		snprintf(err, err_len, "cannot run the command: %s", strerror(e));
		return -e;
	}
	return 0;
}
