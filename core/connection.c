/* SPDX-License-Identifier: BSD-2-Clause */
/* The per-connection state machine of the acceptor thread: read into the
 * connection's buffer, frame, hand descriptors to its worker, pause and
 * resume, close; the workers' notes back; the header and idle timeouts.
 *
 * Threads: this runs on a shard's acceptor thread only, the only producer
 * of its workers' request rings and text rings (the access log's text of a
 * descriptor, written just before it: queue/text.h) and the only consumer
 * of their note rings.
 * It owns the "acceptor" half of each connection (queue/conn.h); once a
 * connection has handed its worker a descriptor, only that worker writes
 * to or closes its socket (docs/ARCHITECTURE.md, "Ownership").
 *
 * Per connection, acc__conn_advance() is the whole machine: dispatch the
 * pending descriptor, frame the next one, repeat; stop when the buffer has
 * no complete request (then read more), when the ring is full (wait for the
 * worker's doorbell), when --max-pipeline requests are in flight (wait for
 * NOTE_RESUME), or when the connection used up its turn (FRAME_BUDGET; the
 * ready list gives it the next).  A paused connection is not read, so a
 * client that sends faster than it is answered is slowed by TCP, never
 * dropped. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/acceptor.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "workers/dashboard.h"
#include "workers/handler.h"

/* Requests one connection may frame per loop turn before the others get
 * theirs; the rest of its buffer waits for the next turn. */
#define FRAME_BUDGET 64

static void on_read(evutil_socket_t fd, short what, void *arg);

/* ---- per-connection state machine ---------------------------------------- */

static void reading(struct acceptor *a, struct conn *c, bool on)
{
	if (c->reading == on)
		return;
	if (on)
		event_add(&c->rev, NULL);
	else
		event_del(&c->rev);
	c->reading = on;
}

static void block_on_ring(struct acceptor *a, struct conn *c)
{
	c->blocked = true;
	c->blocked_next = NULL;
	if (a->blocked_tail[c->worker])
		a->blocked_tail[c->worker]->blocked_next = c;
	else
		a->blocked_head[c->worker] = c;
	a->blocked_tail[c->worker] = c;
	CNT_ADD(a->ctr.ring_full, 1);
}

/* At the in-flight limit.  Returns true if the worker drained meanwhile and
 * we may go on; false if NOTE_RESUME will come.  Exactly one side wins the
 * swap of want_resume, so the connection is resumed exactly once. */
bool acc__pause_pipeline(struct acceptor *a, struct conn *c)
{
	ck_pr_store_uint(&c->want_resume, 1);
	ck_pr_fence_memory();
	if (ck_pr_load_uint(&c->inflight) < a->cfg->max_pipeline &&
	    ck_pr_fas_uint(&c->want_resume, 0) == 1)
		return true;
	c->wait_resume = true;
	CNT_ADD(a->ctr.pipeline_pauses, 1);
	return false;
}

/* The access-log text of the pending descriptor, into its worker's text
 * ring (queue/text.h), when the log is on.  Called only once the push is
 * certain, so a record is never left behind without its descriptor.  The
 * fields are bytes of c's read buffer, which has not moved since the
 * framer returned the descriptor: it moves only in http_framer_space,
 * called by on_read, and on_read runs only while reading is on - never
 * while a descriptor is pending (acc__conn_advance stops reading when it
 * cannot dispatch, and turns reading on only with nothing pending). */
static void attach_text(struct acceptor *a, struct conn *c)
{
	struct worker *w = &a->workers[c->worker];

	c->pending.log_len = 0;
	if (!c->pending_text || !__atomic_load_n(&a->access_log_on, __ATOMIC_RELAXED))
		return;
	c->pending.log_len = queue_text_put(&w->text, c->fr.buf, c->fr.log);
	if (!c->pending.log_len)
		CNT_ADD(a->ctr.access_log_text_dropped, 1);
}

static bool dispatch(struct acceptor *a, struct conn *c)
{
	struct queue_req *q = &a->workers[c->worker].rq;
	bool is_req = c->pending.kind == REQ_HTTP;
	bool last = c->pending.kind == REQ_CLOSE ||
		    (is_req && (c->pending.flags & REQF_CLOSE));

	if (is_req && ck_pr_load_uint(&c->inflight) >= a->cfg->max_pipeline &&
	    !acc__pause_pipeline(a, c))
		return false;
	/* The last descriptor lets the worker close the fd: stop watching it
	 * first, so the event loop never touches a closed (or reused) fd. */
	if (last)
		reading(a, c, false);
	/* Count before the push: the worker may answer before we return. */
	if (is_req)
		ck_pr_inc_uint(&c->inflight);
	if (!queue_req_has_room(q) && !queue_req_room_or_wait(q)) {
		if (is_req)
			ck_pr_dec_uint(&c->inflight);
		block_on_ring(a, c);
		return false;
	}
	attach_text(a, c);
	if (!queue_req_push(q, &c->pending)) {
		log_error("worker %u: its ring had room, then none", c->worker);
		abort();                  /* the acceptor is its only producer */
	}
	a->wake_pending[c->worker] = true;
	c->dispatched = true;
	unsigned depth = queue_req_depth(q);
	if (depth > a->ring_high_water[c->worker])
		CNT_SET(a->ring_high_water[c->worker], depth);
	c->has_pending = false;
	if (last)
		c->close_sent = true;
	return true;
}

static void ready_push(struct acceptor *a, struct conn *c);
static void conn_release(struct acceptor *a, struct conn *c);

/* A connection that closes before it sent a whole request (a port scan, a
 * TCP health check, a connect/close flood) never handed its worker a
 * descriptor, so nothing refers to its fd and the worker holds no state
 * for it: the acceptor closes it itself, sparing a trip through the ring,
 * a wake-up and a note. */
static void conn_close_unused(struct acceptor *a, struct conn *c)
{
	reading(a, c, false);
	close(c->fd);
	CNT_ADD(a->ctr.closed_unused, 1);
	conn_release(a, c);
}

/* Frames and dispatches what c's buffer holds, at most FRAME_BUDGET
 * requests in this turn (then c waits on the ready list for the next). */
void acc__conn_advance(struct acceptor *a, struct conn *c)
{
	uint64_t examined = c->fr.examined, plain = c->fr.heads_plain;
	unsigned budget = FRAME_BUDGET;

	while (!c->close_sent) {
		if (c->has_pending) {
			if (!dispatch(a, c)) {
				reading(a, c, false);
				break;
			}
			continue;
		}
		if (budget == 0) {
			/* Its turn is used up; the others go first. */
			reading(a, c, false);
			ready_push(a, c);
			CNT_ADD(a->ctr.read_budget_yields, 1);
			break;
		}
		enum http_frame_rc rc = http_framer_next(&c->fr, &c->pending);

		if (rc == HTTP_FRAME_NEED_MORE) {
			if (!c->closing) {
				/* Start the --header-timeout clock on a partial
				 * request; the sweep checks it. */
				if (!http_framer_has_partial(&c->fr))
					c->head_ms = 0;
				else if (!c->head_ms)
					c->head_ms = a->now_ms;
				reading(a, c, true);
				break;
			}
			if (!c->dispatched) {
				/* No worker ever saw it: close it here. */
				conn_close_unused(a, c);
				return;
			}
			memset(&c->pending, 0, sizeof(c->pending));
			c->pending.kind = REQ_CLOSE;
		} else if (rc != HTTP_FRAME_CONTINUE) {
			budget--;
			c->head_ms = 0;                 /* a whole request came */
			/* The route's acceptor step (http/routes.def): the
			 * heap path's request object.  If it fails, the
			 * handler answers 503. */
			if (rc == HTTP_FRAME_REQ && !c->pending.err &&
			    endpoints[c->pending.route].step)
				endpoints[c->pending.route].step(&a->cnt, &c->pending);
		}
		c->pending.slot = c->slot;
		c->pending.gen = c->gen;
		c->pending_text = rc == HTTP_FRAME_REQ || rc == HTTP_FRAME_ERROR;
		c->has_pending = true;
	}
	if (c->close_sent)
		reading(a, c, false);
	CNT_ADD(a->ctr.frame_bytes_examined, c->fr.examined - examined);
	CNT_ADD(a->ctr.heads_plain, c->fr.heads_plain - plain);
}

/* Connections that used up their turn with requests still buffered. */
static void ready_push(struct acceptor *a, struct conn *c)
{
	if (c->frame_ready)
		return;
	c->frame_ready = true;
	c->frame_next = NULL;
	if (a->ready_tail)
		a->ready_tail->frame_next = c;
	else
		a->ready_head = c;
	a->ready_tail = c;
}

/* Once per loop turn: each connection on the ready list frames its next
 * share (those that run out again go to the back for the next turn). */
void acc__run_ready(struct acceptor *a)
{
	struct conn *c = a->ready_head;

	a->ready_head = a->ready_tail = NULL;
	while (c) {
		struct conn *next = c->frame_next;

		c->frame_ready = false;
		if (c->state == CONN_OPEN && !c->close_sent && !c->blocked &&
		    !c->wait_resume)
			acc__conn_advance(a, c);
		c = next;
	}
}

void acc__conn_open(struct acceptor *a, int fd, uint32_t slot,
		      const struct sockaddr_in6 *peer)
{
	struct conn_table *t = &a->conns;
	struct conn *c = &t->slots[slot];
	uint32_t gen = c->gen + 1;

	/* The slot is free: the worker handed it back, nobody else looks. */
	memset(c, 0, sizeof(*c));
	c->slot = slot;
	c->gen = gen;
	c->fd = fd;
	c->peer = *peer;
	c->worker = (uint16_t)a->next_worker;
	a->next_worker = (a->next_worker + 1) % a->nworkers;
	c->state = CONN_OPEN;
	c->owner = a;
	c->out_head = c->out_last = -1;
	c->wait_prev = c->wait_next = c->ready_next = UINT32_MAX;
	c->last_ms = a->now_ms;
	if (slot >= a->slot_hw)
		a->slot_hw = slot + 1;
	http_framer_init(&c->fr, t->bufs + (size_t)slot * t->buf_cap, t->buf_cap,
			 a->cfg->max_header_bytes);
	c->fr.max_body = a->cfg->max_body_bytes;
	c->fr.etag = &dashboard_page_etag;      /* the one tagged body */
	event_assign(&c->rev, a->base, fd, EV_READ | EV_PERSIST, on_read, c);
	a->live++;
	CNT_SET(a->ctr.open, a->live);
	reading(a, c, true);
}

static void conn_release(struct acceptor *a, struct conn *c)
{
	if (c->frame_ready) {
		/* Rare (a turn's budget, then a close): unlink it. */
		struct conn **pp = &a->ready_head, *prev = NULL;

		while (*pp != c) {
			prev = *pp;
			pp = &(*pp)->frame_next;
		}
		*pp = c->frame_next;
		if (a->ready_tail == c)
			a->ready_tail = prev;
		c->frame_ready = false;
	}
	c->state = CONN_FREE;
	c->fd = -1;
	conn_table_put(&a->conns, c->slot, c->buf_high);
	__atomic_sub_fetch(a->open_total, 1, __ATOMIC_RELAXED);
	a->live--;
	CNT_SET(a->ctr.open, a->live);
}

static struct acceptor *acceptor_of(struct conn *c)
{
	return c->owner;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct acceptor *a = acceptor_of(c);
	size_t avail;
	char *p = http_framer_space(&c->fr, &avail);
	ssize_t n = avail ? recv(fd, p, avail, 0) : 0;

	if (n > 0) {
		http_framer_commit(&c->fr, (size_t)n);
		if (c->fr.len > c->buf_high)
			c->buf_high = c->fr.len;
		c->last_ms = a->now_ms;
		CNT_ADD(a->ctr.bytes_read, (uint64_t)n);
	} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		return;
	} else if (n < 0) {
		/* Reset: nobody will read answers.  Frame nothing more; the
		 * worker drops what is queued without computing it. */
		ck_pr_store_uint(&c->gone, 1);
		http_framer_stop(&c->fr);
		c->closing = true;
		CNT_ADD(a->ctr.resets, 1);
	} else {
		/* EOF (maybe only a half-close): answer what was received,
		 * then close. */
		c->closing = true;
	}
	acc__conn_advance(a, c);
}

/* ---- notes from workers --------------------------------------------------- */

void acc__on_bell(evutil_socket_t fd, short what, void *arg)
{
	struct acceptor *a = arg;
	struct queue_note nt;

	queue_doorbell_arm(&a->bell);
	for (unsigned w = 0; w < a->nworkers; w++) {
		while (queue_note_pop(&a->workers[w].notes, &nt)) {
			struct conn *c = &a->conns.slots[nt.slot];

			if (c->gen != nt.gen || c->state != CONN_OPEN)
				continue;
			if (nt.kind == NOTE_CLOSED) {
				conn_release(a, c);
			} else if (nt.kind == NOTE_RESUME && c->wait_resume) {
				c->wait_resume = false;
				acc__conn_advance(a, c);
			}
		}
		/* Connections that found the ring full, in arrival order. */
		struct conn *c = a->blocked_head[w];

		a->blocked_head[w] = a->blocked_tail[w] = NULL;
		while (c) {
			struct conn *next = c->blocked_next;

			c->blocked = false;
			acc__conn_advance(a, c);
			if (c->blocked) {
				/* Ring full again: keep the rest queued behind it. */
				if (next) {
					a->blocked_tail[w]->blocked_next = next;
					while (a->blocked_tail[w]->blocked_next)
						a->blocked_tail[w] = a->blocked_tail[w]->blocked_next;
				}
				break;
			}
			c = next;
		}
	}
	if (a->draining && a->live == 0)
		event_base_loopbreak(a->base);
}

/* ---- timeouts -------------------------------------------------------------
 *
 * No timer per connection and nothing per request: reads stamp last_ms
 * from the loop's coarse clock, and a sweep a few times per timeout period
 * walks the slots that were ever used. */

static void timeout_head(struct acceptor *a, struct conn *c)
{
	memset(&c->pending, 0, sizeof(c->pending));
	c->pending.kind = REQ_HTTP;
	c->pending.err = HERR_TIMEOUT;
	c->pending.flags = REQF_CLOSE;
	c->pending.slot = c->slot;
	c->pending.gen = c->gen;
	c->pending.t_parsed_ns = clock_mono_ns();
	c->pending_text = false;
	c->has_pending = true;
	CNT_ADD(a->ctr.header_timeouts, 1);
	acc__conn_advance(a, c);
}

void acc__on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct acceptor *a = arg;
	uint64_t head_to = __atomic_load_n(&a->header_timeout_ms, __ATOMIC_RELAXED);
	uint64_t idle_to = __atomic_load_n(&a->idle_timeout_ms, __ATOMIC_RELAXED);

	for (uint32_t i = 0; i < a->slot_hw; i++) {
		struct conn *c = &a->conns.slots[i];

		/* Paused connections wait on the server, not the client. */
		if (c->state != CONN_OPEN || c->close_sent || c->has_pending ||
		    c->blocked || c->wait_resume)
			continue;
		if (c->head_ms) {
			if (head_to && a->now_ms - c->head_ms >= head_to)
				timeout_head(a, c);
		} else if (idle_to && a->now_ms - c->last_ms >= idle_to &&
			   ck_pr_load_uint(&c->inflight) == 0) {
			CNT_ADD(a->ctr.idle_closes, 1);
			c->closing = true;
			acc__conn_advance(a, c);
		}
	}
}

void acc__sweep_arm(struct acceptor *a)
{
	uint64_t period = 1000;
	unsigned t[2] = { __atomic_load_n(&a->header_timeout_ms, __ATOMIC_RELAXED),
			  __atomic_load_n(&a->idle_timeout_ms, __ATOMIC_RELAXED) };

	for (int i = 0; i < 2; i++)
		if (t[i] && t[i] / 4 < period)
			period = t[i] / 4;
	if (period < 25)
		period = 25;
	struct timeval tv = { (time_t)(period / 1000), (suseconds_t)(period % 1000) * 1000 };

	event_del(&a->sweep_ev);
	if (t[0] || t[1])
		event_add(&a->sweep_ev, &tv);
}

