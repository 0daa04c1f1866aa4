/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for workers/stack.c: the stack path's answers, through a real
 * worker thread (tests/worker_harness.c), and that it never calls the
 * allocator - counted at link level (tests/wrap.c), not by core/base/mem.h. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/route.h"
#include "tests/testlib.h"
#include "tests/worker_harness.h"
#include "tests/wrap.h"
#include "workers/metric.h"

#define WAIT_MS 20000

static struct tl_reader rd;
static struct tl_resp resp;

static void read_resp(int fd, bool head_only)
{
	if (rd.fd != fd)
		tl_reader_init(&rd, fd);
	ck_assert_msg(tl_read_resp(&rd, &resp, head_only, WAIT_MS) == 0, "no answer");
}

static const char *header(const char *name)
{
	static char v[128];

	return tl_header(&resp, name, v, sizeof(v));
}

START_TEST(routes_answer)
{
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r[8] = {
		wh_req(h, s, ROUTE_METRIC_STACK, 42, 0),
		wh_req(h, s, ROUTE_STATS_VALUE, 43, 0),
		wh_req(h, s, ROUTE_HEALTHZ, 0, 0),
		wh_req(h, s, ROUTE_OPTIONS, 0, REQF_OPTIONS),
		wh_req(h, s, ROUTE_METRIC_STACK, 0, 0),
		wh_req(h, s, ROUTE_METRIC_STACK, 44, REQF_HEAD),
		wh_req(h, s, ROUTE_STATS_VALUE, 45, REQF_HTTP10),
		wh_req(h, s, ROUTE_METRIC_STACK, 46, REQF_CLOSE),
	};
	long long ts, dur;
	unsigned long long id;
	int st, n = 0;
	double v;

	r[0].work = 1000;
	r[4].err = HERR_ID_MISSING;
	wh_push_n(h, r, 8);

	read_resp(h->client[s], false);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(header("Content-Type"), "application/json");
	ck_assert_int_eq(sscanf(resp.body, "{\"id\":%llu,\"timestamp\":%lld,\"value\":%lf}%n",
				&id, &ts, &v, &n), 3);
	ck_assert_uint_eq((size_t)n, resp.body_len);
	ck_assert_uint_eq(id, 42);
	/* metric_value in (0, 1); within a microsecond of the 6 decimals */
	ck_assert(v > 0 && v < 1 && (v - metric_value(42, 1000)) < 1e-6 &&
		  (metric_value(42, 1000) - v) < 1e-6);
	ck_assert(ts > 0);

	read_resp(h->client[s], false);
	ck_assert_int_eq(sscanf(resp.body, "{\"id\":%llu,\"timestamp\":%lld,"
				"\"duration_ns\":%lld,\"status\":%d}%n", &id, &ts, &dur, &st, &n), 4);
	ck_assert_uint_eq(id, 43);
	ck_assert_int_eq(dur, STATS_VALUE_NS);     /* the modified copy */
	ck_assert_int_eq(st, 200);

	read_resp(h->client[s], false);
	ck_assert_str_eq(resp.body, "ok\n");
	ck_assert_str_eq(header("Content-Type"), "text/plain");

	read_resp(h->client[s], false);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_eq(resp.content_length, 0);
	ck_assert_str_eq(header("Allow"), "GET, HEAD, OPTIONS");

	read_resp(h->client[s], false);
	ck_assert_int_eq(resp.status, 400);
	ck_assert_str_eq(resp.body, "{\"error\":\"id is required\"}");

	read_resp(h->client[s], true);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_int_gt(resp.content_length, 0);

	read_resp(h->client[s], false);
	ck_assert_str_eq(header("Connection"), "keep-alive");

	read_resp(h->client[s], false);
	ck_assert(resp.conn_close);
	ck_assert(tl_wait_eof(&rd, WAIT_MS));
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	wh_stop(h);
}
END_TEST

/* A heap route that reaches the stack path without its object (the
 * acceptor could not allocate it): 503, out of memory. */
START_TEST(heap_route_without_object_is_503)
{
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 0, 0);
	struct http_req r[2] = {
		wh_req(h, s, ROUTE_METRIC_HEAP, 1, 0),
		wh_req(h, s, ROUTE_STATS_POINTER, 2, REQF_CLOSE),
	};

	wh_push_n(h, r, 2);
	for (int i = 0; i < 2; i++) {
		read_resp(h->client[s], false);
		ck_assert_int_eq(resp.status, 503);
		ck_assert_str_eq(resp.body, "{\"error\":\"out of memory\"}");
	}
	ck_assert(resp.conn_close);
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	wh_stop(h);
}
END_TEST

/* Not one call to malloc, calloc, realloc or free from the worker thread
 * while it serves the stack path, in steady state - counted where the
 * calls are made (ld --wrap), so core/base/mem.h's own counters are not the
 * judge of themselves. */
START_TEST(no_allocator_calls)
{
	struct wh *h = wh_start(NULL);
	uint32_t s = wh_open(h, 1, 1);
	enum { N = 600 };
	static struct http_req r[N];
	static const enum http_route routes[] = { ROUTE_METRIC_STACK, ROUTE_STATS_VALUE,
						   ROUTE_HEALTHZ, ROUTE_STATS, ROUTE_METRICS };

	/* Warm up: the first answer. */
	r[0] = wh_req(h, s, ROUTE_METRIC_STACK, 0, 0);
	wh_push(h, &r[0]);
	read_resp(h->client[s], false);
	wrap_watch(&h->w.thread);
	for (unsigned i = 0; i < N; i++) {
		r[i] = wh_req(h, s, routes[i % 5], i, (i % 7 == 0) ? REQF_HEAD : 0);
		r[i].work = i % 11 == 0 ? HTTP_WORK_HEAVY : 0;
		r[i].flags |= i % 11 == 0 ? REQF_HEAVY : 0;
		if (i % 13 == 0) {
			r[i].err = HERR_ID_INVALID;
			r[i].work = 0;
			r[i].flags &= (uint8_t)~REQF_HEAVY;
		}
	}
	wh_push_n(h, r, N);
	for (unsigned i = 0; i < N; i++)
		read_resp(h->client[s], (r[i].flags & REQF_HEAD) != 0);
	struct http_req c = wh_close_req(h, s);
	wh_push(h, &c);
	ck_assert(wh_wait_closed(h, s, WAIT_MS));
	struct wrap_counts n = wrap_counts();

	ck_assert_uint_eq(n.malloc, 0);
	ck_assert_uint_eq(n.calloc, 0);
	ck_assert_uint_eq(n.realloc, 0);
	ck_assert_uint_eq(n.free, 0);
	for (unsigned k = 0; k < ROUTE__COUNT; k++) {
		ck_assert_uint_eq(CNT_GET(h->w.cnt.route[k].allocs), 0);
		ck_assert_uint_eq(CNT_GET(h->acc_st.route[k].allocs), 0);
	}
	ck_assert_uint_ge(CNT_GET(h->w.cnt.w.partial_writes), 1);
	wh_stop(h);
}
END_TEST

static Suite *stack_suite(void)
{
	Suite *s = suite_create("stack");
	TCase *tc = tcase_create("stack");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, routes_answer);
	tcase_add_test(tc, heap_route_without_object_is_503);
	tcase_add_test(tc, no_allocator_calls);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stack_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
