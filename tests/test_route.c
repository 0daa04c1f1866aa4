/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for http/route.c: target → route, id and work. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/route.h"

/* Routes `target` into a descriptor pre-filled with junk, so every field
 * the router owns must be written. */
static struct http_req route(const char *target, int get_or_head)
{
	struct http_req r;

	memset(&r, 0xa5, sizeof(r));
	http_route(target, strlen(target), get_or_head, &r);
	return r;
}

struct route_case {
	const char *target;
	int get;
	enum http_route route;
	enum http_err err;
	uint64_t id;
	uint64_t work;
};

static const struct route_case cases[] = {
	/* every route */
	{ "/metric-stack?id=1", 1, ROUTE_METRIC_STACK, HERR_NONE, 1, 0 },
	{ "/metric-heap?id=2", 1, ROUTE_METRIC_HEAP, HERR_NONE, 2, 0 },
	{ "/stats-value?id=3", 1, ROUTE_STATS_VALUE, HERR_NONE, 3, 0 },
	{ "/stats-pointer?id=4", 1, ROUTE_STATS_POINTER, HERR_NONE, 4, 0 },
	{ "/healthz", 1, ROUTE_HEALTHZ, HERR_NONE, 0, 0 },
	{ "/healthz?", 1, ROUTE_HEALTHZ, HERR_NONE, 0, 0 },
	{ "/healthz?id=zzz", 1, ROUTE_HEALTHZ, HERR_NONE, 0, 0 },
	{ "/healthz?id=1&id=2", 1, ROUTE_HEALTHZ, HERR_NONE, 0, 0 },
	{ "/stats", 1, ROUTE_STATS, HERR_NONE, 0, 0 },
	{ "/stats?id=x", 1, ROUTE_STATS, HERR_NONE, 0, 0 },
	{ "/metrics", 1, ROUTE_METRICS, HERR_NONE, 0, 0 },
	{ "/metrics?format=x", 1, ROUTE_METRICS, HERR_NONE, 0, 0 },
	{ "/stats/", 1, ROUTE_NONE, HERR_NOT_FOUND, 0, 0 },
	{ "/metricsx", 1, ROUTE_NONE, HERR_NOT_FOUND, 0, 0 },
	{ "/stats-valu?id=1", 1, ROUTE_NONE, HERR_NOT_FOUND, 0, 0 },
	/* unknown paths */
	{ "", 1, ROUTE_NONE, HERR_NOT_FOUND, 0, 0 },
	{ "*", 1, ROUTE_NONE, HERR_NOT_FOUND, 0, 0 },
	{ "/metric", 1, ROUTE_NONE, HERR_NOT_FOUND, 0, 0 },
	{ "/metric-stackx?id=1", 1, ROUTE_NONE, HERR_NOT_FOUND, 0, 0 },
	{ "/metric-stack/?id=1", 1, ROUTE_NONE, HERR_NOT_FOUND, 0, 0 },
	{ "/healthz/", 1, ROUTE_NONE, HERR_NOT_FOUND, 0, 0 },
	{ "/HEALTHZ", 1, ROUTE_NONE, HERR_NOT_FOUND, 0, 0 },
	{ "/healthzz", 1, ROUTE_NONE, HERR_NOT_FOUND, 0, 0 },
	{ "/metric-stac", 1, ROUTE_NONE, HERR_NOT_FOUND, 0, 0 },
	{ "metric-stack?id=1", 1, ROUTE_NONE, HERR_NOT_FOUND, 0, 0 },
	/* other methods: 405 on known paths, 404 elsewhere */
	{ "/metric-stack?id=1", 0, ROUTE_METRIC_STACK, HERR_METHOD, 0, 0 },
	{ "/metric-heap?id=1", 0, ROUTE_METRIC_HEAP, HERR_METHOD, 0, 0 },
	{ "/stats-value?id=1", 0, ROUTE_STATS_VALUE, HERR_METHOD, 0, 0 },
	{ "/stats-pointer?id=1", 0, ROUTE_STATS_POINTER, HERR_METHOD, 0, 0 },
	{ "/healthz", 0, ROUTE_HEALTHZ, HERR_METHOD, 0, 0 },
	{ "/stats", 0, ROUTE_STATS, HERR_METHOD, 0, 0 },
	{ "/metrics", 0, ROUTE_METRICS, HERR_METHOD, 0, 0 },
	{ "/metric-stack", 0, ROUTE_METRIC_STACK, HERR_METHOD, 0, 0 },
	{ "/nope", 0, ROUTE_NONE, HERR_NOT_FOUND, 0, 0 },
	{ "/", 0, ROUTE_ROOT, HERR_METHOD, 0, 0 },
	{ "/dashboard", 0, ROUTE_DASHBOARD, HERR_METHOD, 0, 0 },
	/* the live page: at / too; no id, and a query is ignored */
	{ "/", 1, ROUTE_ROOT, HERR_NONE, 0, 0 },
	{ "/?x=1", 1, ROUTE_ROOT, HERR_NONE, 0, 0 },
	{ "/dashboard", 1, ROUTE_DASHBOARD, HERR_NONE, 0, 0 },
	{ "//", 1, ROUTE_NONE, HERR_NOT_FOUND, 0, 0 },
	{ "/dashboard/", 1, ROUTE_NONE, HERR_NOT_FOUND, 0, 0 },
	/* id rules */
	{ "/metric-stack", 1, ROUTE_METRIC_STACK, HERR_ID_MISSING, 0, 0 },
	{ "/metric-stack?", 1, ROUTE_METRIC_STACK, HERR_ID_MISSING, 0, 0 },
	{ "/metric-stack?id", 1, ROUTE_METRIC_STACK, HERR_ID_MISSING, 0, 0 },
	{ "/metric-stack?id=", 1, ROUTE_METRIC_STACK, HERR_ID_MISSING, 0, 0 },
	{ "/metric-stack?work=3", 1, ROUTE_METRIC_STACK, HERR_ID_MISSING, 0, 3 },
	{ "/metric-stack?ID=3", 1, ROUTE_METRIC_STACK, HERR_ID_MISSING, 0, 0 },
	{ "/metric-stack?idx=3", 1, ROUTE_METRIC_STACK, HERR_ID_MISSING, 0, 0 },
	{ "/metric-stack?id=-1", 1, ROUTE_METRIC_STACK, HERR_ID_INVALID, 0, 0 },
	{ "/metric-stack?id=+1", 1, ROUTE_METRIC_STACK, HERR_ID_INVALID, 0, 0 },
	{ "/metric-stack?id=0x10", 1, ROUTE_METRIC_STACK, HERR_ID_INVALID, 0, 0 },
	{ "/metric-stack?id=1e3", 1, ROUTE_METRIC_STACK, HERR_ID_INVALID, 0, 0 },
	{ "/metric-stack?id=1.0", 1, ROUTE_METRIC_STACK, HERR_ID_INVALID, 0, 0 },
	{ "/metric-stack?id=%31", 1, ROUTE_METRIC_STACK, HERR_ID_INVALID, 0, 0 },
	{ "/metric-stack?id=1%20", 1, ROUTE_METRIC_STACK, HERR_ID_INVALID, 0, 0 },
	{ "/metric-stack?id=abc", 1, ROUTE_METRIC_STACK, HERR_ID_INVALID, 0, 0 },
	{ "/metric-stack?id==1", 1, ROUTE_METRIC_STACK, HERR_ID_INVALID, 0, 0 },
	{ "/metric-stack?id=0", 1, ROUTE_METRIC_STACK, HERR_NONE, 0, 0 },
	{ "/metric-stack?id=007", 1, ROUTE_METRIC_STACK, HERR_NONE, 7, 0 },
	{ "/metric-stack?id=18446744073709551615", 1, ROUTE_METRIC_STACK,
	  HERR_NONE, UINT64_MAX, 0 },
	{ "/metric-stack?id=18446744073709551616", 1, ROUTE_METRIC_STACK,
	  HERR_ID_RANGE, 0, 0 },
	{ "/metric-stack?id=99999999999999999999", 1, ROUTE_METRIC_STACK,
	  HERR_ID_RANGE, 0, 0 },
	{ "/metric-stack?id=1234567890123456789012345", 1, ROUTE_METRIC_STACK,
	  HERR_ID_RANGE, 0, 0 },
	{ "/metric-stack?id=1&id=2", 1, ROUTE_METRIC_STACK, HERR_ID_REPEATED, 0, 0 },
	{ "/metric-stack?id=1&id=1", 1, ROUTE_METRIC_STACK, HERR_ID_REPEATED, 0, 0 },
	{ "/metric-stack?id=x&id=1", 1, ROUTE_METRIC_STACK, HERR_ID_REPEATED, 0, 0 },
	{ "/metric-stack?id=1&work=2&id=", 1, ROUTE_METRIC_STACK,
	  HERR_ID_REPEATED, 0, 0 },
	/* unknown parameters are ignored, wherever they are */
	{ "/metric-heap?a=b&id=5&c", 1, ROUTE_METRIC_HEAP, HERR_NONE, 5, 0 },
	{ "/metric-heap?&&id=5&&", 1, ROUTE_METRIC_HEAP, HERR_NONE, 5, 0 },
	{ "/metric-heap?id=5&ids=x&xid=y&=z", 1, ROUTE_METRIC_HEAP, HERR_NONE, 5, 0 },
	/* work */
	{ "/metric-stack?id=5&work=0", 1, ROUTE_METRIC_STACK, HERR_NONE, 5, 0 },
	{ "/metric-stack?work=17&id=5", 1, ROUTE_METRIC_STACK, HERR_NONE, 5, 17 },
	{ "/metric-stack?id=5&work=10000000", 1, ROUTE_METRIC_STACK, HERR_NONE, 5,
	  HTTP_WORK_MAX },
	{ "/metric-stack?id=5&work=10000001", 1, ROUTE_METRIC_STACK,
	  HERR_WORK_INVALID, 5, 0 },
	{ "/metric-stack?id=5&work=", 1, ROUTE_METRIC_STACK, HERR_WORK_INVALID, 5, 0 },
	{ "/metric-stack?id=5&work", 1, ROUTE_METRIC_STACK, HERR_WORK_INVALID, 5, 0 },
	{ "/metric-stack?id=5&work=-1", 1, ROUTE_METRIC_STACK, HERR_WORK_INVALID, 5, 0 },
	{ "/metric-stack?id=5&work=1e3", 1, ROUTE_METRIC_STACK, HERR_WORK_INVALID, 5, 0 },
	{ "/metric-stack?id=5&work=99999999999999999999999", 1, ROUTE_METRIC_STACK,
	  HERR_WORK_INVALID, 5, 0 },
	{ "/metric-stack?id=5&work=1&work=2", 1, ROUTE_METRIC_STACK,
	  HERR_WORK_INVALID, 5, 0 },
	{ "/stats-value?id=5&work=abc", 1, ROUTE_STATS_VALUE, HERR_WORK_INVALID, 5, 0 },
};

START_TEST(route_table)
{
	const struct route_case *c = &cases[_i];
	struct http_req r = route(c->target, c->get);

	ck_assert_msg(r.route == c->route, "%s: route %u, want %u", c->target,
		      r.route, c->route);
	ck_assert_msg(r.err == c->err, "%s (%s): err %u, want %u", c->target,
		      c->get ? "GET" : "POST", r.err, c->err);
	/* id and work are meaningful only when the request is answered. */
	if (c->err == HERR_NONE || c->id)
		ck_assert_msg(r.id == c->id, "%s: id %llu, want %llu", c->target,
			      (unsigned long long)r.id, (unsigned long long)c->id);
	if (c->err == HERR_NONE || c->work)
		ck_assert_msg(r.work == c->work, "%s: work %llu, want %llu",
			      c->target, (unsigned long long)r.work,
			      (unsigned long long)c->work);
	/* The router touches only its own fields, and marks heavy work. */
	ck_assert_uint_eq(r.slot, 0xa5a5a5a5u);
	ck_assert_uint_eq(r.kind, 0xa5);
	ck_assert_uint_eq(r.flags, 0xa5 | (c->err == HERR_NONE &&
					   c->work >= 10000 ? REQF_HEAVY : 0));
}
END_TEST

START_TEST(answered_requests_reset_id_and_work)
{
	struct http_req r = route("/healthz", 1);

	ck_assert_uint_eq(r.id, 0);
	ck_assert_uint_eq(r.work, 0);
	r = route("/nope?id=5&work=5", 1);
	ck_assert_uint_eq(r.id, 0);
	ck_assert_uint_eq(r.work, 0);
	r = route("/metric-stack?id=5", 0);
	ck_assert_uint_eq(r.id, 0);
	ck_assert_uint_eq(r.work, 0);
}
END_TEST

/* The target is not NUL-terminated in the framer's buffer: only len counts. */
START_TEST(target_is_length_bounded)
{
	static const char buf[] = "/metric-stack?id=12345&work=9";
	struct http_req r;

	memset(&r, 0, sizeof(r));
	http_route(buf, strlen("/metric-stack?id=123"), 1, &r);
	ck_assert_uint_eq(r.err, HERR_NONE);
	ck_assert_uint_eq(r.id, 123);
	ck_assert_uint_eq(r.work, 0);
	http_route(buf, strlen("/metric-stack"), 1, &r);
	ck_assert_uint_eq(r.route, ROUTE_METRIC_STACK);
	ck_assert_uint_eq(r.err, HERR_ID_MISSING);
	http_route(buf, strlen("/metric"), 1, &r);
	ck_assert_uint_eq(r.err, HERR_NOT_FOUND);
}
END_TEST

START_TEST(parse_u64_edges)
{
	uint64_t v;

#define OK(s, want) do { v = 12345; \
	ck_assert_int_eq(http_parse_u64(s, strlen(s), &v), 0); \
	ck_assert_uint_eq(v, want); } while (0)
#define ERR(s, e) do { v = 12345; \
	ck_assert_int_eq(http_parse_u64(s, strlen(s), &v), e); \
	ck_assert_uint_eq(v, 12345); } while (0)
	OK("0", 0);
	OK("1", 1);
	OK("9", 9);
	OK("10", 10);
	OK("00", 0);
	OK("007", 7);
	OK("4294967296", 4294967296ull);
	OK("1844674407370955161", 1844674407370955161ull);   /* 19 digits */
	OK("18446744073709551609", 18446744073709551609ull);
	OK("18446744073709551614", UINT64_MAX - 1);
	OK("18446744073709551615", UINT64_MAX);
	OK("00000000000000000009", 9);                       /* 20 digits */
	ERR("", -EINVAL);
	ERR("-1", -EINVAL);
	ERR("+1", -EINVAL);
	ERR(" 1", -EINVAL);
	ERR("1 ", -EINVAL);
	ERR("0x10", -EINVAL);
	ERR("1e3", -EINVAL);
	ERR("/", -EINVAL);             /* '0' - 1 */
	ERR(":", -EINVAL);             /* '9' + 1 */
	ERR("\xb0", -EINVAL);          /* high byte whose low bits look like '0' */
	ERR("18446744073709551616", -ERANGE);
	ERR("18446744073709551620", -ERANGE);
	ERR("19999999999999999999", -ERANGE);
	ERR("99999999999999999999", -ERANGE);
	ERR("100000000000000000000", -ERANGE);
	ERR("1234567890123456789012345", -ERANGE);
	/* Only len bytes are read. */
	v = 0;
	ck_assert_int_eq(http_parse_u64("123abc", 3, &v), 0);
	ck_assert_uint_eq(v, 123);
	ck_assert_int_eq(http_parse_u64("5", 0, &v), -EINVAL);
#undef OK
#undef ERR
}
END_TEST

/* route.h promises "digits only, 1..20 of them"; leading zeros past 20
 * digits are accepted today (a 25-digit id equal to 1 parses as 1). */
START_TEST(regression_parse_u64_at_most_20_digits)
{
	uint64_t v = 12345;
	const char *s = "0000000000000000000000001";    /* 25 digits */

	ck_assert_int_eq(http_parse_u64(s, strlen(s), &v), -ERANGE);
	ck_assert_uint_eq(v, 12345);
	ck_assert_uint_eq(route("/metric-stack?id=0000000000000000000000007", 1).err,
			  HERR_ID_RANGE);
}
END_TEST

START_TEST(err_status_for_every_error)
{
	static const unsigned want[HERR__COUNT] = {
		[HERR_NONE] = 200,
		[HERR_NOT_FOUND] = 404,
		[HERR_METHOD] = 405,
		[HERR_ID_MISSING] = 400,
		[HERR_ID_INVALID] = 400,
		[HERR_ID_RANGE] = 400,
		[HERR_ID_REPEATED] = 400,
		[HERR_WORK_INVALID] = 400,
		[HERR_BAD_REQUEST] = 400,
		[HERR_HEAD_TOO_LARGE] = 431,
		[HERR_BODY_TOO_LARGE] = 413,
		[HERR_VERSION] = 505,
		[HERR_TIMEOUT] = 408,
		[HERR_EXPECT] = 417,
		[HERR_NO_MEMORY] = 503,
		[HERR_SHUTDOWN] = 503,
	};

	for (int e = 0; e < HERR__COUNT; e++) {
		ck_assert_msg(http_err_status((enum http_err)e) == want[e],
			      "err %d: status %u, want %u", e,
			      http_err_status((enum http_err)e), want[e]);
		ck_assert_ptr_nonnull(http_err_message((enum http_err)e));
		if (e != HERR_NONE)
			ck_assert_uint_gt(strlen(http_err_message((enum http_err)e)), 0);
	}
	ck_assert_uint_eq(http_err_status(HERR__COUNT), 500);
	ck_assert_uint_eq(http_err_status((enum http_err)200), 500);
	ck_assert_str_eq(http_err_message(HERR__COUNT), "internal error");
	ck_assert_str_eq(http_err_message(HERR_NOT_FOUND), "not found");
	ck_assert_str_eq(http_err_message(HERR_ID_RANGE),
			 "id is out of range (0 to 18446744073709551615)");
	ck_assert_str_eq(http_err_message(HERR_WORK_INVALID),
			 "work must be a decimal integer from 0 to 10000000");
}
END_TEST

START_TEST(route_names)
{
	ck_assert_str_eq(http_route_name(ROUTE_NONE), "other");
	ck_assert_str_eq(http_route_name(ROUTE_METRIC_STACK), "/metric-stack");
	ck_assert_str_eq(http_route_name(ROUTE_METRIC_HEAP), "/metric-heap");
	ck_assert_str_eq(http_route_name(ROUTE_STATS_VALUE), "/stats-value");
	ck_assert_str_eq(http_route_name(ROUTE_STATS_POINTER), "/stats-pointer");
	ck_assert_str_eq(http_route_name(ROUTE_HEALTHZ), "/healthz");
	ck_assert_str_eq(http_route_name(ROUTE_STATS), "/stats");
	ck_assert_str_eq(http_route_name(ROUTE_METRICS), "/metrics");
	ck_assert_str_eq(http_route_name(ROUTE_OPTIONS), "*");
	ck_assert_str_eq(http_route_name(ROUTE__COUNT), "?");
	/* every named path routes to itself ("*" is a target form the framer
	 * recognises, not a path) */
	for (int r = ROUTE_NONE + 1; r < ROUTE_OPTIONS; r++) {
		struct http_req q = route(http_route_name((enum http_route)r), 1);

		ck_assert_uint_eq(q.route, (unsigned)r);
	}
}
END_TEST

static Suite *route_suite(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("route");

	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, route_table, 0,
			    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, answered_requests_reset_id_and_work);
	tcase_add_test(tc, target_is_length_bounded);
	tcase_add_test(tc, parse_u64_edges);
	tcase_add_test(tc, regression_parse_u64_at_most_20_digits);
	tcase_add_test(tc, err_status_for_every_error);
	tcase_add_test(tc, route_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(route_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
