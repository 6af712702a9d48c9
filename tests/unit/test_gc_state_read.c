// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The GC state reader's list walk runs while the target mutates its lists: a freed object's
 * _gc_next can lead anywhere, to words of -1 (a dict's index table, 0xff bytes) among them. A
 * node address within 8 bytes of 2^64 made read_u64()'s cache check wrap (addr + 8 <= base + len)
 * and memcpy() from c->data + (addr - base): a SIGSEGV of the agent (gunicorn-gthread e2e run).
 * gc_state.c is compiled in here, its public names renamed (all of them: the library's copy is
 * linked too), to reach its static reader.
 */
#define gc_state_open	test_gc_state_open
#define gc_state_read	test_gc_state_read
#define gc_state_source	test_gc_state_source
#define gc_state_close	test_gc_state_close
#define gc_state_sample_addrs	test_gc_state_sample_addrs
#define gc_state_read_counters	test_gc_state_read_counters
#define gc_counts_from_stats	test_gc_counts_from_stats
#include "../../src/probe/gc_state.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <cmocka.h>

static struct gc_state_reader *self_reader(void)
{
	struct gc_state_reader *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->cache = calloc(CACHE_PAGES, sizeof(*r->cache));
	assert_non_null(r->cache);
	r->pid = getpid();
	return r;
}

/* The last cache slot holds a chunk of ours; then a node "address" of -1 is read. */
static void test_read_u64_near_top_of_address_space(void **state)
{
	size_t big = 2 * CACHE_PAGES * CHUNK;
	struct gc_state_reader *r = self_reader();
	unsigned char *buf = mmap(NULL, big, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t a, v, top;

	assert_true(buf != MAP_FAILED);
	memset(buf, 0xff, big);
	for (a = (uint64_t)buf; (a / CHUNK) % CACHE_PAGES != CACHE_PAGES - 1; a += CHUNK)
		;
	assert_int_equal(read_u64(r, a, &v), 0);
	assert_true(v == UINT64_MAX);
	for (top = UINT64_MAX - 7; top != 0; top++)
		assert_int_not_equal(read_u64(r, top & GC_NEXT_MASK, &v), 0);
	munmap(buf, big);
	test_gc_state_close(r);
}

/* A walk that strays into words of -1 ends (-EAGAIN or an error), never reads out of bounds. */
static void test_walk_into_minus_one(void **state)
{
	size_t big = 2 * CACHE_PAGES * CHUNK;
	struct gc_state_reader *r = self_reader();
	uint64_t *buf = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0), heads[GC_STATE_GENS + 1] = { 0 }, a;
	int64_t count;
	bool capped = false;

	assert_true(buf != MAP_FAILED);
	memset(buf, 0xff, big);
	/* head -> node in the chunk of the last cache slot, whose _gc_next is -1 */
	for (a = (uint64_t)buf + CHUNK; (a / CHUNK) % CACHE_PAGES != CACHE_PAGES - 1; a += CHUNK)
		;
	buf[0] = a;
	heads[0] = (uint64_t)buf;
	assert_int_not_equal(walk_once(r, (uint64_t)buf, heads, &count, &capped), 0);
	munmap(buf, big);
	test_gc_state_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_u64_near_top_of_address_space),
		cmocka_unit_test(test_walk_into_minus_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
