/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for core/base/proc.c: the /proc/PID/stat parser on lines
 * written here (a command name with spaces and parentheses, negative
 * fields, lines cut short), and the live figures against what the test
 * itself changes: descriptors it opens, the limit it sets, memory it
 * touches. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/base/proc.h"

/* A line as proc(5) describes it: pid (comm) state, then fields 4..52. */
static const char stat_line[] =
	"4242 (metricd (w) 1) S 1 4242 4242 0 -1 4194560 1175 0 0 0 12 7 0 0 "
	"-2 -20 5 0 31337 236318720 1097 18446744073709551615 1 1 0 0 0 0 0 "
	"4096 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

START_TEST(stat_fields)
{
	struct proc_stat st;

	ck_assert_int_eq(proc_parse_stat(stat_line, strlen(stat_line), &st), 0);
	ck_assert_uint_eq(st.start_ticks, 31337);
	ck_assert_uint_eq(st.virtual_bytes, 236318720);
	ck_assert_uint_eq(st.resident_pages, 1097);
}
END_TEST

START_TEST(stat_not_a_stat_line)
{
	struct proc_stat st;
	const char *cut = strstr(stat_line, " 236318720");

	/* cut before rss: too few fields */
	ck_assert_int_eq(proc_parse_stat(stat_line, (size_t)(cut - stat_line) + 10, &st), -EINVAL);
	ck_assert_int_eq(proc_parse_stat("", 0, &st), -EINVAL);
	ck_assert_int_eq(proc_parse_stat("4242 no parenthesis S 1", 23, &st), -EINVAL);
	ck_assert_int_eq(proc_parse_stat("1 (x) S 1 x", 11, &st), -EINVAL);
}
END_TEST

START_TEST(live_stat_parses)
{
	char buf[1024];
	struct proc_stat st;
	int fd = open("/proc/self/stat", O_RDONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(proc_parse_stat(buf, (size_t)n, &st), 0);
	ck_assert_uint_gt(st.resident_pages, 0);
	ck_assert_uint_gt(st.virtual_bytes, st.resident_pages);
}
END_TEST

/* Descriptors opened here are counted, and nothing else changes the
 * count (proc_read's own directory descriptor is left out). */
START_TEST(open_fds_counts_descriptors)
{
	struct proc_figures a, b, c;
	int fds[5];

	proc_read(&a);
	ck_assert_uint_ne(a.open_fds, PROC_UNKNOWN);
	ck_assert_uint_ge(a.open_fds, 3);
	proc_read(&b);
	ck_assert_uint_eq(b.open_fds, a.open_fds);
	for (int i = 0; i < 5; i++)
		ck_assert_int_ge(fds[i] = open("/dev/null", O_RDONLY), 0);
	proc_read(&c);
	ck_assert_uint_eq(c.open_fds, a.open_fds + 5);
	for (int i = 0; i < 5; i++)
		close(fds[i]);
}
END_TEST

START_TEST(max_fds_is_the_soft_limit)
{
	struct rlimit rl, low;
	struct proc_figures p;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	low = (struct rlimit){ 321, rl.rlim_max };
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	proc_read(&p);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_uint_eq(p.max_fds, 321);
}
END_TEST

/* 64 MiB touched page by page is resident; CPU time never goes back. */
START_TEST(memory_and_cpu)
{
	struct proc_figures a, b;
	size_t len = 64u << 20;
	volatile char *mem;

	proc_read(&a);
	mem = malloc(len);
	ck_assert_ptr_nonnull((void *)mem);
	for (size_t i = 0; i < len; i += 4096)
		mem[i] = 1;
	proc_read(&b);
	ck_assert_uint_ge(b.resident_bytes, a.resident_bytes + len / 2);
	ck_assert_uint_ge(b.virtual_bytes, a.virtual_bytes + len);
	ck_assert_uint_ge(b.virtual_bytes, b.resident_bytes);
	ck_assert_uint_ne(b.cpu_ns, PROC_UNKNOWN);
	ck_assert_uint_ge(b.cpu_ns, a.cpu_ns);
	free((void *)mem);
}
END_TEST

START_TEST(start_time_before_now)
{
	struct timespec now;
	uint64_t start = proc_start_unix_ns();

	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	/* within the last day, and no later than now (ticks are 10 ms: a
	 * little slack for the rounding) */
	ck_assert_uint_gt(start, now_ns - 86400ull * 1000000000u);
	ck_assert_uint_le(start, now_ns + 20000000u);
}
END_TEST

START_TEST(allocator_and_libc)
{
	const char *a = proc_allocator();
	char libc[32], small[8];

	ck_assert(a[0] != '\0');
	ck_assert_ptr_null(strchr(a, '/'));
#ifdef __GLIBC__
	/* a sanitizer's malloc is in the program itself */
	if (strcmp(METRICD_SANITIZERS, "none") == 0)
		ck_assert_str_eq(a, "libc.so.6");
#endif
	ck_assert_uint_eq(proc_libc(libc, sizeof(libc)), strlen(libc));
#ifdef __GLIBC__
	ck_assert(strncmp(libc, "glibc 2.", 8) == 0);
#endif
	ck_assert_uint_eq(proc_libc(small, sizeof(small)), 7);        /* cut to fit */
	ck_assert_uint_eq(strlen(small), 7);
	ck_assert_uint_eq(proc_libc(small, 0), 0);
}
END_TEST

static Suite *proc_suite(void)
{
	Suite *s = suite_create("proc");
	TCase *t = tcase_create("proc");

	tcase_add_test(t, stat_fields);
	tcase_add_test(t, stat_not_a_stat_line);
	tcase_add_test(t, live_stat_parses);
	tcase_add_test(t, open_fds_counts_descriptors);
	tcase_add_test(t, max_fds_is_the_soft_limit);
	tcase_add_test(t, memory_and_cpu);
	tcase_add_test(t, start_time_before_now);
	tcase_add_test(t, allocator_and_libc);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(proc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
