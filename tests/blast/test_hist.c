/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/hist.c: the log-linear latency histogram. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "tools/blast/hist.h"

/* Deterministic generator, so a failure can be reproduced. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Log-uniform between 1 us and 60 s: every octave equally represented. */
static uint64_t random_latency(void)
{
	double u = (double)(rng() >> 11) / 9007199254740992.0;
	return (uint64_t)exp(log(1e3) + u * (log(60e9) - log(1e3)));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

START_TEST(test_index_roundtrip)
{
	/* Every value lies inside the bucket hist_index() puts it in, and a
	 * bucket is at most 1/128 of its lower bound wide. */
	for (uint64_t v = 0; v < 100000; v++) {
		uint32_t i = hist_index(v);
		ck_assert_uint_le(hist_bucket_low(i), v);
		ck_assert_uint_gt(hist_bucket_low(i) + hist_bucket_width(i), v);
	}
	for (int k = 0; k < 200000; k++) {
		uint64_t v = rng() & HIST_MAX_VALUE;
		uint32_t i = hist_index(v);
		ck_assert_uint_lt(i, HIST_BUCKETS);
		ck_assert_uint_le(hist_bucket_low(i), v);
		ck_assert_uint_gt(hist_bucket_low(i) + hist_bucket_width(i), v);
		if (v >= 256)
			ck_assert_uint_le(hist_bucket_width(i) * 128, hist_bucket_low(i));
	}
	ck_assert_uint_eq(hist_index(HIST_MAX_VALUE), HIST_BUCKETS - 1);
	ck_assert_uint_eq(hist_index(UINT64_MAX), HIST_BUCKETS - 1);
	/* buckets are contiguous */
	for (uint32_t i = 1; i < HIST_BUCKETS; i++)
		ck_assert_uint_eq(hist_bucket_low(i - 1) + hist_bucket_width(i - 1),
				  hist_bucket_low(i));
}
END_TEST

START_TEST(test_single_values_within_bound)
{
	/* 1 us .. 60 s in 0.1 % steps: each value alone in a histogram comes
	 * back exactly (min/max clamp), and its bucket midpoint is within
	 * 1/256 of it. */
	for (double v = 1e3; v <= 60e9; v *= 1.001) {
		struct hist h;
		hist_init(&h);
		hist_record(&h, (uint64_t)v);
		ck_assert_uint_eq(hist_percentile(&h, 50), (uint64_t)v);
		double mid = (double)hist_bucket_mid(hist_index((uint64_t)v));
		ck_assert_double_le(fabs(mid - (uint64_t)v) / v, 1.0 / 256 + 1e-12);
	}
}
END_TEST

START_TEST(test_two_values_within_bound)
{
	/* With a second, larger value the 50th percentile is the bucket
	 * midpoint of the first: still within 1 %. */
	for (double v = 1e3; v <= 60e9; v *= 1.01) {
		struct hist h;
		hist_init(&h);
		hist_record(&h, (uint64_t)v);
		hist_record(&h, (uint64_t)(v * 10));
		double got = (double)hist_percentile(&h, 50);
		ck_assert_double_le(fabs(got - (uint64_t)v) / v, 0.01);
	}
}
END_TEST

START_TEST(test_percentiles_match_sorted_reference)
{
	enum { N = 200000 };
	static const double pcts[] = {0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};
	uint64_t *vals = malloc(N * sizeof *vals);
	struct hist *h = malloc(sizeof *h);
	ck_assert_ptr_nonnull(vals);
	ck_assert_ptr_nonnull(h);
	hist_init(h);
	for (int i = 0; i < N; i++) {
		vals[i] = random_latency();
		hist_record(h, vals[i]);
	}
	qsort(vals, N, sizeof *vals, cmp_u64);
	for (unsigned k = 0; k < sizeof pcts / sizeof pcts[0]; k++) {
		uint64_t rank = (uint64_t)ceil(pcts[k] / 100.0 * N);
		uint64_t ref = vals[rank - 1];
		uint64_t got = hist_percentile(h, pcts[k]);
		double err = fabs((double)got - (double)ref) / (double)ref;
		ck_assert_msg(err <= 1.0 / 256 + 1e-9, "p%g: got %llu want %llu (err %.5f)",
			      pcts[k], (unsigned long long)got, (unsigned long long)ref, err);
	}
	ck_assert_uint_eq(hist_percentile(h, 0), vals[0]);
	ck_assert_uint_eq(hist_percentile(h, 100), vals[N - 1]);
	ck_assert_uint_eq(h->min, vals[0]);
	ck_assert_uint_eq(h->max, vals[N - 1]);
	/* mean is exact; stdev from bucket midpoints is within 1 % */
	long double sum = 0, sq = 0;
	for (int i = 0; i < N; i++)
		sum += vals[i];
	long double mean = sum / N;
	for (int i = 0; i < N; i++)
		sq += ((long double)vals[i] - mean) * ((long double)vals[i] - mean);
	ck_assert_double_eq_tol(hist_mean(h), (double)mean, (double)mean * 1e-12);
	double sd = sqrtl(sq / N);
	ck_assert_double_le(fabs(hist_stdev(h) - sd) / sd, 0.01);
	free(vals);
	free(h);
}
END_TEST

START_TEST(test_merge_is_exact)
{
	struct hist *a = malloc(sizeof *a), *b = malloc(sizeof *b), *all = malloc(sizeof *all);
	hist_init(a);
	hist_init(b);
	hist_init(all);
	for (int i = 0; i < 50000; i++) {
		uint64_t v = random_latency();
		hist_record(i % 3 ? a : b, v);
		hist_record(all, v);
	}
	hist_merge(a, b);
	ck_assert_uint_eq(a->total, all->total);
	ck_assert_uint_eq(a->sum, all->sum);
	ck_assert_uint_eq(a->min, all->min);
	ck_assert_uint_eq(a->max, all->max);
	for (uint32_t i = 0; i < HIST_BUCKETS; i++)
		ck_assert_uint_eq(a->counts[i], all->counts[i]);
	ck_assert_uint_eq(hist_percentile(a, 99.9), hist_percentile(all, 99.9));
	/* merging an empty histogram changes nothing */
	hist_init(b);
	hist_merge(a, b);
	ck_assert_uint_eq(a->min, all->min);
	ck_assert_uint_eq(a->total, all->total);
	free(a);
	free(b);
	free(all);
}
END_TEST

START_TEST(test_empty_and_clamped)
{
	struct hist h;
	hist_init(&h);
	ck_assert_uint_eq(hist_percentile(&h, 50), 0);
	ck_assert_double_eq(hist_mean(&h), 0);
	ck_assert_double_eq(hist_stdev(&h), 0);
	hist_record(&h, HIST_MAX_VALUE + 12345);
	ck_assert_uint_eq(h.clamped, 1);
	ck_assert_uint_eq(h.max, HIST_MAX_VALUE + 12345);
	ck_assert_uint_eq(h.counts[HIST_BUCKETS - 1], 1);
	ck_assert_uint_eq(hist_percentile(&h, 99), HIST_MAX_VALUE + 12345);
	ck_assert_int_eq(hist_set_bucket(&h, HIST_BUCKETS, 1), -1);
}
END_TEST

static Suite *hist_suite(void)
{
	Suite *s = suite_create("hist");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_index_roundtrip);
	tcase_add_test(tc, test_single_values_within_bound);
	tcase_add_test(tc, test_two_values_within_bound);
	tcase_add_test(tc, test_percentiles_match_sorted_reference);
	tcase_add_test(tc, test_merge_is_exact);
	tcase_add_test(tc, test_empty_and_clamped);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hist_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
