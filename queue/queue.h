/* SPDX-License-Identifier: BSD-2-Clause */
/* Typed Concurrency Kit rings between the acceptor and the workers, and the
 * wake-up protocol that lets an idle worker sleep.
 *
 * Two rings per worker, both single-producer single-consumer:
 *   queue_req   acceptor → worker: request descriptors, copied by value
 *               into the ring's slots (CK_RING_PROTOTYPE copies the struct).
 *   queue_note  worker → acceptor: "slot closed" and "resume reading".
 *
 * Wake-up (acceptor → worker).  The worker, before sleeping, stores
 * sleeping = 1, issues a full fence, and re-checks the ring; the acceptor,
 * after enqueueing, issues a full fence and loads `sleeping`.  With a full
 * fence on both sides (store→load ordering, Dekker style) at least one of
 * them sees the other's store: either the worker finds the descriptor, or the
 * acceptor finds the worker asleep and writes its eventfd.  The acceptor does
 * that once per loop iteration for all the descriptors it queued, and only
 * for a worker that is asleep, so a busy worker costs no syscalls.
 *
 * How the worker waits does not enter that argument: it sleeps either in
 * one blocking read(2) of its eventfd (queue_req_sleep: nothing else to
 * wait for) or in epoll_wait on a set holding the eventfd (sockets with
 * unsent bytes too), then reads it.  Both hold because an eventfd is a
 * counter, not an edge: a write made between the worker's re-check and
 * its read (or epoll_wait) is still there when it gets to it, so the
 * wake-up cannot be lost.  The worker clears `sleeping` after waking
 * (the acceptor already swapped it to 0 when it wrote); a write whose
 * worker cancelled its sleep (it found work on the re-check) leaves a
 * count behind, which ends the next sleep early - one spurious turn of
 * the loop, never a lost wake-up.  The eventfd is blocking for the
 * read; the acceptor's write never blocks (the counter would have to
 * reach 2^64 - 2).
 *
 * Backpressure (worker → acceptor).  When the ring is full the acceptor sets
 * producer_waiting = 1, fences, and tries once more; the worker, after
 * dequeuing, fences and checks producer_waiting.  Same argument: a full ring
 * is always noticed by the side that frees it.
 *
 * Notes (worker → acceptor) wake the acceptor through one shared eventfd.
 * `armed` is set by the acceptor (then a full fence) before it drains the
 * note rings; a worker that pushed a note swaps armed to 0 and writes the
 * eventfd only if it was 1.  So the acceptor gets at most one wake-up per
 * drain, and never misses a note pushed after its drain began. */
#ifndef METRICD_QUEUE_QUEUE_H
#define METRICD_QUEUE_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include <ck_pr.h>
#include <ck_ring.h>

#include "core/base/tsan.h"
#include "http/request.h"

#define QUEUE_CACHELINE 64

/* ThreadSanitizer cannot see the ordering Concurrency Kit's inline-asm
 * fences give a ring, so it would report every field a descriptor or note
 * publishes (a connection's fd and generation, its tail...) as a race.  A
 * push releases and a pop acquires on the ring, which is what the ring
 * guarantees; the ring's own slot copies are not checked (core/base/tsan.h). */

CK_RING_PROTOTYPE(req, http_req)

enum queue_note_kind {
	NOTE_CLOSED = 1,   /* the worker closed the fd: the slot is free */
	NOTE_RESUME,       /* in-flight requests dropped below the limit */
};

struct queue_note {
	uint32_t slot;
	uint32_t gen;
	uint32_t kind;
	uint32_t reserved;
};

CK_RING_PROTOTYPE(note, queue_note)

struct queue_req {
	struct ck_ring ring;                 /* CK pads c_head/p_tail apart */
	struct http_req *slots;
	int wake_fd;                         /* the worker's eventfd */
	/* written by the worker, cleared by the acceptor */
	unsigned sleeping __attribute__((aligned(QUEUE_CACHELINE)));
	/* written by the acceptor, cleared by the worker */
	unsigned producer_waiting __attribute__((aligned(QUEUE_CACHELINE)));
} __attribute__((aligned(QUEUE_CACHELINE)));

struct queue_notes {
	struct ck_ring ring;
	struct queue_note *slots;
} __attribute__((aligned(QUEUE_CACHELINE)));

/* The acceptor's wake-up: one eventfd shared by all workers' note rings. */
struct queue_doorbell {
	int fd;
	unsigned armed __attribute__((aligned(QUEUE_CACHELINE)));
} __attribute__((aligned(QUEUE_CACHELINE)));

/* size: power of two >= 4; usable capacity is size - 1. */
int queue_req_init(struct queue_req *q, unsigned size);
void queue_req_destroy(struct queue_req *q);
int queue_notes_init(struct queue_notes *q, unsigned size);
void queue_notes_destroy(struct queue_notes *q);
int queue_doorbell_init(struct queue_doorbell *d);
void queue_doorbell_destroy(struct queue_doorbell *d);

/* ---- acceptor side ---- */

static inline bool queue_req_push(struct queue_req *q, const struct http_req *r)
{
	bool ok;

	TSAN_RELEASE(q);
	TSAN_IGNORE_BEGIN();
	/* CK's prototype is not const-correct; it only copies from r. */
	ok = ck_ring_enqueue_spsc_req(&q->ring, q->slots,
				      (struct http_req *)(uintptr_t)r);
	TSAN_IGNORE_END();
	return ok;
}

/* After a failed push: announce the wait, then retry once (see above). */
static inline bool queue_req_push_or_wait(struct queue_req *q,
					  const struct http_req *r)
{
	ck_pr_store_uint(&q->producer_waiting, 1);
	ck_pr_fence_memory();
	if (!queue_req_push(q, r))
		return false;
	ck_pr_store_uint(&q->producer_waiting, 0);
	return true;
}

/* True when the next push will succeed.  The acceptor is the ring's only
 * producer and the worker only ever makes room, so room seen here stays
 * until the acceptor pushes: it writes what travels beside a descriptor
 * (queue/text.h) only once the descriptor is certain to follow. */
static inline bool queue_req_has_room(const struct queue_req *q)
{
	return ck_ring_size(&q->ring) < ck_ring_capacity(&q->ring) - 1;
}

/* No room: announce the wait, then look once more (the same protocol as
 * queue_req_push_or_wait). */
static inline bool queue_req_room_or_wait(struct queue_req *q)
{
	ck_pr_store_uint(&q->producer_waiting, 1);
	ck_pr_fence_memory();
	if (!queue_req_has_room(q))
		return false;
	ck_pr_store_uint(&q->producer_waiting, 0);
	return true;
}

/* Writes the worker's eventfd if it is asleep.  Call after a full fence
 * (queue_fence) that follows the pushes.  Returns true if it woke it. */
bool queue_req_wake(struct queue_req *q);

static inline void queue_fence(void)
{
	ck_pr_fence_memory();
}

static inline unsigned queue_req_depth(const struct queue_req *q)
{
	return ck_ring_size(&q->ring);
}

/* ---- worker side ---- */

static inline unsigned queue_req_pop_batch(struct queue_req *q,
					   struct http_req *out, unsigned max)
{
	unsigned n = 0;

	TSAN_IGNORE_BEGIN();
	while (n < max && ck_ring_dequeue_spsc_req(&q->ring, q->slots, &out[n]))
		n++;
	TSAN_IGNORE_END();
	if (n)
		TSAN_ACQUIRE(q);
	return n;
}

/* After popping: true if the acceptor was waiting for room (clears it). */
static inline bool queue_req_take_producer_wait(struct queue_req *q)
{
	ck_pr_fence_memory();
	if (!ck_pr_load_uint(&q->producer_waiting))
		return false;
	return ck_pr_fas_uint(&q->producer_waiting, 0) == 1;
}

/* Announces sleep; returns false (and cancels) if work arrived meanwhile. */
static inline bool queue_req_prepare_sleep(struct queue_req *q)
{
	ck_pr_store_uint(&q->sleeping, 1);
	ck_pr_fence_memory();
	if (ck_ring_size(&q->ring) == 0)
		return true;
	ck_pr_store_uint(&q->sleeping, 0);
	return false;
}

/* Called after waking from epoll_wait (whoever woke us).  Drains the
 * eventfd if epoll said it is readable. */
void queue_req_woke(struct queue_req *q, bool fd_readable);

/* After queue_req_prepare_sleep: sleeps in one read(2) of the eventfd
 * until the acceptor writes it, which also drains it. */
void queue_req_sleep(struct queue_req *q);

static inline bool queue_note_push(struct queue_notes *q,
				   const struct queue_note *n)
{
	bool ok;

	TSAN_RELEASE(q);
	TSAN_IGNORE_BEGIN();
	ok = ck_ring_enqueue_spsc_note(&q->ring, q->slots,
				       (struct queue_note *)(uintptr_t)n);
	TSAN_IGNORE_END();
	return ok;
}

static inline bool queue_note_pop(struct queue_notes *q, struct queue_note *n)
{
	bool ok;

	TSAN_IGNORE_BEGIN();
	ok = ck_ring_dequeue_spsc_note(&q->ring, q->slots, n);
	TSAN_IGNORE_END();
	if (ok)
		TSAN_ACQUIRE(q);
	return ok;
}

/* Worker: after pushing notes. */
void queue_doorbell_ring(struct queue_doorbell *d);
/* Acceptor: before draining the note rings (also drains the eventfd). */
void queue_doorbell_arm(struct queue_doorbell *d);

#endif
