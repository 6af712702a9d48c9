// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <elfutils/debuginfod.h>
#include "probe/elf/debugfile.h"
#include "probe/elf/elfutil.h"
#include "probe/elf/symtab_load.h"
#include "util/untrusted_file.h"

enum verdict {
	DEBUG_ABSENT,
	DEBUG_FOREIGN,		/* there, but not this binary's */
	DEBUG_OK,
};

/*
 * The CRC32 .gnu_debuglink records: zlib's, over the whole file, read from fd (opened by
 * untrusted_open()) up to the size fstat gave: a file that grows meanwhile is not read on.
 */
static int file_crc32(int fd, uint64_t size, uint32_t *crc)
{
	unsigned char buf[64 * 1024];
	uLong c = crc32(0L, Z_NULL, 0);
	uint64_t off = 0;
	ssize_t n;

	while (off < size) {
		n = pread(fd, buf, size - off < sizeof(buf) ? size - off : sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;	/* truncated while read */
		c = crc32(c, buf, n);
		off += n;
	}
	*crc = c;
	return 0;
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

	scn = elf_find_section(c->elf, ".gnu_debuglink", &shdr);
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

	if (c->name) {
		/* A magic link (/proc/PID/map_files/...): the directory is the name's. */
		slash = strrchr(c->name, '/');
		n = snprintf(c->dir, sizeof(c->dir), "%s%.*s", c->root, (int)(slash - c->name),
			     c->name);
		if (n < 0 || (size_t)n >= sizeof(c->dir))
			return -ENAMETOOLONG;
		if (!c->dir[0])
			strcpy(c->dir, "/");
		c->have_root_dir = true;
		n = snprintf(c->root_dir, sizeof(c->root_dir), "%.*s", (int)(slash - c->name),
			     c->name);
		return n < 0 || (size_t)n >= sizeof(c->root_dir) ? -ENAMETOOLONG : 0;
	}
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

int debug_search_init(struct load_ctx *c)
{
	int ret;

	ret = split_dirs(c);
	if (ret)
		return ret;
	read_debuglink(c);
	return 0;
}

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
	int fd, ret, len;

	/*
	 * Anyone who can write to the binary's directory (or a user's own copy of Python) chooses
	 * what is found here: a FIFO or a device must not be opened for reading at all.
	 */
	*verdict = DEBUG_ABSENT;
	fd = untrusted_open(file, UNTRUSTED_ELF_MAX, &st);
	if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP || fd == -ENAMETOOLONG)
		return 0;
	*verdict = DEBUG_FOREIGN;
	if (fd < 0) {
		*why = untrusted_strerror(fd);
		return 0;
	}
	/* A debuglink that names the binary itself is no separate file. */
	if (!stat(c->path, &self) && st.st_dev == self.st_dev && st.st_ino == self.st_ino) {
		close(fd);
		*verdict = DEBUG_ABSENT;
		return 0;
	}
	ret = elf_file_from_fd(fd, f);
	if (ret == -ENOMEM)
		return ret;
	if (ret) {
		*why = ret == -ENOEXEC ? "not ELF" : strerror(-ret);
		return 0;
	}
	len = elf_build_id_bytes(f->elf, bid, sizeof(bid));
	if (len > 0 && c->bid_len) {
		if (len == c->bid_len && !memcmp(bid, c->bid, len))
			*verdict = DEBUG_OK;
		else
			*why = "another build-id";
	} else if (c->link_name[0]) {
		ret = file_crc32(f->fd, st.st_size, &crc);
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
		if (has_func_symbols(f.elf)) {
			ret = take_symbols(c, f.elf, source, file);
			if (ret)
				goto cleanup;
		} else {
			why_add(c, ", ", "%s has no function symbols", file);
		}
	}
	if (!c->dwarf_file && elf_has_dwarf(f.elf)) {
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

int try_build_id(struct load_ctx *c)
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

int try_debuglink(struct load_ctx *c)
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

int try_debuginfod(struct load_ctx *c)
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
