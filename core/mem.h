/* The one door to the global allocator for metricd's own code.
 *
 * Every malloc/free that metricd itself makes goes through here, so the
 * allocations can be counted, timed and attributed in one place.  The stack
 * path never comes here in steady state. */
#ifndef METRICD_CORE_MEM_H
#define METRICD_CORE_MEM_H

#include <stdlib.h>

static inline void *mem_malloc(size_t n)
{
	return malloc(n);
}

static inline void mem_free(void *p)
{
	free(p);
}

#endif
