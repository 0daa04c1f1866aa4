/* Unit tests for core/log.c: one whole line per event on stderr, a level
 * filter, and the systemd journal's priority prefix. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "core/log.h"

static char out[256 << 10];
static int saved_fd = -1;
static FILE *tmp;

/* Sends stderr to a temporary file until captured(). */
static void capture(void)
{
	tmp = tmpfile();
	ck_assert_ptr_nonnull(tmp);
	saved_fd = dup(STDERR_FILENO);
	ck_assert_int_eq(dup2(fileno(tmp), STDERR_FILENO), STDERR_FILENO);
}

/* What was written since capture(). */
static const char *captured(void)
{
	size_t n;

	dup2(saved_fd, STDERR_FILENO);
	close(saved_fd);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	return out;
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

START_TEST(line_format)
{
	struct tm tm;
	int ms;
	char rest[256];

	unsetenv("JOURNAL_STREAM");
	log_init();
	log_set_level(LOG_LVL_INFO);
	capture();
	log_info("hello %d %s", 42, "world");
	const char *s = captured();

	/* 2026-11-27T18:06:47.123Z metricd[info]: hello 42 world */
	memset(&tm, 0, sizeof(tm));
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	ck_assert_msg(p != NULL, "no timestamp in '%s'", s);
	ck_assert_int_eq(sscanf(p, ".%3dZ %255[^\n]", &ms, rest), 2);
	ck_assert_int_ge(ms, 0);
	ck_assert_int_le(ms, 999);
	ck_assert_str_eq(rest, "metricd[info]: hello 42 world");
	ck_assert_uint_eq(count_lines(s), 1);
	ck_assert(s[strlen(s) - 1] == '\n');
	/* The time is now's, in UTC (a generous bound: not a timing test). */
	time_t t = timegm(&tm), now = time(NULL);

	ck_assert_msg(t <= now && now - t < 3600, "timestamp %ld vs now %ld", (long)t, (long)now);
}
END_TEST

START_TEST(levels_filter)
{
	unsetenv("JOURNAL_STREAM");
	log_init();
	log_set_level(LOG_LVL_WARN);
	ck_assert_int_eq(log_get_level(), LOG_LVL_WARN);
	capture();
	log_debug("d");
	log_info("i");
	log_warn("w");
	log_error("e");
	const char *s = captured();

	ck_assert_uint_eq(count_lines(s), 2);
	ck_assert_ptr_nonnull(strstr(s, "metricd[warn]: w\n"));
	ck_assert_ptr_nonnull(strstr(s, "metricd[error]: e\n"));
	log_set_level(LOG_LVL_DEBUG);
	capture();
	log_debug("d");
	ck_assert_ptr_nonnull(strstr(captured(), "metricd[debug]: d\n"));
	log_set_level(LOG_LVL_ERROR);
	capture();
	log_warn("w");
	ck_assert_str_eq(captured(), "");
}
END_TEST

START_TEST(journal_prefix)
{
	setenv("JOURNAL_STREAM", "8:1234", 1);
	log_init();
	log_set_level(LOG_LVL_DEBUG);
	capture();
	log_error("e");
	log_warn("w");
	log_info("i");
	log_debug("d");
	/* syslog priorities, no timestamp: the journal adds its own */
	ck_assert_str_eq(captured(), "<3>metricd[error]: e\n<4>metricd[warn]: w\n"
		       "<6>metricd[info]: i\n<7>metricd[debug]: d\n");
	unsetenv("JOURNAL_STREAM");
	log_init();
}
END_TEST

START_TEST(long_message_cut_to_one_line)
{
	char *big = malloc(5000);

	memset(big, 'x', 4999);
	big[4999] = '\0';
	setenv("JOURNAL_STREAM", "1:1", 1);
	log_init();
	log_set_level(LOG_LVL_INFO);
	capture();
	log_info("%s", big);
	const char *s = captured();

	/* 1023 bytes at most, the newline included. */
	ck_assert_uint_eq(strlen(s), 1023);
	ck_assert_uint_eq(count_lines(s), 1);
	ck_assert(s[1022] == '\n');
	ck_assert(strncmp(s, "<6>metricd[info]: xxx", 21) == 0);
	free(big);
	unsetenv("JOURNAL_STREAM");
	log_init();
}
END_TEST

/* A message that cannot be formatted (a wide character the C locale cannot
 * encode) still gives one line with its prefix. */
START_TEST(unformattable_message)
{
	static const wchar_t bad[] = { 0x263a, 0 };

	setenv("JOURNAL_STREAM", "1:1", 1);
	log_init();
	log_set_level(LOG_LVL_INFO);
	capture();
	log_info("%ls", bad);
	ck_assert_str_eq(captured(), "<6>metricd[info]: \n");
	unsetenv("JOURNAL_STREAM");
	log_init();
}
END_TEST

START_TEST(errno_is_kept)
{
	log_set_level(LOG_LVL_INFO);
	capture();
	errno = ENOSPC;
	log_info("x");
	ck_assert_int_eq(errno, ENOSPC);
	captured();
}
END_TEST

START_TEST(level_names)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	enum log_level l;

	for (int i = 0; i < 4; i++) {
		ck_assert_str_eq(log_level_name((enum log_level)i), names[i]);
		ck_assert_int_eq(log_level_parse(names[i], &l), 0);
		ck_assert_int_eq(l, i);
	}
	ck_assert_int_eq(log_level_parse("WaRn", &l), 0);
	ck_assert_int_eq(l, LOG_LVL_WARN);
	l = LOG_LVL_DEBUG;
	ck_assert_int_eq(log_level_parse("verbose", &l), -EINVAL);
	ck_assert_int_eq(log_level_parse("", &l), -EINVAL);
	ck_assert_int_eq(l, LOG_LVL_DEBUG);
	ck_assert_str_eq(log_level_name((enum log_level)4), "?");
	ck_assert_str_eq(log_level_name((enum log_level)-1), "?");
}
END_TEST

/* Lines from many threads at once come out whole, one per write. */
static void *logger(void *arg)
{
	for (int i = 0; i < 200; i++)
		log_info("thread %ld line %d %s", (long)(intptr_t)arg, i,
			 "................................................");
	return NULL;
}

START_TEST(threads_lines_whole)
{
	pthread_t th[4];
	unsigned n = 0;

	setenv("JOURNAL_STREAM", "1:1", 1);
	log_init();
	log_set_level(LOG_LVL_INFO);
	capture();
	for (long i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, logger, (void *)(intptr_t)i), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	const char *s = captured();

	for (const char *l = s; *l; l = strchr(l, '\n') + 1) {
		long t;
		int k, len = 0;

		ck_assert_int_eq(sscanf(l, "<6>metricd[info]: thread %ld line %d "
					"................................................%n",
					&t, &k, &len), 2);
		ck_assert_msg(len > 0 && l[len] == '\n', "a torn line: %.80s", l);
		n++;
	}
	ck_assert_uint_eq(n, 800);
	unsetenv("JOURNAL_STREAM");
	log_init();
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, line_format);
	tcase_add_test(tc, levels_filter);
	tcase_add_test(tc, journal_prefix);
	tcase_add_test(tc, long_message_cut_to_one_line);
	tcase_add_test(tc, unformattable_message);
	tcase_add_test(tc, errno_is_kept);
	tcase_add_test(tc, level_names);
	tcase_add_test(tc, threads_lines_whole);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
