// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The GC state of a running interpreter, read from its memory.
 *
 * _PyRuntime is exported by every CPython 3.8+, stripped or not; the load address of the
 * interpreter binary in /proc/PID/maps gives where it is in the process. From there the GC state
 * is at a fixed offset (3.8: in _PyRuntime itself; 3.9-3.12: in the main interpreter, reached
 * through interpreters.head), or where _Py_DebugOffsets says (3.13+). Its inner layout is a
 * per-version table, measured on every build here (DWARF of the pyenv builds; thresholds set to
 * marked values in Debian's stripped 3.11, 3.13, 3.14 and 3.15). Builds of one version need not
 * agree (Debian's 3.13.5 has its generations 4 bytes earlier than pyenv's 3.13.0), so each
 * candidate layout is checked against invariants of the live lists before it is used: every
 * list head's neighbours point back at it, and where there is a generation0 pointer it points at
 * the first generation. A layout that does not check out is refused, never misread.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include "util/clock.h"
#include "probe/elf/elfutil.h"
#include "probe/gc_state.h"
#include "proc/proc.h"

#define PAGE			4096ul
/* Read in chunks: fewer calls, each taking the target's mmap lock for a moment only. */
#define CHUNK			65536ul
#define CACHE_PAGES		128
#define GC_NEXT_MASK		(~1ul)	/* NEXT_MASK_UNREACHABLE, set only inside a collection */
#define GC_PREV_MASK		(~3ul)	/* _gc_prev keeps two flag bits */

/* Where the GC state is, from _PyRuntime. */
struct gc_state_place {
	int minor;
	long runtime_gc;	/* >= 0: the GC state is in _PyRuntime here (3.8) */
	long interpreters_head;	/* else: _PyRuntime.interpreters.head ... */
	long interp_gc;		/* ... and the GC state in the interpreter */
	long debug_head_at, debug_gc_at;	/* 3.13+: where _Py_DebugOffsets has both */
};

static const struct gc_state_place places[] = {
	{ .minor = 8, .runtime_gc = 0x158 },
	{ .minor = 9, .runtime_gc = -1, .interpreters_head = 0x20, .interp_gc = 0x268 },
	{ .minor = 10, .runtime_gc = -1, .interpreters_head = 0x20, .interp_gc = 0x268 },
	{ .minor = 11, .runtime_gc = -1, .interpreters_head = 0x28, .interp_gc = 0x288 },
	{ .minor = 12, .runtime_gc = -1, .interpreters_head = 0x28, .interp_gc = 0x70 },
	{ .minor = 13, .runtime_gc = -1, .debug_head_at = 40, .debug_gc_at = 80 },
	{ .minor = 14, .runtime_gc = -1, .debug_head_at = 40, .debug_gc_at = 88 },
	{ .minor = 15, .runtime_gc = -1, .debug_head_at = 40, .debug_gc_at = 88 },
};

/* Inside the GC state. A struct gc_generation is a PyGC_Head, then threshold and count. */
struct gc_state_layout {
	const char *name;
	int minor_lo, minor_hi;
	long enabled, gens, permanent;
	long generation0;	/* -1: none */
	long long_lived_total, long_lived_pending;	/* -1: none */
	/*
	 * Sampling mode: the "collecting" flag and the flat per-generation statistics (3 x
	 * {collections, collected, uncollectable}, gc.get_stats()); -1: not known for this layout.
	 */
	long collecting, stats;
};

#define GEN_SIZE		24
#define GEN_THRESHOLD		16
#define GEN_COUNT		20

static const struct gc_state_layout layouts[] = {
	/* struct _gc_runtime_state as DWARF gives it for pyenv's 3.8.18 to 3.13.0 */
	{ "3.8-3.13", 8, 13, .enabled = 12, .gens = 24, .generation0 = 96, .permanent = 104,
	  .long_lived_total = 224, .long_lived_pending = 232, .collecting = 200, .stats = 128 },
	/* Debian's 3.13.5: the same fields from 20 on; long-lived counters not checked */
	{ "3.13.5", 13, 13, .enabled = 12, .gens = 20, .generation0 = 96, .permanent = 104,
	  .long_lived_total = -1, .long_lived_pending = -1, .collecting = 200, .stats = 128 },
	/* 3.14.5+ (3.13's collector again, without generation0) */
	{ "3.14", 14, 14, .enabled = 12, .gens = 24, .generation0 = -1, .permanent = 96,
	  .long_lived_total = -1, .long_lived_pending = -1, .collecting = 192, .stats = 120 },
	/* 3.15.0: no trash fields, enabled first */
	{ "3.15", 15, 15, .enabled = 0, .gens = 8, .generation0 = -1, .permanent = 80,
	  .long_lived_total = -1, .long_lived_pending = -1, .collecting = -1, .stats = -1 },
};

struct cached_page {
	uint64_t base, len;	/* what data holds: [base, base + len); len 0: empty */
	unsigned char data[CHUNK];
};

struct gc_state_reader {
	pid_t pid;
	uint64_t gc;		/* address of the GC state */
	const struct gc_state_layout *layout;
	char source[64];
	struct cached_page *cache;	/* CACHE_PAGES, direct-mapped; emptied at each read */
};

static int read_direct(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)addr, .iov_len = len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

/*
 * A list walk reads 8 bytes per object; objects allocated together sit together, so whole pages
 * are read and kept: one system call serves every header on the page.
 */
static int read_u64(struct gc_state_reader *r, uint64_t addr, uint64_t *v)
{
	struct cached_page *c = &r->cache[(addr / CHUNK) % CACHE_PAGES];
	uint64_t base;

	/*
	 * A walk racing the target follows whatever a freed object's header holds, -1 words
	 * among them: addr + 8 must not wrap past 2^64 (it would pass the bounds checks below).
	 */
	if (addr > UINT64_MAX - sizeof(*v))
		return -EFAULT;
	if (c->len && addr >= c->base && addr - c->base <= c->len - sizeof(*v)) {
		memcpy(v, c->data + (addr - c->base), sizeof(*v));
		return 0;
	}
	/* The whole chunk, or at the edge of a mapping the page alone, or the 8 bytes. */
	base = addr & ~(CHUNK - 1);
	c->len = 0;
	if (!read_direct(r->pid, base, c->data, CHUNK)) {
		c->base = base;
		c->len = CHUNK;
	} else if (base = addr & ~(PAGE - 1), !read_direct(r->pid, base, c->data, PAGE)) {
		c->base = base;
		c->len = PAGE;
	}
	if (c->len && addr >= c->base && addr - c->base <= c->len - sizeof(*v)) {
		memcpy(v, c->data + (addr - c->base), sizeof(*v));
		return 0;
	}
	return read_direct(r->pid, addr, v, sizeof(*v));
}

static int read_i32(struct gc_state_reader *r, uint64_t addr, int *v)
{
	return read_direct(r->pid, addr, v, sizeof(*v));
}

static void cache_clear(struct gc_state_reader *r)
{
	int i;

	for (i = 0; i < CACHE_PAGES; i++)
		r->cache[i].len = 0;
}

struct runtime_search {
	uint64_t value;
	bool found;
};

static int find_runtime(Elf *elf, size_t strndx, const GElf_Sym *sym, void *arg)
{
	struct runtime_search *s = arg;
	const char *name = elf_strptr(elf, strndx, sym->st_name);

	if (name && !strcmp(name, "_PyRuntime") && sym->st_shndx != SHN_UNDEF) {
		s->value = sym->st_value;
		s->found = true;
		return 1;
	}
	return 0;
}

/*
 * What runtime_symbol() found per file (device, inode, size, mtime): --all and serve open a
 * reader for every process of a pool, most running the same binary.
 */
#define SYMBOL_CACHE	32

static struct {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	uint64_t sym, low;
} symbol_cache[SYMBOL_CACHE];
static unsigned int symbol_cache_next;

/* _PyRuntime's link-time address and the lowest PT_LOAD address of the file. */
static int runtime_symbol(const char *host_path, uint64_t *sym, uint64_t *low_vaddr)
{
	struct runtime_search s = { 0 };
	struct elf_file f;
	struct stat st;
	size_t i, n;
	int ret;

	if (stat(host_path, &st))
		return -errno;
	for (i = 0; i < SYMBOL_CACHE; i++)
		if (symbol_cache[i].ino == st.st_ino && symbol_cache[i].dev == st.st_dev &&
		    symbol_cache[i].size == st.st_size &&
		    symbol_cache[i].mtime.tv_sec == st.st_mtim.tv_sec &&
		    symbol_cache[i].mtime.tv_nsec == st.st_mtim.tv_nsec) {
			*sym = symbol_cache[i].sym;
			*low_vaddr = symbol_cache[i].low;
			return 0;
		}
	ret = elf_file_open(host_path, &f);
	if (ret)
		return ret;
	elf_foreach_sym(f.elf, SHT_DYNSYM, find_runtime, &s);
	*low_vaddr = UINT64_MAX;
	if (!elf_getphdrnum(f.elf, &n))
		for (i = 0; i < n; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(f.elf, i, &ph) && ph.p_type == PT_LOAD &&
			    ph.p_vaddr < *low_vaddr)
				*low_vaddr = ph.p_vaddr & ~(PAGE - 1);
		}
	elf_file_close(&f);
	*sym = s.value;
	if (!s.found || *low_vaddr == UINT64_MAX)
		return -ENOENT;
	i = symbol_cache_next++ % SYMBOL_CACHE;
	symbol_cache[i].dev = st.st_dev;
	symbol_cache[i].ino = st.st_ino;
	symbol_cache[i].size = st.st_size;
	symbol_cache[i].mtime = st.st_mtim;
	symbol_cache[i].sym = *sym;
	symbol_cache[i].low = *low_vaddr;
	return 0;
}

/* Where the file with this inode is mapped from its start in pid. */
static int load_address(pid_t pid, const char *host_path, uint64_t *start)
{
	struct map_entry *e = malloc(sizeof(*e));
	char path[64], *line = NULL;
	size_t line_len = 0;
	struct stat st;
	int ret = -ENOENT;
	FILE *f;

	if (!e)
		return -ENOMEM;
	if (stat(host_path, &st)) {
		free(e);
		return -errno;
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f) {
		free(e);
		return -errno;
	}
	while (getline(&line, &line_len, f) > 0) {
		if (proc_parse_maps_line(line, e) || e->inode != st.st_ino || e->offset != 0)
			continue;
		*start = e->start;
		ret = 0;
		break;
	}
	free(line);
	free(e);
	fclose(f);
	return ret;
}

static bool list_head_ok(struct gc_state_reader *r, uint64_t head)
{
	uint64_t next, prev, back;

	if (read_u64(r, head, &next) || read_u64(r, head + 8, &prev))
		return false;
	next &= GC_NEXT_MASK;
	prev &= GC_PREV_MASK;
	if (!next || !prev || read_u64(r, next + 8, &back) || (back & GC_PREV_MASK) != head)
		return false;
	return !read_u64(r, prev, &back) && (back & GC_NEXT_MASK) == head;
}

static bool layout_ok(struct gc_state_reader *r, const struct gc_state_layout *l)
{
	uint64_t gen0;
	int i;

	cache_clear(r);
	if (l->generation0 >= 0 &&
	    (read_u64(r, r->gc + l->generation0, &gen0) || gen0 != r->gc + l->gens))
		return false;
	for (i = 0; i < GC_STATE_GENS; i++)
		if (!list_head_ok(r, r->gc + l->gens + i * GEN_SIZE))
			return false;
	return list_head_ok(r, r->gc + l->permanent);
}

static int locate_gc(struct gc_state_reader *r, const struct gc_state_place *p, uint64_t runtime,
		     char *why, size_t why_len)
{
	uint64_t head_off, gc_off, interp;
	char cookie[8];

	if (p->runtime_gc >= 0) {
		r->gc = runtime + p->runtime_gc;
		return 0;
	}
	head_off = p->interpreters_head;
	gc_off = p->interp_gc;
	if (p->debug_gc_at) {
		int ret = read_direct(r->pid, runtime, cookie, sizeof(cookie));

		if (ret) {
			snprintf(why, why_len, "cannot read _PyRuntime at 0x%lx: %s",
				 (unsigned long)runtime, strerror(-ret));
			return ret;
		}
		if (memcmp(cookie, "xdebugpy", 8) ||
		    read_u64(r, runtime + p->debug_head_at, &head_off) ||
		    read_u64(r, runtime + p->debug_gc_at, &gc_off)) {
			snprintf(why, why_len, "no _Py_DebugOffsets in _PyRuntime");
			return -ENOENT;
		}
		if (head_off > (1ul << 20) || gc_off > (1ul << 20)) {
			snprintf(why, why_len, "implausible _Py_DebugOffsets");
			return -ENOENT;
		}
	}
	if (read_u64(r, runtime + head_off, &interp) || !interp) {
		snprintf(why, why_len, "cannot read the interpreter list");
		return -EFAULT;
	}
	r->gc = interp + gc_off;
	return 0;
}

int gc_state_open(pid_t pid, const char *binary, const char *host_path, int minor,
		  struct gc_state_reader **out, char *why, size_t why_len)
{
	const struct gc_state_place *p = NULL;
	struct gc_state_reader *r;
	uint64_t sym, low, start = 0;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(places) / sizeof(places[0]); i++)
		if (places[i].minor == minor)
			p = &places[i];
	if (!p) {
		snprintf(why, why_len, "GC state layout of 3.%d not known", minor);
		return -ENOTSUP;
	}
	ret = runtime_symbol(host_path, &sym, &low);
	if (ret) {
		snprintf(why, why_len, "%s: no _PyRuntime symbol", binary);
		return ret;
	}
	ret = load_address(pid, host_path, &start);
	if (ret) {
		snprintf(why, why_len, "%s is not mapped in pid %d", binary, pid);
		return ret;
	}
	r = calloc(1, sizeof(*r));
	if (r)
		r->cache = calloc(CACHE_PAGES, sizeof(*r->cache));
	if (!r || !r->cache) {
		free(r);
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	r->pid = pid;
	cache_clear(r);
	ret = locate_gc(r, p, start - low + sym, why, why_len);
	if (ret)
		goto fail;
	/* A collection under way breaks the invariants for a moment: a few looks, a little apart. */
	for (i = 0; i < 3 * sizeof(layouts) / sizeof(layouts[0]); i++) {
		const struct gc_state_layout *l = &layouts[i % (sizeof(layouts) /
							      sizeof(layouts[0]))];

		if (i && !(i % (sizeof(layouts) / sizeof(layouts[0]))))
			usleep(2000);
		if (minor >= l->minor_lo && minor <= l->minor_hi && layout_ok(r, l)) {
			r->layout = l;
			snprintf(r->source, sizeof(r->source), "%s layout%s", l->name,
				 p->debug_gc_at ? ", _Py_DebugOffsets" : "");
			*out = r;
			return 0;
		}
	}
	snprintf(why, why_len, "the GC state of 3.%d at 0x%lx matches no known layout", minor,
		 (unsigned long)r->gc);
	ret = -ENOTSUP;
fail:
	gc_state_close(r);
	return ret;
}

/*
 * Objects on the list at head, up to the cap. The target runs on meanwhile: a list it splices
 * into another (gc.unfreeze(), a collection) leads to another list's head, not back to its own;
 * that walk is -EAGAIN, with the objects counted up to there.
 */
static int walk_once(struct gc_state_reader *r, uint64_t head,
		     const uint64_t heads[GC_STATE_GENS + 1], int64_t *count, bool *capped)
{
	uint64_t node;
	int64_t n = 0;
	int ret, i;

	ret = read_u64(r, head, &node);
	while (!ret && (node & GC_NEXT_MASK) != head) {
		node &= GC_NEXT_MASK;
		/* Not a PyGC_Head (8-aligned): the walk strayed into memory freed meanwhile. */
		if (node & 7) {
			*count = n;
			return -EAGAIN;
		}
		for (i = 0; i <= GC_STATE_GENS && node != heads[i]; i++)
			;
		if (i <= GC_STATE_GENS || !node) {
			*count = n;
			return -EAGAIN;
		}
		if (n >= GC_STATE_WALK_CAP) {
			*capped = true;
			break;
		}
		n++;
		ret = read_u64(r, node, &node);
	}
	*count = n;
	return ret;
}

/* utime + stime from /proc/PID/stat, 0 if unreadable: GC's share of CPU time needs it. */
static uint64_t process_cpu_ns(pid_t pid)
{
	unsigned long long utime, stime;
	char path[64], buf[1024], *p;
	long hz = sysconf(_SC_CLK_TCK);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || hz <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold anything: the fields after it follow the last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
			 &stime) != 2)
		return 0;
	return (utime + stime) * (1000000000ull / hz);
}

/* A walk done again when the list changed under it; after three, its count is approximate. */
static int walk(struct gc_state_reader *r, uint64_t head, const uint64_t heads[GC_STATE_GENS + 1],
		int64_t *count, struct gc_state *s)
{
	int tries, ret = -EAGAIN;

	for (tries = 0; tries < 3 && ret == -EAGAIN; tries++) {
		cache_clear(r);
		ret = walk_once(r, head, heads, count, &s->capped);
	}
	if (ret == -EAGAIN) {
		s->approximate = true;
		ret = 0;
	}
	return ret;
}

int gc_state_read(struct gc_state_reader *r, struct gc_state *s)
{
	const struct gc_state_layout *l = r->layout;
	uint64_t v, heads[GC_STATE_GENS + 1];
	int i, ret, enabled;

	for (i = 0; i < GC_STATE_GENS; i++)
		heads[i] = r->gc + l->gens + i * GEN_SIZE;
	heads[GC_STATE_GENS] = r->gc + l->permanent;
	memset(s, 0, sizeof(*s));
	cache_clear(r);
	s->time_ns = clock_now_ns();
	ret = read_i32(r, r->gc + l->enabled, &enabled);
	for (i = 0; !ret && i < GC_STATE_GENS; i++) {
		uint64_t gen = r->gc + l->gens + i * GEN_SIZE;

		ret = read_i32(r, gen + GEN_THRESHOLD, &s->threshold[i]);
		if (!ret)
			ret = read_i32(r, gen + GEN_COUNT, &s->count[i]);
		if (!ret)
			ret = walk(r, gen, heads, &s->tracked[i], s);
	}
	if (!ret)
		ret = walk(r, r->gc + l->permanent, heads, &s->frozen, s);
	if (!ret && l->long_lived_total >= 0) {
		ret = read_u64(r, r->gc + l->long_lived_total, &v);
		s->long_lived_total = (int64_t)v;
		if (!ret)
			ret = read_u64(r, r->gc + l->long_lived_pending, &v);
		s->long_lived_pending = (int64_t)v;
		s->has_long_lived = true;
	}
	if (ret)
		return ret;
	s->cpu_ns = process_cpu_ns(r->pid);
	s->enabled = enabled != 0;
	s->read_ns = clock_now_ns() - s->time_ns;
	s->valid = true;
	return 0;
}

int gc_state_sample_addrs(const struct gc_state_reader *r, uint64_t *addr, uint64_t *stats)
{
	int32_t v;

	if (r->layout->collecting < 0 || r->layout->stats < 0)
		return -ENOTSUP;
	*addr = r->gc + r->layout->collecting;
	*stats = r->gc + r->layout->stats;
	/* A flag: anything else says the offset is not this build's. */
	if (read_direct(r->pid, *addr, &v, sizeof(v)))
		return -ESRCH;
	return v == 0 || v == 1 ? 0 : -ENOTSUP;
}

void gc_counts_from_stats(const int64_t v[GC_STATE_GENS * 3], struct gc_counts *c)
{
	int i;

	for (i = 0; i < GC_STATE_GENS; i++) {
		c->collections[i] = v[3 * i];
		c->collected[i] = v[3 * i + 1] + v[3 * i + 2];
	}
}

int gc_state_read_counters(struct gc_state_reader *r, struct gc_counts *c)
{
	int64_t v[GC_STATE_GENS * 3];

	if (r->layout->stats < 0)
		return -ENOTSUP;
	if (read_direct(r->pid, r->gc + r->layout->stats, v, sizeof(v)))
		return -ESRCH;
	gc_counts_from_stats(v, c);
	return 0;
}

const char *gc_state_source(const struct gc_state_reader *r)
{
	return r->source;
}

void gc_state_close(struct gc_state_reader *r)
{
	if (!r)
		return;
	free(r->cache);
	free(r);
}
