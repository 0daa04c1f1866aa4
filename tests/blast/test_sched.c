/* Suite for tools/blast/sched.c: the open-loop schedule, and coordinated
 * omission correction checked end to end against a stalling server. */
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

/* Open loop at 500/s for 2 s; the server freezes for 300 ms when request
 * #250 arrives (about 0.5 s in).  The ~150 requests that were due during
 * the freeze must all be charged for it: their corrected latencies spread
 * evenly from ~300 ms down to 0, so at least the 100 due in its first
 * 200 ms are >= 100 ms.  The uncorrected view sees only the requests that
 * were already on the wire, at most one per connection.  Upper bounds are
 * loose: on a loaded machine draining the backlog adds real queueing. */
START_TEST(test_stall_charged_to_every_request)
{
	struct stall_opts o = {.stall_at = 250, .stall_ms = 300};
	struct stallserver *srv = stall_start(&o);
	ck_assert_ptr_nonnull(srv);
	const char *args[] = {"-t1", "-c8", "-R500", "-d2s", "--timeout", "5s", NULL};
	struct run_result *r = run_blast("http://127.0.0.1:%d/stall", stall_port(srv), args);
	stall_stop(srv);
	ck_assert_ptr_nonnull(r);
	const struct stats *st = &r->st;

	ck_assert_uint_eq(stats_errors_total(st), 0);
	ck_assert_uint_ge(st->responses, 950);
	ck_assert_uint_le(st->responses, 1010);

	uint64_t c100 = hist_count_at_least(&st->lat, 100000000);
	uint64_t c50 = hist_count_at_least(&st->lat, 50000000);
	uint64_t u100 = hist_count_at_least(&st->lat_raw, 100000000);
	ck_assert_msg(c100 >= 90 && c100 <= 170, "corrected >= 100ms: %llu, want ~100",
		      (unsigned long long)c100);
	ck_assert_msg(c50 >= 115 && c50 <= 230, "corrected >= 50ms: %llu, want ~125",
		      (unsigned long long)c50);
	ck_assert_msg(u100 <= 8, "uncorrected >= 100ms: %llu, want <= 8 (connections)",
		      (unsigned long long)u100);
	ck_assert_uint_ge(st->lat.max, 250000000);
	ck_assert_uint_le(st->lat.max, 600000000);
	ck_assert_uint_lt(hist_percentile(&st->lat, 50), 20000000);
	/* the stall delayed sends, so the run reports it */
	ck_assert_uint_ge(st->late, 100);

	/* Before the stall the server saw requests at the scheduled rate:
	 * 200 intervals of 2 ms between arrivals #20 and #220. */
	double span = (double)(stall_arrival(srv, 220) - stall_arrival(srv, 20)) / 1e6;
	ck_assert_msg(span > 360 && span < 440, "200 arrivals took %.1f ms, want 400", span);
	stall_free(srv);
	free(r);
}
END_TEST

/* Without a stall, corrected and uncorrected agree and the rate is met. */
START_TEST(test_steady_rate_achieved)
{
	struct stall_opts o = {0};
	struct stallserver *srv = stall_start(&o);
	ck_assert_ptr_nonnull(srv);
	const char *args[] = {"-t2", "-c4", "-R1000", "-d1s", NULL};
	struct run_result *r = run_blast("http://127.0.0.1:%d/", stall_port(srv), args);
	stall_stop(srv);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_ge(r->st.issued, 980);
	ck_assert_uint_le(r->st.issued, 1002);
	ck_assert_uint_eq(r->st.backlog, 0);
	ck_assert_uint_lt(hist_percentile(&r->st.lat, 50), 5000000);
	ck_assert_uint_le(r->st.lat_raw.total, r->st.lat.total);
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
	suite_add_tcase(s, unit);
	TCase *e2e = tcase_create("stallserver");
	tcase_set_timeout(e2e, 30);
	tcase_add_test(e2e, test_stall_charged_to_every_request);
	tcase_add_test(e2e, test_steady_rate_achieved);
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
