/* Suite for tools/blast/cli.c: options, durations, percentiles. */
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

START_TEST(test_durations)
{
	static const struct {
		const char *s;
		uint64_t ns;
	} ok[] = {
		{"10s", 10000000000ull}, {"1m", 60000000000ull}, {"500ms", 500000000ull},
		{"1.5s", 1500000000ull}, {"250us", 250000ull},   {"2", 2000000000ull},
		{"1h", 3600000000000ull}, {"100ns", 100ull},     {"0.5min", 30000000000ull},
	};
	static const char *bad[] = {"", "s", "10x", "-1s", "0", "0s", "1.5.5s", "2d", "ten", "1e30s"};
	uint64_t ns;
	for (unsigned i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		ck_assert_int_eq(parse_duration(ok[i].s, &ns), 0);
		ck_assert_uint_eq(ns, ok[i].ns);
	}
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(parse_duration(bad[i], &ns) == -1, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(test_percentile_lists)
{
	double p[8];
	unsigned n;
	ck_assert_int_eq(parse_percentiles("99.9,50,90", p, &n, 8), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_double_eq(p[0], 50);
	ck_assert_double_eq(p[1], 90);
	ck_assert_double_eq(p[2], 99.9);
	ck_assert_int_eq(parse_percentiles("100", p, &n, 8), 0);
	ck_assert_int_eq(parse_percentiles("0", p, &n, 8), -1);
	ck_assert_int_eq(parse_percentiles("101", p, &n, 8), -1);
	ck_assert_int_eq(parse_percentiles("50,", p, &n, 8), -1);
	ck_assert_int_eq(parse_percentiles("50,,90", p, &n, 8), -1);
	ck_assert_int_eq(parse_percentiles("", p, &n, 8), -1);
	ck_assert_int_eq(parse_percentiles("1,2,3", p, &n, 2), -1);
}
END_TEST

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
			   "--warmup", "1s", "--timeout", "250ms", "-R", "1.5k", "--method", "POST",
			   "-H", "X-A: 1", "--header", "X-B: 2", "--body", "hello", "--json",
			   "--csv-series", "/tmp/x.csv", "-q", "--percentiles", "50,99", "--busy-poll", "0",
			   "http://a/", "http://b/", NULL};
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
	cli_free(&cfg);
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
	const char *a[] = {"--body-file", path, "http://a/", NULL};
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
	tcase_add_test(tc, test_durations);
	tcase_add_test(tc, test_percentile_lists);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_all_options);
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
