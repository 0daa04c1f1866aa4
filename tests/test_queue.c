/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for queue/queue.c: the typed rings and the wake-up protocol. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "queue/queue.h"
#include "tests/wrap.h"

/* Reads an eventfd without blocking: its counter, or 0 when it is unset. */
/* The eventfd's count, taken (0 when it is not readable: the worker's
 * eventfd blocks, queue_req_sleep waits in its read). */
static uint64_t efd_take(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v = 0;
	ssize_t r;

	if (poll(&p, 1, 0) == 0)
		return 0;
	r = read(fd, &v, sizeof(v));
	ck_assert_int_eq(r, (ssize_t)sizeof(v));
	return v;
}

static struct http_req mkreq(uint64_t id)
{
	struct http_req r;

	memset(&r, 0, sizeof(r));
	r.slot = (uint32_t)(id * 7);
	r.gen = (uint32_t)(id >> 32) ^ 0xabcd;
	r.kind = REQ_HTTP;
	r.route = ROUTE_METRIC_STACK;
	r.flags = REQF_HEAD;
	r.id = id;
	r.work = id * 3;
	r.t_parsed_ns = id + 1000;
	return r;
}

START_TEST(init_rejects_bad_sizes)
{
	static const unsigned bad[] = { 0, 1, 2, 3, 5, 6, 7, 12, 1000, 1023, 1025 };
	static const unsigned good[] = { 4, 8, 16, 1024, 1u << 16 };
	struct queue_req q;
	struct queue_notes n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(queue_req_init(&q, bad[i]), -EINVAL);
		ck_assert_ptr_null(q.slots);
		ck_assert_int_eq(queue_notes_init(&n, bad[i]), -EINVAL);
		ck_assert_ptr_null(n.slots);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_int_eq(queue_req_init(&q, good[i]), 0);
		ck_assert_ptr_nonnull(q.slots);
		ck_assert_int_ge(q.wake_fd, 0);
		ck_assert_uint_eq(queue_req_depth(&q), 0);
		ck_assert_uint_eq(q.sleeping, 0);
		ck_assert_uint_eq(q.producer_waiting, 0);
		queue_req_destroy(&q);
		ck_assert_ptr_null(q.slots);
		ck_assert_int_eq(q.wake_fd, -1);
		ck_assert_int_eq(queue_notes_init(&n, good[i]), 0);
		queue_notes_destroy(&n);
	}
}
END_TEST

START_TEST(capacity_is_size_minus_one)
{
	struct queue_req q;
	struct http_req r = mkreq(1);

	ck_assert_int_eq(queue_req_init(&q, 8), 0);
	for (unsigned i = 0; i < 7; i++) {
		r.id = i;
		ck_assert_msg(queue_req_push(&q, &r), "push %u of 7", i);
		ck_assert_uint_eq(queue_req_depth(&q), i + 1);
	}
	ck_assert(!queue_req_push(&q, &r));
	ck_assert_uint_eq(queue_req_depth(&q), 7);
	queue_req_destroy(&q);

	ck_assert_int_eq(queue_req_init(&q, 4), 0);
	ck_assert(queue_req_push(&q, &r));
	ck_assert(queue_req_push(&q, &r));
	ck_assert(queue_req_push(&q, &r));
	ck_assert(!queue_req_push(&q, &r));
	queue_req_destroy(&q);
}
END_TEST

START_TEST(fifo_and_by_value)
{
	struct queue_req q;
	struct http_req src, out[16];

	ck_assert_int_eq(queue_req_init(&q, 16), 0);
	for (uint64_t i = 0; i < 10; i++) {
		src = mkreq(i + 100);
		ck_assert(queue_req_push(&q, &src));
		/* The ring holds a copy: scribbling on the source changes nothing. */
		memset(&src, 0xff, sizeof(src));
	}
	ck_assert_uint_eq(queue_req_pop_batch(&q, out, 16), 10);
	for (uint64_t i = 0; i < 10; i++) {
		struct http_req want = mkreq(i + 100);

		ck_assert_mem_eq(&out[i], &want, sizeof(want));
	}
	ck_assert_uint_eq(queue_req_pop_batch(&q, out, 16), 0);

	/* Wrap around the ring several times, one at a time. */
	for (uint64_t i = 0; i < 100; i++) {
		src = mkreq(i);
		ck_assert(queue_req_push(&q, &src));
		src.id = 999999;
		ck_assert_uint_eq(queue_req_pop_batch(&q, out, 1), 1);
		ck_assert_uint_eq(out[0].id, i);
		ck_assert_uint_eq(out[0].work, i * 3);
	}
	queue_req_destroy(&q);
}
END_TEST

START_TEST(pop_batch_respects_max)
{
	struct queue_req q;
	struct http_req r, out[8];

	ck_assert_int_eq(queue_req_init(&q, 8), 0);
	for (uint64_t i = 0; i < 7; i++) {
		r = mkreq(i);
		ck_assert(queue_req_push(&q, &r));
	}
	memset(out, 0, sizeof(out));
	ck_assert_uint_eq(queue_req_pop_batch(&q, out, 3), 3);
	ck_assert_uint_eq(out[0].id, 0);
	ck_assert_uint_eq(out[2].id, 2);
	ck_assert_uint_eq(out[3].id, 0);     /* nothing written past max */
	ck_assert_uint_eq(out[3].kind, 0);
	ck_assert_uint_eq(queue_req_depth(&q), 4);
	ck_assert_uint_eq(queue_req_pop_batch(&q, out, 0), 0);
	ck_assert_uint_eq(queue_req_depth(&q), 4);
	ck_assert_uint_eq(queue_req_pop_batch(&q, out, 3), 3);
	ck_assert_uint_eq(out[0].id, 3);
	ck_assert_uint_eq(queue_req_pop_batch(&q, out, 8), 1);
	ck_assert_uint_eq(out[0].id, 6);
	ck_assert_uint_eq(queue_req_pop_batch(&q, out, 8), 0);
	queue_req_destroy(&q);
}
END_TEST

START_TEST(sleep_and_wake)
{
	struct queue_req q;
	struct http_req r = mkreq(1), out;

	ck_assert_int_eq(queue_req_init(&q, 8), 0);

	/* Awake worker: no eventfd write. */
	ck_assert(!queue_req_wake(&q));
	ck_assert_uint_eq(efd_take(q.wake_fd), 0);

	/* Work already queued: the worker must not sleep. */
	ck_assert(queue_req_push(&q, &r));
	ck_assert(!queue_req_prepare_sleep(&q));
	ck_assert_uint_eq(q.sleeping, 0);
	ck_assert_uint_eq(queue_req_pop_batch(&q, &out, 1), 1);

	/* Empty ring: it may sleep; the producer's wake writes the fd once. */
	ck_assert(queue_req_prepare_sleep(&q));
	ck_assert_uint_eq(q.sleeping, 1);
	ck_assert(queue_req_push(&q, &r));
	queue_fence();
	ck_assert(queue_req_wake(&q));
	ck_assert_uint_eq(q.sleeping, 0);
	ck_assert(!queue_req_wake(&q));        /* second wake: no write */
	ck_assert_uint_eq(efd_take(q.wake_fd), 1);
	ck_assert_uint_eq(efd_take(q.wake_fd), 0);
	queue_req_woke(&q, false);
	ck_assert_uint_eq(q.sleeping, 0);
	ck_assert_uint_eq(queue_req_pop_batch(&q, &out, 1), 1);

	/* Woken by the fd: queue_req_woke drains it. */
	ck_assert(queue_req_prepare_sleep(&q));
	ck_assert(queue_req_wake(&q));
	queue_req_woke(&q, true);
	ck_assert_uint_eq(q.sleeping, 0);
	ck_assert_uint_eq(efd_take(q.wake_fd), 0);

	/* Woken by a timeout instead: sleeping is cleared, so a later push
	 * does not cost a syscall. */
	ck_assert(queue_req_prepare_sleep(&q));
	queue_req_woke(&q, false);
	ck_assert(!queue_req_wake(&q));
	ck_assert_uint_eq(efd_take(q.wake_fd), 0);
	queue_req_destroy(&q);
}
END_TEST

START_TEST(producer_wait_handshake)
{
	struct queue_req q;
	struct http_req r = mkreq(5), out[4];

	ck_assert_int_eq(queue_req_init(&q, 4), 0);
	/* Room: push_or_wait just pushes and leaves no flag behind. */
	ck_assert(queue_req_push_or_wait(&q, &r));
	ck_assert_uint_eq(q.producer_waiting, 0);
	ck_assert(!queue_req_take_producer_wait(&q));
	ck_assert(queue_req_push(&q, &r));
	ck_assert(queue_req_push(&q, &r));

	/* Full: the producer announces that it waits. */
	ck_assert(!queue_req_push(&q, &r));
	ck_assert(!queue_req_push_or_wait(&q, &r));
	ck_assert_uint_eq(q.producer_waiting, 1);
	ck_assert_uint_eq(queue_req_depth(&q), 3);

	/* The consumer frees room and takes the wait, exactly once. */
	ck_assert_uint_eq(queue_req_pop_batch(&q, out, 1), 1);
	ck_assert(queue_req_take_producer_wait(&q));
	ck_assert_uint_eq(q.producer_waiting, 0);
	ck_assert(!queue_req_take_producer_wait(&q));
	ck_assert(queue_req_push_or_wait(&q, &r));
	ck_assert_uint_eq(q.producer_waiting, 0);

	/* The same handshake without the push (the acceptor writes the
	 * access log's text before it pushes): room found after the fence
	 * takes the announcement back; none leaves it up. */
	ck_assert_uint_eq(queue_req_pop_batch(&q, out, 1), 1);
	ck_assert(queue_req_room_or_wait(&q));
	ck_assert_uint_eq(q.producer_waiting, 0);
	ck_assert(queue_req_push(&q, &r));
	ck_assert(!queue_req_has_room(&q));
	ck_assert(!queue_req_room_or_wait(&q));
	ck_assert_uint_eq(q.producer_waiting, 1);
	queue_req_destroy(&q);
}
END_TEST

START_TEST(notes_fifo)
{
	struct queue_notes n;
	struct queue_note in, out;

	ck_assert_int_eq(queue_notes_init(&n, 4), 0);
	for (uint32_t i = 0; i < 3; i++) {
		in = (struct queue_note){ .slot = i, .gen = i + 10,
					  .kind = i % 2 ? NOTE_RESUME : NOTE_CLOSED };
		ck_assert(queue_note_push(&n, &in));
	}
	ck_assert(!queue_note_push(&n, &in));
	for (uint32_t i = 0; i < 3; i++) {
		ck_assert(queue_note_pop(&n, &out));
		ck_assert_uint_eq(out.slot, i);
		ck_assert_uint_eq(out.gen, i + 10);
		ck_assert_uint_eq(out.kind, i % 2 ? NOTE_RESUME : NOTE_CLOSED);
	}
	ck_assert(!queue_note_pop(&n, &out));
	queue_notes_destroy(&n);
	ck_assert_ptr_null(n.slots);
}
END_TEST

START_TEST(doorbell_arm_and_ring)
{
	struct queue_doorbell d;

	ck_assert_int_eq(queue_doorbell_init(&d), 0);
	ck_assert_int_ge(d.fd, 0);
	ck_assert_uint_eq(d.armed, 1);       /* armed from the start */

	queue_doorbell_ring(&d);
	ck_assert_uint_eq(d.armed, 0);
	queue_doorbell_ring(&d);             /* not re-armed: no second write */
	queue_doorbell_ring(&d);
	ck_assert_uint_eq(efd_take(d.fd), 1);
	ck_assert_uint_eq(efd_take(d.fd), 0);

	queue_doorbell_arm(&d);
	ck_assert_uint_eq(d.armed, 1);
	queue_doorbell_ring(&d);
	queue_doorbell_ring(&d);
	ck_assert_uint_eq(efd_take(d.fd), 1);

	/* Arming drains a pending ring, so the next wait is a real one. */
	queue_doorbell_arm(&d);
	queue_doorbell_ring(&d);
	queue_doorbell_arm(&d);
	ck_assert_uint_eq(efd_take(d.fd), 0);
	ck_assert_uint_eq(d.armed, 1);
	queue_doorbell_destroy(&d);
	ck_assert_int_eq(d.fd, -1);
}
END_TEST

/* fd 0 is a valid eventfd number (a daemon started with stdin closed gets
 * it); destroy must close it like any other, or every worker restart leaks. */
START_TEST(regression_destroy_closes_fd_zero)
{
	struct queue_req q;
	int saved = dup(0);
	int closed;

	ck_assert_int_ge(saved, 0);
	close(0);
	ck_assert_int_eq(queue_req_init(&q, 4), 0);
	ck_assert_int_eq(q.wake_fd, 0);      /* the lowest free number */
	queue_req_destroy(&q);
	closed = fcntl(0, F_GETFD) == -1 && errno == EBADF;
	ck_assert_int_eq(dup2(saved, 0), 0);
	close(saved);
	ck_assert_msg(closed, "queue_req_destroy left eventfd 0 open");
}
END_TEST

/* Out of memory or of fds: init fails with the error and holds nothing. */
START_TEST(init_failures_hold_nothing)
{
	struct queue_req q;
	struct queue_notes n;
	struct queue_doorbell d;
	struct rlimit rl, low;
	pthread_t self = pthread_self();
	int fd, rq, rn, rd;

	wrap_watch(&self);
	wrap_fail_mmap(1024 * sizeof(struct http_req), 1);
	rq = queue_req_init(&q, 1024);
	wrap_fail_mmap(1024 * sizeof(struct queue_note), 1);
	rn = queue_notes_init(&n, 1024);
	ck_assert_int_eq(rq, -ENOMEM);
	ck_assert_ptr_null(q.slots);
	ck_assert_int_eq(q.wake_fd, -1);
	ck_assert_int_eq(rn, -ENOMEM);
	ck_assert_ptr_null(n.slots);

	/* No fd left: the limit is the lowest free fd number. */
	fd = dup(0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	low = rl;
	low.rlim_cur = (rlim_t)fd;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	rq = queue_req_init(&q, 16);
	rd = queue_doorbell_init(&d);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(rq, -EMFILE);
	ck_assert_ptr_null(q.slots);
	ck_assert_int_eq(q.wake_fd, -1);
	ck_assert_int_eq(rd, -EMFILE);
	/* And it works again. */
	ck_assert_int_eq(queue_req_init(&q, 16), 0);
	queue_req_destroy(&q);
}
END_TEST

/* ---- two-thread SPSC stress ---------------------------------------------- */

#define STRESS_N 1000000u
#define STRESS_RING 1024u
#define STRESS_BATCH 64u

struct stress {
	struct queue_req q;
	uint64_t n;
	bool use_sleep;       /* consumer sleeps on the eventfd when idle */
	bool use_read;        /* ... in queue_req_sleep's read, not poll */
	/* producer's progress, read by the consumer (atomics) */
	uint64_t announced;   /* items pushed and followed by a wake-up */
	bool produced;        /* every item pushed */
	/* consumer's findings */
	uint64_t received;
	uint64_t bad_order;
	uint64_t bad_payload;
	uint64_t lost_wakeups;
	uint64_t sleeps;
	uint64_t producer_waits;
};

static void *stress_consumer(void *arg)
{
	struct stress *st = arg;
	struct http_req out[STRESS_BATCH];
	uint64_t expect = 0;

	while (expect < st->n) {
		unsigned got = queue_req_pop_batch(&st->q, out, STRESS_BATCH);

		for (unsigned i = 0; i < got; i++) {
			struct http_req want = mkreq(expect);

			if (out[i].id != expect)
				st->bad_order++;
			else if (memcmp(&out[i], &want, sizeof(want)) != 0)
				st->bad_payload++;
			expect = out[i].id + 1;
			st->received++;
		}
		if (got) {
			if (queue_req_take_producer_wait(&st->q))
				st->producer_waits++;
			continue;
		}
		if (!st->use_sleep) {
			sched_yield();
			continue;
		}
		if (!queue_req_prepare_sleep(&st->q))
			continue;
		st->sleeps++;
		if (st->use_read) {
			queue_req_sleep(&st->q);
			continue;
		}
		struct pollfd pfd = { .fd = st->q.wake_fd, .events = POLLIN };
		int pr = poll(&pfd, 1, 200);

		/* The poll timeout only decides how often to look.  A wake-up
		 * is lost when, asleep, we have not received items the
		 * producer had already pushed and woken us for, and the
		 * eventfd still says nothing: state, not a time limit. */
		if (pr == 0) {
			uint64_t announced = __atomic_load_n(&st->announced, __ATOMIC_ACQUIRE);

			if (announced > st->received && poll(&pfd, 1, 0) == 0) {
				st->lost_wakeups++;
				break;          /* fail below */
			}
			if (__atomic_load_n(&st->produced, __ATOMIC_ACQUIRE) &&
			    queue_req_depth(&st->q) == 0)
				break;          /* all pushed, nothing left: fail below */
		}
		queue_req_woke(&st->q, pr > 0 && (pfd.revents & POLLIN));
	}
	return NULL;
}

/* A consumer asleep in read(2) cannot look around: if it has not finished
 * long after the last item was pushed and woken for (a hang guard, not a
 * time limit), it is stuck - a lost wake-up when the eventfd holds
 * nothing for it.  It is then woken, so the test ends and says so. */
static void join_reader(struct stress *st, pthread_t th)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	if (pthread_timedjoin_np(th, NULL, &ts) == 0)
		return;
	if (__atomic_load_n(&st->announced, __ATOMIC_ACQUIRE) == st->n &&
	    efd_take(st->q.wake_fd) == 0)
		st->lost_wakeups++;
	while (pthread_tryjoin_np(th, NULL) != 0) {
		uint64_t one = 1;

		ck_assert_int_eq(write(st->q.wake_fd, &one, sizeof(one)), sizeof(one));
		usleep(1000);
	}
}

static void stress_run(uint64_t n, bool use_sleep, bool use_read)
{
	struct stress *st = calloc(1, sizeof(*st));
	pthread_t th;

	ck_assert_ptr_nonnull(st);
	st->n = n;
	st->use_sleep = use_sleep;
	st->use_read = use_read;
	ck_assert_int_eq(queue_req_init(&st->q, STRESS_RING), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, stress_consumer, st), 0);

	for (uint64_t i = 0; i < n; i++) {
		struct http_req r = mkreq(i);

		while (!queue_req_push_or_wait(&st->q, &r))
			sched_yield();
		/* Wake once per burst, as the acceptor does per loop. */
		if (use_sleep && ((i & 31) == 31 || i + 1 == n)) {
			queue_fence();
			queue_req_wake(&st->q);
			__atomic_store_n(&st->announced, i + 1, __ATOMIC_RELEASE);
		}
	}
	__atomic_store_n(&st->produced, true, __ATOMIC_RELEASE);
	if (use_read)
		join_reader(st, th);
	else
		ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_uint_eq(st->bad_order, 0);
	ck_assert_uint_eq(st->bad_payload, 0);
	ck_assert_uint_eq(st->lost_wakeups, 0);
	ck_assert_uint_eq(st->received, n);
	ck_assert_uint_eq(queue_req_depth(&st->q), 0);
	queue_req_destroy(&st->q);
	free(st);
}

START_TEST(spsc_stress_million)
{
	stress_run(STRESS_N, false, false);
}
END_TEST

START_TEST(spsc_stress_sleep_wake)
{
	stress_run(STRESS_N / 4, true, false);
}
END_TEST

/* The same with the worker's way of sleeping when nothing is parked: one
 * blocking read of the eventfd (queue/queue.h). */
START_TEST(spsc_stress_sleep_in_read)
{
	stress_run(STRESS_N / 4, true, true);
}
END_TEST

static Suite *queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("ring");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, init_rejects_bad_sizes);
	tcase_add_test(tc, capacity_is_size_minus_one);
	tcase_add_test(tc, fifo_and_by_value);
	tcase_add_test(tc, pop_batch_respects_max);
	tcase_add_test(tc, sleep_and_wake);
	tcase_add_test(tc, producer_wait_handshake);
	tcase_add_test(tc, notes_fifo);
	tcase_add_test(tc, doorbell_arm_and_ring);
	tcase_add_test(tc, regression_destroy_closes_fd_zero);
	tcase_add_test(tc, init_failures_hold_nothing);
	suite_add_tcase(s, tc);

	/* The timeouts guard against hangs, nothing else: a stress run takes
	 * under a second (ThreadSanitizer included), the unit tests
	 * milliseconds. */
	TCase *st = tcase_create("stress");
	tcase_set_timeout(st, 60);
	tcase_add_test(st, spsc_stress_million);
	tcase_add_test(st, spsc_stress_sleep_wake);
	tcase_add_test(st, spsc_stress_sleep_in_read);
	suite_add_tcase(s, st);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(queue_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
