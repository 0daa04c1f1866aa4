/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for core/base/mem.h: the counted door to the global allocator.
 *
 * Each block remembers the stats_thread.index of its allocating thread and
 * its endpoint, so a free is counted on the freeing thread's stats, against
 * the endpoint that allocated, and as cross-thread when the indices differ.
 *
 * Threads: two pthreads, each with its own struct counters (index 1 and
 * 2), as the acceptor and a worker have.  Blocks travel from one to the
 * other through a mutex-protected queue; each stats_thread is written only
 * by its thread and read by the test only after pthread_join. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/mem.h"
#include "core/base/counters.h"
#include "http/request.h"

/* A request far larger than any allocator can give, to exercise the NULL
 * path; sanitizer allocators must return NULL for it instead of aborting. */
#define TOO_BIG (SIZE_MAX / 4)

const char *__asan_default_options(void);
const char *__tsan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

const char *__tsan_default_options(void)
{
	return "allocator_may_return_null=1";
}

static struct counters acc, wrk;

static void setup(void)
{
	counters_init(&acc, "test-acc", -1, 1);
	counters_init(&wrk, "test-w0", -1, 2);
}

/* Every counter of every endpoint but `except` is zero. */
static void assert_route_untouched(const struct counters *t, unsigned except)
{
	for (unsigned r = 0; r < ROUTE__COUNT; r++) {
		const struct route_counters *sr = &t->route[r];

		if (r == except)
			continue;
		ck_assert_msg(sr->allocs == 0 && sr->alloc_bytes == 0 && sr->frees == 0 &&
			      sr->xthread_frees == 0 && sr->alloc_cycles == 0,
			      "%s: endpoint %u was counted", t->name, r);
	}
}

/* ---- a block queue between two threads ---------------------------------- */

#define QCAP 64

struct handoff {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	void *q[QCAP];
	unsigned head, tail;    /* head - tail blocks queued */
	bool done;
};

static void handoff_init(struct handoff *h)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
}

static void handoff_destroy(struct handoff *h)
{
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
}

static void handoff_put(struct handoff *h, void *p)
{
	pthread_mutex_lock(&h->mu);
	while (h->head - h->tail == QCAP)
		pthread_cond_wait(&h->cv, &h->mu);
	h->q[h->head++ % QCAP] = p;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

static void handoff_close(struct handoff *h)
{
	pthread_mutex_lock(&h->mu);
	h->done = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* NULL once closed and drained. */
static void *handoff_get(struct handoff *h)
{
	void *p = NULL;

	pthread_mutex_lock(&h->mu);
	while (h->head == h->tail && !h->done)
		pthread_cond_wait(&h->cv, &h->mu);
	if (h->head != h->tail) {
		p = h->q[h->tail++ % QCAP];
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	return p;
}

/* ---- the two threads ----------------------------------------------------- */

struct producer {
	struct counters *cnt;
	struct handoff *out;
	unsigned route;
	size_t size;
	unsigned n;
	unsigned own;           /* also malloc+free this many on this thread */
};

static void *produce(void *arg)
{
	struct producer *p = arg;

	for (unsigned i = 0; i < p->n; i++) {
		unsigned char *b = mem_malloc(p->cnt, p->route, p->size);

		ck_assert_ptr_nonnull(b);
		memset(b, (int)(i & 0xff), p->size);
		handoff_put(p->out, b);
	}
	for (unsigned i = 0; i < p->own; i++)
		mem_free(p->cnt, mem_malloc(p->cnt, p->route, p->size));
	handoff_close(p->out);
	return NULL;
}

struct consumer {
	struct counters *cnt;
	struct handoff *in;
	size_t size;
	unsigned got;
	bool intact;
};

static void *consume(void *arg)
{
	struct consumer *c = arg;
	unsigned char *b;

	c->intact = true;
	while ((b = handoff_get(c->in))) {
		/* The bytes the producer wrote arrive whole: the header did not
		 * overlap the caller's block. */
		for (size_t k = 0; k < c->size; k++)
			if (b[k] != (unsigned char)(c->got & 0xff))
				c->intact = false;
		mem_free(c->cnt, b);
		c->got++;
	}
	return NULL;
}

/* n blocks of `size` for `route`: malloc'd on acc, freed on wrk; `own`
 * more malloc'd and freed on acc itself. */
static void run_pair(unsigned route, size_t size, unsigned n, unsigned own)
{
	struct handoff h;
	struct producer p = { &acc, &h, route, size, n, own };
	struct consumer c = { &wrk, &h, size, 0, false };
	pthread_t tp, tc;

	handoff_init(&h);
	ck_assert_int_eq(pthread_create(&tc, NULL, consume, &c), 0);
	ck_assert_int_eq(pthread_create(&tp, NULL, produce, &p), 0);
	ck_assert_int_eq(pthread_join(tp, NULL), 0);
	ck_assert_int_eq(pthread_join(tc, NULL), 0);
	handoff_destroy(&h);
	ck_assert_uint_eq(c.got, n);
	ck_assert(c.intact);
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(cross_thread_free_counts_on_the_freeing_thread)
{
	run_pair(ROUTE_METRIC_HEAP, 24, 1000, 0);

	/* The allocating thread counts the allocations and nothing else. */
	ck_assert_uint_eq(acc.route[ROUTE_METRIC_HEAP].allocs, 1000);
	ck_assert_uint_eq(acc.route[ROUTE_METRIC_HEAP].alloc_bytes, 1000 * 24);
	ck_assert_uint_eq(acc.route[ROUTE_METRIC_HEAP].frees, 0);
	ck_assert_uint_eq(acc.route[ROUTE_METRIC_HEAP].xthread_frees, 0);
	/* The freeing thread counts every free as cross-thread, and no
	 * allocation. */
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].allocs, 0);
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].alloc_bytes, 0);
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].frees, 1000);
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].xthread_frees, 1000);
	assert_route_untouched(&acc, ROUTE_METRIC_HEAP);
	assert_route_untouched(&wrk, ROUTE_METRIC_HEAP);
}
END_TEST

/* The worker frees under whatever endpoint it is serving; the count goes
 * to the endpoint recorded in the block. */
START_TEST(cross_thread_free_is_attributed_to_the_allocating_endpoint)
{
	run_pair(ROUTE_STATS_POINTER, 40, 300, 0);

	ck_assert_uint_eq(wrk.route[ROUTE_STATS_POINTER].frees, 300);
	ck_assert_uint_eq(wrk.route[ROUTE_STATS_POINTER].xthread_frees, 300);
	ck_assert_uint_eq(acc.route[ROUTE_STATS_POINTER].allocs, 300);
	ck_assert_uint_eq(acc.route[ROUTE_STATS_POINTER].alloc_bytes, 300 * 40);
	assert_route_untouched(&acc, ROUTE_STATS_POINTER);
	assert_route_untouched(&wrk, ROUTE_STATS_POINTER);
}
END_TEST

START_TEST(same_thread_free_is_not_cross_thread)
{
	/* 200 handed over, 500 more allocated and freed on the acceptor. */
	run_pair(ROUTE_METRIC_HEAP, 24, 200, 500);

	ck_assert_uint_eq(acc.route[ROUTE_METRIC_HEAP].allocs, 700);
	ck_assert_uint_eq(acc.route[ROUTE_METRIC_HEAP].frees, 500);
	ck_assert_uint_eq(acc.route[ROUTE_METRIC_HEAP].xthread_frees, 0);
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].frees, 200);
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].xthread_frees, 200);
}
END_TEST

/* The same on one thread, without the queue: malloc and free both here. */
START_TEST(same_thread_pair_on_one_thread)
{
	void *p = mem_malloc(&wrk, ROUTE_METRIC_HEAP, 192);

	ck_assert_ptr_nonnull(p);
	mem_free(&wrk, p);
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].allocs, 1);
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].alloc_bytes, 192);
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].frees, 1);
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].xthread_frees, 0);
}
END_TEST

/* Bytes are the caller's sizes (the header is not counted); each endpoint
 * gets exactly its own calls. */
START_TEST(bytes_and_counts_per_endpoint)
{
	static const struct { unsigned route; size_t size; } calls[] = {
		{ ROUTE_METRIC_HEAP, 24 }, { ROUTE_METRIC_HEAP, 24 },
		{ ROUTE_METRIC_HEAP, 192 }, { ROUTE_STATS_POINTER, 32 },
		{ ROUTE_STATS_POINTER, 192 }, { ROUTE_STATS_POINTER, 1 },
		{ ROUTE_METRIC_HEAP, 0 },
	};
	enum { NCALLS = sizeof(calls) / sizeof(calls[0]) };
	void *p[NCALLS];

	for (unsigned i = 0; i < NCALLS; i++) {
		p[i] = mem_malloc(&wrk, calls[i].route, calls[i].size);
		ck_assert_ptr_nonnull(p[i]);
		/* The header keeps malloc's 16-byte alignment. */
		ck_assert_uint_eq((uintptr_t)p[i] % 16, 0);
		memset(p[i], 0xa5, calls[i].size);
	}
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].allocs, 4);
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].alloc_bytes, 24 + 24 + 192 + 0);
	ck_assert_uint_eq(wrk.route[ROUTE_STATS_POINTER].allocs, 3);
	ck_assert_uint_eq(wrk.route[ROUTE_STATS_POINTER].alloc_bytes, 32 + 192 + 1);
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].frees, 0);
	/* Freed by the same thread but under another endpoint's request:
	 * still counted against the allocating endpoint. */
	for (unsigned i = 0; i < NCALLS; i++)
		mem_free(&wrk, p[i]);
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].frees, 4);
	ck_assert_uint_eq(wrk.route[ROUTE_STATS_POINTER].frees, 3);
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].xthread_frees, 0);
	ck_assert_uint_eq(wrk.route[ROUTE_STATS_POINTER].xthread_frees, 0);
	for (unsigned r = 0; r < ROUTE__COUNT; r++)
		if (r != ROUTE_METRIC_HEAP && r != ROUTE_STATS_POINTER)
			ck_assert_uint_eq(wrk.route[r].allocs, 0);
}
END_TEST

START_TEST(free_of_null_counts_nothing)
{
	mem_free(&wrk, NULL);
	assert_route_untouched(&wrk, ROUTE__COUNT);
}
END_TEST

/* A failed malloc returns NULL and is not an allocation, though the time
 * it took is. */
START_TEST(failed_malloc_is_not_counted)
{
	void *p = mem_malloc(&wrk, ROUTE_METRIC_HEAP, TOO_BIG);

	ck_assert_ptr_null(p);
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].allocs, 0);
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].alloc_bytes, 0);
	ck_assert_uint_eq(wrk.route[ROUTE_METRIC_HEAP].frees, 0);
}
END_TEST

START_TEST(allocator_cycles_grow)
{
	struct route_counters *r = &wrk.route[ROUTE_METRIC_HEAP];
	uint64_t before = r->alloc_cycles, last = before;

	ck_assert_uint_eq(before, 0);
	for (unsigned i = 0; i < 1000; i++) {
		void *p = mem_malloc(&wrk, ROUTE_METRIC_HEAP, 24 + (i % 8) * 16);

		ck_assert_ptr_nonnull(p);
		ck_assert_uint_ge(r->alloc_cycles, last);   /* never goes back */
		last = r->alloc_cycles;
		mem_free(&wrk, p);
		ck_assert_uint_ge(r->alloc_cycles, last);
		last = r->alloc_cycles;
	}
	ck_assert_uint_gt(r->alloc_cycles, before);
	/* Cycles are charged to the endpoint that allocated, also when a free
	 * happens on another thread. */
	run_pair(ROUTE_STATS_POINTER, 24, 500, 0);
	ck_assert_uint_gt(acc.route[ROUTE_STATS_POINTER].alloc_cycles, 0);
	ck_assert_uint_gt(wrk.route[ROUTE_STATS_POINTER].alloc_cycles, 0);
}
END_TEST

static Suite *mem_suite(void)
{
	Suite *su = suite_create("mem");
	TCase *tc = tcase_create("mem");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, cross_thread_free_counts_on_the_freeing_thread);
	tcase_add_test(tc, cross_thread_free_is_attributed_to_the_allocating_endpoint);
	tcase_add_test(tc, same_thread_free_is_not_cross_thread);
	tcase_add_test(tc, same_thread_pair_on_one_thread);
	tcase_add_test(tc, bytes_and_counts_per_endpoint);
	tcase_add_test(tc, free_of_null_counts_nothing);
	tcase_add_test(tc, failed_malloc_is_not_counted);
	tcase_add_test(tc, allocator_cycles_grow);
	suite_add_tcase(su, tc);
	return su;
}

int main(void)
{
	SRunner *sr = srunner_create(mem_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
