#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/conn.h"

int conn_table_init(struct conn_table *t, uint32_t n, uint32_t buf_cap)
{
	memset(t, 0, sizeof(*t));
	t->n = n;
	t->buf_cap = buf_cap;
	/* Reserved, not committed: pages cost memory only once a connection
	 * touches them, so --max-conns can be generous. */
	t->slots = mmap(NULL, (size_t)n * sizeof(struct conn), PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t->slots == MAP_FAILED)
		goto Error;
	t->bufs = mmap(NULL, (size_t)n * buf_cap, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t->bufs == MAP_FAILED)
		goto Error;
	t->free_stack = calloc(n, sizeof(*t->free_stack));
	if (!t->free_stack)
		goto Error;
	/* Low slots first: they are the ones whose pages are already warm. */
	for (uint32_t i = 0; i < n; i++) {
		t->slots[i].slot = i;
		t->slots[i].fd = -1;
		t->free_stack[i] = n - 1 - i;
	}
	t->nfree = n;
	return 0;
Error:
	if (t->slots == MAP_FAILED)
		t->slots = NULL;
	if (t->bufs == MAP_FAILED)
		t->bufs = NULL;
	conn_table_destroy(t);
	return -ENOMEM;
}

void conn_table_destroy(struct conn_table *t)
{
	if (t->slots)
		munmap(t->slots, (size_t)t->n * sizeof(struct conn));
	if (t->bufs)
		munmap(t->bufs, (size_t)t->n * t->buf_cap);
	free(t->free_stack);
	memset(t, 0, sizeof(*t));
}
