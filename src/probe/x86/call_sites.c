// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The direct calls of one function, from the same data-flow pass the locator uses: an argument
 * register's string is only reported when its address is the same constant on every path, so
 * a string never names a call that may pass something else.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "probe/x86/call_sites.h"
#include "probe/x86/dataflow.h"
#include "probe/x86/image.h"

_Static_assert(X86_CALL_NARGS == X86_NARGS, "one arg_string per tracked argument register");

/* The string at v's address into buf, if v is a constant one, printable and short enough. */
static void arg_string(const struct x86_image *img, const struct x86_val *v, char *buf)
{
	const char *s = v->mask == X86_V_CONST ? x86_image_string(img, v->c) : NULL;
	size_t i, len = s ? strnlen(s, X86_CALL_STRING_LEN) : X86_CALL_STRING_LEN;

	buf[0] = '\0';
	/* Longer, it would be cut to a prefix that another string may share. */
	if (len >= X86_CALL_STRING_LEN)
		return;
	for (i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return;
	}
	memcpy(buf, s, len + 1);
}

int x86_call_sites(const char *path, uint64_t func_vaddr, struct x86_call_site *out, int max,
		   char *err, size_t err_len)
{
	struct x86_func fn = { 0 };
	struct x86_image img;
	int ret, k, n = 0;
	size_t i;

	if (err_len)
		err[0] = '\0';
	if (max < 0 || (max && !out)) {
		snprintf(err, err_len, "no room for call sites");
		return -EINVAL;
	}
	ret = x86_image_open(&img, path, err, err_len);
	if (!ret)
		ret = x86_image_read_fdes(&img, err, err_len);
	if (!ret)
		ret = x86_analyze(&img, func_vaddr, &fn, err, err_len);
	for (i = 0; !ret && i < fn.ncalls; i++) {
		const struct x86_call *call = &fn.calls[i];
		struct x86_call_site *site;

		if (call->tail || !call->target || n++ >= max)
			continue;
		site = &out[n - 1];
		memset(site, 0, sizeof(*site));
		site->vaddr = call->site;
		site->len = call->len;
		site->target = call->target;
		for (k = 0; k < X86_CALL_NARGS; k++)
			arg_string(&img, &call->args[k], site->arg_string[k]);
	}
	x86_func_free(&fn);
	x86_image_close(&img);
	return ret ? ret : n;
}
