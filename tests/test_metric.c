/* Unit tests for workers/metric.c: the records both paths serve. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/response.h"
#include "http/route.h"
#include "workers/metric.h"

static const uint64_t ids[] = {
	0, 1, 2, 3, 42, 999982, 999983, 999984, 2654435761u,
	UINT32_MAX, (uint64_t)UINT32_MAX + 1, UINT64_MAX / 2, UINT64_MAX - 1,
	UINT64_MAX,
};

START_TEST(value_is_deterministic)
{
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		for (uint64_t w = 0; w < 50; w += 7) {
			double a = metric_value(ids[i], w);
			double b = metric_value(ids[i], w);

			ck_assert_mem_eq(&a, &b, sizeof(a));
		}
}
END_TEST

START_TEST(value_in_open_unit_interval)
{
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		for (uint64_t w = 0; w < 200; w++) {
			double v = metric_value(ids[i], w);

			ck_assert_msg(isfinite(v) && v > 0.0 && v < 1.0,
				      "id %llu work %llu: %g",
				      (unsigned long long)ids[i],
				      (unsigned long long)w, v);
		}
	for (uint64_t id = 0; id < 100000; id++) {
		double v = metric_value(id, id % 4);

		ck_assert(v > 0.0 && v < 1.0);
	}
	/* the heaviest work a request may ask for */
	double v = metric_value(7, HTTP_WORK_MAX);
	ck_assert(v > 0.0 && v < 1.0);
}
END_TEST

START_TEST(value_seed_and_map)
{
	/* work = 0 is the seed: (id * 2654435761 mod 999983 + 1) / 999985 */
	ck_assert_double_eq(metric_value(0, 0), 1.0 / 999985.0);
	ck_assert_double_eq(metric_value(1, 0),
			    (double)(2654435761u % 999983u + 1) / 999985.0);
	/* each unit of work is one step of the logistic map, r = 3.9 */
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		double v = metric_value(ids[i], 0);

		for (uint64_t w = 1; w < 20; w++) {
			v = 3.9 * v * (1.0 - v);
			ck_assert_double_eq(metric_value(ids[i], w), v);
		}
	}
}
END_TEST

START_TEST(value_differs_with_work_and_id)
{
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		ck_assert(metric_value(ids[i], 0) != metric_value(ids[i], 1));
		ck_assert(metric_value(ids[i], 1) != metric_value(ids[i], 2));
		ck_assert(metric_value(ids[i], 10) != metric_value(ids[i], 11));
	}
	ck_assert(metric_value(1, 0) != metric_value(2, 0));
	ck_assert(metric_value(42, 5) != metric_value(43, 5));
}
END_TEST

/* The value always formats as "0.dddddd" in the JSON body. */
START_TEST(value_formats_below_one)
{
	char out[32];

	for (uint64_t id = 0; id < 5000; id++) {
		size_t n = http_fmt_fixed6(out, metric_value(id, id % 3));

		out[n] = '\0';
		ck_assert_uint_eq(n, 8);
		ck_assert_msg(out[0] == '0' && out[1] == '.', "id %llu: %s",
			      (unsigned long long)id, out);
	}
}
END_TEST

START_TEST(now_is_wall_clock_ns)
{
	struct timespec a, b;
	int64_t t;

	clock_gettime(CLOCK_REALTIME, &a);
	t = metric_now_ns();
	clock_gettime(CLOCK_REALTIME, &b);
	ck_assert_int_ge(t, (int64_t)a.tv_sec * 1000000000 + a.tv_nsec);
	ck_assert_int_le(t, (int64_t)b.tv_sec * 1000000000 + b.tv_nsec);
	ck_assert_int_gt(t, 1600000000LL * 1000000000LL);    /* after 2020 */
}
END_TEST

START_TEST(stats_durations)
{
	/* the three durations tell the paths apart in a response body */
	ck_assert_int_eq(STATS_BUILT_NS, 10000000);
	ck_assert_int_eq(STATS_VALUE_NS, 12000000);
	ck_assert_int_eq(STATS_POINTER_NS, 15000000);
}
END_TEST

static Suite *metric_suite(void)
{
	Suite *s = suite_create("metric");
	TCase *tc = tcase_create("metric");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, value_is_deterministic);
	tcase_add_test(tc, value_in_open_unit_interval);
	tcase_add_test(tc, value_seed_and_map);
	tcase_add_test(tc, value_differs_with_work_and_id);
	tcase_add_test(tc, value_formats_below_one);
	tcase_add_test(tc, now_is_wall_clock_ns);
	tcase_add_test(tc, stats_durations);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(metric_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
