/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/cli.c: options into the config, and what is
 * refused with a message (exit status 2). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/blast/cli.h"

static struct blast_config cfg;
static char errbuf[4096];

/* cli_parse on a NULL-terminated argument list; messages go to errbuf. */
static char *argv[64]; /* cfg.urls points into it */

static int run(const char *const *args)
{
	int argc = 0;
	argv[argc++] = (char *)"blast";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	memset(errbuf, 0, sizeof errbuf);
	FILE *err = fmemopen(errbuf, sizeof errbuf - 1, "w");
	int r = cli_parse(argc, argv, &cfg, err);
	fclose(err);
	return r;
}

START_TEST(test_defaults)
{
	const char *a[] = {"http://127.0.0.1/", NULL};
	ck_assert_int_eq(run(a), CLI_OK);
	ck_assert_uint_eq(cfg.threads, 2);
	ck_assert_uint_eq(cfg.connections, 10);
	ck_assert_uint_eq(cfg.pipeline, 1);
	ck_assert_uint_eq(cfg.duration_ns, 10000000000ull);
	ck_assert_uint_eq(cfg.requests, 0);
	ck_assert_str_eq(cfg.method, "GET");
	ck_assert_uint_eq(cfg.npct, 5);
	ck_assert_uint_eq(cfg.busy_poll_ns, 50000);
	ck_assert_uint_eq(cfg.nurls, 1);
	ck_assert_double_eq(cfg.rate, 0);
	cli_free(&cfg);
}
END_TEST

START_TEST(test_all_options)
{
	const char *a[] = {"-t", "3", "--connections=12", "--pipeline", "16", "-n", "2k",
			   "--warmup", "1s", "--timeout", "250ms", "-R", "1.5k", "-m", "POST",
			   "-H", "X-A: 1", "--header", "X-B: 2", "--data", "hello", "--json",
			   "--csv-series", "/tmp/x.csv", "-q", "--percentiles", "50,99", "--busy-poll", "0",
			   "--ids", "7-9", "--random", "--unix-socket", "/run/x.sock", "-k",
			   "--histogram", "--hdr-log", "/tmp/x.hlog", "http://a/", "http://b/", NULL};
	ck_assert_int_eq(run(a), CLI_OK);
	ck_assert_uint_eq(cfg.threads, 3);
	ck_assert_uint_eq(cfg.connections, 12);
	ck_assert_uint_eq(cfg.pipeline, 16);
	ck_assert_uint_eq(cfg.requests, 2000);
	ck_assert_uint_eq(cfg.duration_ns, 0); /* -n alone: no time limit */
	ck_assert_uint_eq(cfg.warmup_ns, 1000000000ull);
	ck_assert_uint_eq(cfg.timeout_ns, 250000000ull);
	ck_assert_double_eq(cfg.rate, 1500);
	ck_assert_str_eq(cfg.method, "POST");
	ck_assert_uint_eq(cfg.nheaders, 2);
	ck_assert_str_eq(cfg.headers[1], "X-B: 2");
	ck_assert_uint_eq(cfg.body_len, 5);
	ck_assert_int_eq(cfg.json, 1);
	ck_assert_int_eq(cfg.quiet, 1);
	ck_assert_str_eq(cfg.csv_path, "/tmp/x.csv");
	ck_assert_uint_eq(cfg.npct, 2);
	ck_assert_uint_eq(cfg.busy_poll_ns, 0);
	ck_assert_uint_eq(cfg.nurls, 2);
	ck_assert_str_eq(cfg.urls[1], "http://b/");
	ck_assert_int_eq(cfg.has_ids, 1);
	ck_assert_uint_eq(cfg.id_lo, 7);
	ck_assert_uint_eq(cfg.id_hi, 9);
	ck_assert_int_eq(cfg.random, 1);
	ck_assert_str_eq(cfg.unix_socket, "/run/x.sock");
	ck_assert_int_eq(cfg.insecure, 1);
	ck_assert_int_eq(cfg.histogram, 1);
	ck_assert_str_eq(cfg.hdr_log, "/tmp/x.hlog");
	cli_free(&cfg);
}
END_TEST

/* The long spellings of earlier versions still work. */
START_TEST(test_aliases)
{
	const char *a[] = {"--method", "PATCH", "--body", "xy", "--insecure", "http://a/", NULL};
	ck_assert_int_eq(run(a), CLI_OK);
	ck_assert_str_eq(cfg.method, "PATCH");
	ck_assert_uint_eq(cfg.body_len, 2);
	ck_assert_int_eq(cfg.insecure, 1);
	cli_free(&cfg);
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_url_list)
{
	char path[] = "/tmp/blast-urls-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	write_file(path, "# comment\n\n  http://h/a \r\nhttp://h/b\n\t\nhttp://h/c");
	const char *a[] = {"--urls", path, NULL};
	ck_assert_int_eq(run(a), CLI_OK);
	ck_assert_uint_eq(cfg.nlist, 3);
	ck_assert_str_eq(cfg.list[0], "http://h/a");
	ck_assert_str_eq(cfg.list[1], "http://h/b");
	ck_assert_str_eq(cfg.list[2], "http://h/c");
	ck_assert_uint_eq(cfg.nurls, 0);
	cli_free(&cfg);
	/* not both */
	const char *b[] = {"--urls", path, "http://h/", NULL};
	ck_assert_int_eq(run(b), CLI_ERROR);
	ck_assert_ptr_nonnull(strstr(errbuf, "not both"));
	cli_free(&cfg);
	/* an empty list */
	write_file(path, "# nothing\n\n");
	ck_assert_int_eq(run(a), CLI_ERROR);
	ck_assert_ptr_nonnull(strstr(errbuf, "no URL"));
	cli_free(&cfg);
	unlink(path);
}
END_TEST

START_TEST(test_errors_have_messages)
{
	static const char *const cases[][4] = {
		{"-t", "0", "http://a/", NULL},
		{"-t", "4", "-c", "2"},
		{"--pipeline", "0", "http://a/", NULL},
		{"--pipeline", "5000", "http://a/", NULL},
		{"-d", "soon", "http://a/", NULL},
		{"-n", "-5", "http://a/", NULL},
		{"-R", "fast", "http://a/", NULL},
		{"-H", "NoColon", "http://a/", NULL},
		{"--method", "GE T", "http://a/", NULL},
		{"--percentiles", "200", "http://a/", NULL},
		{"--busy-poll", "1s", "http://a/", NULL},
		{"--body-file", "/nonexistent/file", "http://a/", NULL},
		{"-D", "/", "http://a/", NULL}, /* a directory: unreadable */
		{"--urls", "/nonexistent/list", NULL, NULL},
		{"--ids", "9-1", "http://a/{id}", NULL},
		{"--ids", "x", "http://a/{id}", NULL},
		{"--ids", "1-", "http://a/{id}", NULL},
		{"-m", "", "http://a/", NULL},
		{"--no-such-flag", "http://a/", NULL, NULL},
		{"-c", "5", NULL, NULL}, /* no URL */
	};
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *a[6] = {0};
		for (int k = 0; k < 4 && cases[i][k]; k++)
			a[k] = cases[i][k];
		if (i == 1)
			a[4] = "http://a/";
		ck_assert_msg(run(a) == CLI_ERROR, "case %u accepted", i);
		ck_assert_msg(strstr(errbuf, "blast") || strstr(errbuf, "Try"), "case %u: no message", i);
		cli_free(&cfg);
	}
}
END_TEST

START_TEST(test_body_file)
{
	char path[] = "/tmp/blast-body-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	for (int i = 0; i < 10000; i++)
		fputc('a' + i % 26, f);
	fclose(f);
	const char *a[] = {"-D", path, "http://a/", NULL};
	ck_assert_int_eq(run(a), CLI_OK);
	ck_assert_uint_eq(cfg.body_len, 10000);
	ck_assert_int_eq(cfg.body[9999], 'a' + 9999 % 26);
	cli_free(&cfg);
	unlink(path);
}
END_TEST

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_all_options);
	tcase_add_test(tc, test_aliases);
	tcase_add_test(tc, test_url_list);
	tcase_add_test(tc, test_errors_have_messages);
	tcase_add_test(tc, test_body_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cli_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
