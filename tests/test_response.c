/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for http/response.c: formatting into caller-owned buffers. */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/fmt.h"
#include "http/response.h"
#include "http/route.h"

#define CANARY 0x5c
#define SLACK 64

/* Index of the first byte at or after `from` that is not the canary. */
static size_t untouched_from(const char *p, size_t from, size_t len)
{
	while (from < len && (unsigned char)p[from] == CANARY)
		from++;
	return from;
}

static char *str_u64(uint64_t v)
{
	static char buf[32];

	memset(buf, CANARY, sizeof(buf));
	buf[fmt_u64(buf, v)] = '\0';
	return buf;
}

static char *str_i64(int64_t v)
{
	static char buf[32];

	memset(buf, CANARY, sizeof(buf));
	buf[fmt_i64(buf, v)] = '\0';
	return buf;
}

static char *str_fixed6(double v)
{
	static char buf[64];

	memset(buf, CANARY, sizeof(buf));
	buf[fmt_fixed6(buf, v)] = '\0';
	return buf;
}

START_TEST(format_u64)
{
	ck_assert_str_eq(str_u64(0), "0");
	ck_assert_str_eq(str_u64(7), "7");
	ck_assert_str_eq(str_u64(10), "10");
	ck_assert_str_eq(str_u64(1000000), "1000000");
	ck_assert_str_eq(str_u64(4294967295u), "4294967295");
	ck_assert_str_eq(str_u64(UINT64_MAX), "18446744073709551615");
	ck_assert_uint_eq(fmt_u64(str_u64(0), UINT64_MAX), 20);
	/* Every length, and the values around each power of ten, as printf
	 * writes them; nothing past the digits is touched. */
	for (uint64_t p = 1, k = 0; k < 20; k++, p *= 10) {
		uint64_t vals[] = { p - 1, p, p + 1, p * 5 + 3, p * 9 + (p - 1) };

		for (size_t j = 0; j < sizeof(vals) / sizeof(vals[0]); j++) {
			char want[32];

			if (k == 19 && j >= 3)
				continue;               /* past UINT64_MAX */
			snprintf(want, sizeof(want), "%llu", (unsigned long long)vals[j]);
			ck_assert_str_eq(str_u64(vals[j]), want);
			ck_assert_uint_eq((unsigned char)str_u64(vals[j])[strlen(want) + 1],
					  CANARY);
		}
	}
}
END_TEST

START_TEST(format_i64)
{
	ck_assert_str_eq(str_i64(0), "0");
	ck_assert_str_eq(str_i64(1), "1");
	ck_assert_str_eq(str_i64(-1), "-1");
	ck_assert_str_eq(str_i64(-10), "-10");
	ck_assert_str_eq(str_i64(INT64_MAX), "9223372036854775807");
	ck_assert_str_eq(str_i64(INT64_MIN), "-9223372036854775808");
	ck_assert_str_eq(str_i64(INT64_MIN + 1), "-9223372036854775807");
}
END_TEST

START_TEST(format_fixed6)
{
	ck_assert_str_eq(str_fixed6(0.0), "0.000000");
	ck_assert_str_eq(str_fixed6(-0.0), "0.000000");
	ck_assert_str_eq(str_fixed6(0.5), "0.500000");
	ck_assert_str_eq(str_fixed6(1.0), "1.000000");
	ck_assert_str_eq(str_fixed6(0.1234565), "0.123457");   /* half rounds up */
	ck_assert_str_eq(str_fixed6(0.1234564), "0.123456");
	ck_assert_str_eq(str_fixed6(0.0000004), "0.000000");
	ck_assert_str_eq(str_fixed6(0.000001), "0.000001");
	ck_assert_str_eq(str_fixed6(0.9999996), "1.000000");   /* carry */
	ck_assert_str_eq(str_fixed6(123.456789), "123.456789");
	ck_assert_str_eq(str_fixed6(-0.25), "-0.250000");
	ck_assert_str_eq(str_fixed6(-2.5), "-2.500000");
	ck_assert_str_eq(str_fixed6(NAN), "0.000000");
	ck_assert_str_eq(str_fixed6(-NAN), "0.000000");
	/* clamped to +-1e9, so the output stays bounded */
	ck_assert_str_eq(str_fixed6(999999999.5), "999999999.500000");
	ck_assert_str_eq(str_fixed6(1e9), "1000000000.000000");
	ck_assert_str_eq(str_fixed6(1e12), "1000000000.000000");
	ck_assert_str_eq(str_fixed6(1e300), "1000000000.000000");
	ck_assert_str_eq(str_fixed6(-1e300), "-1000000000.000000");
	ck_assert_str_eq(str_fixed6(INFINITY), "1000000000.000000");
	ck_assert_str_eq(str_fixed6(-INFINITY), "-1000000000.000000");
	ck_assert_uint_le(strlen(str_fixed6(-1e300)), 32);
}
END_TEST

static char *str_fixed(double v, unsigned decimals)
{
	static char buf[64];

	memset(buf, CANARY, sizeof(buf));
	buf[fmt_fixed(buf, v, decimals)] = '\0';
	return buf;
}

START_TEST(format_fixed_decimals)
{
	ck_assert_str_eq(str_fixed(0.5, 0), "1");          /* no point at all */
	ck_assert_str_eq(str_fixed(0.49, 0), "0");
	ck_assert_str_eq(str_fixed(12.0, 0), "12");
	ck_assert_str_eq(str_fixed(-3.0, 0), "-3");
	ck_assert_str_eq(str_fixed(0.25, 1), "0.3");
	ck_assert_str_eq(str_fixed(0.04, 1), "0.0");
	ck_assert_str_eq(str_fixed(1.5, 3), "1.500");
	ck_assert_str_eq(str_fixed(0.001, 3), "0.001");
	ck_assert_str_eq(str_fixed(0.1234565, 6), str_fixed6(0.1234565));
	ck_assert_str_eq(str_fixed(0.123456789, 9), "0.123456789");
	ck_assert_str_eq(str_fixed(NAN, 2), "0.00");
	ck_assert_str_eq(str_fixed(1e300, 9), "1000000000.000000000");
	ck_assert_str_eq(str_fixed(-1e300, 9), "-1000000000.000000000");
	/* every count of decimals, odd and even (digits go in pairs) */
	static const char *const pi[] = {
		"3", "3.1", "3.14", "3.142", "3.1416", "3.14159", "3.141593",
		"3.1415927", "3.14159265", "3.141592654",
	};
	for (unsigned d = 0; d <= 9; d++)
		ck_assert_str_eq(str_fixed(3.14159265358979, d), pi[d]);
	ck_assert_str_eq(str_fixed(0.000010203, 9), "0.000010203");
	ck_assert_str_eq(str_fixed(7.0605, 3), "7.061");
	/* more than 9 decimals is treated as 9 */
	ck_assert_str_eq(str_fixed(0.5, 10), "0.500000000");
	ck_assert_str_eq(str_fixed(0.5, UINT32_MAX), "0.500000000");
	/* the output fits 32 bytes for every decimals, at the extremes */
	for (unsigned d = 0; d <= 12; d++) {
		ck_assert_uint_le(strlen(str_fixed(-1e300, d)), 32);
		ck_assert_uint_le(strlen(str_fixed(-999999999.999, d)), 32);
	}
}
END_TEST

static const char *date_of(time_t t)
{
	static struct http_head_ctx d;

	memset(&d, 0, sizeof(d));
	http_head_set_date(&d, t);
	ck_assert_int_eq(d.sec, t);
	return d.date;
}

START_TEST(date_format)
{
	ck_assert_str_eq(date_of(0), "Thu, 01 Jan 1970 00:00:00 GMT");
	ck_assert_str_eq(date_of(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
	ck_assert_str_eq(date_of(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
	ck_assert_str_eq(date_of(1700000000), "Tue, 14 Nov 2023 22:13:20 GMT");
	ck_assert_str_eq(date_of(2147483648), "Tue, 19 Jan 2038 03:14:08 GMT");
	ck_assert_str_eq(date_of(253402300799), "Fri, 31 Dec 9999 23:59:59 GMT");
	ck_assert_uint_eq(strlen(date_of(1700000000)), 29);
}
END_TEST

START_TEST(date_cached_per_second)
{
	struct http_head_ctx d;

	memset(&d, 0, sizeof(d));
	http_head_set_date(&d, 0);          /* sec == 0 but nothing formatted yet */
	ck_assert_str_eq(d.date, "Thu, 01 Jan 1970 00:00:00 GMT");
	http_head_set_date(&d, 784111777);
	ck_assert_str_eq(d.date, "Sun, 06 Nov 1994 08:49:37 GMT");
	d.date[0] = 'X';                   /* same second: not reformatted */
	http_head_set_date(&d, 784111777);
	ck_assert_str_eq(d.date, "Xun, 06 Nov 1994 08:49:37 GMT");
	http_head_set_date(&d, 784111778);
	ck_assert_str_eq(d.date, "Sun, 06 Nov 1994 08:49:38 GMT");
}
END_TEST

static struct http_head_ctx the_date(void)
{
	struct http_head_ctx d;

	memset(&d, 0, sizeof(d));
	http_head_set_date(&d, 0);
	return d;
}

static size_t head(char *out, size_t cap, unsigned status, enum http_ctype ct,
		   size_t body_len, unsigned flags)
{
	struct http_head_ctx d = the_date();
	size_t n;

	memset(out, CANARY, cap + SLACK);
	n = http_write_head(out, cap, status, ct, body_len, flags, &d, NULL);
	out[n] = '\0';
	return n;
}

static size_t head_tagged(char *out, unsigned status, unsigned flags, uint32_t tag)
{
	struct http_head_ctx d = the_date();
	size_t n;

	memset(out, CANARY, HTTP_HEAD_MAX + SLACK);
	n = http_write_head(out, HTTP_HEAD_MAX, status, CT_HTML, 12345, flags, &d, &tag);
	out[n] = '\0';
	return n;
}

START_TEST(head_exact_bytes)
{
	char out[HTTP_HEAD_MAX + SLACK];
	size_t n;

	n = head(out, HTTP_HEAD_MAX, 200, CT_JSON, 17, 0);
	ck_assert_str_eq(out,
		"HTTP/1.1 200 OK\r\n"
		"Server: metricd/" PACKAGE_VERSION "\r\n"
		"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
		"Content-Type: application/json\r\n"
		"Content-Length: 17\r\n"
		"\r\n");
	ck_assert_uint_eq(n, strlen(out));

	head(out, HTTP_HEAD_MAX, 405, CT_JSON, 0, REQF_CLOSE);
	ck_assert_str_eq(out,
		"HTTP/1.1 405 Method Not Allowed\r\n"
		"Server: metricd/" PACKAGE_VERSION "\r\n"
		"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
		"Content-Type: application/json\r\n"
		"Content-Length: 0\r\n"
		"Allow: GET, HEAD\r\n"
		"Connection: close\r\n"
		"\r\n");

	head(out, HTTP_HEAD_MAX, 200, CT_TEXT, 3, REQF_HTTP10);
	ck_assert_str_eq(out,
		"HTTP/1.1 200 OK\r\n"
		"Server: metricd/" PACKAGE_VERSION "\r\n"
		"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
		"Content-Type: text/plain\r\n"
		"Content-Length: 3\r\n"
		"Connection: keep-alive\r\n"
		"\r\n");

	head(out, HTTP_HEAD_MAX, 200, CT_PROMETHEUS, 1234, REQF_HTTP10 | REQF_CLOSE);
	ck_assert_str_eq(out,
		"HTTP/1.1 200 OK\r\n"
		"Server: metricd/" PACKAGE_VERSION "\r\n"
		"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
		"Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		"Content-Length: 1234\r\n"
		"Connection: close\r\n"
		"\r\n");
}
END_TEST

START_TEST(head_status_lines)
{
	static const struct { unsigned code; const char *line; } lines[] = {
		{ 200, "HTTP/1.1 200 OK\r\n" },
		{ 400, "HTTP/1.1 400 Bad Request\r\n" },
		{ 404, "HTTP/1.1 404 Not Found\r\n" },
		{ 405, "HTTP/1.1 405 Method Not Allowed\r\n" },
		{ 408, "HTTP/1.1 408 Request Timeout\r\n" },
		{ 413, "HTTP/1.1 413 Content Too Large\r\n" },
		{ 431, "HTTP/1.1 431 Request Header Fields Too Large\r\n" },
		{ 500, "HTTP/1.1 500 Internal Server Error\r\n" },
		{ 503, "HTTP/1.1 503 Service Unavailable\r\n" },
		{ 505, "HTTP/1.1 505 HTTP Version Not Supported\r\n" },
		{ 0, "HTTP/1.1 500 Internal Server Error\r\n" },
		{ 201, "HTTP/1.1 500 Internal Server Error\r\n" },
	};
	char out[HTTP_HEAD_MAX + SLACK];

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		head(out, HTTP_HEAD_MAX, lines[i].code, CT_JSON, 1, 0);
		ck_assert_msg(strncmp(out, lines[i].line, strlen(lines[i].line)) == 0,
			      "status %u: %.50s", lines[i].code, out);
	}
	/* Every error the router can produce has its own status line. */
	for (int e = 0; e < HERR__COUNT; e++) {
		char want[16];
		unsigned st = http_err_status((enum http_err)e);

		snprintf(want, sizeof(want), "HTTP/1.1 %u ", st);
		head(out, HTTP_HEAD_MAX, st, CT_JSON, 1, 0);
		ck_assert_msg(strncmp(out, want, strlen(want)) == 0,
			      "err %d (%u): %.40s", e, st, out);
	}
}
END_TEST

/* Every status × type × flags × length stays within HTTP_HEAD_MAX, never
 * writes past what it reports, and says what the flags ask for. */
START_TEST(head_bounded_for_every_combination)
{
	static const unsigned statuses[] = { 200, 304, 400, 404, 405, 408, 413, 431,
					     500, 503, 505, 999 };
	static const size_t lens[] = { 0, 1, 99, 4294967296ull, SIZE_MAX };
	static const time_t dates[] = { 0, 1700000000, 253402300799 };
	static const char *const ctype_line[] = {
		[CT_JSON] = "\r\nContent-Type: application/json\r\n",
		[CT_TEXT] = "\r\nContent-Type: text/plain\r\n",
		[CT_PROMETHEUS] = "\r\nContent-Type: text/plain; version=0.0.4; "
				  "charset=utf-8\r\n",
		[CT_HTML] = "\r\nContent-Type: text/html; charset=utf-8\r\n",
	};
	static const uint32_t tag = 0xfedcba98;
	char out[HTTP_HEAD_MAX + SLACK];
	size_t worst = 0;

	for (size_t di = 0; di < sizeof(dates) / sizeof(dates[0]); di++)
	for (size_t si = 0; si < sizeof(statuses) / sizeof(statuses[0]); si++)
	for (int ct = CT_JSON; ct <= CT_HTML; ct++)
	for (unsigned flags = 0; flags < 8; flags++)
	for (int tagged = 0; tagged < 2; tagged++)
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
		struct http_head_ctx d;
		char cl[48];
		size_t n;

		memset(&d, 0, sizeof(d));
		http_head_set_date(&d, dates[di]);
		memset(out, CANARY, sizeof(out));
		n = http_write_head(out, HTTP_HEAD_MAX, statuses[si],
				    (enum http_ctype)ct, lens[li], flags, &d,
				    tagged ? &tag : NULL);
		ck_assert_uint_gt(n, 0);
		ck_assert_uint_le(n, HTTP_HEAD_MAX);
		ck_assert_msg(untouched_from(out, n, sizeof(out)) == sizeof(out),
			      "wrote past the reported length at %zu",
			      untouched_from(out, n, sizeof(out)));
		out[n] = '\0';
		if (n > worst)
			worst = n;
		ck_assert_str_eq(out + n - 4, "\r\n\r\n");
		ck_assert_ptr_nonnull(strstr(out, d.date));
		snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", lens[li]);
		/* 304: no Content-Type, no Content-Length (RFC 9110 15.4.5) */
		ck_assert_int_eq(strstr(out, cl) != NULL, statuses[si] != 304);
		ck_assert_int_eq(strstr(out, ctype_line[ct]) != NULL, statuses[si] != 304);
		ck_assert_int_eq(strstr(out, "\r\nETag: \"fedcba98\"\r\n") != NULL, tagged);
		ck_assert_int_eq(strstr(out, "\r\nCache-Control: no-cache\r\n") != NULL, tagged);
		ck_assert_int_eq(strstr(out, "\r\nAllow: GET, HEAD\r\n") != NULL,
				 statuses[si] == 405);
		ck_assert_int_eq(strstr(out, "\r\nConnection: close\r\n") != NULL,
				 (flags & REQF_CLOSE) != 0);
		ck_assert_int_eq(strstr(out, "\r\nConnection: keep-alive\r\n") != NULL,
				 (flags & REQF_CLOSE) == 0 && (flags & REQF_HTTP10));
		/* headers only ever appear once, and nothing follows the end */
		ck_assert_ptr_eq(strstr(out, "\r\n\r\n"), out + n - 4);
	}
	ck_assert_uint_le(worst, HTTP_HEAD_MAX);
}
END_TEST

START_TEST(head_refuses_small_buffers)
{
	char out[HTTP_HEAD_MAX + SLACK];
	struct http_head_ctx d = the_date();

	for (size_t cap = 0; cap < HTTP_HEAD_MAX; cap += 17) {
		memset(out, CANARY, sizeof(out));
		ck_assert_uint_eq(http_write_head(out, cap, 200, CT_JSON, 1, 0, &d, NULL), 0);
		ck_assert_uint_eq(untouched_from(out, 0, sizeof(out)), sizeof(out));
	}
	ck_assert_uint_eq(http_write_head(out, HTTP_HEAD_MAX - 1, 200, CT_JSON, 1,
					  0, &d, NULL), 0);
	ck_assert_uint_gt(http_write_head(out, HTTP_HEAD_MAX, 200, CT_JSON, 1, 0,
					  &d, NULL), 0);
}
END_TEST

/* A page built into the binary: its ETag (always 8 hex digits, the form
 * the framer reads back from If-None-Match) and Cache-Control; its 304
 * keeps both and drops the body's headers. */
START_TEST(head_etag_and_304)
{
	char out[HTTP_HEAD_MAX + SLACK];

	head_tagged(out, 200, 0, 0x00c0ffee);
	ck_assert_str_eq(out,
		"HTTP/1.1 200 OK\r\n"
		"Server: metricd/" PACKAGE_VERSION "\r\n"
		"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
		"Content-Type: text/html; charset=utf-8\r\n"
		"Content-Length: 12345\r\n"
		"ETag: \"00c0ffee\"\r\n"
		"Cache-Control: no-cache\r\n"
		"\r\n");
	head_tagged(out, 304, REQF_HTTP10, 0xffffffff);
	ck_assert_str_eq(out,
		"HTTP/1.1 304 Not Modified\r\n"
		"Server: metricd/" PACKAGE_VERSION "\r\n"
		"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
		"ETag: \"ffffffff\"\r\n"
		"Cache-Control: no-cache\r\n"
		"Connection: keep-alive\r\n"
		"\r\n");
}
END_TEST

START_TEST(not_modified_rules)
{
	struct http_req r;

	memset(&r, 0, sizeof(r));
	ck_assert(!http_not_modified(&r));             /* no If-None-Match */
	r.flags = REQF_HEAD | REQF_CLOSE | REQF_HEAVY; /* other flags: still no */
	ck_assert(!http_not_modified(&r));
	r.flags |= REQF_INM_MATCH;                     /* the framer's match */
	ck_assert(http_not_modified(&r));
}
END_TEST

static size_t body_metric(char *out, size_t cap, uint64_t id, int64_t ts,
			  double v)
{
	size_t n;

	memset(out, CANARY, HTTP_BODY_MAX_RESP + SLACK);
	n = http_body_metric(out, cap, id, ts, v);
	out[n] = '\0';
	return n;
}

START_TEST(body_metric_exact)
{
	char out[HTTP_BODY_MAX_RESP + SLACK];
	size_t n = body_metric(out, HTTP_BODY_MAX_RESP, 42, 1700000000123456789ll, 0.5);

	ck_assert_str_eq(out, "{\"id\":42,\"timestamp\":1700000000123456789,"
			      "\"value\":0.500000}");
	ck_assert_uint_eq(n, strlen(out));
	body_metric(out, HTTP_BODY_MAX_RESP, 0, 0, 0.1234565);
	ck_assert_str_eq(out, "{\"id\":0,\"timestamp\":0,\"value\":0.123457}");
	body_metric(out, HTTP_BODY_MAX_RESP, 1, -5, NAN);
	ck_assert_str_eq(out, "{\"id\":1,\"timestamp\":-5,\"value\":0.000000}");
}
END_TEST

START_TEST(body_stats_exact)
{
	char out[HTTP_BODY_MAX_RESP + SLACK];
	size_t n;

	memset(out, CANARY, sizeof(out));
	n = http_body_stats(out, HTTP_BODY_MAX_RESP, 7, 1700000000000000000ll,
			    12000000, 200);
	out[n] = '\0';
	ck_assert_str_eq(out, "{\"id\":7,\"timestamp\":1700000000000000000,"
			      "\"duration_ns\":12000000,\"status\":200}");
	ck_assert_uint_eq(n, strlen(out));
	n = http_body_stats(out, HTTP_BODY_MAX_RESP, 0, -1, -2, -3);
	out[n] = '\0';
	ck_assert_str_eq(out, "{\"id\":0,\"timestamp\":-1,\"duration_ns\":-2,"
			      "\"status\":-3}");
}
END_TEST

START_TEST(body_error_exact)
{
	char out[HTTP_BODY_MAX_RESP + SLACK];
	char msg[HTTP_BODY_MAX_RESP];
	size_t n;

	memset(out, CANARY, sizeof(out));
	n = http_body_error(out, HTTP_BODY_MAX_RESP, "not found");
	out[n] = '\0';
	ck_assert_str_eq(out, "{\"error\":\"not found\"}");
	n = http_body_error(out, HTTP_BODY_MAX_RESP, "");
	out[n] = '\0';
	ck_assert_str_eq(out, "{\"error\":\"\"}");

	/* The longest message that fits, and one byte more. */
	memset(msg, 'm', sizeof(msg));
	msg[HTTP_BODY_MAX_RESP - 16] = '\0';
	memset(out, CANARY, sizeof(out));
	n = http_body_error(out, HTTP_BODY_MAX_RESP, msg);
	ck_assert_uint_eq(n, HTTP_BODY_MAX_RESP - 16 + 12);
	ck_assert_uint_le(n, HTTP_BODY_MAX_RESP);
	ck_assert_uint_eq((unsigned char)out[n], CANARY);
	msg[HTTP_BODY_MAX_RESP - 16] = 'm';
	msg[HTTP_BODY_MAX_RESP - 15] = '\0';
	ck_assert_uint_eq(http_body_error(out, HTTP_BODY_MAX_RESP, msg), 0);

	/* Every router error message fits. */
	for (int e = 1; e < HERR__COUNT; e++) {
		const char *m = http_err_message((enum http_err)e);

		n = http_body_error(out, HTTP_BODY_MAX_RESP, m);
		ck_assert_msg(n == strlen(m) + 12, "err %d does not fit", e);
	}
}
END_TEST

START_TEST(bodies_bounded_at_extremes)
{
	static const uint64_t ids[] = { 0, 1, UINT64_MAX };
	static const int64_t ts[] = { 0, -1, INT64_MIN, INT64_MAX };
	static const double vals[] = { 0.0, 0.999999, -1e300, 1e300, NAN, -INFINITY };
	static const int sts[] = { 0, 200, INT_MIN, INT_MAX };
	char out[HTTP_BODY_MAX_RESP + SLACK];
	size_t n, worst = 0;

	for (size_t a = 0; a < 3; a++)
	for (size_t b = 0; b < 4; b++) {
		for (size_t c = 0; c < 6; c++) {
			n = body_metric(out, HTTP_BODY_MAX_RESP, ids[a], ts[b], vals[c]);
			ck_assert_uint_gt(n, 0);
			ck_assert_uint_le(n, HTTP_BODY_MAX_RESP);
			ck_assert_uint_eq(untouched_from(out, n + 1, sizeof(out)),
					  sizeof(out));
			worst = n > worst ? n : worst;
		}
		for (size_t c = 0; c < 4; c++)
		for (size_t d = 0; d < 4; d++) {
			memset(out, CANARY, sizeof(out));
			n = http_body_stats(out, HTTP_BODY_MAX_RESP, ids[a], ts[b],
					    ts[c], sts[d]);
			ck_assert_uint_gt(n, 0);
			ck_assert_uint_le(n, HTTP_BODY_MAX_RESP);
			ck_assert_uint_eq(untouched_from(out, n, sizeof(out)),
					  sizeof(out));
			worst = n > worst ? n : worst;
		}
	}
	body_metric(out, HTTP_BODY_MAX_RESP, UINT64_MAX, INT64_MIN, -1e300);
	ck_assert_str_eq(out, "{\"id\":18446744073709551615,"
			      "\"timestamp\":-9223372036854775808,"
			      "\"value\":-1000000000.000000}");
	ck_assert_uint_le(worst, HTTP_BODY_MAX_RESP);

	/* Too small a buffer: nothing written. */
	memset(out, CANARY, sizeof(out));
	ck_assert_uint_eq(http_body_metric(out, HTTP_BODY_MAX_RESP - 1, 1, 1, 0.5), 0);
	ck_assert_uint_eq(http_body_stats(out, 10, 1, 1, 1, 200), 0);
	ck_assert_uint_eq(http_body_error(out, 0, "x"), 0);
	ck_assert_uint_eq(untouched_from(out, 0, sizeof(out)), sizeof(out));
}
END_TEST

static Suite *response_suite(void)
{
	Suite *s = suite_create("response");
	TCase *tc = tcase_create("format");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, format_u64);
	tcase_add_test(tc, format_i64);
	tcase_add_test(tc, format_fixed6);
	tcase_add_test(tc, format_fixed_decimals);
	tcase_add_test(tc, date_format);
	tcase_add_test(tc, date_cached_per_second);
	suite_add_tcase(s, tc);

	TCase *th = tcase_create("head");
	tcase_set_timeout(th, 10);
	tcase_add_test(th, head_exact_bytes);
	tcase_add_test(th, head_status_lines);
	tcase_add_test(th, head_bounded_for_every_combination);
	tcase_add_test(th, head_refuses_small_buffers);
	tcase_add_test(th, head_etag_and_304);
	tcase_add_test(th, not_modified_rules);
	suite_add_tcase(s, th);

	TCase *tb = tcase_create("body");
	tcase_set_timeout(tb, 10);
	tcase_add_test(tb, body_metric_exact);
	tcase_add_test(tb, body_stats_exact);
	tcase_add_test(tb, body_error_exact);
	tcase_add_test(tb, bodies_bounded_at_extremes);
	suite_add_tcase(s, tb);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(response_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
