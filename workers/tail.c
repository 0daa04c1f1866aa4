#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "workers/tail.h"

#define TAIL_DATA (TAIL_BLOCK_SIZE - sizeof(struct tail_block))
#define TAIL_IOV 16

void tail_pool_init(struct tail_pool *p)
{
	memset(p, 0, sizeof(*p));
}

static struct tail_block *block_get(struct tail_pool *p)
{
	struct tail_block *b;

	if (!p->free) {
		char *m = mmap(NULL, (size_t)TAIL_BLOCK_SIZE * TAIL_BLOCKS_PER_MAP,
			       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED)
			return NULL;
		for (unsigned i = 0; i < TAIL_BLOCKS_PER_MAP; i++) {
			b = (struct tail_block *)(m + (size_t)i * TAIL_BLOCK_SIZE);
			b->next = p->free;
			p->free = b;
		}
		p->blocks += TAIL_BLOCKS_PER_MAP;
	}
	b = p->free;
	p->free = b->next;
	b->next = NULL;
	b->len = b->off = 0;
	p->in_use++;
	return b;
}

static void block_put(struct tail_pool *p, struct tail_block *b)
{
	b->next = p->free;
	p->free = b;
	p->in_use--;
}

bool tail_append(struct tail_pool *p, struct tail *t, const void *buf, size_t n)
{
	const char *src = buf;

	while (n) {
		if (!t->last || t->last->len == TAIL_DATA) {
			struct tail_block *b = block_get(p);

			if (!b)
				return false;
			if (t->last)
				t->last->next = b;
			else
				t->head = b;
			t->last = b;
		}
		size_t room = TAIL_DATA - t->last->len;
		size_t k = n < room ? n : room;

		memcpy(t->last->data + t->last->len, src, k);
		t->last->len += (uint32_t)k;
		t->bytes += k;
		src += k;
		n -= k;
	}
	return true;
}

ssize_t tail_send(struct tail_pool *p, struct tail *t, int fd)
{
	struct iovec iov[TAIL_IOV];
	struct msghdr msg = { .msg_iov = iov };
	int cnt = 0;

	for (struct tail_block *b = t->head; b && cnt < TAIL_IOV; b = b->next) {
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
	t->bytes -= (uint64_t)n;
	for (size_t left = (size_t)n; left && t->head;) {
		struct tail_block *b = t->head;
		size_t in = b->len - b->off;

		if (left < in) {
			b->off += (uint32_t)left;
			break;
		}
		left -= in;
		t->head = b->next;
		if (!t->head)
			t->last = NULL;
		block_put(p, b);
	}
	return n;
}

void tail_clear(struct tail_pool *p, struct tail *t)
{
	while (t->head) {
		struct tail_block *b = t->head;

		t->head = b->next;
		block_put(p, b);
	}
	t->last = NULL;
	t->bytes = 0;
}
