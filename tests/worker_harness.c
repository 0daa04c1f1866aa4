/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#include "core/base/clock.h"
#include "tests/worker_harness.h"
#include "workers/handler.h"

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct wh *wh_start(const struct wh_opts *o)
{
	static const struct wh_opts dflt = { 0 };
	struct wh *h;
	unsigned nw;

	if (!o)
		o = &dflt;
	nw = o->stats_workers ? o->stats_workers : 1;
	h = aligned_alloc(64, sizeof(*h));
	ck_assert_ptr_nonnull(h);
	memset(h, 0, sizeof(*h));
	for (unsigned i = 0; i < WH_CONNS; i++)
		h->client[i] = -1;
	ck_assert_int_eq(conn_table_init(&h->conns, WH_CONNS, 4096), 0);
	ck_assert_int_eq(queue_doorbell_init(&h->bell), 0);
	h->rt = calloc(1, sizeof(*h->rt));
	ck_assert_ptr_nonnull(h->rt);
	h->rt->send_timeout_ms = o->send_timeout_ms;
	h->rt->spin_ns = o->spin_ns;
	h->rt->generation = 1;
	h->rt->access_log = o->access_log;
	h->rt->readers = &h->rt;
	ck_assert_int_eq(alog_init(&h->alog, 1), 0);
	counters_init(&h->acc_st, "test-acc", -1, 0);
	h->ring_hw = calloc(nw, sizeof(*h->ring_hw));
	h->reg_workers = calloc(nw, sizeof(*h->reg_workers));
	h->reg_rings = calloc(nw, sizeof(*h->reg_rings));
	ck_assert(h->ring_hw && h->reg_workers && h->reg_rings);
	for (unsigned i = 0; i < nw; i++) {
		h->reg_workers[i] = &h->w.cnt;
		h->reg_rings[i] = &h->w.rq;
	}
	h->reg_acceptors[0] = &h->acc_st;
	h->reg_accs[0] = &h->acc;
	h->tm = (struct telemetry){
		.nworkers = nw, .nshards = 1, .acceptors = h->reg_acceptors,
		.accs = h->reg_accs, .workers = h->reg_workers, .rings = h->reg_rings,
		.ring_high_water = h->ring_hw, .alog = &h->alog,
		.start_ns = clock_mono_ns(),
	};

	struct worker_cfg wc = {
		.ring_size = o->ring_size ? o->ring_size : 64,
		.note_ring_size = 64,            /* >= 2 per slot + 2 */
		.max_unsent = o->max_unsent ? o->max_unsent : 1u << 20,
		.cpu = -1,
		.spin = o->spin_ns != 0,
		.index = 1,                      /* the acceptor is thread 0 */
	};
	ck_assert_int_eq(worker_init(&h->w, 0, &wc, &h->conns, &h->bell, &h->tm,
				     (struct runtime *const *)&h->rt,
				     &h->alog.rings[0], &h->past_deadline), 0);
	if (!o->defer_start)
		wh_run(h);
	return h;
}

void wh_run(struct wh *h)
{
	ck_assert_int_eq(worker_start(&h->w), 0);
	h->started = true;
}

void wh_join(struct wh *h)
{
	struct http_req stop = { .kind = REQ_STOP };

	if (!h->started)
		return;
	wh_push(h, &stop);
	worker_join(&h->w);
	h->started = false;
}

void wh_free(struct wh *h)
{
	wh_join(h);
	worker_destroy(&h->w);
	for (unsigned i = 0; i < WH_CONNS; i++)
		if (h->client[i] >= 0)
			close(h->client[i]);
	alog_destroy(&h->alog);
	queue_doorbell_destroy(&h->bell);
	conn_table_destroy(&h->conns);
	free(h->rt);
	free(h->ring_hw);
	free(h->reg_workers);
	free(h->reg_rings);
	free(h);
}

uint32_t wh_open(struct wh *h, int sndbuf, int rcvbuf)
{
	int sv[2];
	uint32_t slot = conn_table_get(&h->conns);
	struct conn *c;

	ck_assert_uint_ne(slot, UINT32_MAX);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	if (sndbuf > 0)
		ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
					    sizeof(sndbuf)), 0);
	if (rcvbuf > 0)
		ck_assert_int_eq(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &rcvbuf,
					    sizeof(rcvbuf)), 0);
	/* As conn_open() does; the slot is free, the worker does not look. */
	c = &h->conns.slots[slot];
	memset(c, 0, sizeof(*c));
	c->slot = slot;
	c->gen = ++h->gen[slot];
	c->fd = sv[0];
	c->peer.sin6_family = AF_INET6;
	c->peer.sin6_addr.s6_addr[15] = 1;              /* ::1 */
	c->state = CONN_OPEN;
	c->out_head = c->out_last = -1;
	c->wait_prev = c->wait_next = c->ready_next = UINT32_MAX;
	h->client[slot] = sv[1];
	return slot;
}

void wh_release(struct wh *h, uint32_t slot)
{
	struct conn *c = &h->conns.slots[slot];

	c->state = CONN_FREE;
	c->fd = -1;
	conn_table_put(&h->conns, slot, 0);
	if (h->client[slot] >= 0)
		close(h->client[slot]);
	h->client[slot] = -1;
}

struct http_req wh_req(const struct wh *h, uint32_t slot, enum http_route route,
		       uint64_t id, unsigned flags)
{
	struct http_req r;

	memset(&r, 0, sizeof(r));
	r.slot = slot;
	r.gen = h->gen[slot];
	r.kind = REQ_HTTP;
	r.route = (uint8_t)route;
	r.flags = (uint8_t)flags;
	r.method = (uint8_t)(((flags & REQF_HEAD) ? HTTP_HEAD : HTTP_GET) + 1);
	r.id = id;
	r.t_parsed_ns = clock_mono_ns();
	return r;
}

struct http_req wh_close_req(const struct wh *h, uint32_t slot)
{
	struct http_req r;

	memset(&r, 0, sizeof(r));
	r.slot = slot;
	r.gen = h->gen[slot];
	r.kind = REQ_CLOSE;
	return r;
}

void wh_wrap_heap(struct wh *h, struct http_req *r)
{
	ck_assert(heap_request_wrap(&h->acc_st, r));
}

void wh_text(struct wh *h, struct http_req *r, const char *target,
	     const char *referer, const char *ua)
{
	static char buf[HTTP_LOG_TARGET_MAX + HTTP_LOG_REFERER_MAX + HTTP_LOG_UA_MAX + 64];
	const char *f[HTTP_LOG_FIELDS] = { target, referer, ua };
	struct http_span span[HTTP_LOG_FIELDS];
	long deadline = now_ms() + 30000;
	size_t at = 0;

	/* Spans of one buffer, as the framer's are of its read buffer. */
	for (unsigned k = 0; k < HTTP_LOG_FIELDS; k++) {
		size_t n = f[k] ? strlen(f[k]) : 0;

		ck_assert_uint_le(at + n, sizeof(buf));
		memcpy(buf + at, f[k] ? f[k] : "", n);
		span[k] = (struct http_span){ (uint32_t)at, (uint32_t)n };
		at += n;
	}
	while (!(r->log_len = queue_text_put(&h->w.text, buf, span))) {
		ck_assert_msg(h->started, "the text ring is full and the worker not started");
		ck_assert_msg(now_ms() < deadline, "the worker does not take its text");
		usleep(100);
	}
}

void wh_push(struct wh *h, const struct http_req *r)
{
	struct conn *c = &h->conns.slots[r->slot];
	long deadline = now_ms() + 30000;

	/* Counted before the push, as dispatch() does: the worker may answer
	 * before it returns. */
	if (r->kind == REQ_HTTP)
		ck_pr_inc_uint(&c->inflight);
	while (!queue_req_push(&h->w.rq, r)) {
		ck_assert_msg(h->started, "the ring is full and the worker not started");
		ck_assert_msg(now_ms() < deadline, "the worker does not drain its ring");
		queue_fence();
		queue_req_wake(&h->w.rq);
		usleep(100);
	}
	queue_fence();
	queue_req_wake(&h->w.rq);
}

void wh_push_n(struct wh *h, const struct http_req *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		wh_push(h, &r[i]);
}

bool wh_note(struct wh *h, struct queue_note *out, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	for (;;) {
		queue_doorbell_arm(&h->bell);
		if (queue_note_pop(&h->w.notes, out))
			return true;
		long left = deadline - now_ms();
		struct pollfd p = { h->bell.fd, POLLIN, 0 };

		if (left <= 0)
			return false;
		poll(&p, 1, (int)(left < 100 ? left : 100));
	}
}

bool wh_wait_closed(struct wh *h, uint32_t slot, int timeout_ms)
{
	struct queue_note n;

	while (wh_note(h, &n, timeout_ms)) {
		ck_assert_uint_eq(n.slot, slot);
		ck_assert_uint_eq(n.gen, h->gen[slot]);
		if (n.kind == NOTE_CLOSED)
			return true;
		ck_assert_uint_eq(n.kind, NOTE_RESUME);
	}
	return false;
}

uint64_t wh_wait_stat(const uint64_t *field, uint64_t v, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	uint64_t cur;

	while ((cur = __atomic_load_n(field, __ATOMIC_RELAXED)) < v && now_ms() < deadline)
		usleep(1000);
	return cur;
}
