/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/request.c: every distinct request formatted once,
 * the wrap copies that keep a pipelined window contiguous, {id}
 * templates, --urls order, and the blocks threads start from. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tools/blast/request.h"

static struct blast_config cfg;
static struct url u[3];
static char err[256];

static void setup(void)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.method = "GET";
	ck_assert_int_eq(url_parse("http://127.0.0.1:8080/metric-stack?id=1", &u[0], err, sizeof err), 0);
}

/* Request i as a C string (the buffer is not one). */
static char *req(const struct request *r, uint32_t i)
{
	static char buf[1024];
	size_t n = request_len(r, i);
	ck_assert_uint_lt(n, sizeof buf);
	memcpy(buf, r->buf + r->off[i], n);
	buf[n] = 0;
	return buf;
}

START_TEST(test_plain_get)
{
	struct request r;
	ck_assert_int_eq(request_build(&cfg, u, 1, 1, &r, err, sizeof err), 0);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_uint_eq(r.wrap, 0);
	ck_assert_str_eq(req(&r, 0), "GET /metric-stack?id=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
	ck_assert_int_eq(r.is_head, 0);
	request_free(&r);
}
END_TEST

START_TEST(test_headers_body_and_wrap)
{
	struct request r;
	cfg.method = "POST";
	cfg.headers[0] = "host: other";
	cfg.headers[1] = "X-Trace: 1";
	cfg.nheaders = 2;
	cfg.body = (char *)"{\"a\":1}";
	cfg.body_len = 7;
	ck_assert_int_eq(request_build(&cfg, u, 1, 16, &r, err, sizeof err), 0);
	const char *want = "POST /metric-stack?id=1 HTTP/1.1\r\nhost: other\r\nX-Trace: 1\r\n"
			   "Content-Length: 7\r\n\r\n{\"a\":1}";
	ck_assert_uint_eq(r.n, 1);
	ck_assert_uint_eq(r.wrap, 15);
	/* 16 entries back to back: any 16 pipelined requests are one range */
	for (unsigned i = 0; i < 16; i++) {
		ck_assert_uint_eq(r.off[i], i * strlen(want));
		ck_assert_int_eq(memcmp(r.buf + r.off[i], want, strlen(want)), 0);
	}
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
	ck_assert_int_eq(request_build(&cfg, u, 1, 2, &r, err, sizeof err), 0);
	ck_assert_int_eq(r.is_head, 1);
	const char *s = req(&r, 0);
	/* the user's Content-Length is the only one */
	const char *first = strstr(s, "Content-Length");
	ck_assert_ptr_nonnull(first);
	ck_assert_ptr_null(strstr(first + 1, "Content-Length"));
	ck_assert_str_eq(s + strlen(s) - 3, "abc");
	request_free(&r);
}
END_TEST

/* {id} in path, header and body; Content-Length follows each body. */
START_TEST(test_id_template)
{
	struct request r;
	ck_assert_int_eq(url_parse("http://h/item/{id}?x={id}", &u[0], err, sizeof err), 0);
	cfg.method = "PUT";
	cfg.headers[0] = "X-Id: {id}";
	cfg.nheaders = 1;
	cfg.body = (char *)"{\"id\":{id}}";
	cfg.body_len = strlen(cfg.body);
	cfg.has_ids = 1;
	cfg.id_lo = 98;
	cfg.id_hi = 101;
	ck_assert_int_eq(request_build(&cfg, u, 1, 3, &r, err, sizeof err), 0);
	ck_assert_uint_eq(r.n, 4);
	ck_assert_uint_eq(r.wrap, 2);
	ck_assert_str_eq(req(&r, 0), "PUT /item/98?x=98 HTTP/1.1\r\nHost: h\r\nX-Id: 98\r\n"
				     "Content-Length: 9\r\n\r\n{\"id\":98}");
	ck_assert_str_eq(req(&r, 3), "PUT /item/101?x=101 HTTP/1.1\r\nHost: h\r\nX-Id: 101\r\n"
				     "Content-Length: 10\r\n\r\n{\"id\":101}");
	/* entries 4 and 5 repeat requests 0 and 1, right after request 3 */
	ck_assert_uint_eq(r.off[4], r.off[3] + request_len(&r, 3));
	ck_assert_int_eq(memcmp(r.buf + r.off[4], r.buf + r.off[0], request_len(&r, 0)), 0);
	ck_assert_int_eq(memcmp(r.buf + r.off[5], r.buf + r.off[1], request_len(&r, 1)), 0);
	ck_assert_uint_eq(r.off[6], r.off[5] + request_len(&r, 1));
	request_free(&r);
}
END_TEST

/* --urls: consecutive requests go round the URLs, per id. */
START_TEST(test_url_list_order)
{
	struct request r;
	ck_assert_int_eq(url_parse("http://h/a/{id}", &u[0], err, sizeof err), 0);
	ck_assert_int_eq(url_parse("http://h/b/{id}", &u[1], err, sizeof err), 0);
	ck_assert_int_eq(url_parse("http://h/c", &u[2], err, sizeof err), 0);
	cfg.has_ids = 1;
	cfg.id_lo = 1;
	cfg.id_hi = 2;
	ck_assert_int_eq(request_build(&cfg, u, 3, 1, &r, err, sizeof err), 0);
	ck_assert_uint_eq(r.n, 6);
	static const char *const paths[] = {"/a/1 ", "/b/1 ", "/c ", "/a/2 ", "/b/2 ", "/c "};
	for (unsigned i = 0; i < 6; i++)
		ck_assert_msg(strstr(req(&r, i), paths[i]), "request %u: %s", i, req(&r, i));
	request_free(&r);
}
END_TEST

START_TEST(test_template_errors)
{
	struct request r;
	cfg.has_ids = 1;
	cfg.id_lo = 1;
	cfg.id_hi = 5;
	ck_assert_int_eq(request_build(&cfg, u, 1, 1, &r, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "no {id}"));
	cfg.has_ids = 0;
	ck_assert_int_eq(url_parse("http://h/{id}", &u[0], err, sizeof err), 0);
	ck_assert_int_eq(request_build(&cfg, u, 1, 1, &r, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "no --ids"));
	ck_assert_int_eq(url_parse("http://h/", &u[0], err, sizeof err), 0);
	cfg.random = 1;
	ck_assert_int_eq(request_build(&cfg, u, 1, 1, &r, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "--random"));
	cfg.random = 0;
	ck_assert_int_eq(url_parse("http://h/{id}", &u[0], err, sizeof err), 0);
	cfg.has_ids = 1;
	cfg.id_lo = 0;
	cfg.id_hi = REQUEST_MAX_COUNT; /* one too many */
	ck_assert_int_eq(request_build(&cfg, u, 1, 1, &r, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "narrow --ids"));
}
END_TEST

/* Thread blocks tile the set exactly once. */
START_TEST(test_thread_blocks)
{
	ck_assert_uint_eq(request_first(100, 0, 3), 0);
	ck_assert_uint_eq(request_first(100, 1, 3), 34);
	ck_assert_uint_eq(request_first(100, 2, 3), 67);
	ck_assert_uint_eq(request_first(1, 1, 4), 0);
	ck_assert_uint_eq(request_first(2, 3, 4), 0);
	ck_assert_uint_eq(request_first(2, 1, 4), 1);
}
END_TEST

static Suite *request_suite(void)
{
	Suite *s = suite_create("request");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_plain_get);
	tcase_add_test(tc, test_headers_body_and_wrap);
	tcase_add_test(tc, test_head_and_user_length);
	tcase_add_test(tc, test_id_template);
	tcase_add_test(tc, test_url_list_order);
	tcase_add_test(tc, test_template_errors);
	tcase_add_test(tc, test_thread_blocks);
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
