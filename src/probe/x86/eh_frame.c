// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Function bounds from .eh_frame: the code range of every FDE, read with the pointer encoding
 * its CIE declares. Nothing else of the call frame information is interpreted, except the first
 * instruction of an FDE, which tells a function's start from the cold part of another one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "probe/x86/eh_frame.h"

static int cmp_fde(const void *a, const void *b)
{
	const struct fde *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

const struct fde *fde_table_find(const struct fde_table *t, uint64_t addr)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->fdes[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || addr >= t->fdes[lo - 1].end)
		return NULL;
	return &t->fdes[lo - 1];
}

static bool rd_leb(const unsigned char **p, const unsigned char *end, bool sign, uint64_t *v)
{
	unsigned int shift = 0;
	unsigned char b;

	*v = 0;
	do {
		if (*p >= end || shift > 63)
			return false;
		b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (sign && shift < 64 && (b & 0x40))
		*v |= ~0ULL << shift;
	return true;
}

/* A DW_EH_PE-encoded pointer at *p, whose own address is at (for pcrel). */
static bool rd_enc(const unsigned char **p, const unsigned char *end, uint8_t enc, uint64_t at,
		   uint64_t *v)
{
	static const unsigned char sizes[16] = { 8, 0, 2, 4, 8, 0, 0, 0, 0, 0, 2, 4, 8 };
	unsigned int size = sizes[enc & 0x0f];
	int64_t sv = 0;

	if ((enc & 0x0f) == 0x01 || (enc & 0x0f) == 0x09) {
		if (!rd_leb(p, end, (enc & 0x0f) == 0x09, v))
			return false;
	} else {
		if (!size || end - *p < size)
			return false;
		*v = 0;
		memcpy(v, *p, size);
		if ((enc & 0x08) && size < 8) {
			sv = (int64_t)(*v << (64 - 8 * size)) >> (64 - 8 * size);
			*v = (uint64_t)sv;
		}
		*p += size;
	}
	if ((enc & 0x70) == 0x10)
		*v += at;
	return !(enc & 0x70 & ~0x10) && !(enc & 0x80);
}

/* The pointer encoding of the CIE at off, or -1 if it cannot be read. */
static int cie_encoding(const unsigned char *d, size_t size, size_t off, bool *z)
{
	const unsigned char *p = d + off, *end, *aug;
	uint32_t len, id;
	uint64_t v;
	int enc = 0;

	if (off + 9 > size)
		return -1;
	memcpy(&len, p, 4);
	memcpy(&id, p + 4, 4);
	/* At least the id and the version: the augmentation string starts inside the CIE. */
	if (id || len < 5 || len == 0xffffffff || len > size - off - 4)
		return -1;
	end = p + 4 + len;
	p += 8;
	if (*p != 1 && *p != 3)
		return -1;
	aug = ++p;
	p = memchr(p, '\0', end - p);
	if (!p)
		return -1;
	p++;
	if (!rd_leb(&p, end, false, &v) || !rd_leb(&p, end, true, &v))
		return -1;
	if (!(aug[-1] == 1 ? p++ < end : rd_leb(&p, end, false, &v)))
		return -1;
	*z = aug[0] == 'z';
	if (*z && !rd_leb(&p, end, false, &v))
		return -1;
	for (aug += *z; *aug && *z; aug++) {
		if (p >= end)
			return -1;
		if (*aug == 'R')
			enc = *p++;
		else if (*aug == 'L')
			p++;
		else if (*aug == 'P' && (p++, !rd_enc(&p, end, p[-1] & 0x0f, 0, &v)))
			return -1;
		else if (*aug != 'P' && *aug != 'S' && *aug != 'B')
			return -1;
	}
	return enc;
}

/* Every FDE's code range, and whether it begins like a function or continues one. */
int fde_table_read(struct fde_table *t, const unsigned char *d, size_t size, uint64_t addr,
		   char *err, size_t err_len)
{
	size_t off = 0, cap = 0, last_cie = (size_t)-1;
	int enc = -1;
	bool z = false;

	*t = (struct fde_table){ 0 };
	while (off + 8 <= size) {
		const unsigned char *p = d + off + 8, *end;
		uint32_t len, id;
		uint64_t start, range, auglen;
		struct fde *f;

		memcpy(&len, d + off, 4);
		memcpy(&id, d + off + 4, 4);
		if (!len || len == 0xffffffff || len > size - off - 4)
			break;
		end = d + off + 4 + len;
		off += 4 + (size_t)len;
		if (!id || id > off - len)
			continue;
		if (off - len - id != last_cie) {
			last_cie = off - len - id;
			enc = cie_encoding(d, size, last_cie, &z);
		}
		if (enc < 0 || !rd_enc(&p, end, enc, addr + (p - d), &start) ||
		    !rd_enc(&p, end, enc & 0x0f, 0, &range) || !range || start + range < start)
			continue;	/* unreadable, empty, or wrapping past the address space */
		if (z && (!rd_leb(&p, end, false, &auglen) || auglen > (uint64_t)(end - p)))
			continue;
		p += z ? auglen : 0;
		if (t->n == cap) {
			cap = cap ? 2 * cap : 4096;
			f = realloc(t->fdes, cap * sizeof(*f));
			if (!f) {
				snprintf(err, err_len, "out of memory");
				return -ENOMEM;
			}
			t->fdes = f;
		}
		f = &t->fdes[t->n++];
		f->start = start;
		f->end = start + range;
		/* A cold part's FDE first restates the frame it was jumped to with. */
		f->entry_like = p >= end || !*p || (*p >= 0x02 && *p <= 0x04) ||
				(*p & 0xc0) == 0x40;
	}
	if (!t->n) {
		snprintf(err, err_len, "no readable .eh_frame: function bounds are unknown");
		return -ENOENT;
	}
	qsort(t->fdes, t->n, sizeof(*t->fdes), cmp_fde);
	return 0;
}

void fde_table_free(struct fde_table *t)
{
	free(t->fdes);
	t->fdes = NULL;
	t->n = 0;
}
