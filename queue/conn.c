/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "queue/conn.h"

/* Reserved, not committed: pages cost memory only once touched. */
static void *reserve(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int conn_table_init(struct conn_table *t, uint32_t n, uint32_t buf_cap)
{
	memset(t, 0, sizeof(*t));
	t->n = n;
	t->buf_cap = buf_cap;
	t->slots = reserve((size_t)n * sizeof(struct conn));
	t->bufs = reserve((size_t)n * buf_cap);
	t->free_stack = reserve((size_t)n * sizeof(*t->free_stack));
	if (!t->slots || !t->bufs || !t->free_stack) {
		conn_table_destroy(t);
		return -ENOMEM;
	}
	return 0;
}

void conn_table_destroy(struct conn_table *t)
{
	if (t->slots)
		munmap(t->slots, (size_t)t->n * sizeof(struct conn));
	if (t->bufs)
		munmap(t->bufs, (size_t)t->n * t->buf_cap);
	if (t->free_stack)
		munmap(t->free_stack, (size_t)t->n * sizeof(*t->free_stack));
	memset(t, 0, sizeof(*t));
}

/* Recently released slots first: their pages are the warm ones.  A slot
 * never used is all zeroes: CONN_FREE, generation 0. */
uint32_t conn_table_get(struct conn_table *t)
{
	if (t->nfree)
		return t->free_stack[--t->nfree];
	if (t->fresh < t->n)
		return t->fresh++;
	return UINT32_MAX;
}

void conn_table_put(struct conn_table *t, uint32_t slot, uint32_t used)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);

	if (used > page) {
		/* The pages wholly inside the part that was used. */
		uintptr_t buf = (uintptr_t)t->bufs + (uintptr_t)slot * t->buf_cap;
		uintptr_t from = (buf + page - 1) & ~(page - 1);
		uintptr_t to = (buf + used + page - 1) & ~(page - 1);
		uintptr_t end = (buf + t->buf_cap) & ~(page - 1);

		if (to > end)
			to = end;
		if (to > from)
			madvise((void *)from, to - from, MADV_DONTNEED);
	}
	t->free_stack[t->nfree++] = slot;
}
