/* Unit tests for core/log.c: the journal is recognised by JOURNAL_STREAM's
 * device and inode, as systemd.exec(5) documents, not by the variable's
 * mere presence. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

/* "DEV:INO" of fd, as systemd writes it. */
static void stream_id(int fd, char *buf, size_t len)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	snprintf(buf, len, "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
}

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
	char id[64], out[256];
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
	n = pread(fileno(journal), out, sizeof(out) - 1, 0);
	ck_assert_int_gt(n, 0);
	out[n] = '\0';
	ck_assert_msg(strcmp(out, "<4>metricd[warn]: to the journal\n") == 0, "got '%s'", out);

	/* stderr is another file, the variable is still set: timestamps */
	ck_assert_int_eq(dup2(fileno(file), STDERR_FILENO), STDERR_FILENO);
	log_init();
	log_warn("to a file");
	n = pread(fileno(file), out, sizeof(out) - 1, 0);
	ck_assert_int_gt(n, 0);
	out[n] = '\0';
	ck_assert_msg(out[0] >= '1' && out[0] <= '9' && out[4] == '-' &&
		      strstr(out, "Z metricd[warn]: to a file\n") != NULL, "got '%s'", out);

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
