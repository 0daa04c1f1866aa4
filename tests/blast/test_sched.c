/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/sched.c: the open-loop schedule, coordinated
 * omission correction on a virtual clock (exact numbers), and end to end
 * against a stalling server (only what follows from the logic). */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "tests/blast/stallserver.h"
#include "tests/blast/testutil.h"
#include "tools/blast/sched.h"

START_TEST(test_intended_times_follow_rate)
{
	struct sched s;
	sched_init(&s, 1000, 1000.0, 1, 1, 0); /* 1000/s: one per ms */
	for (uint64_t k = 0; k < 100000; k++)
		ck_assert_uint_eq(sched_at(&s, k), 1000 + k * 1000000);
	ck_assert_uint_eq(sched_take(&s), 1000);
	ck_assert_uint_eq(sched_take(&s), 1000 + 1000000);
	ck_assert_uint_eq(sched_peek(&s), 1000 + 2000000);
	/* 2 taken; at t0 + 10 ms, requests 0..10 are due: 9 waiting */
	ck_assert_uint_eq(sched_backlog(&s, 1000 + 10000000), 9);
	ck_assert_uint_eq(sched_backlog(&s, 1000 + 10000000 - 1), 8);
	ck_assert_uint_eq(sched_backlog(&s, 999), 0);

	/* non-integer period: k-th time within 1 ns of k/rate */
	sched_init(&s, 0, 3.0, 1, 1, 0);
	for (uint64_t k = 0; k < 1000; k++)
		ck_assert_uint_le((uint64_t)llabs((long long)sched_at(&s, k) - (long long)(k * 1e9 / 3.0)), 1);
}
END_TEST

START_TEST(test_rate_split_over_threads)
{
	/* 3 connections over 2 threads (2 + 1): the rate splits 2:1, and the
	 * second thread starts one global period later. */
	struct sched a, b;
	sched_init(&a, 0, 3000, 2, 3, 0);
	sched_init(&b, 0, 3000, 1, 3, 1);
	ck_assert_double_eq_tol(a.period_ns, 1e9 / 2000, 1e-6);
	ck_assert_double_eq_tol(b.period_ns, 1e9 / 1000, 1e-6);
	ck_assert_uint_eq(b.t0, 333333);
	/* together they issue 3000 in one second */
	ck_assert_uint_eq(sched_backlog(&a, 999999999) + sched_backlog(&b, 999999999), 3000);
}
END_TEST

/* The open loop on a virtual clock: the schedule is driven only through
 * its `now` parameters, so every number below is exact.
 *
 * Model: 500 req/s (one every 2 ms) over 8 connections, one request in
 * flight on each; the server answers at once, except that it freezes for
 * 300 ms when request #250 (index 249, intended at 498 ms) arrives.
 * Requests 249..256 are on the wire during the freeze; 257..399 fall due
 * while every connection is busy and wait; at 798 ms everything drains.
 * Corrected latency (from the intended time) of request k in 249..399 is
 * 798 - 2k ms: 101 of them are >= 100 ms.  Uncorrected latency (from the
 * actual send) sees only the 8 requests that were on the wire. */
#define SIM_CONNS 8
#define SIM_REQUESTS 1000
#define MS 1000000ull

struct sim_conn {
	int busy;
	uint64_t intended, sent, done;
};

START_TEST(test_stall_charged_on_virtual_clock)
{
	struct sched s;
	struct sim_conn c[SIM_CONNS] = {{0}};
	struct hist *lat = malloc(sizeof *lat), *raw = malloc(sizeof *raw);
	uint64_t now = 0, frozen_until = 0, arrived = 0, backlog_at_thaw = 0;
	hist_init(lat);
	hist_init(raw);
	sched_init(&s, 0, 500.0, SIM_CONNS, SIM_CONNS, 0);
	while (s.next < SIM_REQUESTS || lat->total < SIM_REQUESTS) {
		/* responses due now free their connections */
		for (int i = 0; i < SIM_CONNS; i++)
			if (c[i].busy && c[i].done <= now) {
				hist_record(lat, c[i].done - c[i].intended);
				hist_record(raw, c[i].done - c[i].sent);
				c[i].busy = 0;
			}
		if (now == 798 * MS && !backlog_at_thaw)
			backlog_at_thaw = sched_backlog(&s, now);
		/* requests due now go out on free connections */
		for (int i = 0; i < SIM_CONNS && s.next < SIM_REQUESTS && sched_peek(&s) <= now; i++) {
			if (c[i].busy)
				continue;
			c[i].intended = sched_take(&s);
			c[i].sent = now;
			if (++arrived == 250)
				frozen_until = now + 300 * MS;
			c[i].done = now < frozen_until ? frozen_until : now;
			c[i].busy = 1;
			i = -1; /* the server may have answered at once: rescan */
			for (int k = 0; k < SIM_CONNS; k++)
				if (c[k].busy && c[k].done <= now) {
					hist_record(lat, c[k].done - c[k].intended);
					hist_record(raw, c[k].done - c[k].sent);
					c[k].busy = 0;
				}
		}
		/* next event: a response, or a request falling due while a
		 * connection is free */
		uint64_t next = UINT64_MAX;
		int any_free = 0;
		for (int i = 0; i < SIM_CONNS; i++) {
			any_free |= !c[i].busy;
			if (c[i].busy && c[i].done < next)
				next = c[i].done;
		}
		if (any_free && s.next < SIM_REQUESTS && sched_peek(&s) < next)
			next = sched_peek(&s);
		ck_assert_uint_gt(next, now);
		if (next == UINT64_MAX)
			break;
		now = next;
	}
	ck_assert_uint_eq(lat->total, SIM_REQUESTS);
	ck_assert_uint_eq(backlog_at_thaw, 399 - 257 + 1);
	ck_assert_uint_eq(lat->max, 300 * MS);
	ck_assert_uint_eq(hist_count_at_least(lat, 100 * MS), 101);
	ck_assert_uint_eq(hist_count_at_least(raw, 100 * MS), SIM_CONNS);
	ck_assert_uint_eq(raw->max, 300 * MS);
	/* without the freeze every request is answered when sent */
	ck_assert_uint_eq(hist_count_at_least(lat, 1), 399 - 249 + 1 - 1);
	free(lat);
	free(raw);
}
END_TEST

/* The same against the real engine and the stall server, checked only
 * for what follows from the logic and not from timing: the server
 * freezes 300 ms when request #100 arrives (at time T), so that request
 * waited >= 300 ms; every request intended in (T, T + 200 ms] -- 100 of
 * them at 500/s -- was sent after T and answered after T + 300 ms, so at
 * least 100 corrected latencies are >= 100 ms.  (This needs T + 200 ms
 * to fall inside the 2 s schedule, i.e. the client less than 1.6 s
 * behind it.)  A corrected latency is never below the uncorrected one. */
START_TEST(test_stall_charged_to_every_request)
{
	struct stall_opts o = {.stall_at = 100, .stall_ms = 300};
	struct stallserver *srv = stall_start(&o);
	ck_assert_ptr_nonnull(srv);
	const char *args[] = {"-t1", "-c8", "-R500", "-n", "1000", "--timeout", "10s", NULL};
	struct run_result *r = run_blast("http://127.0.0.1:%d/stall", stall_port(srv), args);
	stall_stop(srv);
	ck_assert_ptr_nonnull(r);
	const struct stats *st = &r->st;

	ck_assert_uint_eq(stats_errors_total(st), 0);
	ck_assert_uint_eq(st->responses, 1000);
	ck_assert_uint_eq(st->lat.total, 1000);
	ck_assert_uint_eq(st->lat_raw.total, 1000);
	ck_assert_uint_eq(stall_requests(srv), 1000);
	ck_assert_uint_ge(st->lat.max, 300 * MS);
	uint64_t c100 = hist_count_at_least(&st->lat, 100 * MS);
	ck_assert_msg(c100 >= 100, "corrected >= 100ms: %llu, want >= 100", (unsigned long long)c100);
	for (uint64_t v = 1000; v < 10000 * MS; v *= 2)
		ck_assert_uint_ge(hist_count_at_least(&st->lat, v), hist_count_at_least(&st->lat_raw, v));
	stall_free(srv);
	free(r);
}
END_TEST

/* -n with -R: exactly n sent and answered, nothing left due at the end. */
START_TEST(test_steady_rate_exact_count)
{
	struct stall_opts o = {0};
	struct stallserver *srv = stall_start(&o);
	ck_assert_ptr_nonnull(srv);
	const char *args[] = {"-t2", "-c4", "-R1000", "-n", "500", NULL};
	struct run_result *r = run_blast("http://127.0.0.1:%d/", stall_port(srv), args);
	stall_stop(srv);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->st.issued, 500);
	ck_assert_uint_eq(r->st.responses, 500);
	ck_assert_uint_eq(stall_requests(srv), 500);
	ck_assert_uint_eq(r->st.backlog, 0);
	ck_assert_uint_eq(r->st.lat_raw.total, r->st.responses);
	stall_free(srv);
	free(r);
}
END_TEST

static Suite *sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *unit = tcase_create("unit");
	tcase_add_test(unit, test_intended_times_follow_rate);
	tcase_add_test(unit, test_rate_split_over_threads);
	tcase_add_test(unit, test_stall_charged_on_virtual_clock);
	suite_add_tcase(s, unit);
	TCase *e2e = tcase_create("stallserver");
	tcase_set_timeout(e2e, 30);
	tcase_add_test(e2e, test_stall_charged_to_every_request);
	tcase_add_test(e2e, test_steady_rate_exact_count);
	suite_add_tcase(s, e2e);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sched_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
