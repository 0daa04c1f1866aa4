/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/parse.c: durations, counts, percentile lists,
 * id ranges and whole files. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/blast/parse.h"

START_TEST(test_durations)
{
	static const struct {
		const char *s;
		uint64_t ns;
	} ok[] = {
		{"10s", 10000000000ull}, {"1m", 60000000000ull}, {"500ms", 500000000ull},
		{"1.5s", 1500000000ull}, {"250us", 250000ull},   {"2", 2000000000ull},
		{"1h", 3600000000000ull}, {"100ns", 100ull},     {"0.5min", 30000000000ull},
	};
	static const char *bad[] = {"", "s", "10x", "-1s", "0", "0s", "1.5.5s", "2d", "ten", "1e30s"};
	uint64_t ns;
	for (unsigned i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		ck_assert_int_eq(parse_duration(ok[i].s, &ns), 0);
		ck_assert_uint_eq(ns, ok[i].ns);
	}
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(parse_duration(bad[i], &ns) == -1, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(test_percentile_lists)
{
	double p[8];
	unsigned n;
	ck_assert_int_eq(parse_percentiles("99.9,50,90", p, &n, 8), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_double_eq(p[0], 50);
	ck_assert_double_eq(p[1], 90);
	ck_assert_double_eq(p[2], 99.9);
	ck_assert_int_eq(parse_percentiles("100", p, &n, 8), 0);
	ck_assert_int_eq(parse_percentiles("0", p, &n, 8), -1);
	ck_assert_int_eq(parse_percentiles("101", p, &n, 8), -1);
	ck_assert_int_eq(parse_percentiles("50,", p, &n, 8), -1);
	ck_assert_int_eq(parse_percentiles("50,,90", p, &n, 8), -1);
	ck_assert_int_eq(parse_percentiles("", p, &n, 8), -1);
	ck_assert_int_eq(parse_percentiles("1,2,3", p, &n, 2), -1);
}
END_TEST

START_TEST(test_counts)
{
	uint64_t v;
	ck_assert_int_eq(parse_count("250", &v), 0);
	ck_assert_uint_eq(v, 250);
	ck_assert_int_eq(parse_count("2k", &v), 0);
	ck_assert_uint_eq(v, 2000);
	ck_assert_int_eq(parse_count("3M", &v), 0);
	ck_assert_uint_eq(v, 3000000);
	static const char *bad[] = {"0", "-1", "", "k", "1x", "1kk", "18446744073709551616"};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(parse_count(bad[i], &v) == -1, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(test_ranges)
{
	uint64_t lo, hi;
	ck_assert_int_eq(parse_range("1-1000", &lo, &hi), 0);
	ck_assert_uint_eq(lo, 1);
	ck_assert_uint_eq(hi, 1000);
	ck_assert_int_eq(parse_range("0-0", &lo, &hi), 0);
	ck_assert_uint_eq(hi, 0);
	ck_assert_int_eq(parse_range("999999999999999999-999999999999999999", &lo, &hi), 0);
	static const char *bad[] = {"", "5", "5-", "-5", "9-1", "1-2-3", "a-b", " 1-2", "1-2 ",
				    "+1-2", "1000000000000000000-1000000000000000001"};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(parse_range(bad[i], &lo, &hi) == -1, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(test_whole_file)
{
	char path[] = "/tmp/blast-parse-XXXXXX", err[256], *text;
	size_t len;
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	for (int i = 0; i < 10000; i++)
		fputc('a' + i % 26, f);
	fclose(f);
	ck_assert_int_eq(read_whole_file(path, 1 << 20, &text, &len, err, sizeof err), 0);
	ck_assert_uint_eq(len, 10000);
	ck_assert_int_eq(text[9999], 'a' + 9999 % 26);
	ck_assert_int_eq(text[10000], 0);
	free(text);
	ck_assert_int_eq(read_whole_file(path, 5000, &text, &len, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "too large"));
	unlink(path);
	ck_assert_int_eq(read_whole_file(path, 5000, &text, &len, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_int_eq(read_whole_file("/", 5000, &text, &len, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "directory"));
}
END_TEST

static Suite *parse_suite(void)
{
	Suite *s = suite_create("parse");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_durations);
	tcase_add_test(tc, test_percentile_lists);
	tcase_add_test(tc, test_counts);
	tcase_add_test(tc, test_ranges);
	tcase_add_test(tc, test_whole_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(parse_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
