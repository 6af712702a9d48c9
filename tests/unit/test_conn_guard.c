// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "serve/conn_guard.h"

#define SEC	1000000000ULL

static struct conn_guard guard;

static struct sockaddr_in from(const char *ip)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	return sin;
}

/* Admits fd from ip at now; returns the victim's fd (-1 for none), fails when refused. */
static int admit(int fd, const char *ip, uint64_t now)
{
	struct sockaddr_in sin = from(ip);
	int victim;

	assert_true(guard_admit(&guard, fd, (struct sockaddr *)&sin, now, &victim));
	return victim;
}

static bool refused(int fd, const char *ip, uint64_t now)
{
	struct sockaddr_in sin = from(ip);
	int victim;

	return !guard_admit(&guard, fd, (struct sockaddr *)&sin, now, &victim);
}

/* One client fills its share; its next connection replaces its own oldest, never another's. */
static void test_per_client(void **state)
{
	int i;

	memset(&guard, 0, sizeof(guard));
	guard_round(&guard);
	assert_int_equal(admit(100, "10.0.0.9", 1), -1);
	for (i = 0; i < GUARD_PER_CLIENT; i++)
		assert_int_equal(admit(10 + i, "10.0.0.1", 10 + i), -1);
	/* Admitted in this round: not read yet, so not evictable; the newcomer is refused. */
	assert_true(refused(50, "10.0.0.1", 30));
	guard_round(&guard);
	assert_int_equal(admit(51, "10.0.0.1", 40), 10);
	/* A connection being answered goes after every one still waiting for its request. */
	guard_request(&guard, 11, 41);
	guard_round(&guard);
	assert_int_equal(admit(52, "10.0.0.1", 50), 12);
	assert_int_equal(guard_live(&guard), GUARD_PER_CLIENT + 1);
	/* The evicted ones are gone once the server closed them; the other client never was. */
	guard_closed(&guard, 10);
	guard_closed(&guard, 12);
	assert_int_equal(guard.evicted, 2);
	assert_int_equal(guard.refused, 1);
}

/* A full table: a newcomer from anywhere replaces the connection waiting longest. */
static void test_total_limit(void **state)
{
	char ip[32];
	int i, victim;

	memset(&guard, 0, sizeof(guard));
	guard_round(&guard);
	for (i = 0; i < GUARD_MAX_CONNECTIONS; i++) {
		snprintf(ip, sizeof(ip), "10.1.%d.%d", i / GUARD_PER_CLIENT, i % GUARD_PER_CLIENT);
		assert_int_equal(admit(100 + i, ip, 1000 - i), -1);
	}
	guard_round(&guard);
	victim = admit(500, "192.168.0.1", 2000);
	assert_int_equal(victim, 100 + GUARD_MAX_CONNECTIONS - 1);	/* the earliest since */
	assert_int_equal(guard_live(&guard), GUARD_MAX_CONNECTIONS);
	/* Shut-down connections hold slots until closed: at most GUARD_SLOTS in all. */
	for (i = 1; i < GUARD_SLOTS - GUARD_MAX_CONNECTIONS; i++) {
		guard_round(&guard);
		snprintf(ip, sizeof(ip), "192.168.1.%d", i);
		assert_true(admit(500 + i, ip, 2000 + i) >= 0);
	}
	guard_round(&guard);
	assert_true(refused(900, "192.168.2.1", 3000));
	guard_closed(&guard, 100);
	assert_true(admit(901, "192.168.2.1", 3001) >= 0);
}

/* Deadlines run from accept whatever arrives; a response has its own; keep-alive restarts. */
static void test_deadlines(void **state)
{
	int fds[GUARD_SLOTS];

	memset(&guard, 0, sizeof(guard));
	guard_round(&guard);
	assert_int_equal(guard_next_deadline_ns(&guard, 0), UINT64_MAX);
	admit(7, "127.0.0.1", 0);
	admit(8, "127.0.0.1", SEC);
	assert_int_equal(guard_next_deadline_ns(&guard, SEC), GUARD_HEADER_TIMEOUT_NS - SEC);
	guard_request(&guard, 8, 2 * SEC);
	assert_int_equal(guard_expired(&guard, GUARD_HEADER_TIMEOUT_NS - 1, fds, GUARD_SLOTS), 0);
	assert_int_equal(guard_expired(&guard, GUARD_HEADER_TIMEOUT_NS, fds, GUARD_SLOTS), 1);
	assert_int_equal(fds[0], 7);
	assert_int_equal(guard.expired, 1);
	/* fd 8's response is due 10 s after its header, not 5 s after its accept. */
	assert_int_equal(guard_next_deadline_ns(&guard, 3 * SEC),
			 2 * SEC + GUARD_RESPONSE_TIMEOUT_NS - 3 * SEC);
	guard_response_done(&guard, 8, 4 * SEC);
	assert_int_equal(guard_next_deadline_ns(&guard, 4 * SEC), GUARD_HEADER_TIMEOUT_NS);
	assert_int_equal(guard_expired(&guard, 4 * SEC + GUARD_HEADER_TIMEOUT_NS, fds, 1), 1);
	assert_int_equal(fds[0], 8);
	assert_int_equal(guard_next_deadline_ns(&guard, 100 * SEC), UINT64_MAX);
	assert_int_equal(guard_live(&guard), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_client),
		cmocka_unit_test(test_total_limit),
		cmocka_unit_test(test_deadlines),
	};

	return cmocka_run_group_tests_name("conn_guard", tests, NULL, NULL);
}
