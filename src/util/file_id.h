/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A file's identity for caches of what was learnt from it: device, inode, size and
 * modification time, so a file replaced in place (same inode, new contents) is not mistaken
 * for the one that was read.
 */
#ifndef GCPAUSE_UTIL_FILE_ID_H
#define GCPAUSE_UTIL_FILE_ID_H

#include <stdbool.h>
#include <sys/stat.h>

struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

static inline struct file_id file_id_of(const struct stat *st)
{
	return (struct file_id){ st->st_dev, st->st_ino, st->st_size, st->st_mtim };
}

static inline bool file_id_equal(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/*
 * The slot for a new entry of a fixed-size cache of size entries: a free one while *used is
 * below size, else the oldest in insertion order (*victim goes round).
 */
static inline unsigned int file_cache_slot(unsigned int *used, unsigned int *victim,
					   unsigned int size)
{
	unsigned int slot;

	if (*used < size)
		return (*used)++;
	slot = *victim;
	*victim = (*victim + 1) % size;
	return slot;
}

#endif /* GCPAUSE_UTIL_FILE_ID_H */
