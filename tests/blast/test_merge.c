/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/merge.c (with jsonout.c): results written with
 * --json come back identical, and merging adds them exactly. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/blast/merge.h"
#include "tools/blast/output.h"

/* xorshift64: each fake result draws its latencies from its own seed, so
 * a test can draw the same values again to build what it expects. */
static uint64_t rng(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

#define FAKE_VALUES 20000

/* The latencies of fake result `seed`: recorded one by one, never merged. */
static void record_fake_values(uint64_t seed, struct hist *lat, struct hist *raw)
{
	for (int i = 0; i < FAKE_VALUES; i++) {
		uint64_t v = 1000 + rng(&seed) % 50000000;
		hist_record(lat, v);
		if (raw)
			hist_record(raw, v / 2);
	}
}

static struct blast_config cfg;

static void setup(void)
{
	static const double pct[] = {50, 99, 99.9};
	memset(&cfg, 0, sizeof cfg);
	cfg.threads = 2;
	cfg.connections = 64;
	cfg.pipeline = 16;
	cfg.duration_ns = 10000000000ull;
	cfg.timeout_ns = 5000000000ull;
	cfg.method = "GET";
	memcpy(cfg.pct, pct, sizeof pct);
	cfg.npct = 3;
}

static struct run_result *fake_result(const char *url, int open_loop, uint64_t seed)
{
	struct run_result *r = calloc(1, sizeof *r);
	stats_init(&r->st);
	snprintf(r->url, sizeof r->url, "%s", url);
	r->merged = 1;
	r->elapsed_ns = 10000000000ull + seed % 1000;
	r->target_rate = open_loop ? 5000 : 0;
	record_fake_values(seed, &r->st.lat, open_loop ? &r->st.lat_raw : NULL);
	r->st.responses = r->st.lat.total;
	r->st.issued = r->st.responses + 7;
	r->st.status[200] = r->st.responses - 30;
	r->st.status[503] = 30;
	r->st.errors[ERR_CONNECT][ECONNREFUSED] = 3;
	r->st.errors[ERR_TIMEOUT][0] = 7;
	r->st.bytes_in = seed % 100000000;
	r->st.reconnects = 5;
	r->st.connects = 69;
	r->st.late = 11;
	r->st.lag_sum_ns = 123456789;
	r->st.lag_max_ns = 4567 + seed % 100;
	r->st.tls_handshakes = 64;
	r->st.tls_resumed = 60;
	return r;
}

static struct json *to_json(struct run_result *const *res, unsigned n)
{
	char *buf = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	output_json(f, &cfg, res, n);
	fclose(f);
	struct json *doc = json_parse(buf, len, err, sizeof err);
	ck_assert_msg(doc != NULL, "output is not JSON: %s", err);
	free(buf);
	return doc;
}

static void assert_same(const struct run_result *a, const struct run_result *b)
{
	ck_assert_str_eq(a->url, b->url);
	ck_assert_uint_eq(a->elapsed_ns, b->elapsed_ns);
	ck_assert_int_eq(memcmp(&a->st.lat, &b->st.lat, sizeof a->st.lat), 0);
	ck_assert_int_eq(memcmp(&a->st.lat_raw, &b->st.lat_raw, sizeof a->st.lat_raw), 0);
	ck_assert_int_eq(memcmp(a->st.status, b->st.status, sizeof a->st.status), 0);
	ck_assert_int_eq(memcmp(a->st.errors, b->st.errors, sizeof a->st.errors), 0);
	ck_assert_uint_eq(a->st.issued, b->st.issued);
	ck_assert_uint_eq(a->st.responses, b->st.responses);
	ck_assert_uint_eq(a->st.bytes_in, b->st.bytes_in);
	ck_assert_uint_eq(a->st.reconnects, b->st.reconnects);
	ck_assert_uint_eq(a->st.connects, b->st.connects);
	ck_assert_uint_eq(a->st.late, b->st.late);
	ck_assert_uint_eq(a->st.lag_sum_ns, b->st.lag_sum_ns);
	ck_assert_uint_eq(a->st.lag_max_ns, b->st.lag_max_ns);
	ck_assert_uint_eq(a->st.tls_handshakes, b->st.tls_handshakes);
	ck_assert_uint_eq(a->st.tls_resumed, b->st.tls_resumed);
	ck_assert_double_eq(a->target_rate, b->target_rate);
}

START_TEST(test_json_roundtrip)
{
	struct run_result *res[2] = {fake_result("http://h/a", 0, 11), fake_result("http://h/b", 1, 12)};
	struct json *doc = to_json(res, 2);
	const struct json *results = json_get(doc, "results");
	ck_assert_uint_eq(results->n, 2);
	ck_assert_uint_eq(json_get_u64(json_get(doc, "settings"), "connections", 0), 64);
	for (unsigned i = 0; i < 2; i++) {
		struct run_result back;
		char err[256];
		ck_assert_int_eq(result_from_json(&results->items[i], &back, err, sizeof err), 0);
		assert_same(res[i], &back);
	}
	/* the summary agrees with the histogram */
	const struct json *lat = json_get(&results->items[0], "latency");
	double p99 = json_get_num(json_get(lat, "percentiles_us"), "p99", -1);
	ck_assert_double_eq_tol(p99, (double)hist_percentile(&res[0]->st.lat, 99) / 1e3, 1e-3);
	/* named as metricd's /stats names them: 50, 99, 99.9 */
	const struct json *pcts = json_get(lat, "percentiles_us");
	ck_assert_uint_eq(pcts->n, 3);
	ck_assert_str_eq(pcts->keys[0], "p50");
	ck_assert_str_eq(pcts->keys[1], "p99");
	ck_assert_str_eq(pcts->keys[2], "p99_9");
	ck_assert_ptr_null(json_get(&results->items[0], "histogram_uncorrected"));
	ck_assert_ptr_nonnull(json_get(&results->items[1], "histogram_uncorrected"));
	json_free(doc);
	free(res[0]);
	free(res[1]);
}
END_TEST

/* The expectation is built without stats_merge or hist_merge (the code
 * under test): the values of both inputs are recorded again, one by one,
 * into a single histogram, and counters are added by hand. */
START_TEST(test_merge_adds_exactly)
{
	const uint64_t sa = 101, sb = 202, sc = 303;
	struct run_result *a = fake_result("http://h/a", 1, sa), *b = fake_result("http://h/a", 1, sb);
	struct run_result *c = fake_result("http://h/other", 1, sc);
	struct run_result *first[2] = {a, c};
	struct json *da = to_json(first, 2), *db = to_json(&b, 1);
	struct merge_set set;
	char err[256];
	memset(&set, 0, sizeof set);
	ck_assert_int_eq(merge_document(da, &set, err, sizeof err), 0);
	ck_assert_int_eq(merge_document(db, &set, err, sizeof err), 0);
	ck_assert_uint_eq(set.n, 2);
	ck_assert_uint_eq(set.files, 2);
	ck_assert_uint_eq(set.cfg.connections, 128); /* generators side by side */

	struct hist *want_lat = malloc(sizeof *want_lat), *want_raw = malloc(sizeof *want_raw);
	hist_init(want_lat);
	hist_init(want_raw);
	record_fake_values(sa, want_lat, want_raw);
	record_fake_values(sb, want_lat, want_raw);

	const struct run_result *got = set.res[0];
	ck_assert_uint_eq(got->merged, 2);
	ck_assert_int_eq(memcmp(&got->st.lat, want_lat, sizeof *want_lat), 0);
	ck_assert_int_eq(memcmp(&got->st.lat_raw, want_raw, sizeof *want_raw), 0);
	ck_assert_uint_eq(got->st.lat.total, 2 * FAKE_VALUES);
	ck_assert_uint_eq(got->st.status[503], 60);
	ck_assert_uint_eq(got->st.status[200], 2 * (FAKE_VALUES - 30));
	ck_assert_uint_eq(got->st.errors[ERR_CONNECT][ECONNREFUSED], 6);
	ck_assert_uint_eq(got->st.errors[ERR_TIMEOUT][0], 14);
	ck_assert_uint_eq(got->st.responses, 2 * FAKE_VALUES);
	ck_assert_uint_eq(got->st.issued, 2 * (FAKE_VALUES + 7));
	ck_assert_uint_eq(got->st.bytes_in, sa + sb);
	ck_assert_uint_eq(got->st.reconnects, 10);
	ck_assert_uint_eq(got->st.connects, 138);
	ck_assert_uint_eq(got->st.late, 22);
	ck_assert_uint_eq(got->st.tls_handshakes, 128);
	ck_assert_uint_eq(got->st.tls_resumed, 120);
	ck_assert_uint_eq(got->st.lag_sum_ns, 2 * 123456789);
	ck_assert_uint_eq(got->st.lag_max_ns, 4567 + sb % 100); /* the larger one */
	ck_assert_uint_eq(got->elapsed_ns, 10000000000ull + sb % 1000); /* the longer one */
	ck_assert_double_eq(got->target_rate, 10000);
	ck_assert_uint_eq(hist_percentile(&got->st.lat, 99.9), hist_percentile(want_lat, 99.9));
	ck_assert_str_eq(set.res[1]->url, "http://h/other");
	ck_assert_uint_eq(set.res[1]->merged, 1);
	merge_set_free(&set);
	json_free(da);
	json_free(db);
	free(want_lat);
	free(want_raw);
	free(a);
	free(b);
	free(c);
}
END_TEST

START_TEST(test_merge_rejects_foreign_documents)
{
	struct merge_set set;
	char err[256];
	static const char *bad[] = {
		"{\"x\": 1}",
		"{\"results\": [{\"url\": \"u\"}]}",
		"{\"results\": [{\"url\": \"u\", \"histogram\": {\"unit\": \"ns\", "
		"\"sub_bucket_bits\": 5, \"max_bits\": 40, \"buckets\": []}}]}",
		"{\"results\": [{\"url\": \"u\", \"histogram\": {\"unit\": \"ns\", "
		"\"sub_bucket_bits\": 7, \"max_bits\": 40, \"total\": 5, \"buckets\": [[3, 4]]}}]}",
		"{\"results\": [{\"url\": \"u\", \"histogram\": {\"unit\": \"ns\", "
		"\"sub_bucket_bits\": 7, \"max_bits\": 40, \"total\": 1, \"buckets\": [[99999, 1]]}}]}",
	};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct json *doc = json_parse(bad[i], strlen(bad[i]), err, sizeof err);
		ck_assert_ptr_nonnull(doc);
		memset(&set, 0, sizeof set);
		err[0] = 0;
		ck_assert_msg(merge_document(doc, &set, err, sizeof err) == -1, "accepted %u", i);
		ck_assert(err[0] != 0);
		merge_set_free(&set);
		json_free(doc);
	}
}
END_TEST

static Suite *merge_suite(void)
{
	Suite *s = suite_create("merge");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 20);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_json_roundtrip);
	tcase_add_test(tc, test_merge_adds_exactly);
	tcase_add_test(tc, test_merge_rejects_foreign_documents);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(merge_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
