/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for core/base/chain.c: a worker's unsent bytes and held
 * descriptors, in chains of blocks mapped from the kernel. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/wrap.h"
#include "core/base/chain.h"

/* Byte i of a reference stream (not a multiple of any block size). */
static char ref(size_t i)
{
	return (char)((i * 131 + i / 251) & 0xff);
}

static void fill_ref(char *p, size_t from, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = ref(from + i);
}

/* True if no page of [p, p + n) is mapped (mincore fails with ENOMEM). */
static bool unmapped(const void *p, size_t n)
{
	unsigned char vec[8];

	ck_assert_uint_le(n / 4096, sizeof(vec));
	return mincore((void *)p, n, vec) != 0 && errno == ENOMEM;
}

START_TEST(append_take_order_across_blocks)
{
	/* Pieces of odd sizes, so blocks end mid-piece; 5 blocks in all. */
	static const size_t pieces[] = { 1, 7000, 16000, 3, 30000, 12345, 1, 9000 };
	struct chain_pool p;
	struct chain t = { 0 };
	size_t total = 0, got = 0;
	char *buf = malloc(1 << 17), *out = malloc(1 << 17);

	chain_pool_init(&p);
	ck_assert(chain_empty(&t));
	for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
		fill_ref(buf, total, pieces[k]);
		ck_assert(chain_append(&p, &t, buf, pieces[k]));
		total += pieces[k];
		ck_assert_uint_eq(t.bytes, total);
	}
	unsigned nblocks = 0;

	for (struct chain_block *b = t.head; b; b = b->next)
		nblocks++;
	ck_assert_uint_eq(p.in_use, nblocks);
	ck_assert_uint_eq(p.mapped, nblocks);
	ck_assert_uint_gt(nblocks * (uint64_t)CHAIN_BLOCK_SIZE, total);
	/* Taken back in other sizes: the same stream, in order. */
	static const size_t takes[] = { 5, 16384, 1, 20000, 999, 30000 };
	for (size_t k = 0; k < sizeof(takes) / sizeof(takes[0]); k++) {
		ck_assert(chain_take(&p, &t, out, takes[k]));
		for (size_t i = 0; i < takes[k]; i++)
			if (out[i] != ref(got + i))
				ck_abort_msg("byte %zu differs", got + i);
		got += takes[k];
		ck_assert_uint_eq(t.bytes, total - got);
	}
	/* More than is held: refused, nothing taken. */
	ck_assert(!chain_take(&p, &t, out, total - got + 1));
	ck_assert_uint_eq(t.bytes, total - got);
	ck_assert(chain_take(&p, &t, out, total - got));
	for (size_t i = 0; i < total - got; i++)
		if (out[i] != ref(got + i))
			ck_abort_msg("byte %zu differs", got + i);
	ck_assert(chain_empty(&t));
	ck_assert_uint_eq(t.bytes, 0);
	ck_assert_uint_eq(p.in_use, 0);
	chain_pool_destroy(&p);
	free(buf);
	free(out);
}
END_TEST

/* Descriptor-sized records, as the worker holds requests. */
START_TEST(take_records_in_order)
{
	struct rec { uint64_t a, b, c, d, e, f; } r, back;
	struct chain_pool p;
	struct chain t = { 0 };

	chain_pool_init(&p);
	for (uint64_t i = 0; i < 2000; i++) {
		r = (struct rec){ i, ~i, i * 3, i + 7, i << 3, 42 };
		ck_assert(chain_append(&p, &t, &r, sizeof(r)));
	}
	for (uint64_t i = 0; i < 2000; i++) {
		ck_assert(chain_take(&p, &t, &back, sizeof(back)));
		ck_assert_uint_eq(back.a, i);
		ck_assert_uint_eq(back.b, ~i);
		ck_assert_uint_eq(back.e, i << 3);
	}
	ck_assert(!chain_take(&p, &t, &back, sizeof(back)));
	chain_pool_destroy(&p);
}
END_TEST

/* chain_skip drops bytes as chain_take would take them (a dropped held
 * request's access-log text), across blocks, and refuses more than the
 * chain holds, leaving it whole. */
START_TEST(skip_drops_what_take_would_take)
{
	uint64_t v, back;
	struct chain_pool p;
	struct chain t = { 0 };

	chain_pool_init(&p);
	for (v = 0; v < 3000; v++)
		ck_assert(chain_append(&p, &t, &v, sizeof(v)));
	ck_assert(chain_skip(&p, &t, 1000 * sizeof(v)));
	ck_assert(chain_take(&p, &t, &back, sizeof(back)));
	ck_assert_uint_eq(back, 1000);
	ck_assert(!chain_skip(&p, &t, 2000 * sizeof(v)));      /* 1999 left */
	ck_assert_uint_eq(t.bytes, 1999 * sizeof(v));
	ck_assert(chain_take(&p, &t, &back, sizeof(back)));
	ck_assert_uint_eq(back, 1001);
	ck_assert(chain_skip(&p, &t, t.bytes));
	ck_assert_uint_eq(t.bytes, 0);
	ck_assert(!chain_take(&p, &t, &back, sizeof(back)));
	chain_pool_destroy(&p);
}
END_TEST

/* Over a socketpair with the smallest send buffer: chain_send takes what
 * fits, returns 0 while the socket is full, and the peer gets the exact
 * stream once it reads. */
START_TEST(send_partial_over_socketpair)
{
	struct chain_pool p;
	struct chain t = { 0 };
	int sv[2], small = 1;
	size_t total = 300000, sent = 0, recvd = 0;
	char *buf = malloc(total), *in = malloc(total);
	bool saw_full = false;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	chain_pool_init(&p);
	fill_ref(buf, 0, total);
	ck_assert(chain_append(&p, &t, buf, total));
	while (!chain_empty(&t)) {
		ssize_t n = chain_send(&p, &t, sv[0]);

		ck_assert_int_ge(n, 0);
		sent += (size_t)n;
		ck_assert_uint_eq(t.bytes, total - sent);
		if (n == 0) {
			/* Full: the client reads a little. */
			saw_full = true;
			ssize_t r = read(sv[1], in + recvd, total - recvd);

			ck_assert_int_gt(r, 0);
			recvd += (size_t)r;
		}
	}
	ck_assert(saw_full);
	ck_assert_uint_eq(p.in_use, 0);
	while (recvd < total) {
		ssize_t r = read(sv[1], in + recvd, total - recvd);

		ck_assert_int_gt(r, 0);
		recvd += (size_t)r;
	}
	ck_assert(memcmp(in, buf, total) == 0);
	/* Nothing queued: nothing sent. */
	ck_assert_int_eq(chain_send(&p, &t, sv[0]), 0);
	close(sv[0]);
	close(sv[1]);
	chain_pool_destroy(&p);
	free(buf);
	free(in);
}
END_TEST

START_TEST(send_to_a_closed_peer_is_an_error)
{
	struct chain_pool p;
	struct chain t = { 0 };
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	chain_pool_init(&p);
	ck_assert(chain_append(&p, &t, "hello", 5));
	ck_assert_int_eq(chain_send(&p, &t, sv[0]), -EPIPE);
	/* The bytes stay queued; the caller decides (the worker drops them). */
	ck_assert_uint_eq(t.bytes, 5);
	chain_clear(&p, &t);
	ck_assert(chain_empty(&t));
	ck_assert_uint_eq(t.bytes, 0);
	close(sv[0]);
	chain_pool_destroy(&p);
}
END_TEST

/* A pool keeps CHAIN_POOL_KEEP free blocks mapped for reuse and gives the
 * rest back to the kernel. */
START_TEST(pool_keeps_a_few_and_unmaps_the_rest)
{
	enum { N = 10 };
	struct chain_pool p;
	struct chain t = { 0 }, u = { 0 };
	char *chunk = calloc(1, CHAIN_BLOCK_SIZE);
	void *blocks[N];
	unsigned nb = 0, gone = 0;

	chain_pool_init(&p);
	/* A block holds a little less than its size (its header): N - 1
	 * block sizes of data take N blocks. */
	for (int i = 0; i < N - 1; i++)
		ck_assert(chain_append(&p, &t, chunk, CHAIN_BLOCK_SIZE));
	for (struct chain_block *b = t.head; b; b = b->next)
		blocks[nb++] = b;
	ck_assert_uint_eq(nb, N);
	ck_assert_uint_eq(p.mapped, N);
	ck_assert_uint_eq(p.in_use, N);
	for (unsigned i = 0; i < nb; i++)
		ck_assert(!unmapped(blocks[i], CHAIN_BLOCK_SIZE));

	chain_clear(&p, &t);
	ck_assert_uint_eq(p.in_use, 0);
	ck_assert_uint_eq(p.nfree, CHAIN_POOL_KEEP);
	ck_assert_uint_eq(p.unmapped, N - CHAIN_POOL_KEEP);
	for (unsigned i = 0; i < nb; i++)
		gone += unmapped(blocks[i], CHAIN_BLOCK_SIZE);
	ck_assert_uint_eq(gone, N - CHAIN_POOL_KEEP);

	/* Reuse before mapping: KEEP blocks come back from the pool. */
	for (int i = 0; i < CHAIN_POOL_KEEP; i++)
		ck_assert(chain_append(&p, &u, chunk, CHAIN_BLOCK_SIZE - 100));
	ck_assert_uint_eq(p.mapped, N);
	ck_assert_uint_eq(p.nfree, 0);
	ck_assert(chain_append(&p, &u, chunk, CHAIN_BLOCK_SIZE));
	ck_assert_uint_eq(p.mapped, N + 1);
	chain_clear(&p, &u);
	ck_assert_uint_eq(p.nfree, CHAIN_POOL_KEEP);
	chain_pool_destroy(&p);
	ck_assert_uint_eq(p.nfree, 0);
	ck_assert_ptr_null(p.free);
	free(chunk);
}
END_TEST

/* No memory for a block: the append fails and what fit stays queued. */
START_TEST(append_fails_without_memory)
{
	struct chain_pool p;
	struct chain t = { 0 };
	char *chunk = calloc(1, CHAIN_BLOCK_SIZE);

	chain_pool_init(&p);
	pthread_t self = pthread_self();

	wrap_watch(&self);
	ck_assert(chain_append(&p, &t, chunk, 100));
	wrap_fail_mmap(CHAIN_BLOCK_SIZE, 1);
	ck_assert(!chain_append(&p, &t, chunk, CHAIN_BLOCK_SIZE));
	ck_assert_uint_eq(p.mapped, 1);
	ck_assert_uint_eq(t.bytes, CHAIN_BLOCK_SIZE - sizeof(struct chain_block));
	/* The next mapping works again. */
	ck_assert(chain_append(&p, &t, chunk, 200));
	ck_assert_uint_eq(p.mapped, 2);
	chain_clear(&p, &t);
	chain_pool_destroy(&p);
	free(chunk);
}
END_TEST

static Suite *tail_suite(void)
{
	Suite *s = suite_create("tail");
	TCase *tc = tcase_create("tail");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, append_take_order_across_blocks);
	tcase_add_test(tc, take_records_in_order);
	tcase_add_test(tc, skip_drops_what_take_would_take);
	tcase_add_test(tc, send_partial_over_socketpair);
	tcase_add_test(tc, send_to_a_closed_peer_is_an_error);
	tcase_add_test(tc, pool_keeps_a_few_and_unmaps_the_rest);
	tcase_add_test(tc, append_fails_without_memory);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tail_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
