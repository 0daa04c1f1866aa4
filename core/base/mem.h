/* SPDX-License-Identifier: BSD-2-Clause */
/* The one door to the global allocator for metricd's own code.
 *
 * Every malloc/free metricd itself makes on a request's behalf goes through
 * here, so each is counted per thread and per endpoint: allocations, bytes,
 * frees, cross-thread frees, and the time spent inside the allocator
 * (TSC cycles around the call, about 20-40 cycles of overhead per call -
 * cheap enough to leave on).  The stack path never comes here.
 *
 * To see which thread allocated a block when it is freed, each block
 * carries a 16-byte header (allocating thread, endpoint, size): a 24-byte
 * record costs 40 bytes of request, which glibc still serves from a small
 * tcache bin.  External counting (tools/alloccount) sees the same number of
 * calls.  A block must be freed with mem_free, never free(). */
#ifndef METRICD_CORE_BASE_MEM_H
#define METRICD_CORE_BASE_MEM_H

#include <stdint.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "core/base/clock.h"
#include "core/base/counters.h"

struct mem_hdr {
	uint16_t thread;      /* stats_thread.index of the allocating thread */
	uint16_t route;
	uint32_t reserved;
	uint64_t size;
};

_Static_assert(sizeof(struct mem_hdr) == 16, "keeps 16-byte alignment");

static inline uint64_t mem_cycles(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __rdtsc();
#else
	return clock_mono_ns();
#endif
}

static inline void *mem_malloc(struct counters *st, unsigned route, size_t n)
{
	struct route_counters *r = &st->route[route];

	if (n > SIZE_MAX - sizeof(struct mem_hdr))
		return NULL;                 /* the header would wrap the size */
	uint64_t t0 = mem_cycles();
	struct mem_hdr *h = malloc(sizeof(*h) + n);
	uint64_t t1 = mem_cycles();

	CNT_ADD(r->alloc_cycles, t1 - t0);
	if (!h)
		return NULL;
	CNT_ADD(r->allocs, 1);
	CNT_ADD(r->alloc_bytes, n);
	h->thread = st->index;
	h->route = (uint16_t)route;
	h->reserved = 0;
	h->size = n;
	return h + 1;
}

/* Counted on the freeing thread, against the endpoint that allocated. */
static inline void mem_free(struct counters *st, void *p)
{
	if (!p)
		return;
	struct mem_hdr *h = (struct mem_hdr *)p - 1;
	struct route_counters *r = &st->route[h->route];

	if (h->thread != st->index)
		CNT_ADD(r->xthread_frees, 1);
	CNT_ADD(r->frees, 1);
	uint64_t t0 = mem_cycles();
	free(h);
	CNT_ADD(r->alloc_cycles, mem_cycles() - t0);
}

#endif
