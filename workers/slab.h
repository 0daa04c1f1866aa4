/* SPDX-License-Identifier: BSD-2-Clause */
/* Thread-local slab: a bump allocator with mark/reset, owned by one worker.
 *
 * Allocated once at start (mmap, first touched by its worker so the pages
 * land on the worker's NUMA node).  Allocation is a pointer bump; "freeing"
 * everything a batch used is one reset - a stack frame in all but name.
 * Only its owner thread touches it, so nothing here is atomic. */
#ifndef METRICD_WORKERS_SLAB_H
#define METRICD_WORKERS_SLAB_H

#include <stddef.h>
#include <stdint.h>

#ifdef METRICD_ASAN
#include <sanitizer/asan_interface.h>
#define SLAB_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define SLAB_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define SLAB_POISON(p, n) ((void)(p), (void)(n))
#define SLAB_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define SLAB_ALIGN 16

struct slab {
	char *base;
	size_t size;
	size_t used;
	size_t high_water;
	uint64_t resets;
	uint64_t overflows;   /* allocations refused because the slab was full */
};

int slab_init(struct slab *s, size_t size);
void slab_destroy(struct slab *s);
/* Touches every page from the calling thread (first-touch placement). */
void slab_prefault(struct slab *s);

/* Returns NULL (and counts an overflow) when n does not fit: the caller
 * flushes what it has and resets, the slab never grows. */
static inline void *slab_alloc(struct slab *s, size_t n)
{
	size_t at = (s->used + SLAB_ALIGN - 1) & ~(size_t)(SLAB_ALIGN - 1);

	if (n > s->size - at || at > s->size) {
		s->overflows++;
		return NULL;
	}
	s->used = at + n;
	SLAB_UNPOISON(s->base + at, n);   /* debug builds poison on reset */
	return s->base + at;
}

/* Gives back the unused end of the last allocation. */
static inline void slab_trim(struct slab *s, void *last, size_t used)
{
	s->used = (size_t)((char *)last - s->base) + used;
}

static inline size_t slab_mark(const struct slab *s)
{
	return s->used;
}

void slab_reset_to(struct slab *s, size_t mark);

static inline void slab_reset(struct slab *s)
{
	slab_reset_to(s, 0);
}

#endif
