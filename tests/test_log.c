/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for core/base/log.c: one whole line per event on stderr, a level
 * filter, and the systemd journal's priority prefix - used only when
 * JOURNAL_STREAM names stderr's own device and inode, as systemd.exec(5)
 * documents, not on the variable's mere presence. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "core/base/log.h"

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

/* "DEV:INO" of fd, as systemd writes it. */
static void stream_id(int fd, char *buf, size_t len)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	snprintf(buf, len, "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
}

/* capture(), then make the captured stderr the "journal". */
static void capture_journal(void)
{
	char id[64];

	capture();
	stream_id(STDERR_FILENO, id, sizeof(id));
	ck_assert_int_eq(setenv("JOURNAL_STREAM", id, 1), 0);
	log_init();
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
	capture_journal();
	log_set_level(LOG_LVL_DEBUG);
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
	capture_journal();
	log_set_level(LOG_LVL_INFO);
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

	capture_journal();
	log_set_level(LOG_LVL_INFO);
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

	capture_journal();
	log_set_level(LOG_LVL_INFO);
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

START_TEST(matches_own_stream)
{
	FILE *f = tmpfile();
	char id[64];

	ck_assert_ptr_nonnull(f);
	stream_id(fileno(f), id, sizeof(id));
	ck_assert(log_stream_is_journal(id, fileno(f)));
	fclose(f);
}
END_TEST

START_TEST(other_stream_or_garbage)
{
	FILE *a = tmpfile(), *b = tmpfile();
	char id[64], bad[96];

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	stream_id(fileno(a), id, sizeof(id));
	ck_assert(!log_stream_is_journal(id, fileno(b)));     /* another inode */
	ck_assert(!log_stream_is_journal(NULL, fileno(a)));   /* not set */
	ck_assert(!log_stream_is_journal("", fileno(a)));
	ck_assert(!log_stream_is_journal("1", fileno(a)));
	ck_assert(!log_stream_is_journal("x:y", fileno(a)));
	snprintf(bad, sizeof(bad), "%s:7", id);               /* trailing junk */
	ck_assert(!log_stream_is_journal(bad, fileno(a)));
	snprintf(bad, sizeof(bad), "%s ", id);
	ck_assert(!log_stream_is_journal(bad, fileno(a)));
	ck_assert(!log_stream_is_journal(id, 1000));          /* not open */
	fclose(a);
	fclose(b);
}
END_TEST

/* A child whose stderr was redirected keeps the variable: its lines must
 * keep their timestamps.  Regression test for the check on presence. */
START_TEST(regression_inherited_variable_on_redirected_stderr)
{
	FILE *journal = tmpfile(), *file = tmpfile();
	char id[64], got[256];
	int saved = dup(STDERR_FILENO);
	ssize_t n;

	ck_assert_ptr_nonnull(journal);
	ck_assert_ptr_nonnull(file);
	ck_assert_int_ge(saved, 0);
	stream_id(fileno(journal), id, sizeof(id));
	ck_assert_int_eq(setenv("JOURNAL_STREAM", id, 1), 0);

	/* stderr is the "journal": a priority prefix, no timestamp */
	ck_assert_int_eq(dup2(fileno(journal), STDERR_FILENO), STDERR_FILENO);
	log_init();
	log_warn("to the journal");
	n = pread(fileno(journal), got, sizeof(got) - 1, 0);
	ck_assert_int_gt(n, 0);
	got[n] = '\0';
	ck_assert_msg(strcmp(got, "<4>metricd[warn]: to the journal\n") == 0, "got '%s'", got);

	/* stderr is another file, the variable is still set: timestamps */
	ck_assert_int_eq(dup2(fileno(file), STDERR_FILENO), STDERR_FILENO);
	log_init();
	log_warn("to a file");
	n = pread(fileno(file), got, sizeof(got) - 1, 0);
	ck_assert_int_gt(n, 0);
	got[n] = '\0';
	ck_assert_msg(got[0] >= '1' && got[0] <= '9' && got[4] == '-' &&
		      strstr(got, "Z metricd[warn]: to a file\n") != NULL, "got '%s'", got);

	ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	unsetenv("JOURNAL_STREAM");
	log_init();
	fclose(journal);
	fclose(file);
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
	tcase_add_test(tc, matches_own_stream);
	tcase_add_test(tc, other_stream_or_garbage);
	tcase_add_test(tc, regression_inherited_variable_on_redirected_stderr);
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
