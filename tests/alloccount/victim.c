/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * victim.c - test helper for the alloccount tests: makes exactly known
 * malloc-family calls, on two threads, between handshakes with the test
 * on stdin/stdout, so that the test can read the live counter file
 * before and after.  Not a test by itself.
 *
 * Built with -fno-builtin so that the compiler neither removes nor
 * merges any of the calls.  Only read(2)/write(2) are used for the
 * handshake: stdio would allocate buffers inside the measured window.
 *
 *   victim work     "ready MAIN_TID WORKER_TID" / go / "done" / quit
 *                   (the workload below; expectations: exp_* in alloccount_test.c)
 *   victim fork     "ready" / go: fork, the child makes 1000 malloc+free
 *                   and _exit()s, the parent 1 malloc+free; "done CHILD_PID"
 *   victim threads N   "ready" / go: N threads one after the other, each
 *                   1 malloc + 1 free; "done" / quit
 *   victim sites    "ready" / go: 3000 malloc+free at distinct call sites;
 *                   "done" / quit
 *   victim fail     "ready" / go: three allocation calls that fail; "done"
 */
#include <config.h>

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Counts come from volatile objects so no loop can be unrolled into
 * several call sites. */
static volatile int n_malloc_main = 10, n_calloc = 5, n_memalign2 = 2, n_free_null = 3;
static volatile int n_malloc_worker = 7;
static void *volatile sink;

static void *a[10], *c[5], *pm[2], *aa[2], *w[7];
static void *r_main, *ma, *va, *pv, *ra;
static sem_t worker_ready, go_worker, worker_done, quit_worker;
static volatile long long worker_tid;

static void put(const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t k = write(1, s, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			_exit(3);
		s += k;
		n -= (size_t)k;
	}
}

static void put_num(long long v)
{
	char buf[24];
	int i = (int)sizeof buf;
	unsigned long long u = v < 0 ? 0 : (unsigned long long)v;

	buf[--i] = '\0';
	do {
		buf[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	put(buf + i);
}

/* Wait for one line on stdin; exit if the test went away. */
static void wait_line(void)
{
	char ch;

	for (;;) {
		ssize_t k = read(0, &ch, 1);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			_exit(4);
		if (ch == '\n')
			return;
	}
}

static long long tid(void)
{
	return (long long)syscall(SYS_gettid);
}

static void xsem_wait(sem_t *s)
{
	while (sem_wait(s) != 0)
		if (errno != EINTR)
			_exit(5);
}

__attribute__((noinline)) static void *worker_main(void *arg)
{
	int i;
	void *x;

	(void)arg;
	worker_tid = tid();
	sem_post(&worker_ready);
	xsem_wait(&go_worker);
	for (i = 0; i < n_malloc_worker; i++)
		w[i] = malloc(200);
	free(w[0]);
	free(w[1]);
	for (i = 0; i < 4; i++)
		free(a[i]); /* allocated by the main thread */
	x = realloc(c[0], 300); /* allocated by the main thread */
	if (!x)
		_exit(6);
	free(x);
	sem_post(&worker_done);
	xsem_wait(&quit_worker);
	return NULL;
}

__attribute__((noinline)) static void main_allocate(void)
{
	int i;

	for (i = 0; i < n_malloc_main; i++)
		a[i] = malloc(100);
	for (i = 0; i < n_calloc; i++)
		c[i] = calloc(4, 25);
	r_main = realloc(NULL, 50);
	r_main = realloc(r_main, 5000);
	for (i = 0; i < n_memalign2; i++)
		if (posix_memalign(&pm[i], 64, 256) != 0)
			_exit(7);
	for (i = 0; i < n_memalign2; i++)
		aa[i] = aligned_alloc(64, 128);
	ma = memalign(32, 64);
	va = valloc(100);
	pv = pvalloc(100);
	ra = reallocarray(NULL, 10, 10);
	for (i = 0; i < n_free_null; i++)
		free(sink = NULL);
	if (!a[9] || !c[4] || !r_main || !aa[1] || !ma || !va || !pv || !ra)
		_exit(8);
}

__attribute__((noinline)) static void main_free(void)
{
	int i;

	for (i = 4; i < 10; i++)
		free(a[i]);
	for (i = 1; i < 5; i++)
		free(c[i]);
	free(r_main);
	free(pm[0]);
	free(pm[1]);
	free(aa[0]);
	free(aa[1]);
	free(ma);
	free(va);
	free(pv);
	free(ra);
	for (i = 2; i < 7; i++)
		free(w[i]); /* allocated by the worker */
}

static int mode_work(void)
{
	pthread_t th;

	if (sem_init(&worker_ready, 0, 0) || sem_init(&go_worker, 0, 0) ||
	    sem_init(&worker_done, 0, 0) ||
	    sem_init(&quit_worker, 0, 0))
		return 2;
	if (pthread_create(&th, NULL, worker_main, NULL) != 0)
		return 2;
	pthread_setname_np(th, "ac-worker");
	xsem_wait(&worker_ready);
	/* The worker has made no call yet: its thread slot is assigned on
	 * its first call, inside the window. */
	put("ready ");
	put_num(tid());
	put(" ");
	put_num(worker_tid);
	put("\n");
	wait_line();
	main_allocate();
	sem_post(&go_worker);
	xsem_wait(&worker_done);
	main_free();
	put("done\n");
	wait_line();
	sem_post(&quit_worker);
	pthread_join(th, NULL);
	return 0;
}

static int mode_fork(void)
{
	pid_t pid;
	int st, i;

	put("ready ");
	put_num(tid());
	put("\n");
	wait_line();
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		for (i = 0; i < 1000; i++)
			free(sink = malloc(16));
		_exit(0);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 2;
	free(sink = malloc(16));
	put("done ");
	put_num(pid);
	put("\n");
	wait_line();
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 2;
}

static void *small_thread(void *arg)
{
	(void)arg;
	free(sink = malloc(8));
	return NULL;
}

static int mode_threads(int n)
{
	int i;

	put("ready ");
	put_num(tid());
	put("\n");
	wait_line();
	for (i = 0; i < n; i++) {
		pthread_t th;

		if (pthread_create(&th, NULL, small_thread, NULL) != 0 ||
		    pthread_join(th, NULL) != 0)
			return 2;
	}
	put("done\n");
	wait_line();
	return 0;
}

#define SITE free(sink = malloc(1));
#define SITE10 SITE SITE SITE SITE SITE SITE SITE SITE SITE SITE
#define SITE100 SITE10 SITE10 SITE10 SITE10 SITE10 SITE10 SITE10 SITE10 SITE10 SITE10
#define SITE1000 SITE100 SITE100 SITE100 SITE100 SITE100 SITE100 SITE100 SITE100 SITE100 SITE100

__attribute__((noinline)) static void many_sites(void)
{
	SITE1000 SITE1000 SITE1000
}

static int mode_sites(void)
{
	put("ready ");
	put_num(tid());
	put("\n");
	wait_line();
	many_sites();
	put("done\n");
	wait_line();
	return 0;
}

static int mode_fail(void)
{
	volatile size_t huge = (size_t)1 << 62, big = SIZE_MAX / 2;
	void *p;

	put("ready ");
	put_num(tid());
	put("\n");
	wait_line();
	sink = malloc(huge);	 /* ENOMEM */
	sink = calloc(big, 4);	 /* n * size overflows */
	if (posix_memalign(&p, 3, 16) == 0) /* EINVAL */
		_exit(9);
	if (sink)
		_exit(9);
	put("done\n");
	wait_line();
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "work";

	if (strcmp(mode, "work") == 0)
		return mode_work();
	if (strcmp(mode, "fork") == 0)
		return mode_fork();
	if (strcmp(mode, "threads") == 0)
		return mode_threads(argc > 2 ? atoi(argv[2]) : 300);
	if (strcmp(mode, "sites") == 0)
		return mode_sites();
	if (strcmp(mode, "fail") == 0)
		return mode_fail();
	return 2;
}
