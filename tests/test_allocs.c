/* SPDX-License-Identifier: BSD-2-Clause */
/* Allocations per request, in the spirit of Go's testing.AllocsPerRun:
 * the real metricd runs under the alloccount interposer, which counts every
 * malloc-family call of every thread into a shared file this test reads
 * live.  After a warm-up, N requests on the stack path must add zero
 * calls; the heap path must add exactly 3 mallocs and 3 frees per request,
 * one of the frees on another thread than its malloc (workers/heap.c). */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/testlib.h"
#include "tools/alloccount/acread.h"

#define CONNS 8
#define DEPTH 16           /* pipelined requests per write */
#define WARMUP 4096
#define N 20480

static struct tl_server srv;
static bool srv_running;
static struct ac_view live;
static int fds[CONNS];
static struct tl_reader *rds;
static char acfile[64];

/* n requests for path (with the header lines fields, "" for none) over
 * all connections, DEPTH at a time; all answers checked for the expected
 * status. */
static void drive_with(const char *path, const char *fields, int n, int status)
{
	char req[DEPTH * 224];
	size_t len = 0;
	struct tl_resp r;

	/* With a Referer and a User-Agent: the access log's text travels too. */
	for (int i = 0; i < DEPTH; i++)
		len += (size_t)snprintf(req + len, sizeof(req) - len,
					"GET %s?id=%d HTTP/1.1\r\nHost: t\r\nReferer: http://t/\r\n"
					"User-Agent: allocs/1.0\r\n%s\r\n", path, i, fields);
	ck_assert_int_eq(n % (CONNS * DEPTH), 0);
	for (int round = 0; round < n / (CONNS * DEPTH); round++) {
		for (int c = 0; c < CONNS; c++)
			ck_assert_int_eq(tl_send_all(fds[c], req, len), 0);
		for (int c = 0; c < CONNS; c++) {
			for (int i = 0; i < DEPTH; i++) {
				ck_assert_int_eq(tl_read_resp(&rds[c], &r, false, 10000), 0);
				ck_assert_int_eq(r.status, status);
			}
		}
	}
}

static void setup(void)
{
	char env_file[96];
	const char *env[] = { "LD_PRELOAD=" ALLOCCOUNT_SO, env_file,
			      "ALLOCCOUNT_XTHREAD=1", NULL };
	/* With the access log on: its path must not allocate either. */
	static const char *const args[] = { "--workers", "2", "--access-log", "/dev/null",
					    NULL };

	for (int c = 0; c < CONNS; c++)
		fds[c] = -1;
	snprintf(acfile, sizeof(acfile), "/tmp/metricd-allocs-%d.ac", (int)getpid());
	snprintf(env_file, sizeof(env_file), "ALLOCCOUNT_FILE=%s", acfile);
	ck_assert_int_eq(tl_server_start(&srv, args, env), 0);
	srv_running = true;
	ck_assert_int_eq(ac_open_wait(acfile, &live, 5000), 0);
	rds = calloc(CONNS, sizeof(*rds));
	for (int c = 0; c < CONNS; c++) {
		fds[c] = tl_connect(srv.port);
		ck_assert_int_ge(fds[c], 0);
		tl_reader_init(&rds[c], fds[c]);
	}
}

static void close_clients(void)
{
	for (int c = 0; c < CONNS; c++) {
		if (fds[c] >= 0)
			close(fds[c]);
		fds[c] = -1;
	}
}

/* The end of a test: metricd, under the interposer all along, must still
 * drain and exit 0 on SIGTERM. */
static void stop_server(void)
{
	close_clients();
	srv_running = false;
	ck_assert_int_eq(tl_server_stop(&srv, SIGTERM, 10000), 0);
}

/* After a failed check: whatever is left. */
static void teardown(void)
{
	close_clients();
	free(rds);
	ac_close(&live);
	if (srv_running)
		tl_server_stop(&srv, SIGKILL, 10000);
	srv_running = false;
	unlink(acfile);
}

struct delta {
	uint64_t calls[AC_FN_COUNT];
	uint64_t xfree;
};

/* A worker frees a batch's heap bodies right after sending them, so the
 * client may read the last answers a moment before those frees.  A worker
 * serves a connection's batches one after another, so once a later request
 * on every connection is answered, every earlier batch - frees included -
 * is over on every worker.  (/healthz allocates nothing: the stack path
 * test below would say otherwise.) */
static void settle(void)
{
	static const char ping[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
	struct tl_resp r;

	for (int c = 0; c < CONNS; c++) {
		ck_assert_int_eq(tl_send_all(fds[c], ping, sizeof(ping) - 1), 0);
		ck_assert_int_eq(tl_read_resp(&rds[c], &r, false, 10000), 0);
		ck_assert_int_eq(r.status, 200);
	}
}

static struct delta measure(const char *path, const char *fields, int status,
			    int warmup, int n)
{
	struct ac_view a, b;
	struct delta d;

	drive_with(path, fields, warmup, status);
	settle();
	ck_assert_int_eq(ac_snapshot(&live, &a), 0);
	drive_with(path, fields, n, status);
	settle();
	ck_assert_int_eq(ac_snapshot(&live, &b), 0);
	for (int f = 0; f < AC_FN_COUNT; f++)
		d.calls[f] = ac_total(&b, (enum ac_fn)f) - ac_total(&a, (enum ac_fn)f);
	d.xfree = ac_stat(&b, AC_STAT_XTHREAD_FREES) - ac_stat(&a, AC_STAT_XTHREAD_FREES);
	ac_close(&a);
	ac_close(&b);
	return d;
}

static void assert_no_allocs_with(const char *path, const char *fields, int status, int n)
{
	struct delta d = measure(path, fields, status, WARMUP, n);

	for (int f = 0; f < AC_FN_COUNT; f++)
		ck_assert_msg(d.calls[f] == 0, "%s %s: %llu calls of allocator function %d over %d requests",
			      path, fields, (unsigned long long)d.calls[f], f, n);
}

static void assert_no_allocs(const char *path, int status, int n)
{
	assert_no_allocs_with(path, "", status, n);
}

static void assert_stack_path(const char *path, int status)
{
	assert_no_allocs(path, status, N);
}

static void assert_heap_path(const char *path)
{
	struct delta d = measure(path, "", 200, WARMUP, N);
	uint64_t allocs = 0;

	for (int f = 0; f < AC_FN_COUNT; f++)
		if (f != AC_FREE && f != AC_FREE_NULL)
			allocs += d.calls[f];
	ck_assert_uint_eq(d.calls[AC_MALLOC], 3 * (uint64_t)N);
	ck_assert_uint_eq(allocs, 3 * (uint64_t)N);
	ck_assert_uint_eq(d.calls[AC_FREE], 3 * (uint64_t)N);
	/* The request object: malloc'd by the acceptor, freed by a worker. */
	ck_assert_uint_eq(d.xfree, (uint64_t)N);
}

START_TEST(stack_path_allocates_nothing)
{
	assert_stack_path("/metric-stack", 200);
	assert_stack_path("/stats-value", 200);
	assert_stack_path("/healthz", 200);
	assert_stack_path("/nope", 404);          /* errors are stack path too */
	/* Reading the statistics allocates nothing either (bigger answers:
	 * fewer of them). */
	assert_no_allocs("/stats", 200, 1024);
	assert_no_allocs("/metrics", 200, 1024);
	/* The live page, sent from the binary, and its 304. */
	assert_no_allocs("/dashboard", 200, 1024);
	assert_no_allocs_with("/dashboard", "If-None-Match: *\r\n", 304, 1024);
	stop_server();
}
END_TEST

START_TEST(heap_path_allocates_three_per_request)
{
	assert_heap_path("/metric-heap");
	assert_heap_path("/stats-pointer");
	stop_server();
}
END_TEST

int main(void)
{
#ifdef SKIP_UNDER_SANITIZERS
	puts("SKIP: a sanitizer's allocator cannot share the process with the alloccount interposer");
	return 77;
#endif
	Suite *s = suite_create("allocs");
	TCase *tc = tcase_create("per-request");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, stack_path_allocates_nothing);
	tcase_add_test(tc, heap_path_allocates_three_per_request);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
