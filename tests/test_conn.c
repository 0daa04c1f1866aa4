/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for queue/conn.c: the connection table - slots handed out from
 * a high-water mark and recycled last-in first-out, memory reserved but
 * committed only when touched, and read-buffer pages given back on put. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "queue/conn.h"

static size_t page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* Resident pages of [p, p + n) (p page-aligned). */
static size_t resident(const void *p, size_t n)
{
	size_t np = (n + page() - 1) / page(), r = 0;
	unsigned char *vec = calloc(np, 1);

	ck_assert_ptr_nonnull(vec);
	ck_assert_int_eq(mincore((void *)p, n, vec), 0);
	for (size_t i = 0; i < np; i++)
		r += vec[i] & 1;
	free(vec);
	return r;
}

START_TEST(get_in_order_then_full)
{
	struct conn_table t;

	ck_assert_int_eq(conn_table_init(&t, 5, 1024), 0);
	for (uint32_t i = 0; i < 5; i++) {
		uint32_t s = conn_table_get(&t);

		ck_assert_uint_eq(s, i);
		/* Never used: all zeroes, i.e. free with generation 0. */
		ck_assert_uint_eq(t.slots[s].state, CONN_FREE);
		ck_assert_uint_eq(t.slots[s].gen, 0);
	}
	ck_assert_uint_eq(conn_table_get(&t), UINT32_MAX);
	ck_assert_uint_eq(conn_table_get(&t), UINT32_MAX);
	conn_table_destroy(&t);
	ck_assert_ptr_null(t.slots);
	ck_assert_ptr_null(t.bufs);
}
END_TEST

START_TEST(put_is_reused_last_in_first_out)
{
	struct conn_table t;

	ck_assert_int_eq(conn_table_init(&t, 8, 1024), 0);
	for (int i = 0; i < 4; i++)
		conn_table_get(&t);                 /* 0..3 */
	conn_table_put(&t, 1, 0);
	conn_table_put(&t, 3, 0);
	conn_table_put(&t, 0, 0);
	/* The warm ones first, most recent first; then fresh slots. */
	ck_assert_uint_eq(conn_table_get(&t), 0);
	ck_assert_uint_eq(conn_table_get(&t), 3);
	ck_assert_uint_eq(conn_table_get(&t), 1);
	ck_assert_uint_eq(conn_table_get(&t), 4);
	/* A slot keeps what its last connection left (its generation). */
	t.slots[4].gen = 7;
	conn_table_put(&t, 4, 0);
	ck_assert_uint_eq(conn_table_get(&t), 4);
	ck_assert_uint_eq(t.slots[4].gen, 7);
	for (uint32_t i = 5; i < 8; i++)
		ck_assert_uint_eq(conn_table_get(&t), i);
	ck_assert_uint_eq(conn_table_get(&t), UINT32_MAX);
	conn_table_destroy(&t);
}
END_TEST

/* A million connections' worth of slots and 64 KiB read buffers costs no
 * memory until touched. */
START_TEST(reserved_not_committed)
{
	struct conn_table t;
	uint32_t n = 1u << 20, cap = 64u << 10;

	ck_assert_int_eq(conn_table_init(&t, n, cap), 0);
	ck_assert_uint_eq(resident(t.bufs, 64 * (size_t)cap), 0);
	ck_assert_uint_eq(resident(t.slots, 1024 * sizeof(struct conn)), 0);
	uint32_t s = conn_table_get(&t);
	char *buf = t.bufs + (size_t)s * cap;

	buf[0] = 'x';
	buf[3 * page()] = 'y';
	ck_assert_uint_eq(resident(t.bufs, 64 * (size_t)cap), 2);
	conn_table_destroy(&t);
}
END_TEST

/* Writes a distinct pattern over a slot's whole buffer. */
static void scribble(struct conn_table *t, uint32_t s)
{
	memset(t->bufs + (size_t)s * t->buf_cap, 'a' + (int)s, t->buf_cap);
}

static bool intact(const struct conn_table *t, uint32_t s)
{
	const char *b = t->bufs + (size_t)s * t->buf_cap;

	for (size_t i = 0; i < t->buf_cap; i++)
		if (b[i] != 'a' + (int)s)
			return false;
	return true;
}

/* A buffer that is not a whole number of pages, so slots share pages:
 * put gives back the pages wholly inside what the slot used (they read
 * as zeroes again) and never touches a neighbour's bytes. */
START_TEST(put_gives_used_pages_back)
{
	struct conn_table t;
	uint32_t cap = (uint32_t)(3 * page() + 100);

	ck_assert_int_eq(conn_table_init(&t, 4, cap), 0);
	for (uint32_t s = 0; s < 4; s++) {
		ck_assert_uint_eq(conn_table_get(&t), s);
		scribble(&t, s);
	}
	/* Slot 1 starts 100 bytes into page 3 of the buffers: its whole
	 * pages are pages 4 and 5 (page 6 is shared with slot 2). */
	char *start = t.bufs + cap;
	char *p4 = t.bufs + 4 * page();

	ck_assert(start < p4 && p4 + 2 * page() <= start + cap);
	conn_table_put(&t, 1, cap);
	ck_assert_uint_eq(resident(p4, 2 * page()), 0);
	for (size_t i = 0; i < 2 * page(); i++)
		if (p4[i] != 0)
			ck_abort_msg("byte %zu of slot 1's pages kept", i);
	/* Its bytes on shared pages stay (they are not its alone). */
	ck_assert(start[0] == 'b' && start[cap - 1] == 'b');
	ck_assert(intact(&t, 0));
	ck_assert(intact(&t, 2));
	ck_assert(intact(&t, 3));

	/* A small read (one page or less) keeps its pages. */
	conn_table_put(&t, 2, (uint32_t)page());
	ck_assert(intact(&t, 2));
	/* Part of a buffer: slot 3 read into its first whole page and half
	 * of the next; the first is given back, the shared last page kept. */
	char *s3 = t.bufs + 3 * (size_t)cap;
	char *first = (char *)(((uintptr_t)s3 + page() - 1) & ~(uintptr_t)(page() - 1));
	size_t used = (size_t)(first - s3) + page() + page() / 2;

	conn_table_put(&t, 3, (uint32_t)used);
	for (size_t i = 0; i < page(); i++)
		if (first[i] != 0)
			ck_abort_msg("byte %zu of slot 3's first page kept", i);
	ck_assert(s3[0] == 'd' && s3[cap - 1] == 'd');
	ck_assert(intact(&t, 0));
	conn_table_destroy(&t);
}
END_TEST

/* More than the address space can hold: -ENOMEM and nothing left over. */
START_TEST(init_fails_cleanly)
{
	struct conn_table t;

	ck_assert_int_eq(conn_table_init(&t, UINT32_MAX, UINT32_MAX), -ENOMEM);
	ck_assert_ptr_null(t.slots);
	ck_assert_ptr_null(t.bufs);
	ck_assert_ptr_null(t.free_stack);
	ck_assert_uint_eq(t.n, 0);
}
END_TEST

static Suite *conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("table");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, get_in_order_then_full);
	tcase_add_test(tc, put_is_reused_last_in_first_out);
	tcase_add_test(tc, reserved_not_committed);
	tcase_add_test(tc, put_gives_used_pages_back);
	tcase_add_test(tc, init_fails_cleanly);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conn_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
