/* SPDX-License-Identifier: BSD-2-Clause */
/* Suite for tools/blast/json.c: the JSON reader and string writer. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/blast/json.h"

static char err[256];

static struct json *parse(const char *s)
{
	return json_parse(s, strlen(s), err, sizeof err);
}

START_TEST(test_values)
{
	struct json *v = parse(" {\"a\": [1, -2.5, 1e3, 18446744073709551615], \"b\": {\"c\": true,"
			       " \"d\": false, \"e\": null}, \"s\": \"x\\n\\\"\\u00e9\\ud83d\\ude00\"} ");
	ck_assert_ptr_nonnull(v);
	const struct json *a = json_get(v, "a");
	ck_assert_int_eq(a->type, JSON_ARR);
	ck_assert_uint_eq(a->n, 4);
	ck_assert_double_eq(a->items[0].num, 1);
	ck_assert_int_eq(a->items[0].is_uint, 1);
	ck_assert_double_eq(a->items[1].num, -2.5);
	ck_assert_int_eq(a->items[1].is_uint, 0);
	ck_assert_double_eq(a->items[2].num, 1000);
	ck_assert_int_eq(a->items[3].is_uint, 1);
	ck_assert_uint_eq(a->items[3].u, UINT64_MAX); /* exact beyond 2^53 */
	const struct json *b = json_get(v, "b");
	ck_assert_double_eq(json_get_num(b, "c", -1), 1);
	ck_assert_double_eq(json_get_num(b, "d", -1), 0);
	ck_assert_int_eq(json_get(b, "e")->type, JSON_NULL);
	ck_assert_str_eq(json_get_str(v, "s", ""), "x\n\"\xc3\xa9\xf0\x9f\x98\x80");
	ck_assert_ptr_null(json_get(v, "missing"));
	ck_assert_uint_eq(json_get_u64(v, "missing", 7), 7);
	ck_assert_uint_eq(json_get_u64(b, "c", 7), 7); /* wrong type: default */
	json_free(v);
	v = parse("[]");
	ck_assert_uint_eq(v->n, 0);
	json_free(v);
}
END_TEST

START_TEST(test_errors)
{
	static const char *bad[] = {
		"", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "\"abc", "\"\\x\"", "\"\\ud800\"",
		"[1] 2", "tru", "{1:2}", "\"a\nb\"", "[--1]",
	};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		ck_assert_msg(parse(bad[i]) == NULL, "accepted: %s", bad[i]);
		ck_assert_msg(err[0] != 0, "no message for: %s", bad[i]);
	}
	char deep[200];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	ck_assert_ptr_null(json_parse(deep, 200, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "deeply"));
}
END_TEST

START_TEST(test_string_roundtrip)
{
	const char *s = "quote\" backslash\\ tab\t nl\n ctl\x01 utf8 \xc3\xa9";
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_put_str(f, s);
	fclose(f);
	struct json *v = json_parse(buf, len, err, sizeof err);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(v->type, JSON_STR);
	ck_assert_str_eq(v->str, s);
	json_free(v);
	free(buf);
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_string_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(json_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
