/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for workers/slab.c: the worker's bump allocator. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "workers/slab.h"

#define SLAB_SZ 4096

static struct slab s;

static void setup(void)
{
	ck_assert_int_eq(slab_init(&s, SLAB_SZ), 0);
}

static void teardown(void)
{
	slab_destroy(&s);
	ck_assert_ptr_null(s.base);
}

static size_t off(const void *p)
{
	return (size_t)((const char *)p - s.base);
}

START_TEST(init_state)
{
	ck_assert_ptr_nonnull(s.base);
	ck_assert_uint_eq(s.size, SLAB_SZ);
	ck_assert_uint_eq(s.used, 0);
	ck_assert_uint_eq(s.high_water, 0);
	ck_assert_uint_eq(s.resets, 0);
	ck_assert_uint_eq(s.overflows, 0);
	ck_assert_uint_eq((uintptr_t)s.base % SLAB_ALIGN, 0);
	ck_assert_uint_eq(slab_mark(&s), 0);
}
END_TEST

START_TEST(bump_is_aligned_16)
{
	static const size_t sizes[] = { 1, 15, 16, 17, 3, 32, 7, 100, 0, 1 };
	size_t expect = 0;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *p = slab_alloc(&s, sizes[i]);

		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % SLAB_ALIGN, 0);
		ck_assert_uint_eq(off(p), expect);
		ck_assert_uint_eq(s.used, expect + sizes[i]);
		memset(p, 0x5a, sizes[i]);     /* writable (ASan: unpoisoned) */
		expect = (expect + sizes[i] + 15) & ~(size_t)15;
	}
	/* placed at 0, 16, 32, 48, 80, 96, 128, 144, 256, 256 */
	ck_assert_uint_eq(s.used, 257);
	ck_assert_uint_eq(s.overflows, 0);
}
END_TEST

START_TEST(mark_and_reset_to)
{
	char *a = slab_alloc(&s, 40);
	size_t m = slab_mark(&s);
	char *b = slab_alloc(&s, 200);
	char *c = slab_alloc(&s, 8);

	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(m, 40);
	ck_assert_uint_eq(off(b), 48);
	ck_assert_uint_eq(off(c), 256);
	slab_reset_to(&s, m);
	ck_assert_uint_eq(s.used, 40);
	ck_assert_uint_eq(s.resets, 1);
	/* The space after the mark is handed out again, from the same place. */
	ck_assert_ptr_eq(slab_alloc(&s, 200), b);
	/* `a`, before the mark, is still usable. */
	memset(a, 1, 40);
	slab_reset(&s);
	ck_assert_uint_eq(s.used, 0);
	ck_assert_uint_eq(s.resets, 2);
	ck_assert_ptr_eq(slab_alloc(&s, 1), a);
}
END_TEST

START_TEST(trim_gives_back_the_tail)
{
	char *p = slab_alloc(&s, 1000);

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(s.used, 1000);
	slab_trim(&s, p, 10);
	ck_assert_uint_eq(s.used, 10);
	char *q = slab_alloc(&s, 5);
	ck_assert_uint_eq(off(q), 16);
	/* trimming the last allocation to zero bytes */
	slab_trim(&s, q, 0);
	ck_assert_uint_eq(s.used, 16);
	ck_assert_ptr_eq(slab_alloc(&s, 1), q);
}
END_TEST

START_TEST(overflow_returns_null_and_counts)
{
	char *p = slab_alloc(&s, SLAB_SZ + 1);

	ck_assert_ptr_null(p);
	ck_assert_uint_eq(s.overflows, 1);
	ck_assert_uint_eq(s.used, 0);
	ck_assert_ptr_null(slab_alloc(&s, SIZE_MAX));
	ck_assert_ptr_null(slab_alloc(&s, SIZE_MAX - 8));
	ck_assert_uint_eq(s.overflows, 3);
	ck_assert_uint_eq(s.used, 0);

	/* Exactly full fits. */
	p = slab_alloc(&s, SLAB_SZ);
	ck_assert_ptr_eq(p, s.base);
	ck_assert_uint_eq(s.used, SLAB_SZ);
	ck_assert_ptr_null(slab_alloc(&s, 1));
	ck_assert_uint_eq(s.overflows, 4);
	ck_assert_uint_eq(s.used, SLAB_SZ);

	/* Alignment padding counts: 4090 used, 1 byte would start at 4096. */
	slab_reset(&s);
	ck_assert_ptr_nonnull(slab_alloc(&s, SLAB_SZ - 6));
	ck_assert_ptr_null(slab_alloc(&s, 1));
	ck_assert_uint_eq(s.overflows, 5);
	ck_assert_uint_eq(s.used, SLAB_SZ - 6);
	/* ...but 6 bytes at 4090 would straddle the aligned end too. */
	ck_assert_ptr_null(slab_alloc(&s, 6));
	ck_assert_uint_eq(s.overflows, 6);

	/* After a reset the whole slab is available again. */
	slab_reset(&s);
	ck_assert_ptr_nonnull(slab_alloc(&s, SLAB_SZ));
	ck_assert_uint_eq(s.overflows, 6);
}
END_TEST

START_TEST(high_water_mark)
{
	ck_assert_ptr_nonnull(slab_alloc(&s, 1000));
	slab_reset(&s);
	ck_assert_uint_eq(s.high_water, 1000);
	ck_assert_ptr_nonnull(slab_alloc(&s, 10));
	slab_reset(&s);
	ck_assert_uint_eq(s.high_water, 1000);   /* never goes down */
	ck_assert_ptr_nonnull(slab_alloc(&s, 1500));
	ck_assert_ptr_nonnull(slab_alloc(&s, 500));     /* at 1504 */
	/* recorded when the slab is reset, also by a partial reset */
	slab_reset_to(&s, 16);
	ck_assert_uint_eq(s.high_water, 2004);
	slab_reset(&s);
	ck_assert_uint_eq(s.high_water, 2004);
	/* trim lowers `used` before the reset sees it */
	char *p = slab_alloc(&s, 3000);
	slab_trim(&s, p, 100);
	slab_reset(&s);
	ck_assert_uint_eq(s.high_water, 2004);
}
END_TEST

START_TEST(resets_counter)
{
	for (int i = 0; i < 10; i++) {
		ck_assert_ptr_nonnull(slab_alloc(&s, 64));
		slab_reset(&s);
	}
	ck_assert_uint_eq(s.resets, 10);
	slab_reset_to(&s, 0);        /* a reset with nothing used still counts */
	ck_assert_uint_eq(s.resets, 11);
}
END_TEST

START_TEST(prefault_keeps_state)
{
	ck_assert_ptr_nonnull(slab_alloc(&s, 10));
	slab_reset(&s);
	slab_prefault(&s);
	ck_assert_uint_eq(s.used, 0);
	ck_assert_uint_eq(s.resets, 1);
	char *p = slab_alloc(&s, SLAB_SZ);
	ck_assert_ptr_nonnull(p);
	memset(p, 0, SLAB_SZ);
}
END_TEST

#ifdef METRICD_ASAN
/* Debug builds poison on reset: memory given back must not be readable. */
START_TEST(asan_poisons_on_reset)
{
	char *p = slab_alloc(&s, 64);

	ck_assert_int_eq(__asan_address_is_poisoned(p), 0);
	ck_assert_int_eq(__asan_address_is_poisoned(p + 63), 0);
	ck_assert_int_ne(__asan_address_is_poisoned(p + 64), 0);
	slab_reset(&s);
	ck_assert_int_ne(__asan_address_is_poisoned(p), 0);
	ck_assert_int_ne(__asan_address_is_poisoned(p + 63), 0);
	p = slab_alloc(&s, 8);
	ck_assert_int_eq(__asan_address_is_poisoned(p), 0);
}
END_TEST
#endif

START_TEST(init_fails_cleanly)
{
	struct slab t;

	/* mmap of zero bytes fails with EINVAL */
	ck_assert_int_lt(slab_init(&t, 0), 0);
	ck_assert_ptr_null(t.base);
	slab_destroy(&t);
}
END_TEST

static Suite *slab_suite(void)
{
	Suite *su = suite_create("slab");
	TCase *tc = tcase_create("slab");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, init_state);
	tcase_add_test(tc, bump_is_aligned_16);
	tcase_add_test(tc, mark_and_reset_to);
	tcase_add_test(tc, trim_gives_back_the_tail);
	tcase_add_test(tc, overflow_returns_null_and_counts);
	tcase_add_test(tc, high_water_mark);
	tcase_add_test(tc, resets_counter);
	tcase_add_test(tc, prefault_keeps_state);
#ifdef METRICD_ASAN
	tcase_add_test(tc, asan_poisons_on_reset);
#endif
	suite_add_tcase(su, tc);

	TCase *tc2 = tcase_create("init");
	tcase_add_test(tc2, init_fails_cleanly);
	suite_add_tcase(su, tc2);
	return su;
}

int main(void)
{
	SRunner *sr = srunner_create(slab_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
