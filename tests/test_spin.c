/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for workers/spin.c: the spin policy, driven with made-up
 * idle periods (whether work arrived during each spin). */
#include "config.h"

#include <check.h>
#include <stdlib.h>

#include "workers/spin.h"

static struct spin_policy sp;

/* n idle periods; each that spins ends as caught says.  Returns how many
 * spun. */
static unsigned idle(unsigned n, bool caught)
{
	unsigned spun = 0;

	for (unsigned i = 0; i < n; i++)
		if (spin_begin(&sp)) {
			spin_end(&sp, caught);
			spun++;
		}
	return spun;
}

/* Spinning starts on, and stays on while it catches work. */
START_TEST(pays_keeps_spinning)
{
	spin_init(&sp);
	ck_assert_uint_eq(idle(10 * SPIN_WINDOW, true), 10 * SPIN_WINDOW);
	/* Half the window catching work is enough. */
	for (unsigned w = 0; w < 10; w++)
		for (unsigned i = 0; i < SPIN_WINDOW; i++) {
			ck_assert(spin_begin(&sp));
			spin_end(&sp, i % 2 == 0);
		}
	ck_assert(spin_begin(&sp));
}
END_TEST

/* A window that rarely catches work stops spinning for SPIN_BACKOFF_MIN
 * idle periods; the retry is one window. */
START_TEST(rarely_pays_stops)
{
	spin_init(&sp);
	ck_assert_uint_eq(idle(SPIN_WINDOW, false), SPIN_WINDOW);
	/* Off: the next SPIN_BACKOFF_MIN - 1 periods do not spin, then one
	 * does (the retry). */
	ck_assert_uint_eq(idle(SPIN_BACKOFF_MIN - 1, false), 0);
	ck_assert(spin_begin(&sp));
	spin_end(&sp, false);
	/* The retry goes on for a whole window before it is judged. */
	ck_assert_uint_eq(idle(SPIN_WINDOW - 1, false), SPIN_WINDOW - 1);
	/* Failed: off for twice as long. */
	ck_assert_uint_eq(idle(2 * SPIN_BACKOFF_MIN - 1, false), 0);
	ck_assert(spin_begin(&sp));
	spin_end(&sp, true);
}
END_TEST

/* Fewer than half caught: off.  A retry that pays resets the backoff. */
START_TEST(threshold_and_reset)
{
	spin_init(&sp);
	for (unsigned i = 0; i < SPIN_WINDOW; i++) {
		ck_assert(spin_begin(&sp));
		spin_end(&sp, i < SPIN_WINDOW / 2 - 1);    /* one short of half */
	}
	ck_assert(!spin_begin(&sp));
	/* Back off twice (64, 128), then a retry window that pays. */
	ck_assert_uint_eq(idle(SPIN_BACKOFF_MIN - 2, false), 0);
	ck_assert_uint_eq(idle(SPIN_WINDOW, false), SPIN_WINDOW);
	ck_assert_uint_eq(idle(2 * SPIN_BACKOFF_MIN - 1, false), 0);
	ck_assert_uint_eq(idle(SPIN_WINDOW, true), SPIN_WINDOW);
	ck_assert_uint_eq(sp.backoff, SPIN_BACKOFF_MIN);
	/* On again for good: a long run of paying periods all spin. */
	ck_assert_uint_eq(idle(63 * SPIN_WINDOW, true), 63 * SPIN_WINDOW);
	/* And the next failure backs off from the minimum again. */
	ck_assert_uint_eq(idle(SPIN_WINDOW, false), SPIN_WINDOW);
	ck_assert_uint_eq(idle(SPIN_BACKOFF_MIN - 1, false), 0);
	ck_assert(spin_begin(&sp));
}
END_TEST

/* A worker whose spins never pay spins a vanishing share of its idle
 * periods: the backoff doubles up to SPIN_BACKOFF_MAX. */
START_TEST(never_pays_is_bounded)
{
	unsigned spun;

	spin_init(&sp);
	spun = idle(1000000, false);
	ck_assert_uint_eq(sp.backoff, SPIN_BACKOFF_MAX);
	/* A window of 16 per retry, retries 64, 128, ... 8192 periods apart,
	 * then every 8192: about 2,050 of a million, and never none. */
	ck_assert_uint_lt(spun, 1000000 / 400);
	ck_assert_uint_gt(spun, 0);
}
END_TEST

static Suite *spin_suite(void)
{
	Suite *s = suite_create("spin");
	TCase *tc = tcase_create("policy");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, pays_keeps_spinning);
	tcase_add_test(tc, rarely_pays_stops);
	tcase_add_test(tc, threshold_and_reset);
	tcase_add_test(tc, never_pays_is_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(spin_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
