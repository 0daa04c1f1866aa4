/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/target.c: what is checked before any load --
 * URL lists on one server, Unix sockets, unreachable servers -- and a run
 * over a Unix socket. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/blast/stallserver.h"
#include "tests/blast/testutil.h"
#include "tools/blast/target.h"

static struct blast_config cfg;
static char err[1024];

static void setup(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.method = "GET";
	cfg.pipeline = 4;
	cfg.timeout_ns = 2000000000ull;
}

static int prepare(char **urls, unsigned n, int probe)
{
	struct target tg;
	err[0] = 0;
	int rc = target_prepare(&cfg, urls, n, urls[0], probe, &tg, err, sizeof err);
	target_free(&tg);
	return rc;
}

START_TEST(test_url_list_one_server)
{
	char *same[] = {"http://localhost:81/a", "http://LocalHost:81/b?x=1", "http://localhost:81/c"};
	cfg.nlist = 3;
	ck_assert_int_eq(prepare(same, 3, 0), 0);
	char *other[] = {"http://localhost:81/a", "http://localhost:82/b"};
	ck_assert_int_eq(prepare(other, 2, 0), -1);
	ck_assert_msg(strstr(err, "URL 2") && strstr(err, "one server"), "%s", err);
	char *bad[] = {"http://localhost:81/a", "http://localhost:81/a b"};
	ck_assert_int_eq(prepare(bad, 2, 0), -1);
	ck_assert_msg(strstr(err, "URL 2") && strstr(err, "bad URL"), "%s", err);
}
END_TEST

START_TEST(test_unreachable)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", unused_port());
	char *urls[] = {url};
	ck_assert_int_eq(prepare(urls, 1, 1), -1);
	ck_assert_msg(strstr(err, "cannot connect") && strstr(err, "Connection refused"), "%s", err);
	cfg.unix_socket = "/nonexistent/blast.sock";
	ck_assert_int_eq(prepare(urls, 1, 1), -1);
	ck_assert_msg(strstr(err, "unix:/nonexistent/blast.sock") &&
		      strstr(err, "No such file"), "%s", err);
}
END_TEST

/* The URL gives Host and path; the bytes go to the socket. */
START_TEST(test_unix_socket_run)
{
	char path[64];
	snprintf(path, sizeof path, "/tmp/blast-test-%d.sock", (int)getpid());
	struct stall_opts o = {.unix_path = path, .record = 1};
	struct stallserver *srv = stall_start(&o);
	ck_assert_ptr_nonnull(srv);
	const char *args[] = {"-t2", "-c4", "--pipeline", "4", "-n", "500", "--unix-socket", path,
			      NULL};
	struct run_result *r = run_blast("http://api.example:%d/u", 8080, args);
	stall_stop(srv);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->st.responses, 500);
	ck_assert_uint_eq(stall_requests(srv), 500);
	ck_assert_uint_eq(r->st.connects, 4);
	ck_assert_str_eq(stall_request_text(srv, 0),
			 "GET /u HTTP/1.1\r\nHost: api.example:8080\r\n\r\n");
	stall_free(srv);
	free(r);
}
END_TEST

static Suite *target_suite(void)
{
	Suite *s = suite_create("target");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_url_list_one_server);
	tcase_add_test(tc, test_unreachable);
	tcase_add_test(tc, test_unix_socket_run);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(target_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
