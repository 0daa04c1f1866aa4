/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "queue/queue.h"

static bool pow2_ok(unsigned size)
{
	return size >= 4 && (size & (size - 1)) == 0;
}

/* Page-aligned (so slot k never shares a line with a header) and
 * committed only as slots are used: a note ring sized for --max-conns
 * costs memory in proportion to the notes that ever flowed through it. */
static void *alloc_slots(size_t n, size_t each)
{
	void *p = mmap(NULL, n * each, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void free_slots(void *p, size_t n, size_t each)
{
	if (p)
		munmap(p, n * each);
}

int queue_req_init(struct queue_req *q, unsigned size)
{
	memset(q, 0, sizeof(*q));
	q->wake_fd = -1;
	if (!pow2_ok(size))
		return -EINVAL;
	q->slots = alloc_slots(size, sizeof(*q->slots));
	if (!q->slots)
		return -ENOMEM;
	/* Blocking: queue_req_sleep waits in its read (queue/queue.h). */
	q->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (q->wake_fd < 0) {
		int e = -errno;

		free_slots(q->slots, size, sizeof(*q->slots));
		q->slots = NULL;
		return e;
	}
	ck_ring_init(&q->ring, size);
	return 0;
}

void queue_req_destroy(struct queue_req *q)
{
	if (q->wake_fd >= 0)
		close(q->wake_fd);
	free_slots(q->slots, ck_ring_capacity(&q->ring), sizeof(*q->slots));
	q->slots = NULL;
	q->wake_fd = -1;
}

int queue_notes_init(struct queue_notes *q, unsigned size)
{
	memset(q, 0, sizeof(*q));
	if (!pow2_ok(size))
		return -EINVAL;
	q->slots = alloc_slots(size, sizeof(*q->slots));
	if (!q->slots)
		return -ENOMEM;
	ck_ring_init(&q->ring, size);
	return 0;
}

void queue_notes_destroy(struct queue_notes *q)
{
	free_slots(q->slots, ck_ring_capacity(&q->ring), sizeof(*q->slots));
	q->slots = NULL;
}

int queue_doorbell_init(struct queue_doorbell *d)
{
	memset(d, 0, sizeof(*d));
	d->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->fd < 0)
		return -errno;
	d->armed = 1;
	return 0;
}

void queue_doorbell_destroy(struct queue_doorbell *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

static void efd_signal(int fd)
{
	uint64_t one = 1;
	ssize_t w = write(fd, &one, sizeof(one));

	/* EAGAIN means the counter is saturated: the reader is woken anyway. */
	(void)w;
}

static void efd_drain(int fd)
{
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));

	(void)r;
}

bool queue_req_wake(struct queue_req *q)
{
	if (!ck_pr_load_uint(&q->sleeping))
		return false;
	if (ck_pr_fas_uint(&q->sleeping, 0) != 1)
		return false;
	efd_signal(q->wake_fd);
	return true;
}

void queue_req_woke(struct queue_req *q, bool fd_readable)
{
	ck_pr_store_uint(&q->sleeping, 0);
	if (fd_readable)
		efd_drain(q->wake_fd);
}

void queue_req_sleep(struct queue_req *q)
{
	/* EINTR (the worker blocks signals; a debugger, say) is a spurious
	 * wake-up: the caller looks at the ring again. */
	efd_drain(q->wake_fd);
	ck_pr_store_uint(&q->sleeping, 0);
}

void queue_doorbell_ring(struct queue_doorbell *d)
{
	ck_pr_fence_memory();
	if (ck_pr_load_uint(&d->armed) && ck_pr_fas_uint(&d->armed, 0) == 1)
		efd_signal(d->fd);
}

void queue_doorbell_arm(struct queue_doorbell *d)
{
	efd_drain(d->fd);
	ck_pr_store_uint(&d->armed, 1);
	ck_pr_fence_memory();
}
