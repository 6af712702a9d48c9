/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What an ELF file tells about the Python inside it, without running it. */
#ifndef GCPAUSE_PROBE_ELF_PYELF_H
#define GCPAUSE_PROBE_ELF_PYELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PYELF_VERSION_LEN	24
#define PYELF_RUNTIME_HEAD	1024

struct sdt_note {
	uint64_t pc, base, semaphore;
	const char *provider, *name, *args;	/* point into the note data */
};

struct pyelf_info {
	bool is_elf;
	/* Defines the C API (PyGC_Collect): the interpreter lives here. */
	bool exports_python;
	/* python:gc__start / python:gc__done notes */
	bool has_gc_start, has_gc_done;
	bool has_symtab;	/* not stripped: local symbols are there */
	bool free_threaded;	/* defines what only Py_GIL_DISABLED builds have */
	bool markers_have_semaphores;
	uint32_t py_version_hex;	/* Py_Version (3.11+), 0 if absent */
	/*
	 * The initial bytes of _PyRuntime: from 3.13 they are _Py_DebugOffsets, the offsets CPython
	 * publishes for out-of-process tools, valid even when the binary is stripped.
	 */
	bool has_runtime_head;
	uint64_t runtime_vaddr;		/* where _PyRuntime is, in the file's addresses */
	unsigned char runtime_head[PYELF_RUNTIME_HEAD];
	char version[PYELF_VERSION_LEN];	/* "3.11.2" from Py_Version, or "" */
};

/*
 * Decodes one NT_STAPSDT note descriptor (three addresses, then provider, name and argument
 * strings). Returns 0, or -EINVAL when it is truncated.
 */
int pyelf_parse_sdt_note(const void *desc, size_t len, bool is64, struct sdt_note *out);

/* "3.11.2", "3.13.0rc1"... from a PY_VERSION_HEX value. */
void pyelf_format_version(uint32_t hex, char *buf, size_t len);

/* "3.9" from "libpython3.9.so.1.0", "python3.9", "libpython3.9d.so"; "" when there is none. */
void pyelf_version_from_name(const char *path, char *buf, size_t len);

/* Inspects the file at path. Returns 0 (info->is_elf tells whether it was ELF) or -errno. */
int pyelf_inspect(const char *path, struct pyelf_info *info);

/*
 * The first DT_NEEDED entry starting with prefix (e.g. "libpython"), and the DT_RUNPATH (or
 * DT_RPATH) string, both "" when absent. Returns 0 or -errno.
 */
int pyelf_find_needed(const char *path, const char *prefix, char *soname, size_t soname_len,
		      char *runpath, size_t runpath_len);

#endif /* GCPAUSE_PROBE_ELF_PYELF_H */
