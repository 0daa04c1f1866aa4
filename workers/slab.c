/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "workers/slab.h"


int slab_init(struct slab *s, size_t size)
{
	memset(s, 0, sizeof(*s));
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	s->base = p;
	s->size = size;
	SLAB_POISON(p, size);
	return 0;
}

void slab_destroy(struct slab *s)
{
	if (s->base)
		munmap(s->base, s->size);
	s->base = NULL;
}

void slab_prefault(struct slab *s)
{
	long page = sysconf(_SC_PAGESIZE);

	SLAB_UNPOISON(s->base, s->size);
	for (size_t off = 0; off < s->size; off += (size_t)page)
		((volatile char *)s->base)[off] = 0;
	SLAB_POISON(s->base, s->size);
}

void slab_reset_to(struct slab *s, size_t mark)
{
	if (s->used > s->high_water)
		s->high_water = s->used;
	if (mark < s->used) {
		/* ASan builds catch any use after reset. */
		SLAB_POISON(s->base + mark, s->used - mark);
	}
	s->used = mark;
	s->resets++;
}
