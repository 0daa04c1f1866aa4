/* Worker thread: drain the ring in batches, answer, flush once per
 * connection per batch.
 *
 * Threads: the worker is the only consumer of w->rq and the only producer of
 * w->notes.  It touches only the "worker" half of its connections, plus
 * their fd/gen (immutable while open, published by the ring) and the shared
 * atomics.  It closes a connection's fd only on REQ_CLOSE or a REQF_CLOSE
 * answer - which the acceptor enqueues last for that connection - and only
 * after everything before it was flushed, then hands the slot back with
 * NOTE_CLOSED.  So no descriptor ever refers to a closed fd (DESIGN.md
 * invariant 3).
 *
 * Unsent bytes (a partial write) are copied into blocks from the worker's
 * tail pool (tail.h) and flushed on EPOLLOUT; later answers for that
 * connection are appended behind them, so order holds.  Memory per
 * connection is bounded: once its unsent bytes (parked, or queued in the
 * batch) reach --max-unsent-bytes, its next descriptors are held, in
 * order and uncomputed, in a chain of the same blocks, and released as the
 * client reads.  The acceptor stops reading the connection at
 * --max-pipeline requests in flight (held ones count), so at most that many
 * are held.  A tail that makes no progress for --send-timeout closes the
 * connection.
 *
 * Requests of a connection whose peer is gone (a write failed, or the
 * acceptor saw a reset) are dropped without being computed.  Past the
 * shutdown timeout each connection's next request is answered 503 with
 * Connection: close and the rest are dropped, so a deep queue of heavy
 * requests cannot hold the process past --shutdown-timeout. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-qsbr.h>

#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/base/mem.h"
#include "core/base/sbuf.h"
#include "core/base/tsan.h"
#include "http/route.h"
#include "workers/worker.h"

#define EP_WAKE UINT64_MAX
#define NONE UINT32_MAX
/* How often a worker with unsent bytes checks --send-timeout. */
#define SWEEP_MS 250

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static struct conn *slot(struct worker *w, uint32_t i)
{
	return &w->conns->slots[i];
}

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

static void wait_update(struct worker *w, struct conn *c)
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

static bool over_limit(const struct worker *w, const struct conn *c)
{
	return c->tail.bytes + c->out_bytes >= w->cfg.max_unsent;
}

static void ready_push(struct worker *w, struct conn *c)
{
	if (c->ready || chain_empty(&c->held) || over_limit(w, c))
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
static void drop(struct worker *w, struct conn *c, const struct http_req *r)
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

/* Drops the held descriptors; a held REQ_CLOSE still closes. */
static void held_drop(struct worker *w, struct conn *c)
{
	struct http_req r;

	while (chain_take(&w->chains, &c->held, &r, sizeof(r))) {
		if (r.kind == REQ_CLOSE)
			c->close_after_flush = true;
		drop(w, c, &r);
	}
	chain_clear(&w->chains, &c->held);
}

static void conn_close(struct worker *w, struct conn *c)
{
	epoll_out(w, c, false);
	tail_drop(w, c);
	held_drop(w, c);
	wait_update(w, c);
	close(c->fd);
	c->dead = c->shut = false;
	c->close_after_flush = false;
	note(w, c, NOTE_CLOSED);
}

/* A write failed for good, or the client stopped reading: the peer is
 * gone.  Drop what is queued and shut the socket down, so the acceptor
 * reads EOF and sends REQ_CLOSE (if it has not already). */
static void conn_kill(struct worker *w, struct conn *c)
{
	uint32_t n = c->tail_resps;

	CNT_ADD(w->cnt.w.write_errors, 1);
	c->dead = true;
	shutdown(c->fd, SHUT_RDWR);
	epoll_out(w, c, false);
	tail_drop(w, c);
	answered(w, c, n);
	held_drop(w, c);
	wait_update(w, c);
	if (c->close_after_flush && !c->touched)
		conn_close(w, c);
}

static void park(struct worker *w, struct conn *c, const void *p, size_t n)
{
	bool was_empty = chain_empty(&c->tail);

	if (!chain_append(&w->chains, &c->tail, p, n)) {
		log_error("worker %u: out of memory for unsent bytes; closing slot %u",
			  w->id, c->slot);
		conn_kill(w, c);
		return;
	}
	if (was_empty) {
		w->ntails++;
		c->progress_ms = w->now_ms;
		epoll_out(w, c, true);
		wait_update(w, c);
	}
}

/* EPOLLOUT: the client read; send what it has room for. */
static void tail_flush(struct worker *w, struct conn *c)
{
	ssize_t n = chain_send(&w->chains, &c->tail, c->fd);

	if (n < 0) {
		conn_kill(w, c);
		return;
	}
	if (n > 0)
		c->progress_ms = w->now_ms;
	if (chain_empty(&c->tail)) {
		uint32_t done = c->tail_resps;

		c->tail_resps = 0;
		w->ntails--;
		epoll_out(w, c, false);
		wait_update(w, c);
		answered(w, c, done);
		if (c->close_after_flush && chain_empty(&c->held))
			conn_close(w, c);
	}
	ready_push(w, c);
}

/* ---- the batch ------------------------------------------------------------ */

static void touch(struct worker *w, struct conn *c)
{
	if (c->touched)
		return;
	c->touched = true;
	c->out_head = c->out_last = -1;
	c->out_resps = 0;
	c->out_bytes = 0;
	w->touched[w->ntouched++] = c;
}

static void flush_batch(struct worker *w);

/* Queues bytes for c (nresp answers end in them). */
static void out_add(struct worker *w, struct conn *c, char *p, size_t n,
		    uint32_t nresp)
{
	touch(w, c);          /* even when dead: the flush may have to close it */
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

/* Room for one more answer in this batch, flushing early if needed. */
static char *reserve(struct worker *w, size_t n)
{
	char *p;

	if (w->nents + 2 > sizeof(w->ents) / sizeof(w->ents[0]) ||
	    w->nfree == WORKER_BATCH)
		flush_batch(w);
	p = slab_alloc(&w->slab, n);
	if (!p) {
		flush_batch(w);
		p = slab_alloc(&w->slab, n);
	}
	return p;
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
		conn_kill(w, c);
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
static void flush_conn(struct worker *w, struct conn *c)
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

static void flush_batch(struct worker *w)
{
	for (unsigned i = 0; i < w->ntouched; i++) {
		struct conn *c = w->touched[i];

		flush_conn(w, c);
		c->touched = false;
		if (c->close_after_flush && chain_empty(&c->tail) &&
		    chain_empty(&c->held))
			conn_close(w, c);
		else
			ready_push(w, c);
	}
	for (unsigned i = 0; i < w->nfree; i++)
		mem_free(&w->cnt, w->to_free[i]);
	w->ntouched = w->nents = w->nfree = 0;
	CNT_SET(w->cnt.w.slab_last_batch_bytes, w->slab.used);
	slab_reset(&w->slab);
}

void worker_reply(struct worker *w, struct conn *c, unsigned req_flags,
		  unsigned status, enum http_ctype ct, const char *body,
		  size_t body_len)
{
	char *p = reserve(w, HTTP_RESP_MAX);
	size_t n;

	if (!p)
		abort();                      /* the slab holds many answers */
	n = http_write_head(p, HTTP_HEAD_MAX, status, ct, body_len, req_flags,
			    &w->date);
	w->last_status = status;
	w->last_body = body_len;
	if (!(req_flags & REQF_HEAD)) {
		memcpy(p + n, body, body_len);
		n += body_len;
	}
	slab_trim(&w->slab, p, n);
	out_add(w, c, p, n, 1);
}

void worker_reply_owned(struct worker *w, struct conn *c, unsigned req_flags,
			unsigned status, enum http_ctype ct, char *body,
			size_t body_len)
{
	char *p = reserve(w, HTTP_HEAD_MAX);
	size_t n;

	if (!p)
		abort();
	n = http_write_head(p, HTTP_HEAD_MAX, status, ct, body_len, req_flags,
			    &w->date);
	w->last_status = status;
	w->last_body = body_len;
	slab_trim(&w->slab, p, n);
	if (req_flags & REQF_HEAD) {
		out_add(w, c, p, n, 1);
	} else {
		out_add(w, c, p, n, 0);
		out_add(w, c, body, body_len, 1);
	}
	/* Freed after the flush: the iovec points into it until then. */
	w->to_free[w->nfree++] = body;
}

/* The body is written first, at p + HTTP_HEAD_MAX; the head, once its
 * Content-Length is known, is copied right before it, so head and body
 * leave in one contiguous piece. */
void worker_reply_stats(struct worker *w, struct conn *c, unsigned req_flags,
			bool prometheus)
{
	static const char too_big[] = "{\"error\":\"statistics do not fit the buffer\"}";
	char head[HTTP_HEAD_MAX];
	char *p = reserve(w, HTTP_HEAD_MAX + WORKER_STATS_MAX);
	char *body;
	size_t bl, hl;
	unsigned status = 200;
	enum http_ctype ct = prometheus ? CT_PROMETHEUS : CT_JSON;

	if (!p)
		abort();                      /* an empty slab holds it */
	body = p + HTTP_HEAD_MAX;
	bl = prometheus ? telemetry_write_prometheus(w->tm, body, WORKER_STATS_MAX)
			: telemetry_write_json(w->tm, body, WORKER_STATS_MAX);
	if (bl == 0) {
		status = 500;
		ct = CT_JSON;
		bl = sizeof(too_big) - 1;
		memcpy(body, too_big, bl);
	}
	hl = http_write_head(head, sizeof(head), status, ct, bl, req_flags, &w->date);
	memcpy(body - hl, head, hl);
	slab_trim(&w->slab, p, HTTP_HEAD_MAX + bl);
	w->last_status = status;
	w->last_body = bl;
	out_add(w, c, body - hl, hl + ((req_flags & REQF_HEAD) ? 0 : bl), 1);
}

void worker_reply_error(struct worker *w, struct conn *c, unsigned req_flags,
			enum http_err err)
{
	char body[HTTP_BODY_MAX_RESP];
	size_t n = http_body_error(body, sizeof(body), http_err_message(err));

	worker_reply(w, c, req_flags, http_err_status(err), CT_JSON, body, n);
}

/* Puts r off, behind the connection's other held descriptors. */
static void hold(struct worker *w, struct conn *c, const struct http_req *r)
{
	if (!chain_append(&w->chains, &c->held, r, sizeof(*r))) {
		log_error("worker %u: out of memory holding requests; closing slot %u",
			  w->id, c->slot);
		if (r->kind == REQ_CLOSE)
			c->close_after_flush = true;
		drop(w, c, r);
		conn_kill(w, c);
		return;
	}
	if (r->kind == REQ_HTTP)
		CNT_ADD(w->cnt.w.held, 1);
	wait_update(w, c);
}

/* Past the shutdown timeout: the connection's next request gets 503 and
 * Connection: close, the rest are dropped (the process is about to exit,
 * which closes the socket). */
static void refuse(struct worker *w, struct conn *c, const struct http_req *r)
{
	if (r->heap)
		mem_free(&w->cnt, r->heap);
	worker_reply_error(w, c, r->flags | REQF_CLOSE, HERR_SHUTDOWN);
	c->shut = true;
	CNT_ADD(w->cnt.w.shutdown_refused, 1);
}

/* Answers r; false when it was dropped instead. */
static bool serve_http(struct worker *w, struct conn *c, const struct http_req *r)
{
	if (ck_pr_load_uint(w->past_deadline)) {
		refuse(w, c, r);
		return true;
	}
	if ((r->flags & REQF_HEAVY) && c->touched && c->out_head >= 0) {
		flush_conn(w, c);
		if (c->dead) {
			drop(w, c, r);
			return false;
		}
	}
	if (r->heap)
		heap_serve(w, c, r);
	else
		stack_serve(w, c, r);
	return true;
}

/* One descriptor.  released: it comes off the held chain (in order), so
 * it is not held again. */
static void serve(struct worker *w, const struct http_req *r, unsigned i,
		  bool released)
{
	struct conn *c = &w->conns->slots[r->slot];

	w->bstatus[i] = 0;
	if (r->kind == REQ_STOP) {
		w->stopping = true;
		return;
	}
	if (c->gen != r->gen || c->state != CONN_OPEN) {
		/* A broken invariant: a descriptor outlived its connection. */
		log_error("worker %u: stale descriptor slot %u gen %u (now %u)",
			  w->id, r->slot, r->gen, c->gen);
		abort();
	}
	if (r->kind != REQ_CLOSE &&
	    (c->dead || c->shut || ck_pr_load_uint(&c->gone))) {
		drop(w, c, r);
		if (c->close_after_flush)
			touch(w, c);          /* the flush closes it */
		return;
	}
	if (!released && (!chain_empty(&c->held) || over_limit(w, c))) {
		hold(w, c, r);
		return;
	}
	switch (r->kind) {
	case REQ_HTTP: {
		struct route_counters *sr = &w->cnt.route[r->route];

		if (!serve_http(w, c, r)) {
			if (c->close_after_flush)
				touch(w, c);
			break;
		}
		if (r->flags & REQF_CLOSE)
			c->close_after_flush = true;
		CNT_ADD(sr->requests, 1);
		CNT_ADD(sr->status[status_index(w->last_status)], 1);
		w->bstatus[i] = (uint16_t)w->last_status;
		w->bbytes[i] = (uint32_t)w->last_body;
		if (w->alog_on)
			w->bpeer[i] = c->peer;
		break;
	}
	case REQ_CONTINUE:
		/* An interim answer: it ends no request. */
		if (!c->shut && !ck_pr_load_uint(w->past_deadline))
			out_add(w, c, (char *)continue_100, sizeof(continue_100) - 1, 0);
		break;
	case REQ_CLOSE:
		touch(w, c);
		c->close_after_flush = true;
		break;
	}
}

/* One line per request: peer, date, request, status, body bytes, latency. */
static void access_log_batch(struct worker *w, const struct http_req *batch,
			     unsigned n, uint64_t done, time_t sec)
{
	if (sec != w->alog_sec) {
		struct tm tm;

		gmtime_r(&sec, &tm);
		strftime(w->alog_date, sizeof(w->alog_date), "[%d/%b/%Y:%H:%M:%S +0000]", &tm);
		w->alog_sec = sec;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct http_req *r = &batch[i];
		const struct sockaddr_in6 *peer = &w->bpeer[i];
		char line[512], host[INET6_ADDRSTRLEN];
		struct sbuf b;

		if (r->kind != REQ_HTTP || !w->bstatus[i])
			continue;
		if (peer->sin6_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr,
				  host, sizeof(host));
		else
			inet_ntop(AF_INET6, &peer->sin6_addr, host, sizeof(host));
		sbuf_init(&b, line, sizeof(line));
		sbuf_puts(&b, host);
		sbuf_puts(&b, " - - ");
		sbuf_puts(&b, w->alog_date);
		sbuf_puts(&b, r->err == HERR_METHOD ? " \"- " :
			  (r->flags & REQF_HEAD) ? " \"HEAD " : " \"GET ");
		sbuf_puts(&b, r->route ? http_route_name((enum http_route)r->route) : "-");
		sbuf_puts(&b, (r->flags & REQF_HTTP10) ? " HTTP/1.0\" " : " HTTP/1.1\" ");
		sbuf_u64(&b, w->bstatus[i]);
		sbuf_puts(&b, " ");
		sbuf_u64(&b, w->bbytes[i]);
		sbuf_puts(&b, " ");
		sbuf_u64(&b, (done - r->t_parsed_ns) / 1000);
		sbuf_puts(&b, "us\n");
		if (!b.full)
			alog_put(w->alog, line, b.len);
	}
}

/* Reads the runtime snapshot for the descriptors about to be served; valid
 * until the worker's next quiescent state. */
static const struct runtime *batch_begin(struct worker *w, time_t *sec)
{
	struct timespec now;
	const struct runtime *rt = rcu_dereference(*w->rtp);

	TSAN_ACQUIRE(w->rtp);            /* the snapshot's contents */
	w->date.server = rt->server;
	w->date.server_len = rt->server_len;
	w->spin_ns = rt->spin_ns;
	w->send_timeout_ms = rt->send_timeout_ms;
	w->alog_on = rt->access_log;
	clock_gettime(CLOCK_REALTIME_COARSE, &now);
	http_date_update(&w->date, now.tv_sec);
	*sec = now.tv_sec;
	return rt;
}

/* Flushes what batch[0..n) produced, then records latency and the access
 * log for the requests that were answered. */
static void batch_end(struct worker *w, const struct runtime *rt,
		      const struct http_req *batch, unsigned n, time_t sec)
{
	flush_batch(w);
	/* One clock read per batch: every answer in it reached the kernel (or
	 * a tail) by now. */
	uint64_t done = clock_mono_ns();
	for (unsigned i = 0; i < n; i++)
		if (batch[i].kind == REQ_HTTP && w->bstatus[i])
			lat_record(&w->cnt.route[batch[i].route],
					     done - batch[i].t_parsed_ns);
	if (rt->access_log)
		access_log_batch(w, batch, n, done, sec);
	CNT_ADD(w->cnt.w.batches, 1);
	CNT_SET(w->cnt.w.slab_high_water, w->slab.high_water);
	CNT_SET(w->cnt.w.slab_resets, w->slab.resets);
	CNT_SET(w->cnt.w.slab_overflows, w->slab.overflows);
	CNT_SET(w->cnt.w.tail_blocks_in_use, w->chains.in_use);
	CNT_SET(w->cnt.w.tail_blocks_unmapped, w->chains.unmapped);
	CNT_SET(w->cnt.w.conns_with_tail, w->ntails);
}

static void process(struct worker *w, const struct http_req *batch, unsigned n)
{
	time_t sec;
	const struct runtime *rt = batch_begin(w, &sec);

	for (unsigned i = 0; i < n; i++)
		serve(w, &batch[i], i, false);
	batch_end(w, rt, batch, n, sec);
}

/* Serves held descriptors of connections whose unsent bytes fell below
 * the limit, in order, as batches of their own: at most WORKER_BATCH per
 * call, round-robin over the ready connections, so requests in the ring
 * are never starved by held ones. */
static void release_held(struct worker *w)
{
	struct http_req batch[WORKER_BATCH];
	unsigned budget = WORKER_BATCH;

	while (budget && w->ready_head != NONE) {
		struct conn *c = slot(w, w->ready_head);
		unsigned n = 0;
		time_t sec;

		w->ready_head = c->ready_next;
		if (w->ready_head == NONE)
			w->ready_tail = NONE;
		c->ready = false;
		const struct runtime *rt = batch_begin(w, &sec);

		while (n < budget && !over_limit(w, c) &&
		       chain_take(&w->chains, &c->held, &batch[n], sizeof(batch[n]))) {
			serve(w, &batch[n], n, true);
			n++;
		}
		budget -= n;
		wait_update(w, c);
		if (n)
			batch_end(w, rt, batch, n, sec);   /* may ready c again */
	}
}

/* --send-timeout: a connection whose unsent bytes made no progress for
 * that long is closed (a client that pipelines and never reads). */
static void sweep_sends(struct worker *w)
{
	uint32_t next;

	w->next_sweep_ms = w->now_ms + SWEEP_MS;
	if (!w->send_timeout_ms)
		return;
	for (uint32_t i = w->wait_head; i != NONE; i = next) {
		struct conn *c = slot(w, i);

		next = c->wait_next;
		if (chain_empty(&c->tail) ||
		    w->now_ms - c->progress_ms < w->send_timeout_ms)
			continue;
		CNT_ADD(w->cnt.w.send_timeouts, 1);
		log_debug("worker %u: slot %u: send timeout, %llu bytes unsent",
			  w->id, c->slot, (unsigned long long)c->tail.bytes);
		conn_kill(w, c);
	}
}

/* Handles readiness: tails that can be written, and the wake-up fd. */
static void poll_events(struct worker *w, int timeout_ms)
{
	struct epoll_event evs[64];
	int n = epoll_wait(w->epfd, evs, 64, timeout_ms);
	bool woke = false;

	w->now_ms = clock_coarse_ms();
	for (int i = 0; i < n; i++) {
		if (evs[i].data.u64 == EP_WAKE) {
			woke = true;
			continue;
		}
		struct conn *c = slot(w, (uint32_t)evs[i].data.u64);

		if (!chain_empty(&c->tail))
			tail_flush(w, c);
	}
	if (timeout_ms != 0) {
		queue_req_woke(&w->rq, woke);
		CNT_ADD(w->cnt.w.wakeups, 1);
	} else if (woke) {
		queue_req_woke(&w->rq, true);
	}
}

/* Stopping: connections still waiting on their client are closed. */
static void close_waiting(struct worker *w)
{
	while (w->wait_head != NONE)
		conn_close(w, slot(w, w->wait_head));
}

static void ring_bell(struct worker *w)
{
	if (w->ring_bell) {
		w->ring_bell = false;
		queue_doorbell_ring(w->bell);
	}
}

/* How long a sleeping worker may wait: for ever, unless clients owe it
 * reads (the send-timeout sweep). */
static int sleep_ms(const struct worker *w)
{
	return w->wait_head != NONE ? SWEEP_MS : -1;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct http_req batch[WORKER_BATCH];
	uint64_t idle_since = 0;
	unsigned spins = 0;

	pthread_setname_np(pthread_self(), w->cnt.name);
	slab_prefault(&w->slab);
	urcu_qsbr_register_thread();
	TSAN_ACQUIRE(w->rtp);
	w->spin_ns = rcu_dereference(*w->rtp)->spin_ns;
	w->send_timeout_ms = rcu_dereference(*w->rtp)->send_timeout_ms;
	TSAN_RELEASE(w->rtp);
	urcu_qsbr_quiescent_state();
	while (!w->stopping) {
		unsigned n = queue_req_pop_batch(&w->rq, batch, WORKER_BATCH);

		w->now_ms = clock_coarse_ms();
		if (n) {
			if (queue_req_take_producer_wait(&w->rq))
				w->ring_bell = true;
			process(w, batch, n);
		}
		if (w->wait_head != NONE) {
			/* Clients that owe reads: what they took, what may
			 * follow it, and who has stopped reading for too long. */
			poll_events(w, 0);
			release_held(w);
			if (w->now_ms >= w->next_sweep_ms)
				sweep_sends(w);
		}
		if (n || w->wait_head != NONE) {
			TSAN_RELEASE(w->rtp);    /* done with the snapshot */
			urcu_qsbr_quiescent_state();
		}
		ring_bell(w);
		if (n || w->ready_head != NONE) {
			idle_since = 0;
			spins = 0;
			continue;
		}
		if (w->spin_ns) {
			/* Poll the ring; read the clock once per 32 polls. */
			if (++spins & 31) {
				cpu_relax();
				continue;
			}
			uint64_t now = clock_mono_ns();

			if (!idle_since)
				idle_since = now;
			if (now - idle_since < w->spin_ns)
				continue;
		}
		if (!queue_req_prepare_sleep(&w->rq))
			continue;
		CNT_ADD(w->cnt.w.sleeps, 1);
		TSAN_RELEASE(w->rtp);
		urcu_qsbr_thread_offline();      /* asleep: never delays a reload */
		poll_events(w, sleep_ms(w));
		urcu_qsbr_thread_online();
		idle_since = 0;
		spins = 0;
	}
	close_waiting(w);
	ring_bell(w);
	TSAN_RELEASE(w->rtp);
	urcu_qsbr_unregister_thread();
	return NULL;
}

int worker_init(struct worker *w, unsigned id, const struct worker_cfg *cfg,
		struct conn_table *conns, struct queue_doorbell *bell,
		const struct telemetry *tm, struct runtime *const *rtp,
		struct alog_ring *alog, const unsigned *past_deadline)
{
	char name[16];

	int rc;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EP_WAKE };

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->cfg = *cfg;
	w->conns = conns;
	w->bell = bell;
	w->tm = tm;
	w->rtp = rtp;
	w->alog = alog;
	w->past_deadline = past_deadline;
	w->epfd = -1;
	w->wait_head = w->ready_head = w->ready_tail = NONE;
	snprintf(name, sizeof(name), "metricd-w%u", id);
	/* Thread 0 is the acceptor: heap headers name threads by index. */
	counters_init(&w->cnt, name, cfg->cpu, (uint16_t)(id + 1));
	chain_pool_init(&w->chains);
	if ((rc = queue_req_init(&w->rq, cfg->ring_size)))
		goto Error;
	if ((rc = queue_notes_init(&w->notes, cfg->note_ring_size)))
		goto Error;
	if ((rc = slab_init(&w->slab, WORKER_SLAB_SIZE)))
		goto Error;
	CNT_SET(w->cnt.w.slab_size, w->slab.size);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->rq.wake_fd, &ev)) {
		rc = -errno;
		goto Error;
	}
	return 0;
Error:
	worker_destroy(w);
	return rc;
}

int worker_start(struct worker *w)
{
	pthread_attr_t attr;
	int rc;

	pthread_attr_init(&attr);
	if (w->cfg.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(w->cfg.cpu, &set);
		/* Returns an error number; it does not set errno. */
		rc = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		if (rc) {
			pthread_attr_destroy(&attr);
			return -rc;
		}
	}
	rc = pthread_create(&w->thread, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	return -rc;
}

void worker_join(struct worker *w)
{
	pthread_join(w->thread, NULL);
}

void worker_destroy(struct worker *w)
{
	if (w->epfd >= 0)
		close(w->epfd);
	w->epfd = -1;
	queue_req_destroy(&w->rq);
	queue_notes_destroy(&w->notes);
	slab_destroy(&w->slab);
	chain_pool_destroy(&w->chains);
}
