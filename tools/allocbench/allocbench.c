/* SPDX-License-Identifier: BSD-2-Clause */
/* allocbench: what one heap allocation costs, next to the alternatives
 * metricd uses on its stack path.  ns per operation for
 *
 *   same-thread   malloc + free on one thread (the allocator's best case)
 *   cross-thread  one thread mallocs, another frees; pointers travel
 *                 through an SPSC ck_ring (metricd's heap-path request)
 *   fan-out       one producer mallocs for N consumers that free
 *                 (N workers fed by one acceptor)
 *   slab          the worker's bump allocator + a reset every 64 objects
 *   by-value      the same bytes copied by value through an SPSC ck_ring
 *                 (metricd's stack-path descriptor)
 *
 * for several object sizes and consumer counts.  Run it under another
 * allocator with LD_PRELOAD (tools/bench/run --only allocbench does all three).
 *
 * Threads: in the two-thread patterns the producer is the only writer of a
 * ring's tail and the consumer of its head (ck_ring SPSC); a full or empty
 * ring is waited on by spinning with a pause, then sched_yield, so the
 * benchmark stays fair on machines with fewer cores than threads. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ck_pr.h>
#include <ck_ring.h>

#include "workers/slab.h"

#define RING_SIZE 1024
#define MAX_CONSUMERS 64

struct ptr_msg {
	void *p;
};
CK_RING_PROTOTYPE(ptr, ptr_msg)

/* By-value payloads of each benchmarked size. */
#define PAYLOAD(n) struct payload##n { char b[n]; }; CK_RING_PROTOTYPE(v##n, payload##n)
PAYLOAD(24)
PAYLOAD(48)
PAYLOAD(64)
PAYLOAD(128)
PAYLOAD(256)
PAYLOAD(512)
PAYLOAD(1024)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void backoff(unsigned *spins)
{
	if (++*spins < 64)
		ck_pr_stall();
	else
		sched_yield();
}

/* Keeps the compiler from dropping a malloc/free pair or a copy. */
static volatile uint64_t sink;

/* ---- same-thread ---- */

static double bench_same_thread(size_t size, uint64_t ops)
{
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < ops; i++) {
		char *p = malloc(size);

		if (!p)
			abort();
		p[0] = (char)i;
		sink += (uint64_t)p[0];
		free(p);
	}
	return (double)(now_ns() - t0) / (double)ops;
}

/* ---- cross-thread and fan-out ---- */

struct lane {
	struct ck_ring ring;
	struct ptr_msg *buf;
	uint64_t expect;
	pthread_t th;
} __attribute__((aligned(64)));

static void *consumer_free(void *arg)
{
	struct lane *l = arg;
	struct ptr_msg m;
	unsigned spins = 0;

	for (uint64_t got = 0; got < l->expect;) {
		if (!ck_ring_dequeue_spsc_ptr(&l->ring, l->buf, &m)) {
			backoff(&spins);
			continue;
		}
		spins = 0;
		free(m.p);
		got++;
	}
	return NULL;
}

/* One producer mallocs `ops` objects round-robin to n consumers that free
 * them.  n = 1 is the cross-thread pattern. */
static double bench_fan_out(size_t size, uint64_t ops, unsigned n)
{
	struct lane *lanes = aligned_alloc(64, sizeof(struct lane) * n);
	uint64_t t0;

	for (unsigned i = 0; i < n; i++) {
		ck_ring_init(&lanes[i].ring, RING_SIZE);
		lanes[i].buf = calloc(RING_SIZE, sizeof(struct ptr_msg));
		lanes[i].expect = ops / n + (i < ops % n);
	}
	t0 = now_ns();
	for (unsigned i = 0; i < n; i++)
		pthread_create(&lanes[i].th, NULL, consumer_free, &lanes[i]);
	for (uint64_t i = 0; i < ops; i++) {
		struct lane *l = &lanes[i % n];
		struct ptr_msg m = { malloc(size) };
		unsigned spins = 0;

		if (!m.p)
			abort();
		((char *)m.p)[0] = (char)i;
		while (!ck_ring_enqueue_spsc_ptr(&l->ring, l->buf, &m))
			backoff(&spins);
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(lanes[i].th, NULL);
	double r = (double)(now_ns() - t0) / (double)ops;

	for (unsigned i = 0; i < n; i++)
		free(lanes[i].buf);
	free(lanes);
	return r;
}

/* ---- slab ---- */

static double bench_slab(size_t size, uint64_t ops)
{
	struct slab s;
	uint64_t t0;

	if (slab_init(&s, 1u << 20))
		abort();
	slab_prefault(&s);
	t0 = now_ns();
	for (uint64_t i = 0; i < ops; i++) {
		char *p = slab_alloc(&s, size);

		if (!p)
			abort();
		p[0] = (char)i;
		sink += (uint64_t)p[0];
		if ((i & 63) == 63)
			slab_reset(&s);
	}
	double r = (double)(now_ns() - t0) / (double)ops;

	slab_destroy(&s);
	return r;
}

/* ---- by value through a ring ---- */

#define BYVALUE(n)							\
struct vlane##n {							\
	struct ck_ring ring;						\
	struct payload##n *buf;						\
	uint64_t expect;						\
};									\
static void *vconsumer##n(void *arg)					\
{									\
	struct vlane##n *l = arg;					\
	struct payload##n m;						\
	unsigned spins = 0;						\
									\
	for (uint64_t got = 0; got < l->expect;) {			\
		if (!ck_ring_dequeue_spsc_v##n(&l->ring, l->buf, &m)) {	\
			backoff(&spins);				\
			continue;					\
		}							\
		spins = 0;						\
		sink += (uint64_t)m.b[0];				\
		got++;							\
	}								\
	return NULL;							\
}									\
static double bench_value##n(uint64_t ops)				\
{									\
	static struct vlane##n l __attribute__((aligned(64)));		\
	struct payload##n m;						\
	pthread_t th;							\
	uint64_t t0;							\
									\
	memset(&m, 1, sizeof(m));					\
	ck_ring_init(&l.ring, RING_SIZE);				\
	l.buf = calloc(RING_SIZE, sizeof(*l.buf));			\
	l.expect = ops;							\
	t0 = now_ns();							\
	pthread_create(&th, NULL, vconsumer##n, &l);			\
	for (uint64_t i = 0; i < ops; i++) {				\
		unsigned spins = 0;					\
									\
		m.b[0] = (char)i;					\
		while (!ck_ring_enqueue_spsc_v##n(&l.ring, l.buf, &m))	\
			backoff(&spins);				\
	}								\
	pthread_join(th, NULL);						\
	double r = (double)(now_ns() - t0) / (double)ops;		\
	free(l.buf);							\
	return r;							\
}
BYVALUE(24)
BYVALUE(48)
BYVALUE(64)
BYVALUE(128)
BYVALUE(256)
BYVALUE(512)
BYVALUE(1024)

static double bench_by_value(size_t size, uint64_t ops)
{
	switch (size) {
	case 24: return bench_value24(ops);
	case 48: return bench_value48(ops);
	case 64: return bench_value64(ops);
	case 128: return bench_value128(ops);
	case 256: return bench_value256(ops);
	case 512: return bench_value512(ops);
	case 1024: return bench_value1024(ops);
	}
	return -1;
}

/* ---- driver ---- */

static const size_t known_sizes[] = { 24, 48, 64, 128, 256, 512, 1024 };

static int parse_list(const char *s, unsigned long *out, int max)
{
	int n = 0;

	while (*s && n < max) {
		char *end;

		errno = 0;
		out[n] = strtoul(s, &end, 10);
		if (errno || end == s || out[n] == 0)
			return -1;
		n++;
		if (*end == ',')
			end++;
		else if (*end)
			return -1;
		s = end;
	}
	return n;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: allocbench [--sizes 24,64,256,1024] [--threads N] [--ops N]\n"
		"                  [--label NAME] [--csv]\n"
		"ns per operation of malloc/free patterns next to the slab and by-value\n"
		"ring hand-off metricd's stack path uses.  Sizes: 24 48 64 128 256 512 1024.\n"
		"--threads N: fan-out with 2..N consumers (default: CPUs, at most 8).\n"
		"--label: allocator name printed in each row (e.g. under LD_PRELOAD).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sizes", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "ops", required_argument, NULL, 'n' },
		{ "label", required_argument, NULL, 'l' },
		{ "csv", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long sizes[8] = { 24, 64, 256, 1024 }, threads_max;
	int nsizes = 4, opt;
	uint64_t ops = 1000000;
	const char *label = "glibc";
	int csv = 0;
	cpu_set_t set;

	threads_max = sched_getaffinity(0, sizeof(set), &set) == 0 ? (unsigned long)CPU_COUNT(&set) : 2;
	if (threads_max > 8)
		threads_max = 8;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			nsizes = parse_list(optarg, sizes, 8);
			for (int i = 0; nsizes > 0 && i < nsizes; i++) {
				size_t k = 0;

				while (k < sizeof(known_sizes) / sizeof(known_sizes[0]) &&
				       known_sizes[k] != sizes[i])
					k++;
				if (k == sizeof(known_sizes) / sizeof(known_sizes[0]))
					nsizes = -1;
			}
			if (nsizes <= 0) {
				fprintf(stderr, "allocbench: --sizes: '%s' is not a list of 24,48,64,128,256,512,1024\n", optarg);
				return 2;
			}
			break;
		case 't':
			if (parse_list(optarg, &threads_max, 1) != 1 || threads_max > MAX_CONSUMERS) {
				fprintf(stderr, "allocbench: --threads: '%s' is not 1..%d\n", optarg, MAX_CONSUMERS);
				return 2;
			}
			break;
		case 'n': {
			unsigned long v;

			if (parse_list(optarg, &v, 1) != 1 || v < 1000) {
				fprintf(stderr, "allocbench: --ops: '%s' is not a number >= 1000\n", optarg);
				return 2;
			}
			ops = v;
			break;
		}
		case 'l':
			label = optarg;
			break;
		case 'c':
			csv = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (csv)
		printf("allocator,pattern,size,threads,ns_per_op\n");
	else
		printf("%-10s %-14s %6s %8s %10s\n", "allocator", "pattern", "bytes", "threads", "ns/op");
#define ROW(pattern, size, threads, v) do {					\
		if (csv)							\
			printf("%s,%s,%lu,%u,%.1f\n", label, pattern, size, threads, v); \
		else								\
			printf("%-10s %-14s %6lu %8u %10.1f\n", label, pattern, size, threads, v); \
		fflush(stdout);							\
	} while (0)
	for (int i = 0; i < nsizes; i++) {
		size_t sz = sizes[i];

		ROW("same-thread", sizes[i], 1u, bench_same_thread(sz, ops));
		ROW("cross-thread", sizes[i], 2u, bench_fan_out(sz, ops, 1));
		for (unsigned n = 2; n <= threads_max; n++)
			ROW("fan-out", sizes[i], n + 1, bench_fan_out(sz, ops, n));
		ROW("slab", sizes[i], 1u, bench_slab(sz, ops));
		ROW("by-value", sizes[i], 2u, bench_by_value(sz, ops));
	}
	return 0;
}
