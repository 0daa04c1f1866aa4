/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/chart.c: the ranges cover [min, max] in order,
 * their counts add up to the total, and the drawing shows each one. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/blast/chart.h"

START_TEST(test_bins_cover_everything)
{
	struct hist *h = malloc(sizeof *h);
	struct chart_bin b[CHART_MAX_ROWS];
	hist_init(h);
	ck_assert_uint_eq(chart_bins(h, 10, b), 0);
	for (uint64_t v = 1000; v < 100000000; v = v * 11 / 10)
		hist_record(h, v);
	unsigned n = chart_bins(h, 12, b);
	ck_assert_uint_eq(n, 12);
	ck_assert_uint_eq(b[0].lo, h->min);
	ck_assert_uint_eq(b[n - 1].hi, h->max);
	uint64_t sum = 0;
	for (unsigned i = 0; i < n; i++) {
		ck_assert_uint_le(b[i].lo, b[i].hi);
		if (i)
			ck_assert_uint_eq(b[i].lo, b[i - 1].hi + 1);
		sum += b[i].count;
	}
	ck_assert_uint_eq(sum, h->total);
	/* log scale: equal ratios, so a log-uniform input fills them evenly */
	for (unsigned i = 0; i < n; i++)
		ck_assert_uint_ge(b[i].count, 7);
	free(h);
}
END_TEST

START_TEST(test_single_value_one_row)
{
	struct hist *h = malloc(sizeof *h);
	struct chart_bin b[CHART_MAX_ROWS];
	hist_init(h);
	for (int i = 0; i < 5; i++)
		hist_record(h, 42000);
	ck_assert_uint_eq(chart_bins(h, 20, b), 1);
	ck_assert_uint_eq(b[0].count, 5);
	ck_assert_uint_eq(b[0].lo, 42000);
	ck_assert_uint_eq(b[0].hi, 42000);
	free(h);
}
END_TEST

START_TEST(test_drawing)
{
	struct hist *h = malloc(sizeof *h);
	char *text = NULL;
	size_t len = 0;
	hist_init(h);
	for (int i = 0; i < 1000; i++)
		hist_record(h, 1000000);
	hist_record(h, 8000000);
	FILE *f = open_memstream(&text, &len);
	chart_print(f, h, 4, 20, "  ");
	fclose(f);
	/* 4 lines; the full bar is 20 wide; the lone slow one still shows */
	unsigned lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	ck_assert_uint_eq(lines, 4);
	ck_assert_ptr_nonnull(strstr(text, "|####################       1000  99.9%"));
	ck_assert_ptr_nonnull(strstr(text, "|#                             1   0.1%"));
	free(text);
	hist_init(h);
	f = open_memstream(&text, &len);
	chart_print(f, h, 4, 20, "");
	fclose(f);
	ck_assert_str_eq(text, "(no responses)\n");
	free(text);
	free(h);
}
END_TEST

static Suite *chart_suite(void)
{
	Suite *s = suite_create("chart");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_bins_cover_everything);
	tcase_add_test(tc, test_single_value_one_row);
	tcase_add_test(tc, test_drawing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(chart_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
