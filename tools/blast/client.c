/* SPDX-License-Identifier: BSD-2-Clause */
/* Connection state machine: connect, send pipelined requests, parse
 * responses, and reconnect after a close or failure.
 *
 * Sockets are registered once, edge-triggered, for EPOLLIN | EPOLLOUT |
 * EPOLLRDHUP, and never modified: a response that completes a request is
 * answered by the next request's send() straight away, without the
 * epoll_ctl(MOD) round trips a level-triggered "wait for writable" design
 * needs for every request.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tools/blast/now.h"
#include "tools/blast/loop.h"

#define BACKOFF_MAX_NS (250 * 1000000ull)
#define LATE_NS 1000000ull /* open loop: "late" when sent 1 ms after due */

static void freeq_push(struct worker *w, struct conn *c)
{
	if (c->in_freeq)
		return;
	c->in_freeq = 1;
	c->next_free = NULL;
	if (w->fq_tail)
		w->fq_tail->next_free = c;
	else
		w->fq_head = c;
	w->fq_tail = c;
}

/* Entries may be stale (the connection closed since it was queued); the
 * caller checks the state, which is cheaper than unlinking on close. */
struct conn *freeq_pop(struct worker *w)
{
	struct conn *c = w->fq_head;
	if (!c)
		return NULL;
	w->fq_head = c->next_free;
	if (!w->fq_head)
		w->fq_tail = NULL;
	c->in_freeq = 0;
	return c;
}

static void count_error(struct worker *w, int kind, int err, uint64_t n, uint64_t now)
{
	if (now < w->measure)
		return; /* warmup: discarded like everything else */
	stats_error(&w->st, kind, err, n);
	w->iv_err += n;
}

uint64_t conn_backoff_ns(unsigned fails)
{
	if (fails == 0)
		return 0;
	uint64_t d = 1000000ull << (fails < 16 ? fails - 1 : 15);
	return d < BACKOFF_MAX_NS ? d : BACKOFF_MAX_NS;
}

/* Close the socket and schedule the replacement: at once if this socket
 * served responses (keep-alive ended normally), otherwise with doubling
 * backoff so a server that refuses or drops us is not hammered. */
static void conn_close(struct worker *w, struct conn *c, uint64_t now)
{
	if (c->state == C_CONNECTING || c->state == C_HANDSHAKE)
		w->nconnecting--;
	tls_conn_free(c->tls);
	c->tls = NULL;
	close(c->fd);
	c->fd = -1;
	w->inflight -= c->inflight;
	c->inflight = c->unsent = 0;
	c->wr_off = 0;
	if (!c->requeue)
		c->head = 0;
	c->fails = c->served ? 0 : (uint16_t)(c->fails < 16 ? c->fails + 1 : 16);
	c->served = 0;
	c->state = C_WAIT;
	if (w->limited && !w->remaining && !c->requeue) {
		c->retry_at = UINT64_MAX; /* -n: nothing left to send on it */
	} else if (c->fails == 0) {
		c->retry_at = now;
		if (!c->in_recon) {
			c->in_recon = 1;
			w->recon[w->nrecon++] = c;
		}
	} else {
		c->retry_at = now + conn_backoff_ns(c->fails);
	}
}

/* A failure loses every request in flight (and any waiting for a retry):
 * each is counted once, so issued = responses + errors + unfinished. */
void conn_fail(struct worker *w, struct conn *c, int kind, int err, uint64_t now)
{
	uint64_t lost = c->inflight + c->requeue;
	if (kind == ERR_CONNECT || kind == ERR_TLS) {
		count_error(w, kind, err, 1, now);
		if (c->requeue)
			count_error(w, ERR_CLOSED, 0, c->requeue, now);
	} else {
		count_error(w, kind, err, lost ? lost : 1, now);
	}
	w->requeued -= c->requeue;
	c->requeue = 0;
	conn_close(w, c, now);
}

void conn_connect(struct worker *w, struct conn *c, uint64_t now)
{
	const struct target *tg = w->tg;
	int fd = socket(tg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err = errno;

	if (c->attempts++ && now >= w->measure)
		w->st.reconnects++;
	c->in_recon = 0;
	if (fd < 0) {
		c->fd = -1;
		c->state = C_WAIT;
		c->fails = (uint16_t)(c->fails < 16 ? c->fails + 1 : 16);
		c->retry_at = now + BACKOFF_MAX_NS;
		count_error(w, ERR_CONNECT, err, 1, now);
		return;
	}
	int one = 1;
	if (tg->addr.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->fd = fd;
	c->state = C_CONNECTING;
	c->since = now;
	w->nconnecting++;
	if (connect(fd, (const struct sockaddr *)&tg->addr, tg->addrlen) < 0 &&
	    errno != EINPROGRESS) {
		conn_fail(w, c, ERR_CONNECT, errno, now);
		return;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				 .data.ptr = c};
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		conn_fail(w, c, ERR_CONNECT, errno, now);
}

/* Write whatever is unsent (wire.c); a failed write fails the
 * connection.  Returns -1 if it did. */
static int conn_flush(struct worker *w, struct conn *c)
{
	int r = wire_flush(w, c);
	if (r < 0) {
		conn_fail(w, c, ERR_WRITE, -r, now_ns());
		return -1;
	}
	return 0;
}

/* The next request of the set: in turn, or at random with --random. */
static uint32_t next_request(struct worker *w)
{
	uint32_t n = w->tg->req.n;
	if (n == 1)
		return 0;
	if (w->cfg->random) {
		/* xorshift64*, then Lemire's multiply-shift onto [0, n) */
		w->rng ^= w->rng >> 12;
		w->rng ^= w->rng << 25;
		w->rng ^= w->rng >> 27;
		uint64_t x = (w->rng * 0x2545F4914F6CDD1Dull) >> 32;
		return (uint32_t)((x * n) >> 32);
	}
	uint32_t i = w->next_req;
	w->next_req = i + 1 == n ? 0 : i + 1;
	return i;
}

static void push_request(struct worker *w, struct conn *c, uint64_t intended, uint64_t now)
{
	unsigned i = c->head + c->inflight;
	if (i >= w->cap)
		i -= w->cap;
	c->intended[i] = intended;
	c->sent[i] = now;
	c->ridx[i] = next_request(w);
	c->inflight++;
	if (intended < w->measure)
		return;
	w->st.issued++;
	if (w->open_loop) {
		uint64_t lag = now - intended;
		w->st.lag_sum_ns += lag;
		if (lag > w->st.lag_max_ns)
			w->st.lag_max_ns = lag;
		if (lag > LATE_NS)
			w->st.late++;
	}
}

/* Issue up to `max` new requests on c, as many as its depth allows and
 * the run still wants (closed loop: all; open loop: those already due),
 * and send them with one send().  With -n, warmup requests do not count
 * against the budget: N are measured. */
void conn_fill(struct worker *w, struct conn *c, uint64_t now, unsigned max)
{
	if (c->state != C_OPEN || !w->running)
		return;
	unsigned room = c->inflight < c->depth ? c->depth - c->inflight : 0;
	unsigned k = 0;
	if (room > max)
		room = max;
	for (; k < room; k++) {
		uint64_t t = now;
		if (w->open_loop) {
			t = sched_peek(&w->sch);
			if (t > now || t >= w->end)
				break;
		}
		if (w->limited && t >= w->measure) {
			if (!w->remaining)
				break;
			w->remaining--;
		}
		if (w->open_loop)
			sched_take(&w->sch);
		push_request(w, c, t, now);
	}
	if (k) {
		w->inflight += k;
		c->unsent += k;
		if (conn_flush(w, c) < 0)
			return;
	}
	if (w->open_loop && c->inflight < c->depth)
		freeq_push(w, c);
}

static void conn_opened(struct worker *w, struct conn *c, uint64_t now)
{
	w->nconnecting--;
	if (c->tls && now >= w->measure) {
		w->st.tls_handshakes++;
		w->st.tls_resumed += (uint64_t)tls_resumed(c->tls);
	}
	c->state = C_OPEN;
	if (now >= w->measure)
		w->st.connects++;
	resp_reset(&c->rp, w->tg->req.is_head);
	c->depth = w->no_keepalive ? 1 : w->cap;
	if (c->requeue) {
		/* Requests the server announced it would not answer (it sent
		 * Connection: close first) go out again on the new socket with
		 * their original intended times. */
		unsigned i = c->head;
		for (unsigned k = 0; k < c->requeue; k++) {
			c->sent[i] = now;
			if (++i == w->cap)
				i = 0;
		}
		c->inflight = c->unsent = c->requeue;
		w->inflight += c->requeue;
		w->requeued -= c->requeue;
		c->requeue = 0;
		if (conn_flush(w, c) < 0)
			return;
	}
	conn_fill(w, c, now, UINT_MAX);
}

/* The response at the head of the ring is complete. Returns -1 if the
 * connection was closed. */
static int on_response(struct worker *w, struct conn *c, uint64_t now)
{
	unsigned i = c->head;
	uint64_t intended = c->intended[i], sent = c->sent[i];
	if (++c->head == w->cap)
		c->head = 0;
	c->inflight--;
	w->inflight--;
	c->served++;
	if (intended < w->measure) {
		/* warmup request: not counted */
	} else if (now >= w->end) {
		w->st.unfinished++; /* completed after the window closed */
	} else {
		uint64_t lat = now > intended ? now - intended : 0;
		hist_record(&w->st.lat, lat);
		if (w->open_loop)
			hist_record(&w->st.lat_raw, now > sent ? now - sent : 0);
		stats_status(&w->st, c->rp.status);
		w->st.responses++;
		if (w->iv) {
			hist_record(w->iv, lat);
			w->iv_req++;
		}
	}
	if (c->unsent > c->inflight) {
		/* Answered before we finished sending it (an early error
		 * reply): the byte stream is out of step, start afresh. */
		conn_fail(w, c, ERR_CLOSED, 0, now);
		return -1;
	}
	if (!c->rp.keepalive) {
		/* A server that closes after its first response (HTTP/1.0,
		 * Connection: close) gets one request per connection from now
		 * on; one that closes after many (nginx keepalive_requests) keeps
		 * being pipelined. */
		if (c->served == 1)
			w->no_keepalive = 1;
		c->requeue = c->inflight;
		w->requeued += c->requeue;
		if (c->requeue && now >= w->measure)
			w->st.retried += c->requeue;
		conn_close(w, c, now);
		return -1;
	}
	resp_reset(&c->rp, w->tg->req.is_head);
	return 0;
}

static int conn_parse(struct worker *w, struct conn *c, const char *buf, size_t len,
		      uint64_t now)
{
	while (len) {
		int done;
		if (c->inflight == 0) {
			conn_fail(w, c, ERR_PARSE, 0, now); /* unsolicited bytes */
			return -1;
		}
		ssize_t used = resp_feed(&c->rp, buf, len, &done);
		if (used < 0) {
			conn_fail(w, c, ERR_PARSE, 0, now);
			return -1;
		}
		buf += used;
		len -= (size_t)used;
		if (done && on_response(w, c, now) < 0)
			return -1;
	}
	return 0;
}

static void conn_eof(struct worker *w, struct conn *c, uint64_t now)
{
	int r = resp_eof(&c->rp);
	if (r == 1 && c->inflight) {
		on_response(w, c, now); /* body delimited by close; closes c */
		return;
	}
	if (r < 0 || c->inflight || c->requeue) {
		conn_fail(w, c, ERR_CLOSED, 0, now);
		return;
	}
	conn_close(w, c, now); /* idle keep-alive connection closed: fine */
}

/* Read until the socket is drained.  epoll(7): for a stream socket a
 * short read means the receive queue is empty, so with edge triggering we
 * can skip the extra recv() that would only return EAGAIN -- unless the
 * peer also hung up, whose edge may already have been consumed. */
static int conn_read(struct worker *w, struct conn *c, uint64_t now, uint32_t events)
{
	/* TLS: a short SSL_read says nothing about the socket (OpenSSL may
	 * hold more records); tls_drained() knows. */
	int drain = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
	for (;;) {
		ssize_t n = wire_recv(c, w->rbuf, RBUF_SIZE);
		if (n > 0) {
			if (now >= w->measure)
				w->st.bytes_in += (uint64_t)n;
			if (conn_parse(w, c, w->rbuf, (size_t)n, now) < 0)
				return -1;
			if (!drain && (c->tls ? tls_drained(c->tls) : (size_t)n < RBUF_SIZE))
				break;
			continue;
		}
		if (n == 0) {
			conn_eof(w, c, now);
			return -1;
		}
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			break;
		conn_fail(w, c, ERR_READ, (int)-n, now);
		return -1;
	}
	if (c->state != C_OPEN)
		return -1;
	if (w->open_loop) {
		conn_fill(w, c, now, UINT_MAX); /* whatever is due, now */
	} else if (c->inflight < c->depth && c->depth - c->inflight >= (c->depth + 1) / 2 &&
		   !c->in_refill) {
		/* Closed loop: replace what completed once the whole epoll batch
		 * has been read, so the server gets this batch's requests as one
		 * burst.  With pipelining, wait until half the window is free:
		 * each send() then carries at least depth/2 requests. */
		c->in_refill = 1;
		w->refill[w->nrefill++] = c;
	}
	return 0;
}

/* https: start or continue the handshake.  Edge-triggered epoll is
 * enough: "would block" means OpenSSL read or wrote until the socket said
 * so, and the next edge brings us back.  Returns 0 once open. */
static int conn_handshake(struct worker *w, struct conn *c, uint64_t now)
{
	int r;
	if (c->state == C_CONNECTING) {
		r = tls_conn_new(w->tg->tls, c->fd, &w->tls_cache, &c->tls);
		if (r < 0) {
			conn_fail(w, c, ERR_TLS, -r, now);
			return -1;
		}
		c->state = C_HANDSHAKE;
	}
	r = tls_handshake(c->tls);
	if (r == -EAGAIN)
		return -1;
	if (r < 0) {
		conn_fail(w, c, ERR_TLS, -r, now);
		return -1;
	}
	conn_opened(w, c, now);
	return 0;
}

void conn_event(struct worker *w, struct conn *c, uint32_t events)
{
	uint64_t now = now_ns();
	if (c->state == C_CONNECTING) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			conn_fail(w, c, ERR_CONNECT, err, now);
			return;
		}
		if (w->tg->tls) {
			if (conn_handshake(w, c, now) < 0)
				return;
		} else {
			conn_opened(w, c, now);
		}
		events &= ~(uint32_t)EPOLLOUT; /* opening already flushed */
	} else if (c->state == C_HANDSHAKE) {
		if (conn_handshake(w, c, now) < 0)
			return;
		events &= ~(uint32_t)EPOLLOUT;
	}
	if (c->state != C_OPEN)
		return;
	if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
	    conn_read(w, c, now, events) < 0)
		return;
	if ((events & EPOLLOUT) && c->unsent)
		conn_flush(w, c);
}

void conn_refill_all(struct worker *w)
{
	uint64_t now = now_ns();
	for (unsigned i = 0; i < w->nrefill; i++) {
		struct conn *c = w->refill[i];
		c->in_refill = 0;
		conn_fill(w, c, now, UINT_MAX); /* no-op if c closed meanwhile */
	}
	w->nrefill = 0;
}

/* End of run: whatever is still in flight is reported as unfinished. */
void conn_shutdown(struct worker *w, struct conn *c)
{
	unsigned i = c->head;
	for (unsigned k = 0; k < c->inflight + c->requeue; k++) {
		if (c->intended[i] >= w->measure)
			w->st.unfinished++;
		if (++i == w->cap)
			i = 0;
	}
	tls_conn_free(c->tls);
	c->tls = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = C_WAIT;
}
