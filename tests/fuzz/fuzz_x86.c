// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Random code bytes through the x86-64 decoder and the data-flow pass, as if they were a
 * function of a stripped libpython: the image holds them as code (at CODE) and as read-only
 * data (at DATA, so that constant addresses can resolve to strings), and .eh_frame says the
 * function ends at a point the first byte picks, the rest being a cold part it may jump into.
 */
#include <assert.h>
#include "probe/x86/eh_frame.h"
#include "fuzz_util.h"
#include "probe/x86/dataflow.h"
#include "probe/x86/image.h"

#define CODE	0x401000ull
#define DATA	0x402000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct x86_image img = { .path = "fuzz", .file.fd = -1, .machine = 62 /* EM_X86_64 */ };
	struct fde fdes[2];
	struct x86_func fn = { 0 };
	unsigned char *code;
	size_t split, i;
	char err[256];

	if (size < 2 || size > 0x1000)
		return 0;
	split = 1 + data[0] % (size - 1);
	code = malloc(size - 1);
	memcpy(code, data + 1, size - 1);
	size--;
	img.secs[0] = (struct image_section){ .addr = CODE, .size = size, .data = code, .exec = 1 };
	img.secs[1] = (struct image_section){ .addr = DATA, .size = size, .data = code };
	img.nsecs = 2;
	fdes[0] = (struct fde){ CODE, CODE + split, true };
	fdes[1] = (struct fde){ CODE + split, CODE + size, false };
	img.fdes.fdes = fdes;
	img.fdes.n = split < size ? 2 : 1;

	if (!x86_analyze(&img, CODE, &fn, err, sizeof(err))) {
		for (i = 0; i < fn.ncalls; i++) {
			assert(fn.calls[i].site >= CODE && fn.calls[i].site < CODE + size);
			assert(!i || fn.calls[i - 1].site <= fn.calls[i].site);
		}
	}
	x86_func_free(&fn);
	free(code);
	return 0;
}
