/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef GCPAUSE_RUN_PRIVILEGES_H
#define GCPAUSE_RUN_PRIVILEGES_H

#include <stddef.h>

/*
 * Checks, before anything is loaded, that this process may load BPF programs, attach uprobes and
 * read other processes' maps. Returns 0, or -EPERM with one line for the user in err.
 */
int privileges_check(char *err, size_t err_len);

#endif /* GCPAUSE_RUN_PRIVILEGES_H */
