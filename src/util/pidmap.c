// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include "util/pidmap.h"

#define PIDMAP_MIN_CAP	64

static uint32_t home(const struct pidmap *m, pid_t pid)
{
	/* Fibonacci hashing: consecutive PIDs, the common case, spread over the table. */
	return (uint32_t)(((uint64_t)(uint32_t)pid * 0x9e3779b97f4a7c15ull) >> 32) & (m->cap - 1);
}

static struct pidmap_slot *find(const struct pidmap *m, pid_t pid)
{
	uint32_t i;

	if (!m->cap)
		return NULL;
	for (i = home(m, pid); m->slots[i].pid; i = (i + 1) & (m->cap - 1))
		if (m->slots[i].pid == pid)
			return &m->slots[i];
	return NULL;
}

static void place(struct pidmap *m, pid_t pid, uint64_t value)
{
	uint32_t i = home(m, pid);

	while (m->slots[i].pid)
		i = (i + 1) & (m->cap - 1);
	m->slots[i].pid = pid;
	m->slots[i].value = value;
}

static int grow(struct pidmap *m)
{
	uint32_t old_cap = m->cap, i;
	struct pidmap_slot *old = m->slots;
	uint32_t cap = old_cap ? old_cap * 2 : PIDMAP_MIN_CAP;
	struct pidmap_slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	m->slots = slots;
	m->cap = cap;
	for (i = 0; i < old_cap; i++)
		if (old[i].pid)
			place(m, old[i].pid, old[i].value);
	free(old);
	return 0;
}

int pidmap_set(struct pidmap *m, pid_t pid, uint64_t value)
{
	struct pidmap_slot *s = find(m, pid);

	if (s) {
		s->value = value;
		return 0;
	}
	/* At most half full: probes stay short. */
	if ((m->n + 1) * 2 > m->cap && grow(m))
		return -ENOMEM;
	place(m, pid, value);
	m->n++;
	return 0;
}

bool pidmap_get(const struct pidmap *m, pid_t pid, uint64_t *value)
{
	const struct pidmap_slot *s = find(m, pid);

	if (s && value)
		*value = s->value;
	return s;
}

bool pidmap_del(struct pidmap *m, pid_t pid)
{
	struct pidmap_slot *s = find(m, pid);
	uint32_t hole, i, want;

	if (!s)
		return false;
	hole = s - m->slots;
	m->slots[hole].pid = 0;
	m->n--;
	/* Move back every later entry of the run that the hole would hide from its lookup. */
	for (i = (hole + 1) & (m->cap - 1); m->slots[i].pid; i = (i + 1) & (m->cap - 1)) {
		want = home(m, m->slots[i].pid);
		/* Stays if its home lies cyclically in (hole, i]. */
		if (hole <= i ? (want > hole && want <= i) : (want > hole || want <= i))
			continue;
		m->slots[hole] = m->slots[i];
		m->slots[i].pid = 0;
		hole = i;
	}
	return true;
}

void pidmap_free(struct pidmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}
