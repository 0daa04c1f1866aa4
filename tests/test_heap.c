/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for workers/heap.c: the heap path through a real worker thread
 * (tests/worker_harness.c): answers byte-identical to the stack path's,
 * exactly 3 allocations and 3 frees per request (1 of them on the acceptor,
 * 1 free cross-thread) counted where the calls are made (tests/wrap.c), and
 * 503 when an allocation fails. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/mem.h"
#include "http/route.h"
#include "tests/testlib.h"
#include "tests/worker_harness.h"
#include "workers/handler.h"
#include "tests/wrap.h"
#include "workers/metric.h"

#define WAIT_MS 20000

/* The heap path's three sizes, header included (core/base/mem.h): the request
 * object and the record (24 bytes each), the body (HTTP_BODY_MAX_RESP). */
#define HDR 16
#define SZ_REQUEST (HDR + 24)
#define SZ_METRIC (HDR + sizeof(struct metric))
#define SZ_STATS (HDR + sizeof(struct request_stats))
#define SZ_BODY (HDR + HTTP_BODY_MAX_RESP)

static struct tl_reader rd;

static void read_into(int fd, struct tl_resp *out, bool head_only)
{
	if (rd.fd != fd)
		tl_reader_init(&rd, fd);
	ck_assert_msg(tl_read_resp(&rd, out, head_only, WAIT_MS) == 0, "no answer");
}

/* The whole answer with what legitimately differs between two answers
 * blanked: the Date header (a second may pass between them) and the
 * timestamp (the clock, read when the record is made). */
static void mask(const struct tl_resp *r, char *out, size_t cap)
{
	char *p;

	snprintf(out, cap, "%s%s", r->head, r->body);
	if ((p = strstr(out, "\r\nDate: ")))
		memset(p + 8, 'D', 29);
	if ((p = strstr(out, "\"timestamp\":")))
		for (p += 12; *p >= '0' && *p <= '9'; p++)
			*p = 'T';
}

/* Reads the one answer on connection s, then checks the connection is
 * closed (REQF_CLOSE) or closes it. */
static void answer_of(struct wh *h, uint32_t s, bool head, bool closes,
		      struct tl_resp *out)
{
	read_into(h->client[s], out, head);
	ck_assert(out->conn_close == closes);
	if (!closes) {
		struct http_req c = wh_close_req(h, s);

		wh_push(h, &c);
	}
	ck_assert(tl_wait_eof(&rd, WAIT_MS));
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	wh_release(h, s);
}

/* The same id, work and flags down both paths: the same bytes. */
START_TEST(byte_identical_to_the_stack_path)
{
	static const struct { uint64_t id, work; unsigned flags; } cases[] = {
		{ 0, 0, 0 }, { 1, 0, 0 }, { 42, 1000, 0 }, { 18446744073709551615ull, 7, 0 },
		{ 99, 0, REQF_HEAD }, { 7, 3, REQF_HTTP10 }, { 123456789, 100000, REQF_HEAVY },
		{ 5, 5, REQF_CLOSE },
	};
	struct wh *h = wh_start(NULL);
	static struct tl_resp a, b;
	static char ma[sizeof(a.head) + sizeof(a.body)], mb[sizeof(ma)];

	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		bool head = cases[k].flags & REQF_HEAD, closes = cases[k].flags & REQF_CLOSE;
		uint32_t s = wh_open(h, 0, 0);
		struct http_req r = wh_req(h, s, ROUTE_METRIC_STACK, cases[k].id, cases[k].flags);

		r.work = cases[k].work;
		wh_push(h, &r);
		answer_of(h, s, head, closes, &a);
		s = wh_open(h, 0, 0);
		r = wh_req(h, s, ROUTE_METRIC_HEAP, cases[k].id, cases[k].flags);
		r.work = cases[k].work;
		wh_wrap_heap(h, &r);
		wh_push(h, &r);
		answer_of(h, s, head, closes, &b);
		mask(&a, ma, sizeof(ma));
		mask(&b, mb, sizeof(mb));
		ck_assert_str_eq(ma, mb);
	}
	wh_stop(h);
}
END_TEST

/* Connection: close on heap answers (with and without a body). */
START_TEST(close_on_heap_answers)
{
	struct wh *h = wh_start(NULL);
	static struct tl_resp a;

	for (int k = 0; k < 3; k++) {
		uint32_t s = wh_open(h, 0, 0);
		enum http_route route = k == 1 ? ROUTE_STATS_POINTER : ROUTE_METRIC_HEAP;
		struct http_req r = wh_req(h, s, route, 10 + (unsigned)k,
					   REQF_CLOSE | (k == 2 ? REQF_HEAD : 0));

		wh_wrap_heap(h, &r);
		wh_push(h, &r);
		read_into(h->client[s], &a, k == 2);
		ck_assert_int_eq(a.status, 200);
		ck_assert(a.conn_close);
		ck_assert(tl_wait_eof(&rd, WAIT_MS));
		ck_assert(wh_wait_closed(h, s, WAIT_MS));
		wh_release(h, s);
	}
	wh_join(h);
	/* Every body was freed, the HEAD one too. */
	ck_assert_uint_eq(CNT_GET(h->w.cnt.route[ROUTE_METRIC_HEAP].frees) +
			  CNT_GET(h->w.cnt.route[ROUTE_STATS_POINTER].frees), 9);
	wh_free(h);
}
END_TEST

/* stats-pointer and stats-value differ only in what each path does to its
 * record: the pointer path sets the duration in place (15 ms), the value
 * path returns a modified copy (12 ms). */
START_TEST(stats_pointer_differs_by_duration_only)
{
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r[3] = {
		wh_req(h, s, ROUTE_STATS_VALUE, 31, 0),
		wh_req(h, s, ROUTE_STATS_POINTER, 31, 0),
		wh_close_req(h, s),
	};
	static struct tl_resp a, b;
	static char ma[sizeof(a.head) + sizeof(a.body)], mb[sizeof(ma)];
	char *p;

	wh_wrap_heap(h, &r[1]);
	wh_push_n(h, r, 3);
	read_into(h->client[s], &a, false);
	read_into(h->client[s], &b, false);
	mask(&a, ma, sizeof(ma));
	mask(&b, mb, sizeof(mb));
	ck_assert_ptr_nonnull(p = strstr(ma, "\"duration_ns\":12000000,"));
	ck_assert_ptr_nonnull(strstr(mb, "\"duration_ns\":15000000,"));
	memcpy(p + 14, "15", 2);
	ck_assert_str_eq(ma, mb);
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	wh_stop(h);
}
END_TEST

/* Exactly three allocations per request - one by the acceptor (the
 * request object), two by the worker (record, body) - and three frees on
 * the worker, one of them of the acceptor's object. */
START_TEST(three_allocations_per_request)
{
	enum { N = 200 };
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 0, 0);
	static struct http_req r[N];
	static struct tl_resp a;
	pthread_t self = pthread_self();

	for (unsigned i = 0; i < N; i++)
		r[i] = wh_req(h, s, i % 2 ? ROUTE_STATS_POINTER : ROUTE_METRIC_HEAP, i,
			      i % 5 == 0 ? REQF_HEAD : 0);
	unsigned wrapped = 0;

	/* No assertion inside: Check's own bookkeeping allocates. */
	wrap_watch(&self);
	for (unsigned i = 0; i < N; i++)
		wrapped += heap_request_wrap(&h->acc_st, &r[i]);
	struct wrap_counts acc = wrap_counts();

	ck_assert_uint_eq(wrapped, N);

	wrap_watch(&h->w.thread);
	wh_push_n(h, r, N);
	for (unsigned i = 0; i < N; i++)
		read_into(h->client[s], &a, r[i].flags & REQF_HEAD);
	struct http_req c = wh_close_req(h, s);
	wh_push(h, &c);
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	wh_join(h);                   /* every batch flushed, every body freed */
	struct wrap_counts wk = wrap_counts();

	ck_assert_uint_eq(acc.malloc, N);
	ck_assert_uint_eq(acc.free, 0);
	ck_assert_uint_eq(wk.malloc, 2 * N);
	ck_assert_uint_eq(wk.free, 3 * N);
	ck_assert_uint_eq(acc.calloc + acc.realloc + wk.calloc + wk.realloc, 0);
	/* core/base/mem.h saw the same, by endpoint and by thread. */
	uint64_t allocs = 0, frees = 0, xfrees = 0, reqs = 0;
	for (unsigned k = 0; k < ROUTE__COUNT; k++) {
		allocs += CNT_GET(h->acc_st.route[k].allocs) + CNT_GET(h->w.cnt.route[k].allocs);
		frees += CNT_GET(h->w.cnt.route[k].frees);
		xfrees += CNT_GET(h->w.cnt.route[k].xthread_frees);
		reqs += CNT_GET(h->w.cnt.route[k].requests);
	}
	ck_assert_uint_eq(reqs, N);
	ck_assert_uint_eq(allocs, 3 * N);
	ck_assert_uint_eq(frees, 3 * N);
	ck_assert_uint_eq(xfrees, N);
	wh_free(h);
}
END_TEST

/* Runs one request with the n-th malloc of `size` on the worker failing:
 * 503 "out of memory", and nothing leaks (mem.h: frees == allocs). */
static void worker_malloc_fails(enum http_route route, size_t size)
{
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r[2] = { wh_req(h, s, route, 1, 0), wh_req(h, s, route, 2, REQF_CLOSE) };
	static struct tl_resp a;

	wh_wrap_heap(h, &r[0]);
	wh_wrap_heap(h, &r[1]);
	wrap_watch(&h->w.thread);
	wrap_fail_malloc(size, 1);
	wh_push_n(h, r, 2);
	read_into(h->client[s], &a, false);
	ck_assert_int_eq(a.status, 503);
	ck_assert_str_eq(a.body, "{\"error\":\"out of memory\"}");
	read_into(h->client[s], &a, false);        /* the next one is served */
	ck_assert_int_eq(a.status, 200);
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	wh_join(h);
	ck_assert_uint_eq(CNT_GET(h->w.cnt.route[route].status[SS_503]), 1);
	ck_assert_uint_eq(CNT_GET(h->acc_st.route[route].allocs) +
			  CNT_GET(h->w.cnt.route[route].allocs),
			  CNT_GET(h->w.cnt.route[route].frees));
	wh_free(h);
}

START_TEST(no_memory_for_the_body)
{
	worker_malloc_fails(ROUTE_METRIC_HEAP, SZ_BODY);
}
END_TEST

START_TEST(no_memory_for_the_metric)
{
	worker_malloc_fails(ROUTE_METRIC_HEAP, SZ_METRIC);
}
END_TEST

START_TEST(no_memory_for_the_stats_record)
{
	worker_malloc_fails(ROUTE_STATS_POINTER, SZ_STATS);
}
END_TEST

/* The acceptor's allocation fails: heap_request_wrap says so and leaves
 * the descriptor as it was (the worker then answers 503). */
START_TEST(wrap_fails_without_memory)
{
	struct http_req r, before;
	struct counters cnt;
	pthread_t self = pthread_self();

	counters_init(&cnt, "acc", -1, 0);
	memset(&r, 0, sizeof(r));
	r.kind = REQ_HTTP;
	r.route = ROUTE_METRIC_HEAP;
	r.id = 5;
	r.work = 6;
	before = r;
	wrap_watch(&self);
	wrap_fail_malloc(SZ_REQUEST, 1);
	bool ok = heap_request_wrap(&cnt, &r);

	ck_assert(!ok);
	ck_assert(memcmp(&r, &before, sizeof(r)) == 0);
	ck_assert_uint_eq(cnt.route[ROUTE_METRIC_HEAP].allocs, 0);
	ck_assert(heap_request_wrap(&cnt, &r));
	ck_assert_ptr_nonnull(r.heap);
	ck_assert_uint_eq(r.id, 0);            /* moved into the object */
	ck_assert_uint_eq(cnt.route[ROUTE_METRIC_HEAP].allocs, 1);
	mem_free(&cnt, r.heap);
}
END_TEST

static Suite *heap_suite(void)
{
	Suite *s = suite_create("heap");
	TCase *tc = tcase_create("heap");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, byte_identical_to_the_stack_path);
	tcase_add_test(tc, close_on_heap_answers);
	tcase_add_test(tc, stats_pointer_differs_by_duration_only);
	tcase_add_test(tc, three_allocations_per_request);
	tcase_add_test(tc, no_memory_for_the_body);
	tcase_add_test(tc, no_memory_for_the_metric);
	tcase_add_test(tc, no_memory_for_the_stats_record);
	tcase_add_test(tc, wrap_fails_without_memory);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(heap_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
