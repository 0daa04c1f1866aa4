/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/url.c: URL parsing and resolution. */
#include "config.h"

#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "tools/blast/url.h"

static struct url u;
static char err[512];

START_TEST(test_ipv4_with_port_and_query)
{
	ck_assert_int_eq(url_parse("http://127.0.0.1:8080/metric-heap?id=1", &u, err, sizeof err), 0);
	ck_assert_str_eq(u.host, "127.0.0.1");
	ck_assert_uint_eq(u.port, 8080);
	ck_assert_str_eq(u.port_str, "8080");
	ck_assert_str_eq(u.path, "/metric-heap?id=1");
	ck_assert_str_eq(u.authority, "127.0.0.1:8080");
	ck_assert_int_eq(u.ipv6_literal, 0);
}
END_TEST

START_TEST(test_ipv6_literal)
{
	ck_assert_int_eq(url_parse("http://[::1]:9000/x", &u, err, sizeof err), 0);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_uint_eq(u.port, 9000);
	ck_assert_str_eq(u.authority, "[::1]:9000");
	ck_assert_int_eq(u.ipv6_literal, 1);
	ck_assert_int_eq(url_parse("HTTP://[2001:db8::5]", &u, err, sizeof err), 0);
	ck_assert_str_eq(u.authority, "[2001:db8::5]");
	ck_assert_str_eq(u.path, "/");
	ck_assert_uint_eq(u.port, 80);
}
END_TEST

START_TEST(test_defaults_and_fragment)
{
	ck_assert_int_eq(url_parse("http://example.com", &u, err, sizeof err), 0);
	ck_assert_str_eq(u.path, "/");
	ck_assert_uint_eq(u.port, 80);
	ck_assert_str_eq(u.authority, "example.com");
	ck_assert_int_eq(url_parse("http://h?q=1#frag", &u, err, sizeof err), 0);
	ck_assert_str_eq(u.path, "/?q=1");
	ck_assert_int_eq(url_parse("http://h:80/a/b#x", &u, err, sizeof err), 0);
	ck_assert_str_eq(u.path, "/a/b");
	ck_assert_str_eq(u.authority, "h");
}
END_TEST

START_TEST(test_rejects)
{
	static const char *bad[] = {
		"ftp://h/", "127.0.0.1:80/", "http://", "http:///x",
		"http://:80/", "http://h:0/", "http://h:65536/", "http://h:8x/", "http://h:/",
		"http://[::1/", "http://[zz::1]/", "http://[::1]x/", "http://u:p@h/",
		"http://h/a b", "http://h/\x01", "http://h%20x/",
	};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		ck_assert_msg(url_parse(bad[i], &u, err, sizeof err) == -1, "accepted %s", bad[i]);
		ck_assert_msg(strstr(err, "bad URL") != NULL, "no message for %s", bad[i]);
	}
	ck_assert_ptr_nonnull(strstr((url_parse("ftp://x/", &u, err, sizeof err), err), "https://"));
}
END_TEST

START_TEST(test_https)
{
	ck_assert_int_eq(url_parse("https://example.com/x", &u, err, sizeof err), 0);
	ck_assert_int_eq(u.tls, 1);
	ck_assert_uint_eq(u.port, 443);
	ck_assert_str_eq(u.authority, "example.com");
	ck_assert_int_eq(url_parse("HTTPS://127.0.0.1:8443/", &u, err, sizeof err), 0);
	ck_assert_int_eq(u.tls, 1);
	ck_assert_str_eq(u.authority, "127.0.0.1:8443");
	/* 80 is not the default port of https, nor 443 of http */
	ck_assert_int_eq(url_parse("https://h:80/", &u, err, sizeof err), 0);
	ck_assert_str_eq(u.authority, "h:80");
	ck_assert_int_eq(url_parse("http://h:443/", &u, err, sizeof err), 0);
	ck_assert_int_eq(u.tls, 0);
	ck_assert_str_eq(u.authority, "h:443");
}
END_TEST

START_TEST(test_same_origin)
{
	struct url a, b;
	ck_assert_int_eq(url_parse("http://H:81/a", &a, err, sizeof err), 0);
	ck_assert_int_eq(url_parse("http://h:81/b?c", &b, err, sizeof err), 0);
	ck_assert_int_eq(url_same_origin(&a, &b), 1);
	ck_assert_int_eq(url_parse("http://h:82/a", &b, err, sizeof err), 0);
	ck_assert_int_eq(url_same_origin(&a, &b), 0);
	ck_assert_int_eq(url_parse("https://h:81/a", &b, err, sizeof err), 0);
	ck_assert_int_eq(url_same_origin(&a, &b), 0);
	ck_assert_int_eq(url_parse("http://g:81/a", &b, err, sizeof err), 0);
	ck_assert_int_eq(url_same_origin(&a, &b), 0);
}
END_TEST

START_TEST(test_resolve)
{
	struct url_addrs a;
	char buf[80];
	ck_assert_int_eq(url_parse("http://127.0.0.1:8080/", &u, err, sizeof err), 0);
	ck_assert_int_eq(url_resolve(&u, &a, err, sizeof err), 0);
	ck_assert_uint_ge(a.n, 1);
	ck_assert_int_eq(a.addr[0].ss_family, AF_INET);
	sockaddr_format((struct sockaddr *)&a.addr[0], buf, sizeof buf);
	ck_assert_str_eq(buf, "127.0.0.1:8080");
	ck_assert_int_eq(url_parse("http://[::1]:81/", &u, err, sizeof err), 0);
	ck_assert_int_eq(url_resolve(&u, &a, err, sizeof err), 0);
	ck_assert_int_eq(a.addr[0].ss_family, AF_INET6);
	sockaddr_format((struct sockaddr *)&a.addr[0], buf, sizeof buf);
	ck_assert_str_eq(buf, "[::1]:81");
	ck_assert_int_eq(url_parse("http://localhost:82/", &u, err, sizeof err), 0);
	ck_assert_int_eq(url_resolve(&u, &a, err, sizeof err), 0);
	ck_assert_int_eq(url_parse("http://no-such-host.invalid/", &u, err, sizeof err), 0);
	ck_assert_int_eq(url_resolve(&u, &a, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot resolve"));
}
END_TEST

static Suite *url_suite(void)
{
	Suite *s = suite_create("url");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_ipv4_with_port_and_query);
	tcase_add_test(tc, test_ipv6_literal);
	tcase_add_test(tc, test_defaults_and_fragment);
	tcase_add_test(tc, test_rejects);
	tcase_add_test(tc, test_https);
	tcase_add_test(tc, test_same_origin);
	tcase_add_test(tc, test_resolve);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(url_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
