/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * alloccount_test.c - Check suite for tools/alloccount.
 *
 * Runs tests/alloccount/victim (and a few system programs) under
 * LD_PRELOAD=alloccount.so with a counter file, reads the live counters
 * through libacread while the victim waits between handshakes, and
 * asserts exact deltas.  Every wait is bounded (poll timeouts).
 */
#include <config.h>

#include "tools/alloccount/acread.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef ALLOCCOUNT_SO
#error "ALLOCCOUNT_SO must name the built alloccount.so"
#endif

extern char **environ;

#define IO_TIMEOUT_MS 20000

/* ---- the victim's known workload (see victim.c, mode "work") ---- */

static const uint64_t exp_calls[AC_FN_COUNT] = {
	[AC_MALLOC] = 17,	 [AC_CALLOC] = 5,	 [AC_REALLOC] = 3,
	[AC_FREE] = 31,		 [AC_FREE_NULL] = 3,	 [AC_POSIX_MEMALIGN] = 2,
	[AC_ALIGNED_ALLOC] = 2,	 [AC_MEMALIGN] = 1,	 [AC_VALLOC] = 1,
	[AC_PVALLOC] = 1,	 [AC_REALLOCARRAY] = 1,
};
static const uint64_t exp_bytes[AC_FN_COUNT] = {
	[AC_MALLOC] = 10 * 100 + 7 * 200,
	[AC_CALLOC] = 5 * 4 * 25,
	[AC_REALLOC] = 50 + 5000 + 300,
	[AC_POSIX_MEMALIGN] = 2 * 256,
	[AC_ALIGNED_ALLOC] = 2 * 128,
	[AC_MEMALIGN] = 64,
	[AC_VALLOC] = 100,
	[AC_PVALLOC] = 100,
	[AC_REALLOCARRAY] = 10 * 10,
};
static const uint64_t exp_main_calls[AC_FN_COUNT] = {
	[AC_MALLOC] = 10,	 [AC_CALLOC] = 5,	 [AC_REALLOC] = 2,
	[AC_FREE] = 24,		 [AC_FREE_NULL] = 3,	 [AC_POSIX_MEMALIGN] = 2,
	[AC_ALIGNED_ALLOC] = 2,	 [AC_MEMALIGN] = 1,	 [AC_VALLOC] = 1,
	[AC_PVALLOC] = 1,	 [AC_REALLOCARRAY] = 1,
};
static const uint64_t exp_worker_calls[AC_FN_COUNT] = {
	[AC_MALLOC] = 7,
	[AC_REALLOC] = 1,
	[AC_FREE] = 7,
};
#define EXP_MAIN_BYTES (1000 + 500 + 5050 + 512 + 256 + 64 + 100 + 100 + 100)
#define EXP_WORKER_BYTES (1400 + 300)

/* ---- helpers ----------------------------------------------------- */

struct proc {
	pid_t pid;
	int to;	  /* child's stdin */
	int from; /* child's stdout */
	int err;  /* child's stderr, or -1 */
};

static char tmpdir[256];

static void make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof tmpdir, "%s/alloccount-test.XXXXXX",
		 base && *base ? base : "/tmp");
	ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
}

static void remove_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char p[512];

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(tmpdir);
}

static void tmp_path(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", tmpdir, name);
}

/* environ without LD_PRELOAD / ALLOCCOUNT_*, plus extra (NULL-ended). */
static char **make_env(const char *const *extra)
{
	size_t n = 0, k = 0, i;
	char **env;

	while (environ[n])
		n++;
	for (i = 0; extra && extra[i]; i++)
		n++;
	env = calloc(n + 1, sizeof *env);
	ck_assert_ptr_nonnull(env);
	for (i = 0; environ[i]; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
		    strncmp(environ[i], "ALLOCCOUNT_", 11) != 0)
			env[k++] = environ[i];
	for (i = 0; extra && extra[i]; i++)
		env[k++] = (char *)extra[i];
	env[k] = NULL;
	return env;
}

static void start(struct proc *p, const char *path, char *const argv[],
		  const char *const *extra, int capture_err)
{
	int in[2], out[2], err[2] = {-1, -1};
	char **env = make_env(extra);

	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	if (capture_err)
		ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (capture_err)
			dup2(err[1], 2);
		if (strchr(path, '/'))
			execve(path, argv, env);
		else
			execvpe(path, argv, env);
		_exit(127);
	}
	free(env);
	close(in[0]);
	close(out[1]);
	p->to = in[1];
	p->from = out[0];
	p->err = -1;
	if (capture_err) {
		close(err[1]);
		p->err = err[0];
	}
}

/* One line from the child's stdout (without '\n'); -1 on EOF/timeout. */
static int read_line(struct proc *p, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		struct pollfd pfd = {.fd = p->from, .events = POLLIN};
		char ch;
		ssize_t r;

		if (poll(&pfd, 1, IO_TIMEOUT_MS) <= 0)
			return -1;
		r = read(p->from, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (ch == '\n')
			break;
		buf[n++] = ch;
	}
	buf[n] = '\0';
	return (int)n;
}

static void send_line(struct proc *p, const char *s)
{
	size_t n = strlen(s);

	ck_assert_int_eq(write(p->to, s, n), (ssize_t)n);
	ck_assert_int_eq(write(p->to, "\n", 1), 1);
}

/* Read everything left on fd (bounded); returns a malloc'd string. */
static char *slurp(int fd)
{
	size_t len = 0, cap = 65536;
	char *s = malloc(cap);

	ck_assert_ptr_nonnull(s);
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (len + 1 >= cap) {
			cap *= 2;
			s = realloc(s, cap);
			ck_assert_ptr_nonnull(s);
		}
		if (poll(&pfd, 1, IO_TIMEOUT_MS) <= 0)
			break;
		r = read(fd, s + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	s[len] = '\0';
	return s;
}

/* Close the child's stdin and wait (bounded) for it; returns the wait
 * status, killing the child on timeout. */
static int finish(struct proc *p)
{
	struct timespec ts = {0, 5 * 1000 * 1000};
	int st = 0, waited;

	if (p->to >= 0)
		close(p->to);
	p->to = -1;
	for (waited = 0; waited < IO_TIMEOUT_MS; waited += 5) {
		pid_t r = waitpid(p->pid, &st, WNOHANG);

		if (r == p->pid)
			goto done;
		nanosleep(&ts, NULL);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &st, 0);
	ck_abort_msg("child %d did not exit in time", (int)p->pid);
done:
	close(p->from);
	if (p->err >= 0)
		close(p->err);
	return st;
}

static int exited_ok(int st)
{
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Run a program to completion with output captured; returns status. */
static int run_capture(const char *path, char *const argv[], const char *const *extra,
		       char **out)
{
	struct proc p;
	int st;

	start(&p, path, argv, extra, 0);
	close(p.to);
	p.to = -1;
	*out = slurp(p.from);
	st = finish(&p);
	return st;
}

static uint64_t delta_total(const struct ac_view *a, const struct ac_view *b, enum ac_fn fn)
{
	return ac_total(a, fn) - ac_total(b, fn);
}

static uint64_t delta_stat(const struct ac_view *a, const struct ac_view *b, enum ac_stat s)
{
	return ac_stat(a, s) - ac_stat(b, s);
}

/* Thread info of tid in v, zeros if the thread has no slot there. */
static void thread_or_zero(const struct ac_view *v, int64_t tid, struct ac_thread_info *ti)
{
	if (ac_thread_by_tid(v, tid, ti) != 0)
		memset(ti, 0, sizeof *ti);
}

static void site_delta(const struct ac_view *after, const struct ac_view *before,
		       const struct ac_site_info *s, uint64_t *calls, uint64_t *bytes)
{
	struct ac_site_info b;

	*calls = s->calls;
	*bytes = s->bytes;
	if (ac_site_find(before, s->addr, s->fn, &b) == 0) {
		*calls -= b.calls;
		*bytes -= b.bytes;
	}
}

/* Start the victim in a mode, wait for "ready", open its counter file. */
static void victim_start(struct proc *p, const char *mode, const char *arg,
			 const char *file, int xthread, const char *extra_env,
			 char *ready, size_t ready_cap, int capture_err)
{
	static char e_preload[] = "LD_PRELOAD=" ALLOCCOUNT_SO;
	static char e_file[600];
	const char *env[5];
	char *argv[4];
	int k = 0;

	argv[0] = (char *)ALLOCCOUNT_VICTIM;
	argv[1] = (char *)mode;
	argv[2] = (char *)arg;
	argv[3] = NULL;
	env[k++] = e_preload;
	if (file) {
		snprintf(e_file, sizeof e_file, "ALLOCCOUNT_FILE=%s", file);
		env[k++] = e_file;
	}
	if (xthread)
		env[k++] = "ALLOCCOUNT_XTHREAD=1";
	if (extra_env)
		env[k++] = extra_env;
	env[k] = NULL;
	start(p, ALLOCCOUNT_VICTIM, argv, env, capture_err);
	ck_assert_msg(read_line(p, ready, ready_cap) > 0, "victim %s: no ready line", mode);
	ck_assert_msg(strncmp(ready, "ready ", 6) == 0, "victim said '%s'", ready);
}

/* ---- tests -------------------------------------------------------- */

static void check_work_window(int xthread)
{
	struct proc p;
	struct ac_view live, before, after, fin;
	struct ac_thread_info tm0, tm1, tw0, tw1;
	char line[128], path[512];
	long long main_tid, worker_tid;
	unsigned fn, i;
	uint64_t site_sum[AC_FN_COUNT] = {0};
	int found_m10 = 0, found_m7 = 0, found_c5 = 0, found_fn3 = 0;
	int found_r50 = 0, found_r5000 = 0, found_r300 = 0;
	uint64_t addr_m10 = 0, addr_m7 = 0;
	int victim_sites = 0;

	make_tmpdir();
	tmp_path(path, sizeof path, "work.ac");
	victim_start(&p, "work", NULL, path, xthread, NULL, line, sizeof line, 0);
	ck_assert_int_eq(sscanf(line, "ready %lld %lld", &main_tid, &worker_tid), 2);
	ck_assert_int_eq(main_tid, p.pid);
	ck_assert_int_ne(worker_tid, 0);

	ck_assert_msg(ac_open_wait(path, &live, 5000) == 0, "ac_open %s: %s", path,
		      strerror(errno));
	ck_assert_int_eq(ac_pid(&live), p.pid);
	ck_assert(ac_alive(&live));
	ck_assert(ac_flags(&live) & AC_F_FILE);
	ck_assert_int_eq(!!(ac_flags(&live) & AC_F_XTHREAD), xthread);
	ck_assert_int_eq(ac_snapshot(&live, &before), 0);

	send_line(&p, "go");
	ck_assert(read_line(&p, line, sizeof line) >= 0);
	ck_assert_str_eq(line, "done");
	ck_assert_int_eq(ac_snapshot(&live, &after), 0);

	/* Process totals. */
	for (fn = 0; fn < AC_FN_COUNT; fn++) {
		ck_assert_msg(delta_total(&after, &before, fn) == exp_calls[fn],
			      "%s calls: %" PRIu64 " != %" PRIu64, ac_fn_name(fn),
			      delta_total(&after, &before, fn), exp_calls[fn]);
		ck_assert_msg(ac_total_bytes(&after, fn) - ac_total_bytes(&before, fn) ==
				      exp_bytes[fn],
			      "%s bytes", ac_fn_name(fn));
	}
	ck_assert_uint_eq(delta_stat(&after, &before, AC_STAT_FAILED), 0);
	ck_assert_uint_eq(delta_stat(&after, &before, AC_STAT_XTHREAD_FREES), xthread ? 9 : 0);
	ck_assert_uint_eq(delta_stat(&after, &before, AC_STAT_XTHREAD_REALLOCS),
			  xthread ? 1 : 0);
	ck_assert_uint_eq(delta_stat(&after, &before, AC_STAT_UNTRACKED_ALLOCS), 0);
	ck_assert_uint_eq(delta_stat(&after, &before, AC_STAT_UNTRACKED_FREES), 0);
	ck_assert_uint_eq(delta_stat(&after, &before, AC_STAT_BOOTSTRAP_ALLOCS), 0);
	ck_assert_uint_eq(delta_stat(&after, &before, AC_STAT_SITE_OTHER_CALLS), 0);
	ck_assert_uint_eq(delta_stat(&after, &before, AC_STAT_NTHREADS), 1);

	/* Per-thread split: the worker got its slot inside the window. */
	thread_or_zero(&before, main_tid, &tm0);
	thread_or_zero(&after, main_tid, &tm1);
	ck_assert_int_eq(ac_thread_by_tid(&before, worker_tid, &tw0), -1);
	memset(&tw0, 0, sizeof tw0);
	ck_assert_int_eq(ac_thread_by_tid(&after, worker_tid, &tw1), 0);
	ck_assert_uint_eq(tm1.idx, 0);
	ck_assert_uint_eq(tw1.idx, 1);
	for (fn = 0; fn < AC_FN_COUNT; fn++) {
		ck_assert_msg(tm1.calls[fn] - tm0.calls[fn] == exp_main_calls[fn],
			      "main %s: %" PRIu64, ac_fn_name(fn), tm1.calls[fn] - tm0.calls[fn]);
		ck_assert_msg(tw1.calls[fn] - tw0.calls[fn] == exp_worker_calls[fn],
			      "worker %s: %" PRIu64, ac_fn_name(fn),
			      tw1.calls[fn] - tw0.calls[fn]);
	}
	ck_assert_uint_eq(tm1.bytes - tm0.bytes, EXP_MAIN_BYTES);
	ck_assert_uint_eq(tw1.bytes - tw0.bytes, EXP_WORKER_BYTES);
	ck_assert_uint_eq(tm1.xfree_in - tm0.xfree_in, xthread ? 5 : 0);
	ck_assert_uint_eq(tm1.xfree_out - tm0.xfree_out, xthread ? 4 : 0);
	ck_assert_uint_eq(tw1.xfree_in, xthread ? 4 : 0);
	ck_assert_uint_eq(tw1.xfree_out, xthread ? 5 : 0);
	ck_assert_uint_eq(tw1.xrealloc_in, xthread ? 1 : 0);
	ck_assert_uint_eq(tm1.xrealloc_in - tm0.xrealloc_in, 0);
	ck_assert_uint_eq(tw1.bytes_fn[AC_REALLOC], 300);
	ck_assert_uint_eq(tm1.bytes_fn[AC_MALLOC] - tm0.bytes_fn[AC_MALLOC], 1000);
	ck_assert_str_eq(tw1.name, "ac-worker"); /* read from /proc by the snapshot */

	/* Call sites: every counted call is in a site (no "other"), and the
	 * victim's call sites are told apart. */
	for (i = 0; i < AC_SITE_SLOTS; i++) {
		struct ac_site_info s;
		uint64_t dc, db, off;
		char mod[1024];
		int in_victim;

		if (ac_site(&after, i, &s) != 0)
			continue;
		site_delta(&after, &before, &s, &dc, &db);
		if (dc == 0)
			continue;
		ck_assert_uint_lt(s.fn, AC_FN_COUNT);
		site_sum[s.fn] += dc;
		in_victim = ac_addr_module(&after, s.addr, mod, sizeof mod, &off) == 0 &&
			    strcmp(mod, ALLOCCOUNT_VICTIM) == 0;
		ck_assert_msg(in_victim, "site %#" PRIx64 " (%s) outside the victim", s.addr,
			      ac_fn_name(s.fn));
		victim_sites++;
		if (s.fn == AC_MALLOC && dc == 10 && db == 1000) {
			found_m10++;
			addr_m10 = s.addr;
		}
		if (s.fn == AC_MALLOC && dc == 7 && db == 1400) {
			found_m7++;
			addr_m7 = s.addr;
		}
		found_c5 += s.fn == AC_CALLOC && dc == 5 && db == 500;
		found_fn3 += s.fn == AC_FREE_NULL && dc == 3;
		found_r50 += s.fn == AC_REALLOC && dc == 1 && db == 50;
		found_r5000 += s.fn == AC_REALLOC && dc == 1 && db == 5000;
		found_r300 += s.fn == AC_REALLOC && dc == 1 && db == 300;
	}
	for (fn = 0; fn < AC_FN_COUNT; fn++)
		ck_assert_msg(site_sum[fn] == exp_calls[fn], "sites of %s sum to %" PRIu64,
			      ac_fn_name(fn), site_sum[fn]);
	ck_assert_int_eq(found_m10, 1);
	ck_assert_int_eq(found_m7, 1);
	ck_assert(addr_m10 != addr_m7);
	ck_assert_int_eq(found_c5, 1);
	ck_assert_int_eq(found_fn3, 1);
	ck_assert_int_eq(found_r50, 1);
	ck_assert_int_eq(found_r5000, 1);
	ck_assert_int_eq(found_r300, 1);
	/* main_allocate: 11 sites; worker: malloc, 3 frees, realloc, free;
	 * main_free: 12 free sites. */
	ck_assert_int_eq(victim_sites, 11 + 6 + 12);

	send_line(&p, "quit");
	ck_assert(exited_ok(finish(&p)));

	/* After exit the file stays, marked exited, with maps captured. */
	ac_close(&live);
	ck_assert_int_eq(ac_open(path, &fin), 0);
	ck_assert(ac_flags(&fin) & AC_F_EXITED);
	ck_assert(!ac_alive(&fin));
	{
		size_t len = 0;

		ck_assert_ptr_nonnull(ac_maps(&fin, &len));
		ck_assert_uint_gt(len, 0);
	}
	ac_close(&fin);
	ac_close(&before);
	ac_close(&after);
	remove_tmpdir();
}

START_TEST(test_exact_counts_xthread)
{
	check_work_window(1);
}
END_TEST

START_TEST(test_exact_counts_no_xthread)
{
	check_work_window(0);
}
END_TEST

static int have_program(const char *name)
{
	const char *path = getenv("PATH");
	char buf[1024];

	while (path && *path) {
		const char *colon = strchr(path, ':');
		size_t n = colon ? (size_t)(colon - path) : strlen(path);

		snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, name);
		if (access(buf, X_OK) == 0)
			return 1;
		path = colon ? colon + 1 : NULL;
	}
	return 0;
}

START_TEST(test_report_cli)
{
	struct proc p;
	char line[128], path[512], snap[512], *out;
	char *argv[10];
	int st;

	make_tmpdir();
	tmp_path(path, sizeof path, "cli.ac");
	tmp_path(snap, sizeof snap, "before.snap");
	victim_start(&p, "work", NULL, path, 1, NULL, line, sizeof line, 0);
	{
		struct ac_view v;

		ck_assert_int_eq(ac_open_wait(path, &v, 5000), 0);
		ac_close(&v);
	}

	argv[0] = (char *)ALLOCCOUNT_REPORT_BIN;
	argv[1] = path;
	argv[2] = (char *)"--snapshot";
	argv[3] = snap;
	argv[4] = (char *)"--quiet";
	argv[5] = NULL;
	st = run_capture(ALLOCCOUNT_REPORT_BIN, argv, NULL, &out);
	ck_assert_msg(exited_ok(st), "report --snapshot failed");
	ck_assert_str_eq(out, "");
	free(out);

	send_line(&p, "go");
	ck_assert(read_line(&p, line, sizeof line) >= 0);
	ck_assert_str_eq(line, "done");

	/* JSON delta: exact counts of the window. */
	argv[2] = (char *)"--delta";
	argv[3] = snap;
	argv[4] = (char *)"--json";
	argv[5] = NULL;
	st = run_capture(ALLOCCOUNT_REPORT_BIN, argv, NULL, &out);
	ck_assert(exited_ok(st));
	ck_assert_msg(strstr(out, "\"malloc\":{\"calls\":17,\"bytes\":2400}") != NULL, "%s", out);
	ck_assert(strstr(out, "\"calloc\":{\"calls\":5,\"bytes\":500}") != NULL);
	ck_assert(strstr(out, "\"realloc\":{\"calls\":3,\"bytes\":5350}") != NULL);
	ck_assert(strstr(out, "\"free\":{\"calls\":31,\"bytes\":0}") != NULL);
	ck_assert(strstr(out, "\"free(NULL)\":{\"calls\":3,\"bytes\":0}") != NULL);
	ck_assert(strstr(out, "\"xthread_frees\":9,") != NULL);
	ck_assert(strstr(out, "\"alive\":true") != NULL);
	ck_assert(strstr(out, "\"name\":\"ac-worker\"") != NULL);
	free(out);

	/* Text, symbolized: the sites are named after the victim's code. */
	argv[4] = (char *)"--symbolize";
	argv[5] = (char *)"--top";
	argv[6] = (char *)"0";
	argv[7] = NULL;
	st = run_capture(ALLOCCOUNT_REPORT_BIN, argv, NULL, &out);
	ck_assert(exited_ok(st));
	ck_assert_msg(strstr(out, "delta from") != NULL, "%s", out);
	ck_assert(strstr(out, "tests/alloccount/victim+0x") != NULL);
	if (have_program("addr2line")) {
		ck_assert_msg(strstr(out, "main_allocate") != NULL, "%s", out);
		ck_assert(strstr(out, "worker_main") != NULL);
		ck_assert(strstr(out, "main_free") != NULL);
	}
	free(out);

	/* Rolling delta: --delta S --snapshot S reports since S and moves S;
	 * the next delta is empty (the victim is idle). */
	argv[4] = (char *)"--json";
	argv[5] = (char *)"--snapshot";
	argv[6] = snap;
	argv[7] = NULL;
	st = run_capture(ALLOCCOUNT_REPORT_BIN, argv, NULL, &out);
	ck_assert(exited_ok(st));
	ck_assert(strstr(out, "\"malloc\":{\"calls\":17,\"bytes\":2400}") != NULL);
	free(out);
	argv[5] = NULL;
	st = run_capture(ALLOCCOUNT_REPORT_BIN, argv, NULL, &out);
	ck_assert(exited_ok(st));
	ck_assert_msg(strstr(out, "\"malloc\":{\"calls\":0,\"bytes\":0}") != NULL, "%s", out);
	ck_assert(strstr(out, "\"sites_with_calls\":0,") != NULL);
	free(out);
	/* --snapshot onto the live file itself is refused. */
	argv[2] = (char *)"--snapshot";
	argv[3] = path;
	argv[4] = NULL;
	st = run_capture(ALLOCCOUNT_REPORT_BIN, argv, NULL, &out);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	free(out);
	argv[2] = (char *)"--delta";
	argv[3] = snap;
	argv[4] = NULL;

	/* A delta against a snapshot of another process is refused. */
	send_line(&p, "quit");
	ck_assert(exited_ok(finish(&p)));
	victim_start(&p, "fail", NULL, path, 0, NULL, line, sizeof line, 0);
	{
		struct ac_view v;

		ck_assert_int_eq(ac_open_wait(path, &v, 5000), 0);
		/* the victim reuses the file once the previous owner exited */
		ck_assert_int_eq(ac_pid(&v), p.pid);
		ac_close(&v);
	}
	argv[4] = NULL;
	st = run_capture(ALLOCCOUNT_REPORT_BIN, argv, NULL, &out);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	free(out);
	send_line(&p, "go");
	ck_assert(read_line(&p, line, sizeof line) >= 0);
	send_line(&p, "quit");
	ck_assert(exited_ok(finish(&p)));

	/* Errors: no such file, usage. */
	argv[1] = (char *)"/nonexistent/alloccount.ac";
	argv[2] = NULL;
	st = run_capture(ALLOCCOUNT_REPORT_BIN, argv, NULL, &out);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	free(out);
	argv[1] = NULL;
	st = run_capture(ALLOCCOUNT_REPORT_BIN, argv, NULL, &out);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	free(out);
	remove_tmpdir();
}
END_TEST

/* fork(): the child counts apart from the parent (own %p file, or
 * private memory), and never into the parent's file. */
START_TEST(test_fork_child_separate)
{
	int with_pid;

	make_tmpdir();
	for (with_pid = 0; with_pid < 2; with_pid++) {
		struct proc p;
		struct ac_view live, before, after, child;
		char line[128], tmpl[512], path[512];
		long long child_pid;

		tmp_path(tmpl, sizeof tmpl, with_pid ? "fork.%p.ac" : "fork.ac");
		victim_start(&p, "fork", NULL, tmpl, 1, NULL, line, sizeof line, 0);
		if (with_pid)
			snprintf(path, sizeof path, "%s/fork.%d.ac", tmpdir, (int)p.pid);
		else
			snprintf(path, sizeof path, "%s", tmpl);
		ck_assert_int_eq(ac_open_wait(path, &live, 5000), 0);
		ck_assert_int_eq(ac_pid(&live), p.pid);
		ck_assert_int_eq(ac_snapshot(&live, &before), 0);
		send_line(&p, "go");
		ck_assert(read_line(&p, line, sizeof line) >= 0);
		ck_assert_int_eq(sscanf(line, "done %lld", &child_pid), 1);
		ck_assert_int_eq(ac_snapshot(&live, &after), 0);
		ck_assert_uint_eq(delta_total(&after, &before, AC_MALLOC), 1);
		ck_assert_uint_eq(delta_total(&after, &before, AC_FREE), 1);
		ck_assert_uint_eq(delta_stat(&after, &before, AC_STAT_UNTRACKED_FREES), 0);
		if (with_pid) {
			snprintf(path, sizeof path, "%s/fork.%lld.ac", tmpdir, child_pid);
			ck_assert_msg(ac_open(path, &child) == 0, "%s: %s", path,
				      strerror(errno));
			ck_assert_int_eq(ac_pid(&child), child_pid);
			ck_assert(ac_flags(&child) & AC_F_FORKED);
			ck_assert(ac_flags(&child) & AC_F_XTHREAD);
			ck_assert_uint_eq(ac_total(&child, AC_MALLOC), 1000);
			ck_assert_uint_eq(ac_total(&child, AC_FREE), 1000);
			ck_assert_uint_eq(ac_stat(&child, AC_STAT_UNTRACKED_FREES), 0);
			ac_close(&child);
		}
		send_line(&p, "quit");
		ck_assert(exited_ok(finish(&p)));
		ac_close(&live);
		ac_close(&before);
		ac_close(&after);
	}
	remove_tmpdir();
}
END_TEST

/* More threads than slots: the extra ones share the overflow slot. */
START_TEST(test_thread_overflow)
{
	struct proc p;
	struct ac_view live, before, after;
	struct ac_thread_info ti;
	char line[128], path[512];
	uint64_t sum = 0;
	unsigned i;

	make_tmpdir();
	tmp_path(path, sizeof path, "threads.ac");
	victim_start(&p, "threads", "300", path, 1, NULL, line, sizeof line, 0);
	ck_assert_int_eq(ac_open_wait(path, &live, 5000), 0);
	ck_assert_int_eq(ac_snapshot(&live, &before), 0);
	send_line(&p, "go");
	ck_assert(read_line(&p, line, sizeof line) >= 0);
	ck_assert_int_eq(ac_snapshot(&live, &after), 0);

	/* main (slot 0, maybe first used inside the window) + 300 */
	ck_assert_uint_eq(ac_stat(&after, AC_STAT_NTHREADS), 301);
	ck_assert_uint_eq(delta_total(&after, &before, AC_MALLOC), 300);
	ck_assert_uint_eq(delta_total(&after, &before, AC_FREE), 300);
	ck_assert_uint_eq(delta_stat(&after, &before, AC_STAT_XTHREAD_FREES), 0);
	for (i = 1; i < AC_THREAD_OVERFLOW; i++) {
		ck_assert_int_eq(ac_thread(&after, i, &ti), 0);
		ck_assert_uint_eq(ti.calls[AC_MALLOC], 1);
		ck_assert_uint_eq(ti.calls[AC_FREE], 1);
		ck_assert(ti.flags & AC_TF_EXITED);
		sum += ti.calls[AC_MALLOC];
	}
	ck_assert_int_eq(ac_thread(&after, AC_THREAD_OVERFLOW, &ti), 0);
	ck_assert(ti.flags & AC_TF_OVERFLOW);
	ck_assert_uint_eq(ti.calls[AC_MALLOC], 300 - (AC_THREAD_OVERFLOW - 1));
	sum += ti.calls[AC_MALLOC];
	ck_assert_uint_eq(sum, 300);
	send_line(&p, "quit");
	ck_assert(exited_ok(finish(&p)));
	ac_close(&live);
	ac_close(&before);
	ac_close(&after);
	remove_tmpdir();
}
END_TEST

/* More call sites than table slots: the rest is counted as "other". */
START_TEST(test_site_overflow)
{
	struct proc p;
	struct ac_view live, before, after;
	char line[128], path[512];
	uint64_t sites = 0, used = 0, other;
	unsigned i;

	make_tmpdir();
	tmp_path(path, sizeof path, "sites.ac");
	victim_start(&p, "sites", NULL, path, 0, NULL, line, sizeof line, 0);
	ck_assert_int_eq(ac_open_wait(path, &live, 5000), 0);
	ck_assert_int_eq(ac_snapshot(&live, &before), 0);
	send_line(&p, "go");
	ck_assert(read_line(&p, line, sizeof line) >= 0);
	ck_assert_int_eq(ac_snapshot(&live, &after), 0);
	ck_assert_uint_eq(delta_total(&after, &before, AC_MALLOC), 3000);
	ck_assert_uint_eq(delta_total(&after, &before, AC_FREE), 3000);
	for (i = 0; i < AC_SITE_SLOTS; i++) {
		struct ac_site_info s;
		uint64_t dc, db;

		if (ac_site(&after, i, &s) != 0)
			continue;
		used++;
		site_delta(&after, &before, &s, &dc, &db);
		sites += dc;
	}
	other = delta_stat(&after, &before, AC_STAT_SITE_OTHER_CALLS);
	ck_assert_uint_gt(other, 0);
	ck_assert_uint_eq(sites + other, 6000);
	ck_assert_uint_ge(used, AC_SITE_SLOTS - 16);
	send_line(&p, "quit");
	ck_assert(exited_ok(finish(&p)));
	ac_close(&live);
	ac_close(&before);
	ac_close(&after);
	remove_tmpdir();
}
END_TEST

START_TEST(test_failed_calls)
{
	struct proc p;
	struct ac_view live, before, after;
	char line[128], path[512];

	make_tmpdir();
	tmp_path(path, sizeof path, "fail.ac");
	victim_start(&p, "fail", NULL, path, 1, NULL, line, sizeof line, 0);
	ck_assert_int_eq(ac_open_wait(path, &live, 5000), 0);
	ck_assert_int_eq(ac_snapshot(&live, &before), 0);
	send_line(&p, "go");
	ck_assert(read_line(&p, line, sizeof line) >= 0);
	ck_assert_int_eq(ac_snapshot(&live, &after), 0);
	ck_assert_uint_eq(delta_stat(&after, &before, AC_STAT_FAILED), 3);
	ck_assert_uint_eq(delta_total(&after, &before, AC_MALLOC), 1);
	ck_assert_uint_eq(delta_total(&after, &before, AC_CALLOC), 1);
	ck_assert_uint_eq(delta_total(&after, &before, AC_POSIX_MEMALIGN), 1);
	/* n * size overflowed: no bytes counted */
	ck_assert_uint_eq(ac_total_bytes(&after, AC_CALLOC) - ac_total_bytes(&before, AC_CALLOC),
			  0);
	ck_assert_uint_eq(delta_stat(&after, &before, AC_STAT_UNTRACKED_ALLOCS), 0);
	send_line(&p, "quit");
	ck_assert(exited_ok(finish(&p)));
	ac_close(&live);
	ac_close(&before);
	ac_close(&after);
	remove_tmpdir();
}
END_TEST

/* ALLOCCOUNT_REPORT=1 without a file: summary on stderr at exit. */
START_TEST(test_exit_report)
{
	struct proc p;
	char line[128], *err;

	victim_start(&p, "work", NULL, NULL, 0, "ALLOCCOUNT_REPORT=1", line, sizeof line, 1);
	send_line(&p, "go");
	ck_assert(read_line(&p, line, sizeof line) >= 0);
	send_line(&p, "quit");
	err = slurp(p.err);
	ck_assert(exited_ok(finish(&p)));
	ck_assert_msg(strstr(err, "alloccount: pid ") != NULL, "%s", err);
	ck_assert(strstr(err, "(cross-thread tracking off)") != NULL);
	ck_assert(strstr(err, "alloccount:   malloc ") != NULL);
	ck_assert(strstr(err, "ac-worker") != NULL); /* named at thread exit */
	ck_assert(strstr(err, "tests/alloccount/victim+0x") != NULL);
	free(err);
}
END_TEST

/* Start-up paths that resolve many symbols run fine under the preload,
 * and the bootstrap arena works (self-test through the real entry
 * points). */
START_TEST(test_startup_programs)
{
	char path[512], e_file[600], *out;
	const char *env[5];
	char *argv[6];
	struct ac_view v;
	int st;

	make_tmpdir();
	tmp_path(path, sizeof path, "startup.ac");
	snprintf(e_file, sizeof e_file, "ALLOCCOUNT_FILE=%s", path);
	env[0] = "LD_PRELOAD=" ALLOCCOUNT_SO;
	env[1] = e_file;
	env[2] = "ALLOCCOUNT_XTHREAD=1";
	env[3] = "ALLOCCOUNT_SELFTEST=1";
	env[4] = NULL;

	argv[0] = (char *)"true";
	argv[1] = NULL;
	st = run_capture("/bin/true", argv, env, &out);
	ck_assert_msg(exited_ok(st), "/bin/true: status %d", st);
	free(out);
	ck_assert_int_eq(ac_open(path, &v), 0);
	ck_assert(ac_flags(&v) & AC_F_EXITED);
	ck_assert_uint_eq(ac_stat(&v, AC_STAT_BOOTSTRAP_ALLOCS), 8);
	ck_assert_uint_eq(ac_stat(&v, AC_STAT_BOOTSTRAP_FREES), 7);
	ac_close(&v);

	argv[0] = (char *)"sh";
	argv[1] = (char *)"-c";
	argv[2] = (char *)"for i in 1 2 3; do echo $i; done | sort -r | head -n 1";
	argv[3] = NULL;
	st = run_capture("/bin/sh", argv, env, &out);
	ck_assert(exited_ok(st));
	ck_assert_str_eq(out, "3\n");
	free(out);
	ck_assert_int_eq(ac_open(path, &v), 0);
	{
		/* The file belongs to the shell itself: its children
		 * (sort, head, subshells) count privately. */
		char *sh = realpath("/bin/sh", NULL);

		ck_assert_ptr_nonnull(sh);
		ck_assert_str_eq(ac_exe(&v), sh);
		free(sh);
	}
	ac_close(&v);

	if (have_program("python3")) {
		argv[0] = (char *)"python3";
		argv[1] = (char *)"-c";
		argv[2] = (char *)"import json, hashlib, ctypes, threading\n"
				  "t = threading.Thread(target=lambda: json.dumps([1]*1000))\n"
				  "t.start(); t.join(); print('ok')";
		argv[3] = NULL;
		st = run_capture("python3", argv, env, &out);
		ck_assert_msg(exited_ok(st), "python3: status %d", st);
		ck_assert_str_eq(out, "ok\n");
		free(out);
		ck_assert_int_eq(ac_open(path, &v), 0);
		ck_assert_msg(strstr(ac_exe(&v), "python") != NULL, "exe %s", ac_exe(&v));
		ck_assert_uint_gt(ac_allocs(&v), 1000);
		ck_assert_uint_ge(ac_stat(&v, AC_STAT_NTHREADS), 2);
		ac_close(&v);
	}
	remove_tmpdir();
}
END_TEST

/* A second process with the same ALLOCCOUNT_FILE (e.g. a program the
 * owner runs) does not take over the file. */
START_TEST(test_file_owned_by_first)
{
	struct proc p;
	char line[128], path[512], e_file[600], *out;
	const char *env[3];
	char *argv[2] = {(char *)"true", NULL};
	struct ac_view v;

	make_tmpdir();
	tmp_path(path, sizeof path, "owned.ac");
	victim_start(&p, "work", NULL, path, 0, NULL, line, sizeof line, 0);
	snprintf(e_file, sizeof e_file, "ALLOCCOUNT_FILE=%s", path);
	env[0] = "LD_PRELOAD=" ALLOCCOUNT_SO;
	env[1] = e_file;
	env[2] = NULL;
	ck_assert(exited_ok(run_capture("/bin/true", argv, env, &out)));
	free(out);
	ck_assert_int_eq(ac_open_wait(path, &v, 5000), 0);
	ck_assert_int_eq(ac_pid(&v), p.pid);
	ck_assert(!(ac_flags(&v) & AC_F_EXITED));
	ac_close(&v);
	send_line(&p, "go");
	ck_assert(read_line(&p, line, sizeof line) >= 0);
	send_line(&p, "quit");
	ck_assert(exited_ok(finish(&p)));
	remove_tmpdir();
}
END_TEST

START_TEST(test_reader_errors)
{
	struct ac_view v;
	char path[512];
	int fd;
	struct timespec t0, t1;

	make_tmpdir();
	tmp_path(path, sizeof path, "missing.ac");
	ck_assert_int_eq(ac_open(path, &v), -1);
	ck_assert_int_eq(errno, ENOENT);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(ac_open_wait(path, &v, 50), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 5);

	tmp_path(path, sizeof path, "empty.ac");
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ac_open(path, &v), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(ftruncate(fd, sizeof(struct ac_file)), 0);
	ck_assert_int_eq(ac_open(path, &v), -1); /* right size, no magic yet */
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(pwrite(fd, "garbage!", 8, 0), 8);
	ck_assert_int_eq(ac_open(path, &v), -1);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_int_eq(ftruncate(fd, 12345), 0);
	ck_assert_int_eq(ac_open(path, &v), -1);
	ck_assert_int_eq(errno, EPROTO);
	close(fd);
	remove_tmpdir();
}
END_TEST

static Suite *alloccount_suite(int preload)
{
	Suite *s = suite_create("alloccount");
	TCase *tc = tcase_create("reader");

	tcase_add_test(tc, test_reader_errors);
	suite_add_tcase(s, tc);
	if (!preload)
		return s;
	tc = tcase_create("preload");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_exact_counts_xthread);
	tcase_add_test(tc, test_exact_counts_no_xthread);
	tcase_add_test(tc, test_report_cli);
	tcase_add_test(tc, test_fork_child_separate);
	tcase_add_test(tc, test_thread_overflow);
	tcase_add_test(tc, test_site_overflow);
	tcase_add_test(tc, test_failed_calls);
	tcase_add_test(tc, test_exit_report);
	tcase_add_test(tc, test_startup_programs);
	tcase_add_test(tc, test_file_owned_by_first);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;
#ifdef ALLOCCOUNT_SKIP_TESTS
	/* Sanitizer build: an interposer cannot share a process with the
	 * sanitizer's allocator, so the preload tests are skipped (77);
	 * the reader library is still checked under the sanitizer. */
	const int preload = 0;
#else
	const int preload = 1;
#endif

	sr = srunner_create(alloccount_suite(preload));
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed)
		return 1;
	if (!preload) {
		printf("SKIP: the preload tests need a build without sanitizers (a "
		       "sanitizer's allocator cannot share the process with alloccount)\n");
		return 77;
	}
	return 0;
}
