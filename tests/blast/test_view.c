/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/view.c: plain lines off a terminal, a block
 * redrawn in place on one, nothing with -q. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/blast/view.h"

static struct hist *h, *sofar;
static char *text;
static size_t len;
static FILE *out;

static void setup(void)
{
	h = malloc(sizeof *h);
	sofar = malloc(sizeof *sofar);
	hist_init(h);
	hist_init(sofar);
	for (int i = 0; i < 100; i++)
		hist_record(h, 1000000);
	hist_merge(sofar, h);
	out = open_memstream(&text, &len);
}

static void teardown(void)
{
	free(h);
	free(sofar);
	free(text);
}

static void second(struct view *v, uint64_t index, uint64_t len_ns)
{
	struct series_sec sec = {.index = index, .len_ns = len_ns, .h = h, .req = 100, .err = 2,
				 .inflight = 8, .sofar = sofar, .sofar_req = 100 * (index + 1),
				 .sofar_err = 2};
	view_second(v, &sec);
}

static unsigned count(const char *needle)
{
	unsigned n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

START_TEST(test_lines)
{
	struct view v;
	view_start(&v, out, VIEW_LINES, "http://u/", 2000000000, 0);
	second(&v, 0, SERIES_SEC_NS);
	second(&v, 1, 500000000); /* a partial second: the rate is per second */
	view_end(&v);
	fclose(out);
	ck_assert_ptr_nonnull(strstr(text, "blast:    1s        100 req/s  errors 2  in flight 8"));
	ck_assert_ptr_nonnull(strstr(text, "blast:    2s        200 req/s"));
	ck_assert_uint_eq(count("\033["), 0);
	ck_assert_uint_eq(count("\n"), 2);
}
END_TEST

START_TEST(test_live_redraws_in_place)
{
	struct view v;
	view_start(&v, out, VIEW_LIVE, "http://u/", 3000000000, 0);
	second(&v, 0, SERIES_SEC_NS);
	second(&v, 1, SERIES_SEC_NS);
	view_end(&v);
	fclose(out);
	/* the start frame, two redraws and the final erase each go back up */
	ck_assert_uint_eq(count("\033[2A\r\033[J"), 1);
	ck_assert_uint_eq(count("A\r\033[J"), 3);
	ck_assert_uint_eq(count("in flight 8"), 2);
	ck_assert_uint_eq(count("2s of 3s"), 1);
	ck_assert_uint_eq(count("latency so far: p50"), 2);
	ck_assert_ptr_nonnull(strstr(text, "|##############################"));
	ck_assert_uint_eq(v.drawn, 0);
}
END_TEST

START_TEST(test_quiet)
{
	struct view v;
	view_start(&v, out, VIEW_OFF, "http://u/", 1000000000, 0);
	second(&v, 0, SERIES_SEC_NS);
	view_end(&v);
	fclose(out);
	ck_assert_uint_eq(len, 0);
}
END_TEST

static Suite *view_suite(void)
{
	Suite *s = suite_create("view");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_lines);
	tcase_add_test(tc, test_live_redraws_in_place);
	tcase_add_test(tc, test_quiet);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(view_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
