/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Struct layouts from a binary's DWARF, to read the interpreter's state out of a process.
 * Each call opens the file and searches every unit: it runs a few times per binary.
 * (This header shadows elfutils' <dwarf.h> under -Isrc; see dwarf.c for how it gets the real one.)
 */
#ifndef GCPAUSE_PROBE_ELF_DWARF_TYPES_H
#define GCPAUSE_PROBE_ELF_DWARF_TYPES_H

/*
 * The byte offset of member_path in type_name, from the DWARF in debug_file.
 *
 * type_name is spelled as in C: "struct _is", "union u", or a typedef's name
 * ("PyInterpreterState"); the first complete definition found is used. member_path is one member
 * name, or several separated by dots through nested struct/union members ("gc.generation_stats");
 * members of anonymous structs and unions are found as C finds them. For an array member the
 * offset is that of the array itself. A constant DW_AT_data_member_location and the
 * DW_OP_plus_uconst expression of old DWARF are understood.
 *
 * Returns 0 with *offset set; -ENOENT when there is no such type or member; -ENODATA when
 * debug_file has no DWARF (.debug_info) at all; -EINVAL for an empty name or a bit-field (it has
 * no byte offset); -ENOEXEC when debug_file is not ELF; or -errno from opening it.
 */
int dwarf_offsetof(const char *debug_file, const char *type_name, const char *member_path,
		   long *offset);

/* sizeof(type_name), type_name spelled as for dwarf_offsetof(); the same errors. */
int dwarf_sizeof(const char *debug_file, const char *type_name, long *size);

#endif /* GCPAUSE_PROBE_ELF_DWARF_TYPES_H */
