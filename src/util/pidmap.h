/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * PID -> value hash map (open addressing, linear probing, backward-shift deletion: no
 * tombstones, so lookups stay short however many processes come and go on a node).
 */
#ifndef GCPAUSE_UTIL_PIDMAP_H
#define GCPAUSE_UTIL_PIDMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct pidmap_slot {
	pid_t pid;		/* 0: empty */
	uint64_t value;
};

struct pidmap {
	struct pidmap_slot *slots;
	uint32_t cap;		/* a power of two, or 0 before the first insert */
	uint32_t n;
};

/* Sets pid's value. Returns 0 or -ENOMEM (the map is unchanged then). pid must be > 0. */
int pidmap_set(struct pidmap *m, pid_t pid, uint64_t value);
/* true and *value when pid is there. */
bool pidmap_get(const struct pidmap *m, pid_t pid, uint64_t *value);
/* Removes pid; true if it was there. */
bool pidmap_del(struct pidmap *m, pid_t pid);
void pidmap_free(struct pidmap *m);

#endif /* GCPAUSE_UTIL_PIDMAP_H */
