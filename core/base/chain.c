/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "core/base/chain.h"

#define CHAIN_DATA (CHAIN_BLOCK_SIZE - sizeof(struct chain_block))
#define CHAIN_IOV 16

void chain_pool_init(struct chain_pool *p)
{
	memset(p, 0, sizeof(*p));
}

void chain_pool_destroy(struct chain_pool *p)
{
	while (p->free) {
		struct chain_block *b = p->free;

		p->free = b->next;
		munmap(b, CHAIN_BLOCK_SIZE);
	}
	p->nfree = 0;
}

static struct chain_block *block_get(struct chain_pool *p)
{
	struct chain_block *b = p->free;

	if (b) {
		p->free = b->next;
		p->nfree--;
	} else {
		/* Fresh anonymous pages; the kernel merges neighbouring
		 * mappings, so many blocks do not mean many mappings. */
		b = mmap(NULL, CHAIN_BLOCK_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b == MAP_FAILED)
			return NULL;
		p->mapped++;
	}
	b->next = NULL;
	b->len = b->off = 0;
	p->in_use++;
	return b;
}

static void block_put(struct chain_pool *p, struct chain_block *b)
{
	p->in_use--;
	if (p->nfree >= CHAIN_POOL_KEEP) {
		munmap(b, CHAIN_BLOCK_SIZE);
		p->unmapped++;
		return;
	}
	b->next = p->free;
	p->free = b;
	p->nfree++;
}

bool chain_append(struct chain_pool *p, struct chain *t, const void *buf, size_t n)
{
	const char *src = buf;

	while (n) {
		if (!t->last || t->last->len == CHAIN_DATA) {
			struct chain_block *b = block_get(p);

			if (!b)
				return false;
			if (t->last)
				t->last->next = b;
			else
				t->head = b;
			t->last = b;
		}
		size_t room = CHAIN_DATA - t->last->len;
		size_t k = n < room ? n : room;

		memcpy(t->last->data + t->last->len, src, k);
		t->last->len += (uint32_t)k;
		t->bytes += k;
		src += k;
		n -= k;
	}
	return true;
}

/* Drops n bytes from the front; emptied blocks go back to the pool. */
static void consume(struct chain_pool *p, struct chain *t, size_t n)
{
	t->bytes -= n;
	while (n && t->head) {
		struct chain_block *b = t->head;
		size_t in = b->len - b->off;

		if (n < in) {
			b->off += (uint32_t)n;
			return;
		}
		n -= in;
		t->head = b->next;
		if (!t->head)
			t->last = NULL;
		block_put(p, b);
	}
}

ssize_t chain_send(struct chain_pool *p, struct chain *t, int fd)
{
	struct iovec iov[CHAIN_IOV];
	struct msghdr msg = { .msg_iov = iov };
	int cnt = 0;

	for (struct chain_block *b = t->head; b && cnt < CHAIN_IOV; b = b->next) {
		iov[cnt].iov_base = b->data + b->off;
		iov[cnt].iov_len = b->len - b->off;
		cnt++;
	}
	if (cnt == 0)
		return 0;
	msg.msg_iovlen = (size_t)cnt;
	ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	consume(p, t, (size_t)n);
	return n;
}

bool chain_take(struct chain_pool *p, struct chain *t, void *buf, size_t n)
{
	char *dst = buf;
	size_t got = 0;

	if (t->bytes < n)
		return false;
	for (struct chain_block *b = t->head; got < n; b = b->next) {
		size_t in = b->len - b->off;
		size_t k = n - got < in ? n - got : in;

		memcpy(dst + got, b->data + b->off, k);
		got += k;
	}
	consume(p, t, n);
	return true;
}

bool chain_skip(struct chain_pool *p, struct chain *t, size_t n)
{
	if (t->bytes < n)
		return false;
	consume(p, t, n);
	return true;
}

void chain_clear(struct chain_pool *p, struct chain *t)
{
	while (t->head) {
		struct chain_block *b = t->head;

		t->head = b->next;
		block_put(p, b);
	}
	t->last = NULL;
	t->bytes = 0;
}
