/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/series.c: seconds are emitted once every thread
 * has published them, in order, and a run ending on a second boundary
 * has no extra, empty second. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/blast/series.h"

static char *csv_text;
static size_t csv_len;
static FILE *csv;
static struct series ser;
static struct hist h;

static void setup(void)
{
	csv = open_memstream(&csv_text, &csv_len);
	ck_assert_ptr_nonnull(csv);
	ck_assert_int_eq(series_init(&ser, 2, csv, "http://u/"), 0);
	hist_init(&h);
	hist_record(&h, 1000000);
}

static void teardown(void)
{
	series_destroy(&ser);
	fclose(csv);
	free(csv_text);
}

static void pub(unsigned t, uint64_t sec, const struct hist *hh, uint64_t req, int final)
{
	struct series_part p = {.h = hh, .req = req, .len_ns = SERIES_SEC_NS};
	series_publish(&ser, t, sec, &p, final);
}

static unsigned rows(void)
{
	fflush(csv);
	unsigned n = 0;
	for (size_t i = 0; i < csv_len; i++)
		n += csv_text[i] == '\n';
	return n;
}

START_TEST(test_second_waits_for_every_thread)
{
	pub(0, 0, &h, 1, 0);
	series_poll(&ser, 0);
	ck_assert_uint_eq(rows(), 0);
	pub(1, 0, &h, 1, 0);
	series_poll(&ser, 0);
	ck_assert_uint_eq(rows(), 1);
	ck_assert_ptr_nonnull(strstr(csv_text, "http://u/,1,2,0,"));
}
END_TEST

/* Regression: a 2 s run printed a third, empty second ("3s 0 req/s" and
 * a CSV row of zeros).  Threads that end on the boundary publish no
 * partial second, only that they are done. */
START_TEST(test_no_phantom_last_second)
{
	for (unsigned t = 0; t < 2; t++) {
		pub(t, 0, &h, 1, 0);
		pub(t, 1, &h, 1, 0);
		pub(t, 2, NULL, 0, 1);
	}
	series_poll(&ser, 1);
	ck_assert_uint_eq(rows(), 2);
	ck_assert_ptr_null(strstr(csv_text, "http://u/,3,"));
}
END_TEST

/* A partial last second that has data is emitted. */
START_TEST(test_partial_last_second_kept)
{
	pub(0, 0, &h, 1, 0);
	pub(0, 1, &h, 1, 1);
	pub(1, 0, &h, 1, 0);
	pub(1, 1, NULL, 0, 1);
	series_poll(&ser, 1);
	ck_assert_uint_eq(rows(), 2);
	ck_assert_ptr_nonnull(strstr(csv_text, "http://u/,2,1,0,"));
}
END_TEST

static Suite *series_suite(void)
{
	Suite *s = suite_create("series");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_second_waits_for_every_thread);
	tcase_add_test(tc, test_no_phantom_last_second);
	tcase_add_test(tc, test_partial_last_second_kept);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(series_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
