/* Suite for tools/blast/request.c: the pre-formatted request. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tools/blast/request.h"

static struct blast_config cfg;
static struct url u;
static char err[256];

static void setup(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.method = "GET";
	ck_assert_int_eq(url_parse("http://127.0.0.1:8080/metric-stack?id=1", &u, err, sizeof err), 0);
}

START_TEST(test_plain_get)
{
	struct request r;
	ck_assert_int_eq(request_build(&cfg, &u, 1, &r), 0);
	const char *want = "GET /metric-stack?id=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
	ck_assert_uint_eq(r.len, strlen(want));
	ck_assert_int_eq(memcmp(r.blob, want, r.len), 0);
	ck_assert_int_eq(r.is_head, 0);
	request_free(&r);
}
END_TEST

START_TEST(test_headers_body_and_copies)
{
	struct request r;
	cfg.method = "POST";
	cfg.headers[0] = "host: other";
	cfg.headers[1] = "X-Trace: 1";
	cfg.nheaders = 2;
	cfg.body = (char *)"{\"a\":1}";
	cfg.body_len = 7;
	ck_assert_int_eq(request_build(&cfg, &u, 16, &r), 0);
	const char *want = "POST /metric-stack?id=1 HTTP/1.1\r\nhost: other\r\nX-Trace: 1\r\n"
			   "Content-Length: 7\r\n\r\n{\"a\":1}";
	ck_assert_uint_eq(r.len, strlen(want));
	ck_assert_uint_eq(r.copies, 16);
	for (unsigned i = 0; i < 16; i++)
		ck_assert_int_eq(memcmp(r.blob + i * r.len, want, r.len), 0);
	request_free(&r);
}
END_TEST

START_TEST(test_head_and_user_length)
{
	struct request r;
	cfg.method = "head";
	cfg.headers[0] = "Content-Length: 3";
	cfg.nheaders = 1;
	cfg.body = (char *)"abc";
	cfg.body_len = 3;
	ck_assert_int_eq(request_build(&cfg, &u, 2, &r), 0);
	ck_assert_int_eq(r.is_head, 1);
	/* the user's Content-Length is the only one (the blob is not a C string) */
	const char *first = memmem(r.blob, r.len, "Content-Length", 14);
	ck_assert_ptr_nonnull(first);
	ck_assert_ptr_null(memmem(first + 1, r.len - (size_t)(first + 1 - r.blob), "Content-Length", 14));
	ck_assert_int_eq(memcmp(r.blob + r.len - 3, "abc", 3), 0);
	request_free(&r);
}
END_TEST

static Suite *request_suite(void)
{
	Suite *s = suite_create("request");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_plain_get);
	tcase_add_test(tc, test_headers_body_and_copies);
	tcase_add_test(tc, test_head_and_user_length);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(request_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
