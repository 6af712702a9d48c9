// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "proc/proc_identity.h"

static void test_program(void **state)
{
	static const struct { const char *cmdline, *program; } cases[] = {
		{ "/usr/bin/python3.11 /usr/bin/gunicorn --bind 127.0.0.1:8000 app:wsgi", "gunicorn" },
		{ "/usr/bin/python3.11 -u -X dev /srv/app/server.py --port 1", "server.py" },
		{ "python3 -m hypercorn app:app", "hypercorn" },
		{ "python3 -mtornado.web", "tornado.web" },
		{ "python3 -c import time", "-c" },
		{ "uwsgi --http-socket :8000", "uwsgi" },
		{ "/usr/bin/python3.11", "python3.11" },
		{ "", "" },
	};
	struct proc_identity id;
	char out[64];
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&id, 0, sizeof(id));
		snprintf(id.cmdline, sizeof(id.cmdline), "%s", cases[i].cmdline);
		proc_identity_program(&id, out, sizeof(out));
		assert_string_equal(out, cases[i].program);
	}
}

static void test_self(void **state)
{
	struct proc_identity id;
	uint64_t cpu;

	assert_int_equal(proc_identity_read(getpid(), &id), 0);
	assert_int_equal(id.ppid, getppid());
	assert_non_null(strstr(id.cmdline, "test_proc_identity"));
	assert_int_equal(id.role, PROC_ROLE_SINGLE);	/* listens on nothing */
	assert_int_equal(proc_cpu_ns(getpid(), &cpu), 0);
	assert_int_equal(proc_identity_read(0x3fffffff, &id), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_program),
		cmocka_unit_test(test_self),
	};

	return cmocka_run_group_tests_name("proc_identity", tests, NULL, NULL);
}
