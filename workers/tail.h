/* Unsent bytes of a connection: a chain of fixed-size blocks from its
 * worker's pool.  A partial write parks the rest here; answers that come
 * later for the same connection queue behind it, so order holds.  Blocks come
 * from mmap in groups and are recycled, never from the global heap, so the
 * stack path stays allocation-free even when clients read slowly.  Owned by
 * one worker thread: nothing here is atomic. */
#ifndef METRICD_WORKERS_TAIL_H
#define METRICD_WORKERS_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TAIL_BLOCK_SIZE (16u << 10)
#define TAIL_BLOCKS_PER_MAP 16

struct tail_block {
	struct tail_block *next;
	uint32_t len;                 /* bytes written into data */
	uint32_t off;                 /* bytes already sent */
	char data[];
};

struct tail_pool {
	struct tail_block *free;
	uint64_t blocks;              /* blocks ever mapped */
	uint64_t in_use;
};

struct tail {
	struct tail_block *head, *last;
	uint64_t bytes;               /* unsent */
};

void tail_pool_init(struct tail_pool *p);
/* Returns false when no memory could be mapped (the bytes are not queued). */
bool tail_append(struct tail_pool *p, struct tail *t, const void *buf, size_t n);
/* Sends as much as the socket takes.  Returns bytes sent (possibly 0 on
 * EAGAIN) or -errno on a real error.  Sent blocks go back to the pool. */
ssize_t tail_send(struct tail_pool *p, struct tail *t, int fd);
void tail_clear(struct tail_pool *p, struct tail *t);

static inline bool tail_empty(const struct tail *t)
{
	return t->head == NULL;
}

#endif
