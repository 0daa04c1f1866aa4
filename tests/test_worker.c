/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for workers/worker.c: a real worker thread fed descriptors
 * through its ring (tests/worker_harness.c plays the acceptor), answering
 * over socketpairs the test reads from. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http/route.h"
#include "tests/covdump.h"
#include "tests/testlib.h"
#include "tests/worker_harness.h"
#include "tests/wrap.h"

#define WAIT_MS 20000      /* hang guards, never timing assertions */

static struct tl_reader rd;
static struct tl_resp resp;

static uint64_t body_id(const struct tl_resp *r)
{
	unsigned long long id;

	ck_assert_msg(sscanf(r->body, "{\"id\":%llu,", &id) == 1, "body '%s'", r->body);
	return id;
}

static void read_resp(int fd, bool head_only)
{
	if (rd.fd != fd)
		tl_reader_init(&rd, fd);
	ck_assert_msg(tl_read_resp(&rd, &resp, head_only, WAIT_MS) == 0, "no answer");
}

static uint32_t inflight(struct wh *h, uint32_t s)
{
	return ck_pr_load_uint(&h->conns.slots[s].inflight);
}

/* REQ_CLOSE, then the client sees EOF and the acceptor NOTE_CLOSED. */
static void close_and_check(struct wh *h, uint32_t s)
{
	struct http_req c = wh_close_req(h, s);

	wh_push(h, &c);
	if (h->client[s] >= 0) {
		if (rd.fd != h->client[s])
			tl_reader_init(&rd, h->client[s]);
		ck_assert_msg(rd.off == rd.len, "bytes after the last answer");
		ck_assert(tl_wait_eof(&rd, WAIT_MS));
	}
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	ck_assert_uint_eq(inflight(h, s), 0);
}

START_TEST(answers_in_order)
{
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r[150];

	for (unsigned i = 0; i < 150; i++)
		r[i] = wh_req(h, s, ROUTE_METRIC_STACK, i, i % 10 == 3 ? REQF_HEAD : 0);
	r[50] = wh_req(h, s, ROUTE_HEALTHZ, 0, 0);
	r[60] = wh_req(h, s, ROUTE_NONE, 0, 0);
	r[60].err = HERR_NOT_FOUND;
	r[70] = wh_req(h, s, ROUTE_STATS_VALUE, 70, 0);
	wh_push_n(h, r, 150);
	for (unsigned i = 0; i < 150; i++) {
		read_resp(h->client[s], r[i].flags & REQF_HEAD);
		if (i == 50) {
			ck_assert_int_eq(resp.status, 200);
			ck_assert_str_eq(resp.body, "ok\n");
		} else if (i == 60) {
			ck_assert_int_eq(resp.status, 404);
		} else if (r[i].flags & REQF_HEAD) {
			ck_assert_int_eq(resp.status, 200);
			ck_assert_int_gt(resp.content_length, 0);
		} else {
			ck_assert_int_eq(resp.status, 200);
			ck_assert_uint_eq(body_id(&resp), i);
		}
		ck_assert(!resp.conn_close);
	}
	close_and_check(h, s);
	ck_assert_uint_eq(CNT_GET(h->w.cnt.route[ROUTE_METRIC_STACK].requests), 147);
	ck_assert_uint_eq(CNT_GET(h->w.cnt.route[ROUTE_METRIC_STACK].status[SS_200]), 147);
	wh_stop(h);
}
END_TEST

/* A connection that closes with its last answer (REQF_CLOSE). */
START_TEST(close_flag_closes_after_the_answer)
{
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r[3] = {
		wh_req(h, s, ROUTE_METRIC_STACK, 1, 0),
		wh_req(h, s, ROUTE_METRIC_STACK, 2, REQF_CLOSE),
	};

	wh_push_n(h, r, 2);
	read_resp(h->client[s], false);
	ck_assert(!resp.conn_close);
	read_resp(h->client[s], false);
	ck_assert(resp.conn_close);
	ck_assert_uint_eq(body_id(&resp), 2);
	ck_assert(tl_wait_eof(&rd, WAIT_MS));
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	wh_stop(h);
}
END_TEST

/* The client reads nothing for a while: the socket takes part of the
 * answers, the rest waits in the connection's tail and leaves, in order,
 * as the client reads. */
START_TEST(partial_write_parks_and_resumes)
{
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 1, 1);
	enum { N = 400 };
	static struct http_req r[N + 1];

	for (unsigned i = 0; i < N; i++)
		r[i] = wh_req(h, s, ROUTE_STATS_VALUE, i, 0);
	r[N] = wh_close_req(h, s);
	wh_push_n(h, r, N);
	ck_assert_uint_ge(wh_wait_stat(&h->w.cnt.w.partial_writes, 1, WAIT_MS), 1);
	/* REQ_CLOSE while answers wait for the client: it closes once the
	 * last of them has left. */
	wh_push(h, &r[N]);
	for (unsigned i = 0; i < N; i++) {
		read_resp(h->client[s], false);
		ck_assert_int_eq(resp.status, 200);
		ck_assert_uint_eq(body_id(&resp), i);
	}
	ck_assert(tl_wait_eof(&rd, WAIT_MS));
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	ck_assert_uint_eq(inflight(h, s), 0);
	wh_stop(h);
}
END_TEST

/* Over --max-unsent-bytes the worker holds descriptors uncomputed, then
 * serves them in order as the client reads; a REQ_CLOSE held behind them
 * still closes, after the last answer. */
START_TEST(max_unsent_holds_then_releases)
{
	struct wh_opts o = { .max_unsent = 4096 };
	struct wh *h = wh_start(&o);
	uint32_t s = wh_open(h, 1, 1);
	enum { N = 500 };
	static struct http_req r[N + 1];

	for (unsigned i = 0; i < N; i++)
		r[i] = wh_req(h, s, ROUTE_METRIC_STACK, i, 0);
	r[N] = wh_close_req(h, s);
	wh_push_n(h, r, N + 1);
	ck_assert_uint_ge(wh_wait_stat(&h->w.cnt.w.held, 1, WAIT_MS), 1);
	for (unsigned i = 0; i < N; i++) {
		read_resp(h->client[s], false);
		ck_assert_uint_eq(body_id(&resp), i);
	}
	ck_assert(tl_wait_eof(&rd, WAIT_MS));
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	ck_assert_uint_eq(inflight(h, s), 0);
	wh_stop(h);
}
END_TEST

/* The acceptor saw a reset (`gone`): queued requests are dropped without
 * being computed; nothing is written. */
START_TEST(dead_peer_requests_dropped)
{
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r[10];

	char b;

	for (unsigned i = 0; i < 10; i++)
		r[i] = wh_req(h, s, ROUTE_METRIC_STACK, i, 0);
	r[4] = wh_req(h, s, ROUTE_METRIC_HEAP, 4, 0);
	wh_wrap_heap(h, &r[4]);
	ck_pr_store_uint(&h->conns.slots[s].gone, 1);
	wh_push_n(h, r, 10);
	ck_assert_uint_eq(wh_wait_stat(&h->w.cnt.w.dropped, 10, WAIT_MS), 10);
	r[0] = wh_close_req(h, s);
	wh_push(h, &r[0]);
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	ck_assert_uint_eq(inflight(h, s), 0);
	/* Not a byte was written: the client reads EOF at once. */
	ck_assert_int_eq(recv(h->client[s], &b, 1, MSG_DONTWAIT), 0);
	ck_assert_uint_eq(CNT_GET(h->w.cnt.route[ROUTE_METRIC_STACK].requests), 0);
	/* The dropped heap request's object was freed. */
	ck_assert_uint_eq(CNT_GET(h->w.cnt.route[ROUTE_METRIC_HEAP].frees), 1);
	wh_stop(h);
}
END_TEST

/* A dropped request that was the connection's last (Connection: close)
 * still closes it. */
START_TEST(dropped_last_request_closes)
{
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r[2] = { wh_req(h, s, ROUTE_METRIC_STACK, 1, 0),
				 wh_req(h, s, ROUTE_METRIC_STACK, 2, REQF_CLOSE) };

	ck_pr_store_uint(&h->conns.slots[s].gone, 1);
	wh_push_n(h, r, 2);
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	ck_assert_uint_eq(CNT_GET(h->w.cnt.w.dropped), 2);
	ck_assert_uint_eq(inflight(h, s), 0);
	wh_stop(h);
}
END_TEST

/* A heavy request first pushes out what is queued for its connection; if
 * that write finds the peer gone, the heavy one is dropped uncomputed -
 * and, being the last, closes the connection. */
START_TEST(heavy_request_after_a_dead_peer)
{
	struct wh_opts o = { .defer_start = true };
	struct wh *h = wh_start(&o);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r[2] = { wh_req(h, s, ROUTE_METRIC_STACK, 1, 0),
				 wh_req(h, s, ROUTE_METRIC_STACK, 2, REQF_HEAVY | REQF_CLOSE) };

	r[1].work = HTTP_WORK_MAX;                /* seconds, were it computed */
	close(h->client[s]);
	h->client[s] = -1;
	wh_push_n(h, r, 2);
	wh_run(h);
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	ck_assert_uint_eq(CNT_GET(h->w.cnt.w.write_errors), 1);
	ck_assert_uint_eq(CNT_GET(h->w.cnt.w.dropped), 1);
	ck_assert_uint_eq(CNT_GET(h->w.cnt.route[ROUTE_METRIC_STACK].requests), 1);
	ck_assert_uint_eq(inflight(h, s), 0);
	wh_stop(h);
}
END_TEST

/* The client closed: the first write fails, the connection is dead, and
 * what follows is dropped. */
START_TEST(write_error_kills_the_connection)
{
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r = wh_req(h, s, ROUTE_METRIC_STACK, 1, 0);

	close(h->client[s]);
	h->client[s] = -1;
	wh_push(h, &r);
	ck_assert_uint_eq(wh_wait_stat(&h->w.cnt.w.write_errors, 1, WAIT_MS), 1);
	for (unsigned i = 0; i < 5; i++)
		wh_push(h, &r);
	ck_assert_uint_eq(wh_wait_stat(&h->w.cnt.w.dropped, 5, WAIT_MS), 5);
	close_and_check(h, s);
	ck_assert_uint_eq(CNT_GET(h->w.cnt.w.write_errors), 1);
	wh_stop(h);
}
END_TEST

/* Past the shutdown timeout: the connection's next request is answered
 * 503 with Connection: close, the rest are dropped. */
START_TEST(past_deadline_503_and_close)
{
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r[4] = {
		wh_req(h, s, ROUTE_METRIC_HEAP, 1, 0),
		wh_req(h, s, ROUTE_METRIC_STACK, 2, 0),
		wh_req(h, s, ROUTE_METRIC_STACK, 3, 0),
	};
	struct http_req cont = r[1];

	cont.kind = REQ_CONTINUE;
	wh_wrap_heap(h, &r[0]);
	ck_pr_store_uint(&h->past_deadline, 1);
	wh_push_n(h, r, 3);
	wh_push(h, &cont);
	read_resp(h->client[s], false);
	ck_assert_int_eq(resp.status, 503);
	ck_assert(resp.conn_close);
	ck_assert_ptr_nonnull(strstr(resp.body, "\"error\":\"shutting down\""));
	close_and_check(h, s);
	ck_assert_uint_eq(CNT_GET(h->w.cnt.w.shutdown_refused), 1);
	ck_assert_uint_eq(CNT_GET(h->w.cnt.w.dropped), 2);
	/* The refused heap request's object was freed, not computed. */
	ck_assert_uint_eq(CNT_GET(h->w.cnt.route[ROUTE_METRIC_HEAP].frees), 1);
	ck_assert_uint_eq(CNT_GET(h->w.cnt.route[ROUTE_METRIC_HEAP].allocs), 0);
	wh_stop(h);
}
END_TEST

/* A client that stops reading for longer than --send-timeout: the
 * connection is shut down (the client reads what was sent, then EOF). */
START_TEST(send_timeout_closes)
{
	struct wh_opts o = { .send_timeout_ms = 50 };
	struct wh *h = wh_start(&o);
	uint32_t s = wh_open(h, 1, 1);
	enum { N = 300 };
	static struct http_req r[N];

	for (unsigned i = 0; i < N; i++)
		r[i] = wh_req(h, s, ROUTE_STATS_VALUE, i, 0);
	wh_push_n(h, r, N);
	ck_assert_uint_eq(wh_wait_stat(&h->w.cnt.w.send_timeouts, 1, WAIT_MS), 1);
	tl_reader_init(&rd, h->client[s]);
	ck_assert(tl_wait_eof(&rd, WAIT_MS));
	struct http_req c = wh_close_req(h, s);
	wh_push(h, &c);
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	ck_assert_uint_eq(inflight(h, s), 0);
	wh_stop(h);
}
END_TEST

static void expect_stats_answer(int status, const char *ctype, bool closes)
{
	char v[128];

	ck_assert_int_eq(resp.status, status);
	ck_assert_ptr_nonnull(tl_header(&resp, "Content-Type", v, sizeof(v)));
	ck_assert_str_eq(v, ctype);
	ck_assert(resp.conn_close == closes);
}

START_TEST(stats_and_metrics)
{
	struct wh_opts o = { .defer_start = true };     /* one batch: the slab
							 * fills and is flushed */
	struct wh *h = wh_start(&o);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r[4] = {
		wh_req(h, s, ROUTE_STATS, 0, 0),
		wh_req(h, s, ROUTE_METRICS, 0, 0),
		wh_req(h, s, ROUTE_STATS, 0, REQF_HEAD),
		wh_req(h, s, ROUTE_METRICS, 0, REQF_CLOSE),
	};

	wh_push_n(h, r, 4);
	wh_run(h);
	read_resp(h->client[s], false);
	expect_stats_answer(200, "application/json", false);
	ck_assert(strncmp(resp.body, "{\"uptime_s\":", 12) == 0);
	ck_assert(resp.body[resp.body_len - 1] == '\n');
	read_resp(h->client[s], false);
	expect_stats_answer(200, "text/plain; version=0.0.4; charset=utf-8", false);
	ck_assert(strncmp(resp.body, "# HELP metricd_", 15) == 0);
	read_resp(h->client[s], true);
	expect_stats_answer(200, "application/json", false);
	ck_assert_int_gt(resp.content_length, 0);
	read_resp(h->client[s], false);
	expect_stats_answer(200, "text/plain; version=0.0.4; charset=utf-8", true);
	ck_assert(tl_wait_eof(&rd, WAIT_MS));
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	wh_stop(h);
}
END_TEST

/* /stats and /metrics that do not fit WORKER_STATS_MAX (a registry of
 * 4000 workers): 500 with a JSON error, the connection still served. */
START_TEST(stats_too_big_500)
{
	struct wh_opts o = { .stats_workers = 4000 };
	struct wh *h = wh_start(&o);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r[3] = {
		wh_req(h, s, ROUTE_STATS, 0, 0),
		wh_req(h, s, ROUTE_METRICS, 0, 0),
		wh_req(h, s, ROUTE_METRIC_STACK, 9, REQF_CLOSE),
	};

	wh_push_n(h, r, 3);
	for (int i = 0; i < 2; i++) {
		read_resp(h->client[s], false);
		expect_stats_answer(500, "application/json", false);
		ck_assert_str_eq(resp.body, "{\"error\":\"statistics do not fit the buffer\"}");
	}
	read_resp(h->client[s], false);
	ck_assert_uint_eq(body_id(&resp), 9);
	ck_assert(tl_wait_eof(&rd, WAIT_MS));
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	ck_assert_uint_eq(CNT_GET(h->w.cnt.route[ROUTE_STATS].status[SS_500]), 1);
	ck_assert_uint_eq(CNT_GET(h->w.cnt.route[ROUTE_METRICS].status[SS_500]), 1);
	wh_stop(h);
}
END_TEST

/* 100 Continue is written where the framer put it, before the answer. */
START_TEST(continue_before_the_answer)
{
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r[2] = { wh_req(h, s, ROUTE_METRIC_STACK, 5, 0),
				 wh_req(h, s, ROUTE_METRIC_STACK, 5, 0) };

	r[0].kind = REQ_CONTINUE;
	wh_push_n(h, r, 2);
	read_resp(h->client[s], false);
	ck_assert_int_eq(resp.status, 100);
	ck_assert_str_eq(resp.head, "HTTP/1.1 100 Continue\r\n\r\n");
	read_resp(h->client[s], false);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_uint_eq(body_id(&resp), 5);
	close_and_check(h, s);
	wh_stop(h);
}
END_TEST

/* A heavy request after light ones in the same batch: the light answers
 * are not held back behind it, and order is kept. */
START_TEST(heavy_request_in_a_batch)
{
	struct wh_opts o = { .defer_start = true };
	struct wh *h = wh_start(&o);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r[4];

	for (unsigned i = 0; i < 4; i++)
		r[i] = wh_req(h, s, ROUTE_METRIC_STACK, i, 0);
	r[2].work = HTTP_WORK_HEAVY;
	r[2].flags |= REQF_HEAVY;
	wh_push_n(h, r, 4);
	wh_run(h);
	for (unsigned i = 0; i < 4; i++) {
		read_resp(h->client[s], false);
		ck_assert_uint_eq(body_id(&resp), i);
	}
	close_and_check(h, s);
	wh_stop(h);
}
END_TEST

/* Waits (a hang guard) until the worker's access-log ring holds want
 * lines; returns the ring's text, which holds exactly that many. */
static const char *log_lines(struct wh *h, unsigned want)
{
	struct alog_ring *ring = &h->alog.rings[0];
	unsigned n = 0;
	uint64_t tail = 0;

	for (int tries = 0; n < want && tries < 4000; tries++) {
		tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
		n = 0;
		for (uint64_t i = 0; i < tail; i++)
			n += ring->buf[i] == '\n';
		if (n < want)
			usleep(5000);
	}
	ck_assert_uint_eq(n, want);
	ck_assert_uint_lt(tail, ALOG_RING_SIZE);
	return ring->buf;
}

/* Line i (from 0) of text, without its '\n', into out. */
static void nth_line(const char *text, unsigned i, char *out, size_t cap)
{
	const char *p = text, *e;

	for (; i; i--)
		p = strchr(p, '\n') + 1;
	e = strchr(p, '\n');
	ck_assert_ptr_nonnull(e);
	snprintf(out, cap, "%.*s", (int)(e - p), p);
}

/* One access-log line per answered request, in the ring of this worker:
 * its method and protocol from the descriptor, its target, Referer and
 * User-Agent from the text that came with it ("-" where none did). */
START_TEST(access_log_lines)
{
	struct wh_opts o = { .access_log = true };
	struct wh *h = wh_start(&o);
	uint32_t s6 = wh_open(h, 0, 0), s4 = wh_open(h, 0, 0);
	struct sockaddr_in *sin = (struct sockaddr_in *)&h->conns.slots[s4].peer;
	struct http_req r[4] = {
		wh_req(h, s6, ROUTE_METRIC_STACK, 1, 0),
		wh_req(h, s6, ROUTE_HEALTHZ, 0, REQF_HEAD | REQF_HTTP10),
		wh_req(h, s6, ROUTE_METRIC_STACK, 0, 0),
		wh_req(h, s4, ROUTE_STATS_VALUE, 3, 0),
	};
	long cl[4];
	char line[4][512];

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0x7f000001);
	r[2].err = HERR_METHOD;
	r[2].method = HTTP_DELETE + 1;
	wh_text(h, &r[0], "/metric-stack?id=1", "http://example/", "t/1.0");
	wh_push(h, &r[0]);
	wh_push(h, &r[1]);                       /* no text came with it */
	wh_text(h, &r[2], "/metric-stack", NULL, "t/2.0");
	wh_push(h, &r[2]);
	wh_text(h, &r[3], "/stats-value?id=3", NULL, NULL);
	wh_push(h, &r[3]);
	for (int i = 0; i < 4; i++) {
		read_resp(h->client[i < 3 ? s6 : s4], r[i].flags & REQF_HEAD);
		cl[i] = resp.content_length;
	}
	/* The lines are written after the answers leave: wait for four. */
	const char *text = log_lines(h, 4);

	for (unsigned i = 0; i < 4; i++)
		nth_line(text, i, line[i], sizeof(line[i]));
	/* Lines of one batch are in request order; the batches' order is not
	 * fixed across connections: find each by its peer and request. */
	static const struct { const char *peer, *req, *tail; int status; int k; } want[4] = {
		{ "::1", "\"GET /metric-stack?id=1 HTTP/1.1\"", "\"http://example/\" \"t/1.0\"", 200, 0 },
		{ "::1", "\"HEAD - HTTP/1.0\"", "\"-\" \"-\"", 200, 1 },
		{ "::1", "\"DELETE /metric-stack HTTP/1.1\"", "\"-\" \"t/2.0\"", 405, 2 },
		{ "127.0.0.1", "\"GET /stats-value?id=3 HTTP/1.1\"", "\"-\" \"-\"", 200, 3 },
	};
	for (int k = 0; k < 4; k++) {
		bool found = false;

		for (int i = 0; i < 4 && !found; i++) {
			char host[64], date[64], req[96], frac[8];
			int status, len = 0, end = 0;
			unsigned long bytes, sec;
			const char *tail;

			if (!strstr(line[i], want[k].req))
				continue;
			ck_assert_msg(sscanf(line[i], "%63s - - [%63[^]]] \"%95[^\"]\" %d %lu %n",
					     host, date, req, &status, &bytes, &len) == 5,
				      "line '%s'", line[i]);
			ck_assert_str_eq(host, want[k].peer);
			ck_assert_int_eq(status, want[k].status);
			ck_assert_uint_eq(bytes, (unsigned long)cl[want[k].k]);
			ck_assert(strlen(date) == 26 && strcmp(date + 20, " +0000") == 0);
			tail = line[i] + len;
			ck_assert_msg(strncmp(tail, want[k].tail, strlen(want[k].tail)) == 0,
				      "'%s'", tail);
			tail += strlen(want[k].tail);
			/* seconds, with microseconds */
			ck_assert_msg(sscanf(tail, " %lu.%7[0-9]%n", &sec, frac, &end) == 2 &&
				      strlen(frac) == 6 && tail[end] == '\0', "'%s'", tail);
			found = true;
		}
		ck_assert_msg(found, "no line for %s", want[k].req);
	}
	wh_stop(h);
}
END_TEST

/* Text that comes with descriptors goes with them, whatever happens to
 * them.  One connection's requests are held over --max-unsent-bytes (the
 * text goes into the held chain with its descriptor and comes back with
 * it); another's are dropped, their peer gone (their text is taken and
 * discarded); a third's follow, enough of them to wrap the text ring
 * (and to fill it: the test waits for room as the acceptor would not).
 * Each line must show its own request's text. */
START_TEST(text_follows_held_and_dropped_requests)
{
	struct wh_opts o = { .access_log = true, .max_unsent = 4096 };
	struct wh *h = wh_start(&o);
	uint32_t s = wh_open(h, 1, 1), g = wh_open(h, 0, 0), t = wh_open(h, 0, 0);
	enum { N = 300, M = 20, T = 800 };
	char target[64], ua[HTTP_LOG_UA_MAX + 64], want[HTTP_LOG_UA_MAX + 64];
	uint64_t text_bytes = 0;

	ck_pr_store_uint(&h->conns.slots[g].gone, 1);
	for (unsigned i = 0; i < N + M + T; i++) {
		uint32_t slot = i < N ? s : i < N + M ? g : t;
		struct http_req r = wh_req(h, slot, ROUTE_METRIC_STACK, i, 0);

		snprintf(target, sizeof(target), "/metric-stack?id=%u", i);
		snprintf(ua, sizeof(ua), "ua-%u-%0*d", i, (int)(i * 7 % HTTP_LOG_UA_MAX), 0);
		wh_text(h, &r, target, i % 3 ? "http://r/" : NULL, ua);
		text_bytes += r.log_len;
		wh_push(h, &r);
	}
	ck_assert_uint_gt(text_bytes, QUEUE_TEXT_SIZE);
	for (unsigned i = 0; i < N; i++) {
		read_resp(h->client[s], false);
		ck_assert_uint_eq(body_id(&resp), i);
	}
	for (unsigned i = N + M; i < N + M + T; i++) {
		read_resp(h->client[t], false);
		ck_assert_uint_eq(body_id(&resp), i);
	}
	ck_assert_uint_ge(CNT_GET(h->w.cnt.w.held), 1);
	ck_assert_uint_eq(CNT_GET(h->w.cnt.w.dropped), M);
	/* s's lines in order, and t's in order; g's none. */
	const char *p = log_lines(h, N + T);
	unsigned next[2] = { 0, N + M };

	for (unsigned k = 0; k < N + T; k++) {
		const char *e = strchr(p, '\n'), *q = strstr(p, "\"GET /metric-stack?id=");
		unsigned id;

		ck_assert_msg(q && q < e && sscanf(q, "\"GET /metric-stack?id=%u ", &id) == 1,
			      "line %u: %.80s", k, p);
		ck_assert_msg(id == next[0] || id == next[1], "line %u: id %u", k, id);
		next[id == next[0] ? 0 : 1]++;
		snprintf(ua, sizeof(ua), "ua-%u-%0*d", id, (int)(id * 7 % HTTP_LOG_UA_MAX), 0);
		if (strlen(ua) > HTTP_LOG_UA_MAX)
			strcpy(ua + HTTP_LOG_UA_MAX - 3, "...");   /* cut, marked */
		snprintf(want, sizeof(want), "\"%s\" \"%s\" ", id % 3 ? "http://r/" : "-", ua);
		q = strstr(q, " HTTP/1.1\" 200 ");
		ck_assert_msg(q && q < e, "line %u: %.80s", k, p);
		q = strchr(q + 15, ' ');
		ck_assert_msg(strncmp(q + 1, want, strlen(want)) == 0, "line %u: %.*s", k,
			      (int)(e - p), p);
		p = e + 1;
	}
	ck_assert_uint_eq(next[0], N);
	ck_assert_uint_eq(next[1], N + M + T);
	close_and_check(h, t);
	wh_stop(h);
}
END_TEST

/* The access-log line of a connection's last request names that
 * connection's peer, even when its slot is handed back (NOTE_CLOSED) and
 * reused by the acceptor before the batch's log lines are written.  Here
 * the slot is closed by an early flush in the middle of a batch (a third
 * large /metrics answer does not fit the slab), and heavy requests of
 * another connection keep the batch going while the test, as the acceptor
 * would, gives the slot to a new client from 10.9.8.7.  Before, the line
 * was written from the slot after the flush and named the new client. */
START_TEST(regression_access_log_peer_after_slot_reuse)
{
	struct wh_opts o = { .access_log = true, .defer_start = true, .stats_workers = 150 };
	struct wh *h = wh_start(&o);
	uint32_t a = wh_open(h, 0, 0), b = wh_open(h, 0, 0);
	struct sockaddr_in *sin = (struct sockaddr_in *)&h->conns.slots[a].peer;
	struct http_req r[6] = {
		wh_req(h, a, ROUTE_METRIC_STACK, 1, REQF_CLOSE),
		wh_req(h, b, ROUTE_METRICS, 0, 0),
		wh_req(h, b, ROUTE_METRICS, 0, 0),
		wh_req(h, b, ROUTE_METRICS, 0, 0),
		wh_req(h, b, ROUTE_METRIC_STACK, 4, REQF_HEAVY),
		wh_req(h, b, ROUTE_METRIC_STACK, 5, REQF_HEAVY),
	};
	struct alog_ring *ring = &h->alog.rings[0];
	struct queue_note n;
	long spins = 0;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0x7f000001);
	r[4].work = r[5].work = HTTP_WORK_MAX;
	wh_push_n(h, r, 6);
	wh_run(h);
	/* The note, as soon as it is in the ring (not waiting for the bell). */
	while (!queue_note_pop(&h->w.notes, &n))
		if (++spins % 1024 == 0)
			usleep(100);
	ck_assert_uint_eq(n.kind, NOTE_CLOSED);
	ck_assert_uint_eq(n.slot, a);
	/* The acceptor's conn_open() for the next client in this slot. */
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0x0a090807);
	/* Six lines once the batch ends (b's answers wait in its tail). */
	unsigned lines = 0;
	for (int tries = 0; lines < 6 && tries < 4000; tries++) {
		uint64_t tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);

		lines = 0;
		for (uint64_t i = 0; i < tail; i++)
			lines += ring->buf[i] == '\n';
		if (lines < 6)
			usleep(5000);
	}
	ck_assert_uint_eq(lines, 6);
	ck_assert_msg(strncmp(ring->buf, "127.0.0.1 - - [", 15) == 0, "first line: %.60s",
		      ring->buf);
	wh_stop(h);
}
END_TEST

/* A client that never reads, with its close held behind its requests
 * (over --max-unsent-bytes): the send timeout drops what is held, and the
 * held close still closes the connection and hands the slot back. */
START_TEST(send_timeout_with_a_held_close)
{
	struct wh_opts o = { .send_timeout_ms = 50, .max_unsent = 4096 };
	struct wh *h = wh_start(&o);
	uint32_t s = wh_open(h, 1, 1);
	enum { N = 300 };
	static struct http_req r[N + 1];

	for (unsigned i = 0; i < N; i++)
		r[i] = wh_req(h, s, ROUTE_STATS_VALUE, i, 0);
	r[N] = wh_close_req(h, s);
	wh_push_n(h, r, N + 1);
	ck_assert_uint_ge(wh_wait_stat(&h->w.cnt.w.held, 1, WAIT_MS), 1);
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	ck_assert_uint_eq(CNT_GET(h->w.cnt.w.send_timeouts), 1);
	ck_assert_uint_ge(CNT_GET(h->w.cnt.w.dropped), 1);
	ck_assert_uint_eq(inflight(h, s), 0);
	tl_reader_init(&rd, h->client[s]);
	ck_assert(tl_wait_eof(&rd, WAIT_MS));
	wh_stop(h);
}
END_TEST

/* What worker_init needs and cannot get - ring, note ring or slab memory,
 * an fd for its epoll set - fails it cleanly, with the error; a CPU that
 * does not exist fails worker_start. */
START_TEST(init_and_start_failures)
{
	struct conn_table conns;
	struct queue_doorbell bell;
	struct worker *w = aligned_alloc(64, sizeof(*w));
	struct worker_cfg wc = { .ring_size = 64, .note_ring_size = 32,
				 .max_unsent = 1u << 20, .cpu = -1 };
	static const size_t sizes[] = { 64 * sizeof(struct http_req),
					32 * sizeof(struct queue_note), WORKER_SLAB_SIZE };
	struct rlimit rl, low;
	pthread_t self = pthread_self();
	int fd, rc;

	ck_assert_int_eq(conn_table_init(&conns, 4, 4096), 0);
	ck_assert_int_eq(queue_doorbell_init(&bell), 0);
	wrap_watch(&self);
	for (int i = 0; i < 3; i++) {
		wrap_fail_mmap(sizes[i], 1);
		rc = worker_init(w, 0, &wc, &conns, &bell, NULL, NULL, NULL, NULL);
		ck_assert_msg(rc == -ENOMEM, "allocation %d: %d", i, rc);
		ck_assert_int_eq(w->epfd, -1);
		ck_assert_ptr_null(w->slab.base);
	}
	/* No fd for the epoll set. */
	fd = dup(0);
	close(fd);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	low = rl;
	low.rlim_cur = (rlim_t)fd + 1;           /* room for the ring's eventfd */
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	rc = worker_init(w, 0, &wc, &conns, &bell, NULL, NULL, NULL, NULL);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(rc, -EMFILE);
	ck_assert_int_eq(w->epfd, -1);
	/* A CPU this machine does not have. */
	wc.cpu = CPU_SETSIZE - 1;
	ck_assert_int_eq(worker_init(w, 0, &wc, &conns, &bell, NULL, NULL, NULL, NULL), 0);
	ck_assert_int_eq(worker_start(w), -EINVAL);
	worker_destroy(w);
	queue_doorbell_destroy(&bell);
	conn_table_destroy(&conns);
	free(w);
}
END_TEST

/* REQ_STOP while a client owes reads: the worker closes the connection
 * and hands the slot back before it exits. */
START_TEST(stop_closes_waiting_connections)
{
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 1, 1);
	enum { N = 300 };
	static struct http_req r[N];
	struct queue_note n;

	for (unsigned i = 0; i < N; i++)
		r[i] = wh_req(h, s, ROUTE_STATS_VALUE, i, 0);
	wh_push_n(h, r, N);
	ck_assert_uint_ge(wh_wait_stat(&h->w.cnt.w.partial_writes, 1, WAIT_MS), 1);
	wh_join(h);
	ck_assert(wh_note(h, &n, 0));
	ck_assert_uint_eq(n.kind, NOTE_CLOSED);
	ck_assert_uint_eq(n.slot, s);
	tl_reader_init(&rd, h->client[s]);
	ck_assert(tl_wait_eof(&rd, WAIT_MS));
	wh_free(h);
}
END_TEST

/* No memory for a connection's unsent bytes: it is closed (the client
 * gets what the socket took, then EOF); the worker goes on. */
START_TEST(no_memory_for_unsent_bytes)
{
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 1, 1), t = wh_open(h, 0, 0);
	enum { N = 300 };
	static struct http_req r[N];

	/* Heap answers too: their body is queued after their head, so the
	 * body finds the connection already dead. */
	for (unsigned i = 0; i < N; i++) {
		r[i] = wh_req(h, s, i % 2 ? ROUTE_STATS_POINTER : ROUTE_STATS_VALUE, i, 0);
		if (i % 2)
			wh_wrap_heap(h, &r[i]);
	}
	wrap_watch(NULL);
	wrap_fail_mmap(CHAIN_BLOCK_SIZE, 1u << 30);
	wh_push_n(h, r, N);
	ck_assert_uint_eq(wh_wait_stat(&h->w.cnt.w.write_errors, 1, WAIT_MS), 1);
	close_and_check(h, s);
	/* The other connection is served as before. */
	struct http_req q = wh_req(h, t, ROUTE_METRIC_STACK, 77, 0);
	wh_push(h, &q);
	read_resp(h->client[t], false);
	ck_assert_uint_eq(body_id(&resp), 77);
	wrap_fail_mmap(0, 0);
	wh_stop(h);
}
END_TEST

/* No memory to hold a descriptor over --max-unsent-bytes: the request is
 * dropped and the connection closed. */
START_TEST(no_memory_to_hold)
{
	struct wh_opts o = { .max_unsent = 1000, .defer_start = true, .ring_size = 128 };
	struct wh *h = wh_start(&o);
	uint32_t s = wh_open(h, 0, 0);
	enum { N = 64 };
	struct http_req r[N];

	for (unsigned i = 0; i < N; i++)
		r[i] = wh_req(h, s, ROUTE_METRIC_STACK, i, 0);
	wh_push_n(h, r, N);
	wrap_watch(NULL);
	wrap_fail_mmap(CHAIN_BLOCK_SIZE, 1u << 30);
	wh_run(h);                               /* one batch of 64 */
	ck_assert_uint_eq(wh_wait_stat(&h->w.cnt.w.write_errors, 1, WAIT_MS), 1);
	close_and_check(h, s);
	ck_assert_uint_ge(CNT_GET(h->w.cnt.w.dropped), 1);
	wrap_fail_mmap(0, 0);
	wh_stop(h);
}
END_TEST

/* A descriptor naming a connection that is not open is a broken
 * invariant: the worker aborts rather than write to a reused fd. */
static void dump_and_die(int sig)
{
	COVERAGE_DUMP();
	signal(sig, SIG_DFL);
	raise(sig);
}

START_TEST(stale_descriptor_aborts)
{
	signal(SIGABRT, dump_and_die);
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r = wh_req(h, s, ROUTE_METRIC_STACK, 1, 0);
	struct queue_note n;

	r.gen++;
	wh_push(h, &r);
	wh_note(h, &n, WAIT_MS);                 /* the abort ends the test */
	ck_abort_msg("the worker served a stale descriptor");
}
END_TEST

/* A worker placed alone on its CPU spins when idle (workers/spin.h):
 * work that comes during the spin is caught without a sleep.  The budget
 * is long (never reached: each push ends the spin), so this worker never
 * sleeps; its last spin at least (the one REQ_STOP ends) caught work. */
START_TEST(spin_catches_work)
{
	struct wh_opts o = { .spin_ns = 10000000000ull };
	struct wh *h = wh_start(&o);
	uint32_t s = wh_open(h, 0, 0);

	for (unsigned i = 0; i < 3; i++) {
		struct http_req r = wh_req(h, s, ROUTE_METRIC_STACK, i, 0);

		wh_push(h, &r);
		read_resp(h->client[s], false);
		ck_assert_uint_eq(body_id(&resp), i);
		wh_wait_stat(&h->w.cnt.w.batches, i + 1, WAIT_MS);
	}
	wh_join(h);
	ck_assert_uint_ge(CNT_GET(h->w.cnt.w.spins_caught), 1);
	ck_assert_uint_eq(CNT_GET(h->w.cnt.w.spins_slept), 0);
	ck_assert_uint_eq(CNT_GET(h->w.cnt.w.sleeps), 0);
	wh_free(h);
}
END_TEST

/* A worker that may not spin (it shares its CPU, or --spin-us 0) sleeps
 * at once. */
START_TEST(no_spin_sleeps_at_once)
{
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r = wh_req(h, s, ROUTE_METRIC_STACK, 7, 0);

	ck_assert_uint_ge(wh_wait_stat(&h->w.cnt.w.sleeps, 1, WAIT_MS), 1);
	wh_push(h, &r);
	read_resp(h->client[s], false);
	ck_assert_uint_ge(wh_wait_stat(&h->w.cnt.w.sleeps, 2, WAIT_MS), 2);
	ck_assert_uint_ge(CNT_GET(h->w.cnt.w.wakeups), 1);
	ck_assert_uint_eq(CNT_GET(h->w.cnt.w.spins_caught), 0);
	ck_assert_uint_eq(CNT_GET(h->w.cnt.w.spins_slept), 0);
	wh_stop(h);
}
END_TEST

static Suite *worker_suite(void)
{
	Suite *s = suite_create("worker");
	TCase *tc = tcase_create("worker");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, answers_in_order);
	tcase_add_test(tc, close_flag_closes_after_the_answer);
	tcase_add_test(tc, partial_write_parks_and_resumes);
	tcase_add_test(tc, max_unsent_holds_then_releases);
	tcase_add_test(tc, dead_peer_requests_dropped);
	tcase_add_test(tc, write_error_kills_the_connection);
	tcase_add_test(tc, dropped_last_request_closes);
	tcase_add_test(tc, heavy_request_after_a_dead_peer);
	tcase_add_test(tc, past_deadline_503_and_close);
	tcase_add_test(tc, send_timeout_closes);
	tcase_add_test(tc, stats_and_metrics);
	tcase_add_test(tc, stats_too_big_500);
	tcase_add_test(tc, continue_before_the_answer);
	tcase_add_test(tc, heavy_request_in_a_batch);
	tcase_add_test(tc, access_log_lines);
	tcase_add_test(tc, text_follows_held_and_dropped_requests);
	tcase_add_test(tc, regression_access_log_peer_after_slot_reuse);
	tcase_add_test(tc, stop_closes_waiting_connections);
	tcase_add_test(tc, send_timeout_with_a_held_close);
	tcase_add_test(tc, init_and_start_failures);
	tcase_add_test(tc, no_memory_for_unsent_bytes);
	tcase_add_test(tc, no_memory_to_hold);
	tcase_add_test(tc, spin_catches_work);
	tcase_add_test(tc, no_spin_sleeps_at_once);
	tcase_add_test_raise_signal(tc, stale_descriptor_aborts, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(worker_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
