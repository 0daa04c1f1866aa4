/* SPDX-License-Identifier: BSD-2-Clause */
/* Bytes a worker keeps for one connection: a chain of fixed-size blocks.
 *
 * A partial write parks the unsent rest here, and answers that come later
 * for the same connection queue behind it, so order holds.  The same chains
 * hold the request descriptors a worker puts off while a connection's
 * unsent bytes are over --max-unsent-bytes (chain_take pops them in order).
 *
 * Blocks are mapped from the kernel one by one and never come from the
 * global heap, so the stack path stays allocation-free even when clients
 * read slowly.  The pool keeps a few free blocks for reuse and unmaps the
 * rest, so memory that non-reading clients made the server hold goes back
 * to the system once they are gone.  Owned by one worker thread: nothing
 * here is atomic. */
#ifndef METRICD_CORE_BASE_CHAIN_H
#define METRICD_CORE_BASE_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CHAIN_BLOCK_SIZE (16u << 10)
/* Free blocks a pool keeps mapped (64 KiB); the rest are unmapped. */
#define CHAIN_POOL_KEEP 4

struct chain_block {
	struct chain_block *next;
	uint32_t len;                 /* bytes written into data */
	uint32_t off;                 /* bytes already sent or taken */
	char data[];
};

struct chain_pool {
	struct chain_block *free;
	uint32_t nfree;
	uint64_t in_use;
	uint64_t mapped;              /* blocks ever mapped */
	uint64_t unmapped;            /* blocks given back */
};

struct chain {
	struct chain_block *head, *last;
	uint64_t bytes;               /* not yet sent or taken */
};

void chain_pool_init(struct chain_pool *p);
/* Unmaps the free blocks (tails must have been cleared). */
void chain_pool_destroy(struct chain_pool *p);
/* Returns false when no memory could be mapped (the bytes are not queued). */
bool chain_append(struct chain_pool *p, struct chain *t, const void *buf, size_t n);
/* Sends as much as the socket takes.  Returns bytes sent (possibly 0 on
 * EAGAIN) or -errno on a real error.  Sent blocks go back to the pool. */
ssize_t chain_send(struct chain_pool *p, struct chain *t, int fd);
/* Copies the first n bytes out and drops them; false if fewer are held. */
bool chain_take(struct chain_pool *p, struct chain *t, void *buf, size_t n);
/* Drops the first n bytes; false (nothing dropped) if fewer are held. */
bool chain_skip(struct chain_pool *p, struct chain *t, size_t n);
void chain_clear(struct chain_pool *p, struct chain *t);

static inline bool chain_empty(const struct chain *t)
{
	return t->head == NULL;
}

#endif
