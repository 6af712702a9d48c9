// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <lzma.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <elfutils/debuginfod.h>
#include "symbols.h"

#define BUILD_ID_MAX		64	/* bytes; GNU ld makes 20 (sha1) or 16 (md5, uuid) */
#define WHY_LEN			1024
/* MiniDebugInfo is a few hundred KiB; anything this big is not one. */
#define MINI_MAX		(256UL << 20)

struct symtab {
	enum symtab_source source;
	char *source_path;
	char *dwarf_file;
	char build_id[2 * BUILD_ID_MAX + 1];
	struct symbol *syms;		/* sorted by name, functions first, then address */
	size_t nsyms;
	char *names;			/* every name, NUL-terminated, back to back */
};

/* Symbols being collected: names go by offset into a growing pool until it stops moving. */
struct sym_builder {
	struct symbol *syms;
	size_t *name_offs;
	size_t n, cap;
	char *pool;
	size_t pool_len, pool_cap;
};

/* What symtab_load() learns about the binary, and what it has tried so far. */
struct load_ctx {
	const char *path;
	const char *root;
	char dir[PATH_MAX];		/* the binary's directory as opened from here */
	char root_dir[PATH_MAX];	/* the same directory as the process sees it, "" for / */
	bool have_root_dir;		/* false when path is relative and cannot be resolved */
	Elf *elf;
	unsigned char bid[BUILD_ID_MAX];
	int bid_len;			/* 0 when the binary has none */
	char bid_hex[2 * BUILD_ID_MAX + 1];
	char link_name[NAME_MAX + 1];	/* .gnu_debuglink's file name, "" if none */
	uint32_t link_crc;
	bool found;			/* symbols loaded into sb */
	enum symtab_source source;
	char *source_path;
	char *dwarf_file;
	struct sym_builder sb;
	char why[WHY_LEN];		/* what was tried, for -ENOENT */
};

/* One ELF file opened for reading; elf_memory() images own their buffer here. */
struct elf_file {
	int fd;
	Elf *elf;
	void *image;
};

static const char *const source_names[] = {
	[SYMTAB_SELF] = "symtab",
	[SYMTAB_MINIDEBUGINFO] = "minidebuginfo",
	[SYMTAB_BUILD_ID] = "build-id",
	[SYMTAB_DEBUGLINK] = "debuglink",
	[SYMTAB_DEBUGINFOD] = "debuginfod",
};

__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* Appends one reason to ctx->why, after sep unless it is the first. */
__attribute__((format(printf, 3, 4)))
static void why_add(struct load_ctx *c, const char *sep, const char *fmt, ...)
{
	size_t len = strlen(c->why);
	va_list ap;

	if (len && len + strlen(sep) < sizeof(c->why)) {
		strcpy(c->why + len, sep);
		len += strlen(sep);
	}
	if (len >= sizeof(c->why) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(c->why + len, sizeof(c->why) - len, fmt, ap);
	va_end(ap);
}

static void elf_file_close(struct elf_file *f)
{
	if (f->elf)
		elf_end(f->elf);
	if (f->fd >= 0)
		close(f->fd);
	free(f->image);
	f->elf = NULL;
	f->fd = -1;
	f->image = NULL;
}

/* Returns 0, -ENOEXEC when the file is not ELF, or -errno from open(). */
static int elf_file_open(const char *path, struct elf_file *f)
{
	f->elf = NULL;
	f->image = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return -errno;
	f->elf = elf_begin(f->fd, ELF_C_READ_MMAP, NULL);
	if (!f->elf || elf_kind(f->elf) != ELF_K_ELF) {
		elf_file_close(f);
		return -ENOEXEC;
	}
	return 0;
}

static Elf_Scn *find_section(Elf *elf, const char *name, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, shdr))
			continue;
		n = elf_strptr(elf, shstrndx, shdr->sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

static bool has_dwarf(Elf *elf)
{
	static const char *const names[] = { ".debug_info", ".zdebug_info" };
	GElf_Shdr shdr;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (find_section(elf, names[i], &shdr) && shdr.sh_type != SHT_NOBITS &&
		    shdr.sh_size)
			return true;
	}
	return false;
}

static bool sym_wanted(const GElf_Sym *sym)
{
	int type = GELF_ST_TYPE(sym->st_info);

	return sym->st_shndx != SHN_UNDEF && sym->st_name && type != STT_SECTION &&
	       type != STT_FILE;
}

/* Defined STT_FUNC symbols in elf's sections of type sh_type. */
static size_t count_funcs(Elf *elf, Elf64_Word sh_type)
{
	Elf_Scn *scn = NULL;
	size_t count = 0;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		Elf_Data *data;
		size_t i, n;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != sh_type || !shdr.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		n = shdr.sh_size / shdr.sh_entsize;
		for (i = 0; i < n; i++) {
			GElf_Sym sym;

			if (gelf_getsym(data, i, &sym) && sym_wanted(&sym) &&
			    GELF_ST_TYPE(sym.st_info) == STT_FUNC)
				count++;
		}
	}
	return count;
}

static int sb_add(struct sym_builder *b, const char *name, const GElf_Sym *sym)
{
	size_t len = strlen(name) + 1;

	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 1024;
		struct symbol *syms = realloc(b->syms, cap * sizeof(*syms));
		size_t *offs;

		if (!syms)
			return -ENOMEM;
		b->syms = syms;
		offs = realloc(b->name_offs, cap * sizeof(*offs));
		if (!offs)
			return -ENOMEM;
		b->name_offs = offs;
		b->cap = cap;
	}
	if (b->pool_len + len > b->pool_cap) {
		size_t cap = b->pool_cap ? 2 * b->pool_cap : 64 * 1024;
		char *pool;

		while (cap < b->pool_len + len)
			cap *= 2;
		pool = realloc(b->pool, cap);
		if (!pool)
			return -ENOMEM;
		b->pool = pool;
		b->pool_cap = cap;
	}
	memcpy(b->pool + b->pool_len, name, len);
	b->name_offs[b->n] = b->pool_len;
	b->pool_len += len;
	b->syms[b->n] = (struct symbol){
		.vaddr = sym->st_value,
		.size = sym->st_size,
		.is_func = GELF_ST_TYPE(sym->st_info) == STT_FUNC,
	};
	b->n++;
	return 0;
}

static void sb_free(struct sym_builder *b)
{
	free(b->syms);
	free(b->name_offs);
	free(b->pool);
	memset(b, 0, sizeof(*b));
}

/* Adds the defined symbols of elf's sections of type sh_type. Returns 0 or -ENOMEM. */
static int sb_add_elf(struct sym_builder *b, Elf *elf, Elf64_Word sh_type)
{
	Elf_Scn *scn = NULL;
	int ret;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		Elf_Data *data;
		size_t i, n;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != sh_type || !shdr.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		n = shdr.sh_size / shdr.sh_entsize;
		for (i = 0; i < n; i++) {
			const char *name;
			GElf_Sym sym;

			if (!gelf_getsym(data, i, &sym) || !sym_wanted(&sym))
				continue;
			name = elf_strptr(elf, shdr.sh_link, sym.st_name);
			if (!name || !*name)
				continue;
			ret = sb_add(b, name, &sym);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int sym_cmp(const void *a, const void *b)
{
	const struct symbol *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->is_func != y->is_func)
		return x->is_func ? -1 : 1;
	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

static int note_build_id(Elf_Data *data, unsigned char *bid, size_t cap)
{
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nhdr;

	while ((off = gelf_getnote(data, off, &nhdr, &name_off, &desc_off)) > 0) {
		if (nhdr.n_type != NT_GNU_BUILD_ID || nhdr.n_namesz != sizeof("GNU") ||
		    memcmp((char *)data->d_buf + name_off, "GNU", sizeof("GNU")))
			continue;
		if (!nhdr.n_descsz || nhdr.n_descsz > cap)
			return -EINVAL;
		memcpy(bid, (char *)data->d_buf + desc_off, nhdr.n_descsz);
		return nhdr.n_descsz;
	}
	return -ENOENT;
}

/*
 * The build-id bytes: from SHT_NOTE sections, or from PT_NOTE segments when there are no
 * section headers (a debug file's segments may point at nothing, so sections come first).
 * Returns their number or -ENOENT.
 */
static int read_build_id(Elf *elf, unsigned char *bid, size_t cap)
{
	Elf_Scn *scn = NULL;
	size_t i, nphdr, nscn;
	int ret;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		if (data && (ret = note_build_id(data, bid, cap)) != -ENOENT)
			return ret;
	}
	if (elf_getshdrnum(elf, &nscn) || nscn || elf_getphdrnum(elf, &nphdr))
		return -ENOENT;
	for (i = 0; i < nphdr; i++) {
		GElf_Phdr phdr;
		Elf_Data *data;

		if (!gelf_getphdr(elf, i, &phdr) || phdr.p_type != PT_NOTE)
			continue;
		data = elf_getdata_rawchunk(elf, phdr.p_offset, phdr.p_filesz, ELF_T_NHDR);
		if (data && (ret = note_build_id(data, bid, cap)) != -ENOENT)
			return ret;
	}
	return -ENOENT;
}

static void to_hex(const unsigned char *bytes, int len, char *hex)
{
	int i;

	for (i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", bytes[i]);
	hex[2 * len] = '\0';
}

int elf_read_build_id(const char *path, char *hex, size_t len)
{
	unsigned char bid[BUILD_ID_MAX];
	struct elf_file f;
	int ret;

	ret = elf_file_open(path, &f);
	if (ret)
		return ret;
	ret = read_build_id(f.elf, bid, sizeof(bid));
	if (ret < 0)
		goto cleanup;
	if (len < 2 * (size_t)ret + 1) {
		ret = -ENOSPC;
		goto cleanup;
	}
	to_hex(bid, ret, hex);
	ret = 0;
cleanup:
	elf_file_close(&f);
	return ret;
}

int elf_vaddr_to_offset(const char *path, uint64_t vaddr, uint64_t *offset)
{
	struct elf_file f;
	size_t i, n;
	int ret;

	ret = elf_file_open(path, &f);
	if (ret)
		return ret;
	ret = -ENOENT;
	if (elf_getphdrnum(f.elf, &n)) {
		ret = -ENOEXEC;
		goto cleanup;
	}
	for (i = 0; i < n; i++) {
		GElf_Phdr phdr;

		if (!gelf_getphdr(f.elf, i, &phdr)) {
			ret = -ENOEXEC;
			goto cleanup;
		}
		/* p_filesz, not p_memsz: code beyond the file's part would be zero-fill. */
		if (phdr.p_type != PT_LOAD || !(phdr.p_flags & PF_X) || vaddr < phdr.p_vaddr ||
		    vaddr - phdr.p_vaddr >= phdr.p_filesz)
			continue;
		*offset = vaddr - phdr.p_vaddr + phdr.p_offset;
		ret = 0;
		break;
	}
cleanup:
	elf_file_close(&f);
	return ret;
}

/* The CRC32 .gnu_debuglink records: zlib's, over the whole file. */
static int file_crc32(const char *path, uint32_t *crc)
{
	unsigned char buf[64 * 1024];
	uLong c = crc32(0L, Z_NULL, 0);
	int fd, ret = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		c = crc32(c, buf, n);
	}
	close(fd);
	*crc = c;
	return ret;
}

/* Reads .gnu_debuglink: a file name, padding to 4 bytes, and a CRC in the file's byte order. */
static void read_debuglink(struct load_ctx *c)
{
	const unsigned char *p;
	GElf_Ehdr ehdr;
	GElf_Shdr shdr;
	Elf_Data *data;
	Elf_Scn *scn;
	size_t len;

	scn = find_section(c->elf, ".gnu_debuglink", &shdr);
	if (!scn || shdr.sh_type == SHT_NOBITS || !gelf_getehdr(c->elf, &ehdr))
		return;
	data = elf_getdata(scn, NULL);
	if (!data || !data->d_buf)
		return;
	p = data->d_buf;
	len = strnlen((const char *)p, data->d_size);
	/* The name's NUL, padding to 4 bytes, and the CRC must all be inside the section. */
	if (!len || len > NAME_MAX || ((len + 4) & ~(size_t)3) + 4 > data->d_size ||
	    memchr(p, '/', len))
		return;
	memcpy(c->link_name, p, len);
	c->link_name[len] = '\0';
	p += (len + 4) & ~(size_t)3;
	if (ehdr.e_ident[EI_DATA] == ELFDATA2MSB)
		c->link_crc = (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
	else
		c->link_crc = (uint32_t)p[3] << 24 | p[2] << 16 | p[1] << 8 | p[0];
}

/*
 * The binary's directory as opened from here, and as the process sees it: path minus root, or
 * minus a /proc/PID/root prefix, which is how a path inside another mount namespace is opened.
 */
static int split_dirs(struct load_ctx *c)
{
	const char *in_root = c->path, *slash;
	size_t rl = strlen(c->root);
	char real[PATH_MAX];
	int n;

	if (rl && !strncmp(c->path, c->root, rl) && c->path[rl] == '/') {
		in_root = c->path + rl;
	} else if (!strncmp(c->path, "/proc/", 6)) {
		const char *p = c->path + 6;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p > c->path + 6 && !strncmp(p, "/root/", 6))
			in_root = p + 5;
	} else if (c->path[0] != '/' && !rl && realpath(c->path, real)) {
		/* Only here: a realpath through /proc/PID/root would leave the process's root. */
		in_root = real;
	}

	slash = strrchr(c->path, '/');
	n = slash ? snprintf(c->dir, sizeof(c->dir), "%.*s", (int)(slash - c->path), c->path)
		  : snprintf(c->dir, sizeof(c->dir), ".");
	if (n < 0 || (size_t)n >= sizeof(c->dir))
		return -ENAMETOOLONG;
	c->have_root_dir = in_root[0] == '/';
	slash = strrchr(in_root, '/');
	n = snprintf(c->root_dir, sizeof(c->root_dir), "%.*s",
		     c->have_root_dir ? (int)(slash - in_root) : 0, in_root);
	if (n < 0 || (size_t)n >= sizeof(c->root_dir))
		return -ENAMETOOLONG;
	if (c->dir[0] == '\0')
		strcpy(c->dir, "/");
	return 0;
}

/* Takes the symbols of elf's .symtab as what symtab_load() found. */
static int take_symbols(struct load_ctx *c, Elf *elf, enum symtab_source source,
			const char *file)
{
	int ret;

	c->source_path = strdup(file);
	if (!c->source_path)
		return -ENOMEM;
	ret = sb_add_elf(&c->sb, elf, SHT_SYMTAB);
	if (ret)
		return ret;
	c->source = source;
	c->found = true;
	return 0;
}

static int try_self(struct load_ctx *c)
{
	GElf_Shdr shdr;

	if (has_dwarf(c->elf)) {
		c->dwarf_file = strdup(c->path);
		if (!c->dwarf_file)
			return -ENOMEM;
	}
	if (count_funcs(c->elf, SHT_SYMTAB))
		return take_symbols(c, c->elf, SYMTAB_SELF, c->path);
	if (find_section(c->elf, ".symtab", &shdr))
		why_add(c, ", ", ".symtab without functions");
	else
		why_add(c, ", ", "no .symtab");
	return 0;
}

/* Decompresses an xz stream of at most MINI_MAX bytes into a malloc()ed buffer. */
static int xz_decompress(const void *in, size_t in_len, void **out, size_t *out_len)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	size_t cap = 4 * in_len + 4096;
	unsigned char *buf, *grown;
	lzma_ret lr;
	int ret = 0;

	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	if (lzma_stream_decoder(&strm, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK) {
		free(buf);
		return -ENOMEM;
	}
	strm.next_in = in;
	strm.avail_in = in_len;
	strm.next_out = buf;
	strm.avail_out = cap;
	for (;;) {
		lr = lzma_code(&strm, LZMA_FINISH);
		if (lr == LZMA_STREAM_END)
			break;
		if (lr != LZMA_OK && lr != LZMA_BUF_ERROR) {
			ret = lr == LZMA_MEM_ERROR ? -ENOMEM : -EBADMSG;
			goto cleanup;
		}
		if (strm.avail_out) {
			/* No progress possible with output room left: the input is truncated. */
			ret = -EBADMSG;
			goto cleanup;
		}
		if (cap >= MINI_MAX) {
			ret = -EFBIG;
			goto cleanup;
		}
		grown = realloc(buf, 2 * cap);
		if (!grown) {
			ret = -ENOMEM;
			goto cleanup;
		}
		buf = grown;
		strm.next_out = buf + cap;
		strm.avail_out = cap;
		cap *= 2;
	}
	*out = buf;
	*out_len = strm.total_out;
	buf = NULL;
cleanup:
	lzma_end(&strm);
	free(buf);
	return ret;
}

static int try_minidebuginfo(struct load_ctx *c)
{
	struct elf_file mini = { .fd = -1 };
	GElf_Shdr shdr;
	Elf_Data *data;
	Elf_Scn *scn;
	size_t len;
	int ret;

	scn = find_section(c->elf, ".gnu_debugdata", &shdr);
	if (!scn || shdr.sh_type == SHT_NOBITS) {
		why_add(c, ", ", "no MiniDebugInfo");
		return 0;
	}
	data = elf_rawdata(scn, NULL);
	if (!data || !data->d_buf) {
		why_add(c, ", ", "unreadable MiniDebugInfo: %s", elf_errmsg(-1));
		return 0;
	}
	ret = xz_decompress(data->d_buf, data->d_size, &mini.image, &len);
	if (ret == -ENOMEM)
		return ret;
	if (ret) {
		why_add(c, ", ", "MiniDebugInfo is not valid xz");
		return 0;
	}
	mini.elf = elf_memory(mini.image, len);
	if (!mini.elf || elf_kind(mini.elf) != ELF_K_ELF) {
		why_add(c, ", ", "MiniDebugInfo is not ELF");
		goto cleanup;
	}
	if (!count_funcs(mini.elf, SHT_SYMTAB)) {
		why_add(c, ", ", "MiniDebugInfo without functions");
		goto cleanup;
	}
	ret = take_symbols(c, mini.elf, SYMTAB_MINIDEBUGINFO, c->path);
cleanup:
	elf_file_close(&mini);
	return ret;
}

enum verdict {
	DEBUG_ABSENT,
	DEBUG_FOREIGN,		/* there, but not this binary's */
	DEBUG_OK,
};

/*
 * Opens a candidate debug file and decides whether it belongs to the binary: the same build-id
 * when both have one, else the debuglink CRC; with neither there is nothing to trust it by.
 * f stays open only for DEBUG_OK; *why tells a foreign file's fault.
 */
static int open_debug_file(struct load_ctx *c, const char *file, struct elf_file *f,
			   enum verdict *verdict, const char **why)
{
	unsigned char bid[BUILD_ID_MAX];
	struct stat st, self;
	uint32_t crc;
	int ret, len;

	*verdict = DEBUG_ABSENT;
	if (stat(file, &st))
		return 0;
	/* A debuglink that names the binary itself is no separate file. */
	if (!stat(c->path, &self) && st.st_dev == self.st_dev && st.st_ino == self.st_ino)
		return 0;
	*verdict = DEBUG_FOREIGN;
	ret = elf_file_open(file, f);
	if (ret == -ENOMEM)
		return ret;
	if (ret) {
		*why = ret == -ENOEXEC ? "not ELF" : strerror(-ret);
		return 0;
	}
	len = read_build_id(f->elf, bid, sizeof(bid));
	if (len > 0 && c->bid_len) {
		if (len == c->bid_len && !memcmp(bid, c->bid, len))
			*verdict = DEBUG_OK;
		else
			*why = "another build-id";
	} else if (c->link_name[0]) {
		ret = file_crc32(file, &crc);
		if (ret)
			*why = strerror(-ret);
		else if (crc == c->link_crc)
			*verdict = DEBUG_OK;
		else
			*why = "CRC mismatch";
	} else {
		*why = "no build-id or CRC to check it by";
	}
	if (*verdict != DEBUG_OK)
		elf_file_close(f);
	return 0;
}

/*
 * Looks at one candidate separate debug file: takes its symbols if none were found yet, and
 * its DWARF if none was. Returns 1 when it was there, 0 when absent, or -errno; appends a
 * reason when it was there but did not help.
 */
static int try_debug_file(struct load_ctx *c, const char *file, enum symtab_source source)
{
	struct elf_file f = { .fd = -1 };
	const char *why = NULL;
	enum verdict verdict;
	int ret;

	ret = open_debug_file(c, file, &f, &verdict, &why);
	if (ret || verdict == DEBUG_ABSENT)
		return ret;
	if (verdict == DEBUG_FOREIGN) {
		if (!c->found)
			why_add(c, ", ", "%s rejected: %s", file, why);
		return 1;
	}
	if (!c->found) {
		if (count_funcs(f.elf, SHT_SYMTAB)) {
			ret = take_symbols(c, f.elf, source, file);
			if (ret)
				goto cleanup;
		} else {
			why_add(c, ", ", "%s has no function symbols", file);
		}
	}
	if (!c->dwarf_file && has_dwarf(f.elf)) {
		c->dwarf_file = strdup(file);
		if (!c->dwarf_file) {
			ret = -ENOMEM;
			goto cleanup;
		}
	}
	ret = 1;
cleanup:
	elf_file_close(&f);
	return ret;
}

static int try_build_id(struct load_ctx *c)
{
	char file[PATH_MAX];
	int n, ret;

	if (!c->bid_len) {
		if (!c->found)
			why_add(c, ", ", "no build-id");
		return 0;
	}
	n = snprintf(file, sizeof(file), "%s/usr/lib/debug/.build-id/%.2s/%s.debug",
		     c->root, c->bid_hex, c->bid_hex + 2);
	if (n < 0 || (size_t)n >= sizeof(file))
		return -ENAMETOOLONG;
	ret = try_debug_file(c, file, SYMTAB_BUILD_ID);
	if (ret == 0 && !c->found)
		why_add(c, ", ", "no debug file for build-id %s under %s/usr/lib/debug",
			c->bid_hex, c->root);
	return ret < 0 ? ret : 0;
}

/* The binary's dir, its .debug/ subdir, and ROOT/usr/lib/debug/<dir>, as GDB looks. */
static int try_debuglink(struct load_ctx *c)
{
	char file[PATH_MAX];
	int i, n, ret, present = 0;

	if (!c->link_name[0]) {
		if (!c->found)
			why_add(c, ", ", "no .gnu_debuglink");
		return 0;
	}
	for (i = 0; i < 3 && !(c->found && c->dwarf_file); i++) {
		if (i == 0)
			n = snprintf(file, sizeof(file), "%s/%s", c->dir, c->link_name);
		else if (i == 1)
			n = snprintf(file, sizeof(file), "%s/.debug/%s", c->dir, c->link_name);
		else if (c->have_root_dir)
			n = snprintf(file, sizeof(file), "%s/usr/lib/debug%s/%s", c->root,
				     c->root_dir, c->link_name);
		else
			break;
		if (n < 0 || (size_t)n >= sizeof(file))
			return -ENAMETOOLONG;
		ret = try_debug_file(c, file, SYMTAB_DEBUGLINK);
		if (ret < 0)
			return ret;
		present += ret;
	}
	/* A file that was there but did not do has said why already. */
	if (c->found || present)
		return 0;
	if (c->have_root_dir)
		why_add(c, ", ", "no %s (.gnu_debuglink) in %s, %s/.debug or %s/usr/lib/debug%s",
			c->link_name, c->dir, c->dir, c->root, c->root_dir);
	else
		why_add(c, ", ", "no %s (.gnu_debuglink) in %s or %s/.debug", c->link_name, c->dir,
			c->dir);
	return 0;
}

/* Only when the user asked for it: DEBUGINFOD_URLS names servers to send the build-id to. */
static int try_debuginfod(struct load_ctx *c)
{
	const char *urls = getenv("DEBUGINFOD_URLS");
	debuginfod_client *client;
	char *file = NULL;
	int fd, ret;

	if (!urls || !*urls) {
		why_add(c, "; ", "DEBUGINFOD_URLS not set");
		return 0;
	}
	if (!c->bid_len) {
		why_add(c, "; ", "no build-id to ask debuginfod for");
		return 0;
	}
	client = debuginfod_begin();
	if (!client) {
		why_add(c, "; ", "debuginfod: cannot start a client");
		return 0;
	}
	fd = debuginfod_find_debuginfo(client, c->bid, c->bid_len, &file);
	debuginfod_end(client);
	if (fd < 0) {
		why_add(c, "; ", "debuginfod (%s): %s for build-id %s", urls, strerror(-fd),
			c->bid_hex);
		return 0;
	}
	close(fd);
	ret = try_debug_file(c, file, SYMTAB_DEBUGINFOD);
	if (ret == 0)
		why_add(c, "; ", "debuginfod: %s vanished", file);
	free(file);
	return ret < 0 ? ret : 0;
}

/* Turns what was collected into the table: names fixed, sorted, exact duplicates dropped. */
static int finish(struct load_ctx *c, struct symtab **out)
{
	struct sym_builder *b = &c->sb;
	struct symtab *st;
	size_t i, n = 0;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	for (i = 0; i < b->n; i++)
		b->syms[i].name = b->pool + b->name_offs[i];
	if (b->n)
		qsort(b->syms, b->n, sizeof(*b->syms), sym_cmp);
	for (i = 0; i < b->n; i++) {
		/* .dynsym repeats what .symtab has. */
		if (n && !sym_cmp(&b->syms[n - 1], &b->syms[i]))
			continue;
		b->syms[n++] = b->syms[i];
	}
	st->source = c->source;
	st->source_path = c->source_path;
	st->dwarf_file = c->dwarf_file;
	memcpy(st->build_id, c->bid_hex, sizeof(st->build_id));
	st->syms = b->syms;
	st->nsyms = n;
	st->names = b->pool;
	c->source_path = c->dwarf_file = NULL;
	b->syms = NULL;
	b->pool = NULL;
	*out = st;
	return 0;
}

int symtab_load(const char *path, const char *root, struct symtab **out, char *err,
		size_t err_len)
{
	struct elf_file bin = { .fd = -1 };
	struct load_ctx *c;
	int ret;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		set_err(err, err_len, "out of memory");
		return -ENOMEM;
	}
	c->path = path;
	c->root = root ? root : "";
	ret = elf_file_open(path, &bin);
	if (ret) {
		set_err(err, err_len, "%s: %s", path,
			ret == -ENOEXEC ? "not an ELF file" : strerror(-ret));
		goto cleanup;
	}
	c->elf = bin.elf;
	ret = split_dirs(c);
	if (ret) {
		set_err(err, err_len, "%s: path too long", path);
		goto cleanup;
	}
	ret = read_build_id(c->elf, c->bid, sizeof(c->bid));
	c->bid_len = ret > 0 ? ret : 0;
	to_hex(c->bid, c->bid_len, c->bid_hex);
	read_debuglink(c);

	ret = try_self(c);
	if (!ret && !c->found)
		ret = try_minidebuginfo(c);
	/* Separate files are looked at even with symbols found: they may have the DWARF. */
	if (!ret && !(c->found && c->dwarf_file))
		ret = try_build_id(c);
	if (!ret && !(c->found && c->dwarf_file))
		ret = try_debuglink(c);
	if (!ret && !c->found)
		ret = try_debuginfod(c);
	if (ret) {
		set_err(err, err_len, "%s: %s", path,
			ret == -ENOMEM ? "out of memory" : strerror(-ret));
		goto cleanup;
	}
	if (!c->found) {
		set_err(err, err_len, "%s", c->why);
		ret = -ENOENT;
		goto cleanup;
	}
	/* MiniDebugInfo leaves out what .dynsym has: the exported functions. */
	ret = sb_add_elf(&c->sb, c->elf, SHT_DYNSYM);
	if (!ret)
		ret = finish(c, out);
	if (ret)
		set_err(err, err_len, "out of memory");
cleanup:
	elf_file_close(&bin);
	sb_free(&c->sb);
	free(c->source_path);
	free(c->dwarf_file);
	free(c);
	return ret;
}

enum symtab_source symtab_source(const struct symtab *st)
{
	return st->source;
}

const char *symtab_source_name(enum symtab_source s)
{
	if ((unsigned int)s >= sizeof(source_names) / sizeof(source_names[0]))
		return "?";
	return source_names[s];
}

const char *symtab_source_path(const struct symtab *st)
{
	return st->source_path;
}

const char *symtab_dwarf_file(const struct symtab *st)
{
	return st->dwarf_file;
}

const char *symtab_build_id(const struct symtab *st)
{
	return st->build_id;
}

const struct symbol *symtab_find(const struct symtab *st, const char *name)
{
	size_t lo = 0, hi = st->nsyms;

	/* The first of equal names: the sort puts functions there. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(st->syms[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < st->nsyms && !strcmp(st->syms[lo].name, name))
		return &st->syms[lo];
	return NULL;
}

int symtab_foreach(const struct symtab *st, int (*fn)(const struct symbol *sym, void *arg),
		   void *arg)
{
	size_t i;
	int ret;

	for (i = 0; i < st->nsyms; i++) {
		ret = fn(&st->syms[i], arg);
		if (ret)
			return ret;
	}
	return 0;
}

void symtab_free(struct symtab *st)
{
	if (!st)
		return;
	free(st->syms);
	free(st->names);
	free(st->source_path);
	free(st->dwarf_file);
	free(st);
}
