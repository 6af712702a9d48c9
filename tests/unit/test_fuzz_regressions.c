// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Every input a fuzzer (tests/fuzz/) ever crashed on, replayed against the parser it broke. The
 * same bytes are in tests/fuzz/corpus/NAME/regress-*, so the fuzzers replay them too. Text is
 * placed right before an unmapped page: a read past its end faults here even without ASan.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "probe/x86/eh_frame.h"
#include "proc/proc.h"

struct guarded {
	unsigned char *map;
	size_t map_len;
};

/* A copy of len bytes that ends where an inaccessible page begins. */
static void *guarded_copy(struct guarded *g, const void *data, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	g->map_len = ((len + page - 1) / page + 1) * page;
	g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		      0);
	assert_true(g->map != MAP_FAILED);
	assert_int_equal(mprotect(g->map + g->map_len - page, page, PROT_NONE), 0);
	return memcpy(g->map + g->map_len - page - len, data, len);
}

static void guarded_free(struct guarded *g)
{
	munmap(g->map, g->map_len);
}

/*
 * fuzz_proc_stat: a stat line that ends right after the comm's ')' made the field walk start
 * one byte past the terminator (heap-buffer-overflow in strchr).
 */
static void test_stat_nothing_after_comm(void **state)
{
	static const char text[] = "\xff\xff\xff" "34 (a\x10" "b)";
	char comm[PROC_COMM_LEN];
	uint64_t ticks = 0;
	struct guarded g;
	char *s = guarded_copy(&g, text, sizeof(text));

	assert_int_equal(proc_parse_stat(s, comm, sizeof(comm), &ticks), -EINVAL);
	/* One byte more is still not a stat line. */
	assert_int_equal(proc_parse_stat("1 (a) ", comm, sizeof(comm), &ticks), -EINVAL);
	guarded_free(&g);
}

/*
 * fuzz_eh_frame: an FDE whose start plus range wraps past 2^64 gave a function that ends before
 * it starts. Such an FDE is unreadable and is skipped like one that is truncated.
 */
static const unsigned char eh_range_wraps[] = {
	0xf0, 0xac, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x01, 0x63, 0x52, 0x00, 0x01, 0x78, 0x10, 0x01, 0x1b, 0x0c, 0x07, 0x08, 0x90, 0x01,
	0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0xf0, 0xfe, 0xff, 0xff, 0x1b,
	0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0x13, 0x08, 0x0e, 0x08, 0x00, 0x24, 0x00, 0x00, 0x00,
	0x34, 0x00, 0x00, 0x00, 0xf3, 0xfe, 0x9c, 0xff, 0x79, 0x00, 0x00, 0x00, 0x00, 0x41, 0x0e,
	0x10, 0x86, 0x02, 0x41, 0x0e, 0x18, 0x83, 0x03, 0x44, 0x0e, 0x20, 0x02, 0x70, 0x0e, 0x18,
	0x41, 0x0e, 0x10, 0x41, 0x0e, 0x08, 0x14, 0x00, 0x00, 0x00, 0x41, 0x0e, 0x08, 0x14, 0x00,
	0x00, 0x00, 0x5c, 0x00, 0x00, 0x00, 0x44, 0xff, 0xff, 0xff, 0x13, 0x00, 0x00, 0x00, 0x00,
	0x44, 0x0f, 0x0b, 0x77, 0x08, 0x80, 0x00, 0xc1, 0xe5, 0x3c, 0x2a, 0xff, 0x20, 0x00, 0x00,
	0x00, 0x00, 0x0e, 0x10, 0x46, 0x0e, 0x18, 0x4a, 0x0f, 0x0b, 0x77, 0x08, 0x80, 0x00, 0xc1,
	0xe5, 0xc4, 0xd5, 0xcc, 0xdb, 0x08,
};

static void test_eh_frame_range_wraps(void **state)
{
	struct fde_table t = { 0 };
	uint64_t addr;
	char err[128];
	size_t i;
	int ret;

	/* As the fuzzer feeds it: the load address, then the section. */
	memcpy(&addr, eh_range_wraps, 8);
	ret = fde_table_read(&t, eh_range_wraps + 8, sizeof(eh_range_wraps) - 8, addr, err,
			     sizeof(err));
	assert_true(ret == 0 || ret == -ENOENT);
	for (i = 0; i < t.n; i++)
		assert_true(t.fdes[i].start < t.fdes[i].end);
	fde_table_free(&t);
}

/*
 * fuzz_eh_frame: a CIE whose augmentation string has no terminator before the CIE ends made
 * the reader increment the NULL that memchr() returned: undefined behaviour that clang's UBSan
 * reports (gcc's does not), so the fuzzer's replay of this input from its corpus in every
 * make test is what fails before the fix. The CIE is unreadable, so is the FDE that uses it.
 */
static const unsigned char eh_cie_no_augmentation_end[] = {
	0xf0, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x01, 0x7a, 0x52, 0x03, 0x01, 0x78, 0x12, 0x01, 0x31, 0x0c, 0x01, 0x90, 0xff, 0xf8,
	0xff, 0xe5, 0x08, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0xf0, 0xfe, 0xff, 0x00, 0x00,
	0x00, 0x00, 0x00, 0xf3, 0xfe, 0x9c, 0xff, 0x08, 0x80, 0x40, 0xc1, 0xe5, 0xc4, 0xd5, 0xcc,
	0xdb, 0x08,
};

static void test_eh_frame_cie_no_augmentation_end(void **state)
{
	struct fde_table t = { 0 };
	struct guarded g;
	const unsigned char *d;
	size_t len = sizeof(eh_cie_no_augmentation_end) - 8;
	uint64_t addr;
	char err[128];

	memcpy(&addr, eh_cie_no_augmentation_end, 8);
	d = guarded_copy(&g, eh_cie_no_augmentation_end + 8, len);
	assert_int_equal(fde_table_read(&t, d, len, addr, err, sizeof(err)), -ENOENT);
	fde_table_free(&t);
	guarded_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_nothing_after_comm),
		cmocka_unit_test(test_eh_frame_range_wraps),
		cmocka_unit_test(test_eh_frame_cie_no_augmentation_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
