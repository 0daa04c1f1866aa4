/* SPDX-License-Identifier: BSD-2-Clause */
/* The write side of a worker's connections: the batch's answers queued
 * per connection and flushed with one sendmsg each, unsent bytes parked in
 * chains and finished on EPOLLOUT, requests held while a connection's
 * unsent bytes are over --max-unsent-bytes, closes, and the notes that
 * tell the acceptor about them.  One worker thread owns all of it; the
 * threading rules are in workers/worker.c's head comment. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base/log.h"
#include "core/base/mem.h"
#include "workers/handler.h"
#include "workers/outbox.h"

static struct conn *slot(struct worker *w, uint32_t i)
{
	return &w->conns->slots[i];
}

#define NONE UINT32_MAX

/* ---- notes to the acceptor ---------------------------------------------- */

static void note(struct worker *w, struct conn *c, enum queue_note_kind kind)
{
	struct queue_note n = { c->slot, c->gen, kind, 0 };

	/* The note ring holds two notes per connection slot, and a slot has at
	 * most one NOTE_CLOSED and one NOTE_RESUME outstanding: never full. */
	if (!queue_note_push(&w->notes, &n))
		abort();
	w->ring_bell = true;
}

/* n requests of c are done with: answered into the kernel, or dropped. */
static void answered(struct worker *w, struct conn *c, uint32_t n)
{
	if (n == 0)
		return;
	ck_pr_sub_uint(&c->inflight, n);
	ck_pr_fence_memory();
	if (ck_pr_load_uint(&c->want_resume) &&
	    ck_pr_fas_uint(&c->want_resume, 0) == 1)
		note(w, c, NOTE_RESUME);
}

/* ---- connections waiting on their client ----------------------------------
 *
 * The wait list holds the connections with a tail or held requests (what
 * the send-timeout sweep and shutdown look at); the ready list those whose
 * held requests may go on because their unsent bytes fell below the
 * limit.  Both are threaded through the slots by index. */

void worker__wait_update(struct worker *w, struct conn *c)
{
	bool want = !chain_empty(&c->tail) || !chain_empty(&c->held);

	if (want == c->waiting)
		return;
	c->waiting = want;
	if (want) {
		c->wait_prev = NONE;
		c->wait_next = w->wait_head;
		if (w->wait_head != NONE)
			slot(w, w->wait_head)->wait_prev = c->slot;
		w->wait_head = c->slot;
		return;
	}
	if (c->wait_prev != NONE)
		slot(w, c->wait_prev)->wait_next = c->wait_next;
	else
		w->wait_head = c->wait_next;
	if (c->wait_next != NONE)
		slot(w, c->wait_next)->wait_prev = c->wait_prev;
}

bool worker__over_limit(const struct worker *w, const struct conn *c)
{
	return c->tail.bytes + c->out_bytes >= w->cfg.max_unsent;
}

static void ready_push(struct worker *w, struct conn *c)
{
	if (c->ready || chain_empty(&c->held) || worker__over_limit(w, c))
		return;
	c->ready = true;
	c->ready_next = NONE;
	if (w->ready_tail != NONE)
		slot(w, w->ready_tail)->ready_next = c->slot;
	else
		w->ready_head = c->slot;
	w->ready_tail = c->slot;
}

/* ---- tails ---------------------------------------------------------------- */

static void epoll_out(struct worker *w, struct conn *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = c->slot };

	if (c->want_out == on)
		return;
	if (epoll_ctl(w->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, c->fd, &ev) == 0)
		c->want_out = on;
}

static void tail_drop(struct worker *w, struct conn *c)
{
	if (chain_empty(&c->tail))
		return;
	chain_clear(&w->chains, &c->tail);
	c->tail_resps = 0;
	w->ntails--;
}

/* A request that will not be answered: its heap object (heap path) is
 * freed, it stops counting as in flight, and if it was the connection's
 * last the connection still closes. */
void worker__drop(struct worker *w, struct conn *c, const struct http_req *r)
{
	if (r->kind != REQ_HTTP)
		return;
	if (r->flags & REQF_CLOSE)
		c->close_after_flush = true;
	if (r->heap)
		mem_free(&w->cnt, r->heap);
	CNT_ADD(w->cnt.w.dropped, 1);
	answered(w, c, 1);
}

/* Drops the held descriptors (and their access-log text); a held
 * REQ_CLOSE still closes.  A descriptor whose text did not fit in the
 * chain (worker__hold) is the last one there. */
static void held_drop(struct worker *w, struct conn *c)
{
	struct http_req r;

	while (chain_take(&w->chains, &c->held, &r, sizeof(r))) {
		if (r.kind == REQ_CLOSE)
			c->close_after_flush = true;
		worker__drop(w, c, &r);
		if (r.log_len && !chain_skip(&w->chains, &c->held, r.log_len))
			break;
	}
	chain_clear(&w->chains, &c->held);
}

void worker__close(struct worker *w, struct conn *c)
{
	epoll_out(w, c, false);
	tail_drop(w, c);
	held_drop(w, c);
	worker__wait_update(w, c);
	close(c->fd);
	c->dead = c->shut = false;
	c->close_after_flush = false;
	note(w, c, NOTE_CLOSED);
}

/* A write failed for good, or the client stopped reading: the peer is
 * gone.  Drop what is queued and shut the socket down, so the acceptor
 * reads EOF and sends REQ_CLOSE (if it has not already). */
void worker__kill(struct worker *w, struct conn *c)
{
	uint32_t n = c->tail_resps;

	CNT_ADD(w->cnt.w.write_errors, 1);
	c->dead = true;
	shutdown(c->fd, SHUT_RDWR);
	epoll_out(w, c, false);
	tail_drop(w, c);
	answered(w, c, n);
	held_drop(w, c);
	worker__wait_update(w, c);
	if (c->close_after_flush && !c->touched)
		worker__close(w, c);
}

static void park(struct worker *w, struct conn *c, const void *p, size_t n)
{
	bool was_empty = chain_empty(&c->tail);

	if (!chain_append(&w->chains, &c->tail, p, n)) {
		log_error("worker %u: out of memory for unsent bytes; closing slot %u",
			  w->id, c->slot);
		worker__kill(w, c);
		return;
	}
	if (was_empty) {
		w->ntails++;
		c->progress_ms = w->now_ms;
		epoll_out(w, c, true);
		worker__wait_update(w, c);
	}
}

/* EPOLLOUT: the client read; send what it has room for. */
void worker__tail_flush(struct worker *w, struct conn *c)
{
	ssize_t n = chain_send(&w->chains, &c->tail, c->fd);

	if (n < 0) {
		worker__kill(w, c);
		return;
	}
	if (n > 0)
		c->progress_ms = w->now_ms;
	if (chain_empty(&c->tail)) {
		uint32_t done = c->tail_resps;

		c->tail_resps = 0;
		w->ntails--;
		epoll_out(w, c, false);
		worker__wait_update(w, c);
		answered(w, c, done);
		if (c->close_after_flush && chain_empty(&c->held))
			worker__close(w, c);
	}
	ready_push(w, c);
}

/* ---- the batch ------------------------------------------------------------ */

void worker__touch(struct worker *w, struct conn *c)
{
	if (c->touched)
		return;
	c->touched = true;
	c->out_head = c->out_last = -1;
	c->out_resps = 0;
	c->out_bytes = 0;
	w->touched[w->ntouched++] = c;
}

/* Queues bytes for c (nresp answers end in them). */
void worker__out_add(struct worker *w, struct conn *c, char *p, size_t n,
		    uint32_t nresp)
{
	worker__touch(w, c);          /* even when dead: the flush may have to close it */
	if (c->dead) {
		answered(w, c, nresp);
		return;
	}
	c->out_resps += nresp;
	c->out_bytes += n;
	if (!chain_empty(&c->tail)) {
		/* Bytes are already waiting: keep order by queueing behind. */
		park(w, c, p, n);
		return;
	}
	if (c->out_last >= 0) {
		struct iovec *last = &w->ents[c->out_last].iov;

		if ((char *)last->iov_base + last->iov_len == p) {
			last->iov_len += n;
			return;
		}
	}
	int32_t e = (int32_t)w->nents++;

	w->ents[e].iov.iov_base = p;
	w->ents[e].iov.iov_len = n;
	w->ents[e].next = -1;
	if (c->out_last >= 0)
		w->ents[c->out_last].next = e;
	else
		c->out_head = e;
	c->out_last = e;
}

static void write_conn(struct worker *w, struct conn *c)
{
	struct iovec iov[WORKER_BATCH * 3];
	int cnt = 0;
	size_t total = 0;

	for (int32_t e = c->out_head; e >= 0; e = w->ents[e].next) {
		iov[cnt++] = w->ents[e].iov;
		total += w->ents[e].iov.iov_len;
	}
	if (cnt == 0)
		return;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)cnt };
	ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);

	if (n == (ssize_t)total) {
		answered(w, c, c->out_resps);
		return;
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		answered(w, c, c->out_resps);
		worker__kill(w, c);
		return;
	}
	/* Partial: park the rest and wait for writability. */
	CNT_ADD(w->cnt.w.partial_writes, 1);
	c->tail_resps = c->out_resps;
	size_t skip = n > 0 ? (size_t)n : 0;
	for (int i = 0; i < cnt && !c->dead; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		park(w, c, (char *)iov[i].iov_base + skip, iov[i].iov_len - skip);
		skip = 0;
	}
}

/* Hands c's queued bytes to the kernel (or its tail); the chain restarts. */
void worker__flush_conn(struct worker *w, struct conn *c)
{
	if (!chain_empty(&c->tail))
		c->tail_resps += c->out_resps;   /* appended in out_add */
	else if (c->dead)
		answered(w, c, c->out_resps);    /* died mid-batch */
	else
		write_conn(w, c);
	c->out_head = c->out_last = -1;
	c->out_resps = 0;
	c->out_bytes = 0;
}

void worker__flush_batch(struct worker *w)
{
	for (unsigned i = 0; i < w->ntouched; i++) {
		struct conn *c = w->touched[i];

		worker__flush_conn(w, c);
		c->touched = false;
		if (c->close_after_flush && chain_empty(&c->tail) &&
		    chain_empty(&c->held))
			worker__close(w, c);
		else
			ready_push(w, c);
	}
	for (unsigned i = 0; i < w->nfree; i++)
		mem_free(&w->cnt, w->to_free[i]);
	w->ntouched = w->nents = w->nfree = 0;
	CNT_SET(w->cnt.w.slab_last_batch_bytes, w->slab.used);
	slab_reset(&w->slab);
}

/* Puts r off, behind the connection's other held descriptors: the
 * descriptor, then its access-log text (r->log_len bytes), which left the
 * text ring with it.  Out of memory: r is dropped, the connection closed.
 * If only the text found no room, r is whole in the chain, so
 * worker__kill's held_drop drops it with the others (exactly once). */
void worker__hold(struct worker *w, struct conn *c, const struct http_req *r,
		  const char *text)
{
	bool whole = chain_append(&w->chains, &c->held, r, sizeof(*r));

	if (!whole || (r->log_len &&
		       !chain_append(&w->chains, &c->held, text, r->log_len))) {
		log_error("worker %u: out of memory holding requests; closing slot %u",
			  w->id, c->slot);
		if (!whole) {
			if (r->kind == REQ_CLOSE)
				c->close_after_flush = true;
			worker__drop(w, c, r);
		}
		worker__kill(w, c);
		return;
	}
	if (r->kind == REQ_HTTP)
		CNT_ADD(w->cnt.w.held, 1);
	worker__wait_update(w, c);
}

bool worker__unhold(struct worker *w, struct conn *c, struct http_req *r, char *text)
{
	if (!chain_take(&w->chains, &c->held, r, sizeof(*r)))
		return false;
	if (r->log_len && !chain_take(&w->chains, &c->held, text, r->log_len)) {
		/* worker__hold keeps a descriptor only with its text */
		log_error("worker %u: slot %u: held text missing", w->id, c->slot);
		abort();
	}
	return true;
}

/* Room for one answer of up to n bytes in this batch, flushing early if
 * the batch is full. */
static char *reserve(struct worker *w, size_t n)
{
	char *p;

	if (w->nents + 2 > sizeof(w->ents) / sizeof(w->ents[0]) ||
	    w->nfree == WORKER_BATCH)
		worker__flush_batch(w);
	p = slab_alloc(&w->slab, n);
	if (!p) {
		worker__flush_batch(w);
		p = slab_alloc(&w->slab, n);
	}
	if (!p)
		abort();                      /* an empty slab holds any answer */
	return p;
}

unsigned worker__answer(struct worker *w, struct conn *c, const struct http_req *r,
			enum http_err err, unsigned head_flags, size_t *body_len)
{
	const struct endpoint *ep = err || r->err ? NULL : &endpoints[r->route];
	size_t cap = ep ? ep->body_max : HTTP_BODY_MAX_RESP;
	char *p = reserve(w, HTTP_HEAD_MAX + cap);
	struct handler_ctx ctx = { r, p + HTTP_HEAD_MAX, cap, &w->cnt, w->tm,
				   w->batch_real_ns };
	struct reply rep = ep ? ep->handler(&ctx)
			      : reply_error(&ctx, err ? err : (enum http_err)r->err);
	bool head_only = head_flags & REQF_HEAD;
	size_t hl = http_write_head(p, HTTP_HEAD_MAX, rep.status, rep.ct, rep.len,
				    head_flags, &w->head, rep.etag);
	char *apart = rep.owned ? rep.owned : (char *)rep.fixed;

	if (apart) {
		/* The heap path's body is sent from where it was malloc'd and
		 * freed once the batch is flushed; a fixed one is sent from
		 * the binary. */
		slab_trim(&w->slab, p, hl);
		worker__out_add(w, c, p, hl, head_only ? 1 : 0);
		if (!head_only)
			worker__out_add(w, c, apart, rep.len, 1);
		if (rep.owned)
			w->to_free[w->nfree++] = rep.owned;
	} else {
		/* The body goes right behind its head, so answers stay one
		 * contiguous run of the slab (one iovec for many). */
		memmove(p + hl, ctx.body, rep.len);
		slab_trim(&w->slab, p, hl + rep.len);
		worker__out_add(w, c, p, hl + (head_only ? 0 : rep.len), 1);
	}
	*body_len = rep.len;
	return rep.status;
}
